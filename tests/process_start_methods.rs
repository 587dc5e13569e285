//! Each start method runs the named entry point in a new process with a working channel, and
//! the child is reaped with its exit status.
mod process_support;

use switchyard::runtime::process::{self, Channel, Entry, ExitStatus, ProcessError, StartMethod};

/// Replies with its pid and the doubled value, then exits 0 when the parent closes.
fn double(mut channel: Channel) {
    while let Ok(v) = channel.recv::<u64>() {
        let pid = std::process::id() as i32;
        if channel.send(&(pid, v * 2)).is_err() {
            return;
        }
    }
}

fn exit_three(_channel: Channel) {
    std::process::exit(3);
}

fn runs_entry(method: StartMethod) {
    let mut child = process::start("double", method).unwrap();
    let channel = child.channel().unwrap();
    channel.send(&21u64).unwrap();
    let (pid, v): (i32, u64) = channel.recv().unwrap();
    assert_eq!(v, 42);
    assert_eq!(pid, child.pid(), "the reply came from the child we started");
    assert_ne!(pid, std::process::id() as i32);
    drop(child.take_channel());
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(0));
    assert!(process_support::is_reaped(pid));
}

fn spawn_runs_the_entry() {
    runs_entry(StartMethod::Spawn);
}

fn fork_runs_the_entry_in_a_single_threaded_parent() {
    runs_entry(StartMethod::Fork);
}

fn fork_server_runs_the_entry() {
    runs_entry(StartMethod::ForkServer);
}

fn exit_code_is_reported() {
    for method in [
        StartMethod::Spawn,
        StartMethod::Fork,
        StartMethod::ForkServer,
    ] {
        let mut child = process::start("exit_three", method).unwrap();
        assert_eq!(child.wait().unwrap(), ExitStatus::Exited(3), "{method:?}");
    }
}

fn an_unknown_entry_is_a_typed_error() {
    for method in [
        StartMethod::Spawn,
        StartMethod::Fork,
        StartMethod::ForkServer,
    ] {
        let err = process::start("no_such_entry", method).unwrap_err();
        assert!(matches!(&err, ProcessError::UnknownEntry { name } if name == "no_such_entry"));
        assert_eq!(
            err.to_string(),
            "no process entry point named \"no_such_entry\" was registered in process::init()"
        );
    }
}

fn dropping_a_running_child_kills_and_reaps_it() {
    let child = process::start("double", StartMethod::Spawn).unwrap();
    let pid = child.pid();
    drop(child);
    assert!(process_support::is_reaped(pid));
}

fn main() {
    process::Init::new()
        .entry(Entry::new("double", double))
        .entry(Entry::new("exit_three", exit_three))
        .fork_server(true)
        .run()
        .expect("init");
    process_support::run(&[
        ("spawn_runs_the_entry", spawn_runs_the_entry),
        (
            "fork_runs_the_entry_in_a_single_threaded_parent",
            fork_runs_the_entry_in_a_single_threaded_parent,
        ),
        ("fork_server_runs_the_entry", fork_server_runs_the_entry),
        ("exit_code_is_reported", exit_code_is_reported),
        (
            "an_unknown_entry_is_a_typed_error",
            an_unknown_entry_is_a_typed_error,
        ),
        (
            "dropping_a_running_child_kills_and_reaps_it",
            dropping_a_running_child_kills_and_reaps_it,
        ),
    ]);
}
