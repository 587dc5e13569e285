//! The three start methods: how a child process comes to exist.
//!
//! | method | how | safe when | cost |
//! |---|---|---|---|
//! | [`StartMethod::Spawn`] (default) | `posix_spawn("/proc/self/exe")` with the entry's name in the environment; the child's `main` calls `init()`, which runs the entry | always, also from a multithreaded parent | one `exec` and the child's start-up; no copy of the parent's address space (glibc spawns with `CLONE_VFORK`) |
//! | [`StartMethod::Fork`] | `fork()`; the child runs the entry on its copy of the parent | only while the parent has one thread (checked: else [`ProcessError::ForkWithThreads`]) | page-table copy of the parent, no `exec` |
//! | [`StartMethod::ForkServer`] | a small server forked by `init()` while the process was single-threaded forks each child on request | always, once the server runs | fork of the small server, no `exec` |
//!
//! Why `Fork` is refused with threads: `fork` copies only the calling thread. A lock (the
//! allocator's, stdout's, any `Mutex`) held by another thread at that instant stays locked
//! forever in the child, which then deadlocks on its first allocation. Python's
//! `multiprocessing` forks anyway and hangs; we count threads in `/proc/self/status` first.
//!
//! The fork server, step by step:
//! 1. `init()` (single-threaded) makes a socketpair and forks the server, which keeps only its
//!    end (installed at [`CHILD_FD`], everything else closed).
//! 2. `start(name, ForkServer)` makes the child's channel (its socket, with the child's pipe
//!    ends queued on it: `channel.rs`, "Split") and sends the server `(name)` with the
//!    child's socket attached (`SCM_RIGHTS`).
//! 3. The server forks with `clone(CLONE_PARENT)`: the new process is the *parent's* child
//!    (a sibling of the server), so the parent reaps it with `waitpid` like any other child and
//!    the server never holds a zombie. The child installs its end at [`CHILD_FD`], closes every
//!    other descriptor, takes its pipe ends off the socket (queued in step 2, so without a
//!    wait; read with a small buffer: `channel.rs`, "Start cost"), and runs the entry.
//! 4. The server replies with the pid (or an error) and closes its copy of the child's end.
//! 5. When the parent exits, the server reads end-of-stream and exits.
//!
//! Every child, whatever the method, holds exactly stdio and its own channel: a channel end
//! that leaked into a sibling would keep that sibling's peer from ever seeing end-of-stream.

use std::ffi::{CStr, CString};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

use serde::{Deserialize, Serialize};

use super::channel::{CHILD_FD, Channel};
use super::child::Child;
use super::error::{FrameError, ProcessError};
use super::registry::{ENV_ENTRY, ENV_PARENT, Entry, Registry, run_child};
use super::sys::{self, Forked};

/// How a child process is started. See the module docs for when each is safe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StartMethod {
    /// Re-execute this binary through `/proc/self/exe` (`posix_spawn`). Safe from any thread.
    #[default]
    Spawn,
    /// `fork()` the caller. Refused while the caller has more than one thread.
    Fork,
    /// Ask the fork server started by `init()` to fork a child.
    ForkServer,
}

/// Starts a child running the registered entry point `name`, with a channel to it.
pub fn start(name: &str, method: StartMethod) -> Result<Child, ProcessError> {
    let registry = Registry::get()?;
    let entry = registry.main_entry(name)?;
    match method {
        StartMethod::Spawn => spawn(name),
        StartMethod::Fork => {
            let threads = sys::thread_count().map_err(ProcessError::Start)?;
            if threads > 1 {
                return Err(ProcessError::ForkWithThreads { threads });
            }
            let (parent_end, child_end) = Channel::launch_pair().map_err(ProcessError::Start)?;
            // SAFETY: we counted one thread just above, and only this thread can start one.
            match unsafe { sys::fork() }.map_err(ProcessError::Start)? {
                Forked::Child => {
                    drop(parent_end);
                    become_child(child_end, |channel| run_child(&entry, channel, true))
                }
                Forked::Parent(pid) => Ok(Child::new(pid, parent_end)),
            }
        }
        StartMethod::ForkServer => {
            let server = registry
                .fork_server
                .as_ref()
                .ok_or(ProcessError::NoForkServer)?;
            let (parent_end, child_end) = Channel::launch_pair().map_err(ProcessError::Start)?;
            // A poisoned lock only means another thread panicked mid-request; the server
            // protocol is request/reply, so a torn exchange shows up as an error below.
            let mut server = server.lock().unwrap_or_else(|p| p.into_inner());
            let pid = server.request(name, &child_end)?;
            drop(child_end);
            Ok(Child::new(pid, parent_end))
        }
    }
}

/// `StartMethod::Spawn`: `posix_spawn` of `/proc/self/exe` with the entry's name and our pid in
/// the environment and the child's end at [`CHILD_FD`].
fn spawn(name: &str) -> Result<Child, ProcessError> {
    /// The executable: this process's own image, even if the file was replaced on disk.
    const SELF_EXE: &CStr = c"/proc/self/exe";
    let (parent_end, child_end) = Channel::launch_pair().map_err(ProcessError::Start)?;
    let argv0 = std::env::args_os()
        .next()
        .and_then(|a| CString::new(a.as_bytes()).ok())
        .unwrap_or_else(|| SELF_EXE.to_owned());
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != ENV_ENTRY && k != ENV_PARENT)
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    let bad_name = || ProcessError::UnknownEntry { name: name.into() };
    env.push(CString::new(format!("{ENV_ENTRY}={name}")).map_err(|_| bad_name())?);
    env.push(CString::new(format!("{ENV_PARENT}={}", sys::getpid())).map_err(|_| bad_name())?);
    let envp: Vec<&CStr> = env.iter().map(CString::as_c_str).collect();
    let pid = sys::posix_spawn(SELF_EXE, &[&argv0], &envp, child_end.as_fd(), CHILD_FD)
        .map_err(ProcessError::Start)?;
    drop(child_end);
    Ok(Child::new(pid, parent_end))
}

/// In a freshly forked child: install `channel` at [`CHILD_FD`], close everything else above
/// stdio, and hand the channel to `run`.
fn become_child(channel: Channel, run: impl FnOnce(Channel) -> std::convert::Infallible) -> ! {
    use std::os::fd::IntoRawFd;
    let raw = channel.into_socket().into_raw_fd();
    if raw != CHILD_FD && sys::dup2(raw, CHILD_FD).is_err() {
        sys::exit_now(super::registry::EXIT_UNKNOWN_ENTRY);
    }
    sys::close_from(CHILD_FD + 1);
    // SAFETY: CHILD_FD now holds our channel and nothing else in this process owns it (every
    // descriptor above it was just closed, and `raw` was released by into_raw_fd).
    let channel = unsafe { Channel::from_child_fd() };
    match run(channel) {}
}

/// A request to the fork server.
#[derive(Serialize, Deserialize)]
struct ForkRequest {
    entry: String,
}

/// The parent's end of the fork server (step 1 of the module docs).
#[derive(Debug)]
pub(crate) struct ForkServer {
    channel: Channel,
    pid: i32,
}

impl ForkServer {
    /// Forks the server. The caller checked that this process has one thread.
    pub(crate) fn start(
        entries: &std::collections::HashMap<&'static str, Entry>,
    ) -> Result<ForkServer, ProcessError> {
        let (parent_end, server_end) = Channel::pair().map_err(ProcessError::Start)?;
        // SAFETY: Init::run counted exactly one thread before calling us.
        match unsafe { sys::fork() }.map_err(ProcessError::Start)? {
            Forked::Child => {
                drop(parent_end);
                let registry = Registry::install_in_server(entries);
                become_child(server_end, |channel| serve(channel, registry))
            }
            Forked::Parent(pid) => Ok(ForkServer {
                channel: parent_end,
                pid,
            }),
        }
    }

    /// Steps 2 and 4: asks for a child running `entry`, with `child_end` as its channel.
    fn request(&mut self, entry: &str, child_end: &Channel) -> Result<i32, ProcessError> {
        let gone = ProcessError::ForkServerGone;
        self.channel
            .send_with_fd(
                &ForkRequest {
                    entry: entry.into(),
                },
                child_end.socket(),
            )
            .map_err(gone)?;
        let reply: Result<i32, String> = self.channel.recv().map_err(gone)?;
        reply.map_err(|e| ProcessError::Start(std::io::Error::other(e)))
    }

    /// The server's pid.
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// Step 5 from the parent's side: shut the socket down (the server reads end-of-stream
    /// and exits) and reap the server.
    pub(crate) fn stop(&mut self) {
        if sys::shutdown(self.channel.socket()).is_ok() {
            let _ = sys::waitpid(self.pid);
        }
    }
}

/// A fork server of one's own, forked when [`Forker::new`] is called: what keeps
/// [`StartMethod::Fork`] usable after the caller became multithreaded.
///
/// `fork` is refused in a multithreaded process (see the module docs), so a process pool that
/// forks its workers could not fork replacements once its own thread runs. Instead it makes a
/// `Forker` while it still has one thread: a copy of the process as it is now, which forks
/// each child on request, with `clone(CLONE_PARENT)` as the fork server does (steps 2 to 5
/// above), so the children are ours to reap. Every child starts from the memory of the moment
/// `Forker::new` ran, not of the moment it is started.
///
/// [`Forker::from_child`] makes one from a child that was *spawned* and then asked to serve
/// ([`serve_forks`]): every child then starts as a copy of a fresh execution that only ran
/// `init()`, as with [`StartMethod::Spawn`], for the cost of a `fork` of a small process
/// instead of an `exec` of this binary.
#[derive(Debug)]
pub struct Forker {
    server: ForkServer,
    /// The server, when it was spawned (reaped through its `Child`).
    spawned: Option<Child>,
}

impl Forker {
    /// Forks the server. Fails with [`ProcessError::ForkWithThreads`] if this process runs
    /// more than one thread, and [`ProcessError::NotInitialized`] before `init()`.
    pub fn new() -> Result<Forker, ProcessError> {
        Registry::get()?;
        let threads = sys::thread_count().map_err(ProcessError::Start)?;
        if threads > 1 {
            return Err(ProcessError::ForkWithThreads { threads });
        }
        let (parent_end, server_end) = Channel::pair().map_err(ProcessError::Start)?;
        // SAFETY: we counted one thread just above, and only this thread can start one.
        match unsafe { sys::fork() }.map_err(ProcessError::Start)? {
            Forked::Child => {
                drop(parent_end);
                // The copy of the parent's memory holds the table `init()` stored.
                match Registry::get() {
                    Ok(registry) => become_child(server_end, |channel| serve(channel, registry)),
                    Err(_) => sys::exit_now(1),
                }
            }
            Forked::Parent(pid) => {
                let mut parent_end = parent_end;
                bound_waits(&mut parent_end);
                Ok(Forker {
                    server: ForkServer {
                        channel: parent_end,
                        pid,
                    },
                    spawned: None,
                })
            }
        }
    }

    /// A `Forker` over a child that runs [`serve_forks`] on its channel (the caller asked it
    /// to, in its own protocol). `None` if the child's channel was taken.
    pub fn from_child(mut child: Child) -> Option<Forker> {
        let mut channel = child.take_channel()?;
        bound_waits(&mut channel);
        Some(Forker {
            server: ForkServer {
                channel,
                pid: child.pid(),
            },
            spawned: Some(child),
        })
    }

    /// Starts a child running the registered entry point `name` (forked from the server).
    pub fn start(&mut self, name: &str) -> Result<Child, ProcessError> {
        Registry::get()?.main_entry(name)?;
        let (parent_end, child_end) = Channel::launch_pair().map_err(ProcessError::Start)?;
        let pid = self.server.request(name, &child_end)?;
        drop(child_end);
        Ok(Child::new(pid, parent_end))
    }

    /// The server's pid.
    pub fn pid(&self) -> i32 {
        self.server.pid()
    }
}

impl Drop for Forker {
    fn drop(&mut self) {
        // Step 5: the server reads end-of-stream, exits, and is reaped.
        match self.spawned.take() {
            None => self.server.stop(),
            Some(mut child) => {
                let _ = sys::shutdown(self.server.channel.socket());
                // It exits at once; if it does not, dropping the Child kills and reaps it.
                let _ = child.wait_timeout(SERVER_EXIT_GRACE);
            }
        }
    }
}

/// The longest a [`Forker`]'s request may wait for the server (to take the request, or to
/// reply): a server that stopped answering gives [`ProcessError::ForkServerGone`] instead of
/// blocking its caller for ever. Picked out of thin air: a fork takes a millisecond.
const SERVER_REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Sets [`SERVER_REPLY_TIMEOUT`] on both directions of a server's channel (its socket, and
/// its pipes if it is split). Best effort: a channel that refuses keeps blocking waits (it
/// cannot happen: the timeout is not zero and the descriptors are ours).
fn bound_waits(channel: &mut Channel) {
    let _ = channel.set_read_timeout(Some(SERVER_REPLY_TIMEOUT));
    let _ = channel.set_write_timeout(Some(SERVER_REPLY_TIMEOUT));
}

/// How long a spawned fork server may take to exit once its channel is shut down before it is
/// killed. Picked out of thin air: it exits within microseconds.
const SERVER_EXIT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs the fork server's loop (steps 3 to 5 of the module docs) in this process, on
/// `channel`: for a child whose parent wraps it with [`Forker::from_child`]. Returns only an
/// error: before `init()`, or if this process has more than one thread (its children would
/// inherit locks held by the others).
pub fn serve_forks(channel: Channel) -> Result<std::convert::Infallible, ProcessError> {
    let registry = Registry::get()?;
    let threads = sys::thread_count().map_err(ProcessError::Start)?;
    if threads > 1 {
        return Err(ProcessError::ForkWithThreads { threads });
    }
    serve(channel, registry)
}

/// The fork server's loop (steps 3 to 5). Runs in the server process and never returns.
fn serve(mut channel: Channel, registry: &Registry) -> ! {
    loop {
        let (request, child_fd) = match channel.recv_with_fd::<ForkRequest>() {
            Ok(r) => r,
            Err(FrameError::PeerClosed) => sys::exit_now(0),
            Err(_) => sys::exit_now(1),
        };
        let reply = match registry.main_entry(&request.entry) {
            Err(e) => Err(e.to_string()),
            // SAFETY: the server is single-threaded: it was forked from a single-threaded
            // parent and starts no thread.
            Ok(entry) => match unsafe { sys::fork_sibling() } {
                Ok(Forked::Child) => {
                    drop(channel);
                    become_child(Channel::from_fd(child_fd), |c| run_child(&entry, c, true))
                }
                Ok(Forked::Parent(pid)) => Ok(pid),
                Err(e) => Err(e.to_string()),
            },
        };
        drop(child_fd);
        if channel.send(&reply).is_err() {
            sys::exit_now(0);
        }
    }
}
