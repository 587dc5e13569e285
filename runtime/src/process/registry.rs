//! Entry points by name, and [`init`]: the first call in `main`.
//!
//! A child started with [`StartMethod::Spawn`](super::StartMethod::Spawn) is a fresh execution
//! of this very binary: it has no closure, no function pointer from its parent (addresses differ
//! under ASLR), only an environment. So the parent names the code to run, and the child looks
//! the name up in the same table, which `main` builds the same way in both:
//!
//! ```text
//!  parent main                               child main (same binary, re-executed)
//!  -----------                               ------------------------------------
//!  init([Entry::new("work", work)])          init([Entry::new("work", work)])
//!    no SWITCHYARD_ENTRY: store the table;     SWITCHYARD_ENTRY=work, parent pid matches:
//!    start the fork server if asked            run work(channel at fd 3), then exit;
//!    return Ok                                  init never returns
//!  start("work", Spawn) --posix_spawn-->
//! ```
//!
//! A parent that forgot `init()` gets [`ProcessError::NotInitialized`] from every start, not a
//! child that silently runs `main` again. The child checks that the pid named in
//! [`ENV_PARENT`] is its parent, so a grandchild that inherited the environment through an
//! unrelated `Command` does not mistake itself for a worker.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock};

use super::channel::Channel;
use super::error::ProcessError;
use super::start::ForkServer;
use super::sys;

/// The environment variable naming the entry point a spawned child runs.
pub const ENV_ENTRY: &str = "SWITCHYARD_ENTRY";
/// The environment variable holding the spawning parent's pid.
pub const ENV_PARENT: &str = "SWITCHYARD_PARENT";

/// A child's exit code when its entry point returned normally.
pub const EXIT_OK: i32 = 0;
/// A child's exit code when its entry point panicked (Rust's own code for a panicking main).
pub const EXIT_PANIC: i32 = 101;
/// A child's exit code when the entry it was asked to run is not registered (as a shell's
/// "command not found"), or when its parent did not hand over the channel's pipes.
pub const EXIT_UNKNOWN_ENTRY: i32 = 127;

/// What an entry point runs: the child's end of the channel to its parent.
type EntryFn = Arc<dyn Fn(Channel) + Send + Sync>;

/// A named entry point: code a child process can be asked to run.
#[derive(Clone)]
pub struct Entry {
    name: &'static str,
    kind: EntryKind,
}

#[derive(Clone)]
pub(crate) enum EntryKind {
    Main(EntryFn),
    Hook(fn()),
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry").field("name", &self.name).finish()
    }
}

impl Entry {
    /// An entry point that runs `f` with the child's end of its channel; the child exits with
    /// [`EXIT_OK`] when `f` returns, [`EXIT_PANIC`] if it panics.
    pub fn new(name: &'static str, f: fn(Channel)) -> Entry {
        Entry::from_fn(name, f)
    }

    /// As [`Entry::new`], from any function object (the process pool builds its worker loop
    /// this way around a typed task function).
    pub fn from_fn(name: &'static str, f: impl Fn(Channel) + Send + Sync + 'static) -> Entry {
        Entry {
            name,
            kind: EntryKind::Main(Arc::new(f)),
        }
    }

    /// A named hook: a plain function a child can be asked to call by name (the process
    /// pool's initializer), never an entry point of its own.
    pub fn hook(name: &'static str, f: fn()) -> Entry {
        Entry {
            name,
            kind: EntryKind::Hook(f),
        }
    }

    /// The name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The table `init` stored, and the fork server it started.
pub(crate) struct Registry {
    entries: HashMap<&'static str, Entry>,
    pub(crate) fork_server: Option<Mutex<ForkServer>>,
}

static REGISTRY: OnceLock<Registry> = OnceLock::new();

impl Registry {
    /// The registry, or the error that says `init()` was forgotten.
    pub(crate) fn get() -> Result<&'static Registry, ProcessError> {
        REGISTRY.get().ok_or(ProcessError::NotInitialized)
    }

    /// The entry point named `name`.
    pub(crate) fn main_entry(&self, name: &str) -> Result<EntryFn, ProcessError> {
        match self.entries.get(name).map(|e| &e.kind) {
            Some(EntryKind::Main(f)) => Ok(f.clone()),
            _ => Err(ProcessError::UnknownEntry { name: name.into() }),
        }
    }

    /// In the fork server (forked from inside `init`, before the parent stored its table):
    /// stores a copy of the table so the server and its children can look names up.
    pub(crate) fn install_in_server(entries: &HashMap<&'static str, Entry>) -> &'static Registry {
        REGISTRY.get_or_init(|| Registry {
            entries: entries.clone(),
            fork_server: None,
        })
    }

    /// The hook named `name`.
    pub(crate) fn hook(&self, name: &str) -> Option<fn()> {
        match self.entries.get(name).map(|e| &e.kind) {
            Some(EntryKind::Hook(f)) => Some(*f),
            _ => None,
        }
    }
}

/// Looks up a registered hook by name (for a child calling its initializer).
pub fn hook(name: &str) -> Result<fn(), ProcessError> {
    Registry::get()?
        .hook(name)
        .ok_or_else(|| ProcessError::UnknownEntry { name: name.into() })
}

/// The fork server's pid, if `init()` started one in this process.
pub fn fork_server_pid() -> Option<i32> {
    let server = REGISTRY.get()?.fork_server.as_ref()?;
    Some(server.lock().unwrap_or_else(|p| p.into_inner()).pid())
}

/// Whether `init()` has run in this process.
pub fn is_initialized() -> bool {
    REGISTRY.get().is_some()
}

/// Options for [`init`]: the entry points, and whether to start a fork server.
#[derive(Debug, Default)]
#[must_use = "call .run() as the first line of main"]
pub struct Init {
    entries: Vec<Entry>,
    fork_server: bool,
}

impl Init {
    /// No entries, no fork server.
    pub fn new() -> Init {
        Init::default()
    }

    /// Registers one entry point or hook.
    pub fn entry(mut self, entry: Entry) -> Init {
        self.entries.push(entry);
        self
    }

    /// Registers several.
    pub fn entries(mut self, entries: impl IntoIterator<Item = Entry>) -> Init {
        self.entries.extend(entries);
        self
    }

    /// Starts a fork server in `run` (which must then happen while this process has one
    /// thread), so [`StartMethod::ForkServer`](super::StartMethod::ForkServer) can be used.
    pub fn fork_server(mut self, on: bool) -> Init {
        self.fork_server = on;
        self
    }

    /// In a child: runs the entry point it was started for and exits (never returns). In the
    /// parent: stores the table (and starts the fork server) and returns.
    pub fn run(self) -> Result<(), ProcessError> {
        let entries: HashMap<&'static str, Entry> =
            self.entries.into_iter().map(|e| (e.name, e)).collect();
        if let Some(name) = spawned_entry_name() {
            // A spawned child. Store the table first so the entry can look up hooks.
            let registry = Registry {
                entries,
                fork_server: None,
            };
            let entry = registry.main_entry(&name);
            let _ = REGISTRY.set(registry);
            match entry {
                Ok(f) => {
                    // SAFETY: a child started by `start::spawn` has its channel at CHILD_FD,
                    // and this is the only place that takes it.
                    let channel = unsafe { Channel::from_child_fd() };
                    run_child(&f, channel, false)
                }
                Err(e) => {
                    eprintln!("switchyard child {}: {e}", sys::getpid());
                    std::process::exit(EXIT_UNKNOWN_ENTRY);
                }
            }
        }
        if REGISTRY.get().is_some() {
            return Err(ProcessError::InitMisuse("was called twice"));
        }
        let fork_server = if self.fork_server {
            let threads = sys::thread_count().map_err(ProcessError::Start)?;
            if threads != 1 {
                return Err(ProcessError::InitMisuse(
                    "must run before any thread is spawned to start a fork server",
                ));
            }
            Some(Mutex::new(ForkServer::start(&entries)?))
        } else {
            None
        };
        let with_server = fork_server.is_some();
        REGISTRY
            .set(Registry {
                entries,
                fork_server,
            })
            .map_err(|_| ProcessError::InitMisuse("was called twice"))?;
        if with_server {
            // SAFETY: atexit only records the function pointer; reap_fork_server is an
            // `extern "C" fn()` that never unwinds (it catches nothing that could panic: a
            // poisoned lock is recovered, errors are ignored).
            unsafe { libc::atexit(reap_fork_server) };
        }
        Ok(())
    }
}

/// Runs at exit of the parent (registered by `Init::run`): closes the fork server's socket,
/// so the server reads end-of-stream and exits, and reaps it, so not even the server is left
/// as a zombie for init to collect. Forked children leave through `_exit`, which skips this.
extern "C" fn reap_fork_server() {
    if let Some(server) = REGISTRY.get().and_then(|r| r.fork_server.as_ref()) {
        server.lock().unwrap_or_else(|p| p.into_inner()).stop();
    }
}

/// Registers `entries` and, in a child, runs the one it was started for (see [`Init::run`]).
/// Call it as the first line of `main`.
pub fn init(entries: impl IntoIterator<Item = Entry>) -> Result<(), ProcessError> {
    Init::new().entries(entries).run()
}

/// The entry name if this process was spawned by a switchyard parent (the env names it and
/// its parent pid is ours).
fn spawned_entry_name() -> Option<String> {
    let name = std::env::var(ENV_ENTRY).ok()?;
    let parent: i32 = std::env::var(ENV_PARENT).ok()?.parse().ok()?;
    // SAFETY: getppid has no preconditions.
    let ppid = unsafe { libc::getppid() };
    (ppid == parent).then_some(name)
}

/// Runs an entry point in a child and ends the process: exit code [`EXIT_OK`], or
/// [`EXIT_PANIC`] after the panic hook printed the message. `forked` children end with
/// `_exit` (they share the parent's stdio buffers' history and must not run its atexit hooks).
pub(crate) fn run_child(f: &EntryFn, channel: Channel, forked: bool) -> ! {
    // The launcher queued the child's pipe ends on its socket (`channel.rs`, "Split").
    let channel = match channel.attach_pipes() {
        Ok(channel) => channel,
        Err(e) => {
            eprintln!("switchyard child {}: no channel: {e}", sys::getpid());
            if forked {
                sys::exit_now(EXIT_UNKNOWN_ENTRY)
            }
            std::process::exit(EXIT_UNKNOWN_ENTRY)
        }
    };
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(channel)));
    let code = if result.is_ok() { EXIT_OK } else { EXIT_PANIC };
    if forked {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        sys::exit_now(code)
    }
    std::process::exit(code)
}
