//! The worker's side: the protocol between the pool and a worker process, the table of task
//! functions a worker entry registers ([`Tasks`]), and the loop a worker runs.
//!
//! ```text
//!  pool (manager thread)                       worker (entry registered by Tasks::entry)
//!  ---------------------                       ------
//!                                              1. ask to die with the parent (PR_SET_PDEATHSIG)
//!  Hello { parent, hook, init } ─────────────> 2. parent still there? (getppid) else exit
//!    (or Serve { parent }: become the pool's fork server, whose forks start at step 1)
//!                                              3. call the hook / the initializer with its args
//!                               <───────────── Ready, or Refused { message } (then exit)
//!  Chunk { task, sig, count, items } ────────> 4. look the task up, check its types, run it on
//!                                                 each item under catch_unwind
//!                               <───────────── Done { outcome } (one result per item, in order)
//!  ... (one chunk running per worker; the manager may queue the next chunk of the same call
//!       behind it: the worker reads it only after answering for this one)
//!  close the channel ────────────────────────> 5. reads end-of-stream: exits with code 0
//! ```
//!
//! Items and results travel as postcard bytes, encoded and decoded by the typed handles on
//! the pool's side, so the manager moves bytes and several task kinds (each with its own
//! types) share one pool. A chunk carries a signature of the types it was encoded with
//! ([`signature`]); a task registered with other types refuses it with
//! [`ChunkError::WrongTypes`] instead of decoding garbage.
//!
//! Step 2 closes the race that `PR_SET_PDEATHSIG` alone leaves: a parent that died between the
//! start and step 1 sends no signal, but the worker was already reparented, so `getppid` no
//! longer names the pool's process.

use std::any::Any;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use switchyard_runtime::process::{self, Channel, Entry};

/// Pool to worker.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum ToWorker {
    /// The first message: who the parent is, and what to call before the first task.
    Hello {
        /// The pool's pid (step 2).
        parent: i32,
        /// A hook registered with `Entry::hook`, called without arguments.
        hook: Option<String>,
        /// An initializer registered with [`Tasks::initializer`], and its encoded arguments.
        init: Option<(String, Bytes)>,
    },
    /// Instead of `Hello`: become the pool's fork server (`process::serve_forks`); each
    /// worker is then a fork of this fresh process (see `Builder::spawn_server`).
    Serve {
        /// The pool's pid (step 2).
        parent: i32,
    },
    /// `count` items of task `task`, encoded one after the other.
    Chunk {
        task: String,
        sig: u64,
        count: u32,
        items: Bytes,
    },
}

/// Worker to pool.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum FromWorker {
    /// The initializer ran; tasks may come.
    Ready,
    /// The initializer could not be called; the worker exits.
    Refused { message: String },
    /// The last chunk's results, one [`ItemResult`] per item, encoded one after the other.
    Done { outcome: Result<Bytes, ChunkError> },
}

/// Why a worker ran none of a chunk's items.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum ChunkError {
    /// No task of this name in the worker's table.
    UnknownTask { registered: Vec<String> },
    /// The task's types differ from the caller's.
    WrongTypes { registered: String },
}

/// One item's result as the worker sends it.
pub(crate) type ItemResult<O> = Result<O, ItemError>;

/// Why one item has no output.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum ItemError {
    /// The task function panicked, with this message.
    Panicked(String),
    /// The item did not decode as the task's input.
    BadInput(String),
    /// The output's `Serialize` failed in the worker.
    Unencodable(String),
}

/// A byte buffer that serde moves as one `bytes` value (a length and a copy), not as a
/// sequence of numbers.
#[derive(Debug, Default)]
pub(crate) struct Bytes(pub(crate) Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }
        d.deserialize_byte_buf(Visitor)
    }
}

/// `input -> output`, as `std::any::type_name` spells them (the same in every process that
/// runs this binary).
pub(crate) fn type_names<I, O>() -> String {
    format!(
        "{} -> {}",
        std::any::type_name::<I>(),
        std::any::type_name::<O>()
    )
}

/// A 64-bit FNV-1a hash of [`type_names`]: what a chunk carries instead of the names.
pub(crate) fn signature<I, O>() -> u64 {
    /// FNV-1a's 64-bit offset basis and prime (the published constants).
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    type_names::<I, O>()
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// Runs a chunk: decodes `count` items from the bytes, runs the function on each, appends
/// each [`ItemResult`] to the output.
type RunChunk = Box<dyn Fn(&[u8], u32, &mut Vec<u8>) + Send + Sync>;
/// Decodes an initializer's arguments and calls it.
type RunInit = Box<dyn Fn(&[u8]) -> Result<(), String> + Send + Sync>;

struct TaskFn {
    sig: u64,
    types: String,
    run: RunChunk,
}

/// The functions one worker entry point can run: several task kinds per pool, and
/// initializers that take arguments (Python's `initializer` and `initargs`).
///
/// ```no_run
/// use switchyard_runtime::process;
/// use switchyard_scheduler::procs::{ProcessPool, Tasks};
///
/// fn square(x: u64) -> u64 { x * x }
/// fn shout(s: String) -> String { s.to_uppercase() }
/// fn add(a: u64, b: u64) -> u64 { a + b }
/// fn connect(url: String) { let _ = url; }
///
/// fn main() {
///     process::init([Tasks::new("math")
///         .task("square", square)
///         .task("shout", shout)
///         .star2("add", add)
///         .initializer("connect", connect)
///         .entry()])
///     .expect("init");
///     let pool = ProcessPool::<u64, u64>::builder("math")
///         .default_task("square")
///         .initializer_with("connect", &"db://local".to_string())
///         .build()
///         .unwrap();
///     assert_eq!(pool.apply(3), Ok(9));
///     assert_eq!(pool.task::<String, String>("shout").apply("hi".into()), Ok("HI".into()));
///     assert_eq!(pool.task::<(u64, u64), u64>("add").starmap([(1, 2)]), vec![Ok(3)]);
/// }
/// ```
pub struct Tasks {
    entry: &'static str,
    tasks: HashMap<&'static str, TaskFn>,
    inits: HashMap<&'static str, RunInit>,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks")
            .field("entry", &self.entry)
            .field("tasks", &self.tasks.keys().collect::<Vec<_>>())
            .field("initializers", &self.inits.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Tasks {
    /// An empty table for the worker entry point named `entry`.
    pub fn new(entry: &'static str) -> Tasks {
        Tasks {
            entry,
            tasks: HashMap::new(),
            inits: HashMap::new(),
        }
    }

    /// Registers task `name`: `f` on each item.
    pub fn task<I, O>(mut self, name: &'static str, f: fn(I) -> O) -> Tasks
    where
        I: DeserializeOwned + 'static,
        O: Serialize + 'static,
    {
        self.tasks.insert(
            name,
            TaskFn {
                sig: signature::<I, O>(),
                types: type_names::<I, O>(),
                run: Box::new(move |items, count, out| run_chunk(f, items, count, out)),
            },
        );
        self
    }

    /// Registers task `name` taking two arguments: Python's `starmap` (call it with `(a, b)`
    /// tuples).
    pub fn star2<A, B, O>(mut self, name: &'static str, f: fn(A, B) -> O) -> Tasks
    where
        A: DeserializeOwned + 'static,
        B: DeserializeOwned + 'static,
        O: Serialize + 'static,
    {
        self.tasks.insert(
            name,
            TaskFn {
                sig: signature::<(A, B), O>(),
                types: type_names::<(A, B), O>(),
                run: Box::new(move |items, count, out| {
                    run_chunk(|(a, b): (A, B)| f(a, b), items, count, out)
                }),
            },
        );
        self
    }

    /// Registers task `name` taking three arguments (called with `(a, b, c)` tuples).
    pub fn star3<A, B, C, O>(mut self, name: &'static str, f: fn(A, B, C) -> O) -> Tasks
    where
        A: DeserializeOwned + 'static,
        B: DeserializeOwned + 'static,
        C: DeserializeOwned + 'static,
        O: Serialize + 'static,
    {
        self.tasks.insert(
            name,
            TaskFn {
                sig: signature::<(A, B, C), O>(),
                types: type_names::<(A, B, C), O>(),
                run: Box::new(move |items, count, out| {
                    run_chunk(|(a, b, c): (A, B, C)| f(a, b, c), items, count, out)
                }),
            },
        );
        self
    }

    /// Registers initializer `name`, called once in each worker with the arguments given to
    /// [`Builder::initializer_with`](super::Builder::initializer_with).
    pub fn initializer<A>(mut self, name: &'static str, f: fn(A)) -> Tasks
    where
        A: DeserializeOwned + 'static,
    {
        self.inits.insert(
            name,
            Box::new(move |bytes| {
                let args: A = postcard::from_bytes(bytes).map_err(|e| {
                    format!(
                        "the arguments of initializer {name:?} do not decode as {}: {e}",
                        std::any::type_name::<A>()
                    )
                })?;
                f(args);
                Ok(())
            }),
        );
        self
    }

    /// The entry point to register in `process::init`.
    pub fn entry(self) -> Entry {
        let name = self.entry;
        let table = Arc::new(self);
        Entry::from_fn(name, move |channel| worker_loop(channel, &table))
    }
}

/// The entry point of a pool worker with the one task `name` running `f`: register it in
/// `process::init` and build a [`ProcessPool`](super::ProcessPool) with the same `name` and
/// the same `I`, `O` types. [`Tasks`] registers several.
pub fn task<I, O>(name: &'static str, f: fn(I) -> O) -> Entry
where
    I: DeserializeOwned + 'static,
    O: Serialize + 'static,
{
    Tasks::new(name).task(name, f).entry()
}

/// Step 4 for one task function.
fn run_chunk<I: DeserializeOwned, O: Serialize>(
    f: impl Fn(I) -> O,
    mut items: &[u8],
    count: u32,
    out: &mut Vec<u8>,
) {
    for k in 0..count {
        let result: ItemResult<O> = match postcard::take_from_bytes::<I>(items) {
            Ok((item, rest)) => {
                items = rest;
                std::panic::catch_unwind(AssertUnwindSafe(|| f(item)))
                    .map_err(|p| ItemError::Panicked(panic_message(p)))
            }
            Err(e) => {
                // The stream position is lost: this item and the rest fail.
                let message = format!(
                    "item does not decode as {}: {e}",
                    std::any::type_name::<I>()
                );
                for _ in k..count {
                    push(
                        out,
                        &ItemResult::<O>::Err(ItemError::BadInput(message.clone())),
                    );
                }
                return;
            }
        };
        push(out, &result);
    }
}

/// Appends one encoded result; an output whose `Serialize` fails becomes that item's error.
fn push<O: Serialize>(out: &mut Vec<u8>, result: &ItemResult<O>) {
    let mark = out.len();
    if let Err(e) = postcard::to_io(result, &mut *out) {
        out.truncate(mark);
        let error = ItemResult::<()>::Err(ItemError::Unencodable(e.to_string()));
        // An error of strings always encodes.
        let _ = postcard::to_io(&error, &mut *out);
    }
}

/// The worker's loop (steps 1 to 5 of the module docs).
fn worker_loop(mut channel: Channel, table: &Tasks) {
    // Step 1. Failure (no prctl) leaves the older guarantee: a dead parent closes the channel.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let (parent, hook, init) = match channel.recv() {
        Ok(ToWorker::Hello { parent, hook, init }) => (parent, hook, init),
        Ok(ToWorker::Serve { parent }) => {
            if parent_is(parent) {
                // Returns only if this process cannot serve; the pool sees the channel close.
                let _ = process::serve_forks(channel);
            }
            return;
        }
        _ => return,
    };
    // Step 2.
    if !parent_is(parent) {
        return;
    }
    // Step 3.
    if let Err(message) = initialize(table, hook, init) {
        let _ = channel.send(&FromWorker::Refused { message });
        return;
    }
    if channel.send(&FromWorker::Ready).is_err() {
        return;
    }
    // Step 4, until step 5.
    let mut out = Vec::new();
    while let Ok(ToWorker::Chunk {
        task,
        sig,
        count,
        items,
    }) = channel.recv::<ToWorker>()
    {
        let outcome = match table.tasks.get(task.as_str()) {
            None => Err(ChunkError::UnknownTask {
                registered: table.tasks.keys().map(|k| (*k).to_owned()).collect(),
            }),
            Some(f) if f.sig != sig => Err(ChunkError::WrongTypes {
                registered: f.types.clone(),
            }),
            Some(f) => {
                out.clear();
                (f.run)(&items.0, count, &mut out);
                Ok(Bytes(std::mem::take(&mut out)))
            }
        };
        let sent = channel.send(&FromWorker::Done { outcome });
        if sent.is_err() {
            return;
        }
    }
}

/// Whether this process's parent is still `pid` (step 2).
fn parent_is(pid: i32) -> bool {
    rustix::process::getppid().is_some_and(|p| p.as_raw_nonzero().get() == pid)
}

fn initialize(
    table: &Tasks,
    hook: Option<String>,
    init: Option<(String, Bytes)>,
) -> Result<(), String> {
    if let Some(name) = hook {
        // A hook that panics ends the worker with code 101: the pool reports it.
        process::hook(&name).map_err(|e| e.to_string())?();
    }
    if let Some((name, args)) = init {
        let f = table.inits.get(name.as_str()).ok_or_else(|| {
            format!(
                "no initializer named {name:?} in worker entry {:?}",
                table.entry
            )
        })?;
        f(&args.0)?;
    }
    Ok(())
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
