//! `Parker` / `Unparker` (being written).
