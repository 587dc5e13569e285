//! Starting a child without `process::init()` in main is a clear error, not a child that runs
//! main again.
mod process_support;

use switchyard::runtime::process::{self, ProcessError, StartMethod};

fn starting_without_init_is_not_initialized() {
    for method in [
        StartMethod::Spawn,
        StartMethod::Fork,
        StartMethod::ForkServer,
    ] {
        let err = process::start("anything", method).unwrap_err();
        assert!(matches!(err, ProcessError::NotInitialized), "{err:?}");
        assert_eq!(
            err.to_string(),
            "switchyard::runtime::process::init() was not called: call it as the first line of \
             main (children re-execute this binary, and init() is where they find their entry \
             point)"
        );
    }
}

fn main() {
    // Deliberately no process::init() here.
    process_support::run(&[(
        "starting_without_init_is_not_initialized",
        starting_without_init_is_not_initialized,
    )]);
}
