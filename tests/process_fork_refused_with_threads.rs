//! `StartMethod::Fork` from a multithreaded parent is refused with a typed error; `Spawn`
//! works from the same parent.
mod process_support;

use std::sync::mpsc;

use switchyard::runtime::process::{self, Channel, Entry, ProcessError, StartMethod};

fn echo(mut channel: Channel) {
    while let Ok(v) = channel.recv::<u32>() {
        if channel.send(&v).is_err() {
            return;
        }
    }
}

fn fork_is_refused_while_another_thread_runs() {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        started_tx.send(()).unwrap();
        let _ = stop_rx.recv();
    });
    started_rx.recv().unwrap();

    let err = process::start("echo", StartMethod::Fork).unwrap_err();
    assert!(
        matches!(err, ProcessError::ForkWithThreads { threads: 2 }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "refusing to fork: this process runs 2 threads, and a forked child would inherit locks \
         held by threads that do not exist in it; use StartMethod::Spawn (the default) or \
         StartMethod::ForkServer"
    );

    // Spawn is safe from the same multithreaded parent.
    let mut child = process::start("echo", StartMethod::Spawn).unwrap();
    let channel = child.channel().unwrap();
    channel.send(&7u32).unwrap();
    assert_eq!(channel.recv::<u32>().unwrap(), 7);
    drop(child.take_channel());
    assert!(child.wait().unwrap().success());

    stop_tx.send(()).unwrap();
    thread.join().unwrap();
}

fn main() {
    process::init([Entry::new("echo", echo)]).expect("init");
    process_support::run(&[(
        "fork_is_refused_while_another_thread_runs",
        fork_is_refused_while_another_thread_runs,
    )]);
}
