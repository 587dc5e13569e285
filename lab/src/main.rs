//! The Switchyard lab (being written).
fn main() {}
