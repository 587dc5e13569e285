//! The worker's side: the protocol between the pool and a worker process, and the loop a
//! worker runs.
//!
//! ```text
//!  pool                                   worker (entry point registered by procs::task)
//!  ----                                   ------
//!  Hello { initializer } ────────────────> call the initializer hook, if any
//!                        <──────────────── Ready
//!  Chunk { items } ──────────────────────> run f on each item under catch_unwind
//!                        <──────────────── Done { results } (one per item, in order)
//!  ... (one chunk in flight per worker)
//!  close the channel ────────────────────> reads end-of-stream: exits with code 0
//! ```
//!
//! One chunk in flight per worker keeps the bookkeeping exact: when a worker dies, the chunk
//! it held is the one that fails, and no other.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use switchyard_runtime::process::{self, Channel, Entry};

/// Pool to worker.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum ToWorker<I> {
    /// The first message: the initializer to call, by registered hook name.
    Hello { initializer: Option<String> },
    /// Items to run, in order.
    Chunk { items: Vec<I> },
}

/// Worker to pool.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum FromWorker<O> {
    /// The initializer ran; tasks may come.
    Ready,
    /// One result per item of the last chunk: the output, or the panic message.
    Done { results: Vec<Result<O, String>> },
}

/// The entry point of a pool worker running `f`: register it in `process::init` and build a
/// [`ProcessPool`](super::ProcessPool) with the same `name` and the same `I`, `O` types.
pub fn task<I, O>(name: &'static str, f: fn(I) -> O) -> Entry
where
    I: DeserializeOwned + 'static,
    O: Serialize + 'static,
{
    Entry::from_fn(name, move |channel| worker_loop(channel, f))
}

/// The worker's loop. Returns (so the process exits with code 0) when the pool closes the
/// channel; panics (exit code 101) only if the pool sends garbage or the initializer panics.
fn worker_loop<I: DeserializeOwned, O: Serialize>(mut channel: Channel, f: fn(I) -> O) {
    let Ok(ToWorker::<I>::Hello { initializer }) = channel.recv() else {
        return;
    };
    if let Some(name) = initializer {
        match process::hook(&name) {
            Ok(hook) => hook(),
            Err(e) => panic!("pool initializer: {e}"),
        }
    }
    if channel.send(&FromWorker::<O>::Ready).is_err() {
        return;
    }
    while let Ok(ToWorker::Chunk { items }) = channel.recv::<ToWorker<I>>() {
        let results: Vec<Result<O, String>> = items
            .into_iter()
            .map(|item| {
                std::panic::catch_unwind(AssertUnwindSafe(|| f(item))).map_err(panic_message)
            })
            .collect();
        if channel.send(&FromWorker::Done { results }).is_err() {
            return;
        }
    }
}

/// The message of a panic payload (`panic!` makes a `&str` or a `String`).
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic whose payload is not a string".to_owned()
    }
}
