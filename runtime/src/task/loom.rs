//! loom models of the task state machine's races (run with `--cfg loom`).
