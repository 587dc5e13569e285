//! A started child: its pid, its channel, and the guarantee that it is reaped.
//!
//! Lifecycle:
//!
//! ```text
//!   start() ──> Running ──(1) wait() / try_wait() sees it end──> Reaped
//!                  │
//!                  └──(2) drop while Running: kill(SIGKILL), waitpid ──> Reaped
//! ```
//!
//! Invariant: a `Child` is reaped exactly once, by (1) or (2), so no zombie outlives its
//! handle. Dropping a running child kills it: a handle that goes away must not leave a process
//! behind that nobody can wait for. Call [`Child::wait`] for a graceful end (after telling
//! the child to stop, or dropping its channel so it reads end-of-stream).

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use super::channel::Channel;
use super::error::ProcessError;
use super::sys::{self, RawStatus};

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// A signal ended it.
    Signaled(Signal),
}

impl ExitStatus {
    /// Whether it exited with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }

    /// The signal that ended it, if any.
    pub fn signal(self) -> Option<Signal> {
        match self {
            ExitStatus::Signaled(s) => Some(s),
            ExitStatus::Exited(_) => None,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exited with code {code}"),
            ExitStatus::Signaled(sig) => write!(f, "killed by {sig}"),
        }
    }
}

impl From<RawStatus> for ExitStatus {
    fn from(raw: RawStatus) -> Self {
        match raw {
            RawStatus::Exited(code) => ExitStatus::Exited(code),
            RawStatus::Signaled(sig) => ExitStatus::Signaled(Signal(sig)),
        }
    }
}

/// A signal number, displayed with its name (`signal 9 (SIGKILL)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Signal(pub i32);

impl Signal {
    /// `SIGKILL`.
    pub const KILL: Signal = Signal(libc::SIGKILL);
    /// `SIGTERM`.
    pub const TERM: Signal = Signal(libc::SIGTERM);
    /// `SIGABRT`.
    pub const ABRT: Signal = Signal(libc::SIGABRT);
    /// `SIGSEGV`.
    pub const SEGV: Signal = Signal(libc::SIGSEGV);

    /// The signal's conventional name, if it is a common one.
    pub fn name(self) -> Option<&'static str> {
        const NAMES: &[(i32, &str)] = &[
            (libc::SIGHUP, "SIGHUP"),
            (libc::SIGINT, "SIGINT"),
            (libc::SIGQUIT, "SIGQUIT"),
            (libc::SIGILL, "SIGILL"),
            (libc::SIGTRAP, "SIGTRAP"),
            (libc::SIGABRT, "SIGABRT"),
            (libc::SIGBUS, "SIGBUS"),
            (libc::SIGFPE, "SIGFPE"),
            (libc::SIGKILL, "SIGKILL"),
            (libc::SIGUSR1, "SIGUSR1"),
            (libc::SIGSEGV, "SIGSEGV"),
            (libc::SIGUSR2, "SIGUSR2"),
            (libc::SIGPIPE, "SIGPIPE"),
            (libc::SIGALRM, "SIGALRM"),
            (libc::SIGTERM, "SIGTERM"),
            (libc::SIGXCPU, "SIGXCPU"),
            (libc::SIGSYS, "SIGSYS"),
        ];
        NAMES.iter().find(|(n, _)| *n == self.0).map(|(_, s)| *s)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "signal {} ({name})", self.0),
            None => write!(f, "signal {}", self.0),
        }
    }
}

/// A child process started by [`start`](super::start()), with the parent's end of its channel.
///
/// It also holds a pidfd (Linux 5.3 and later): a descriptor that becomes readable when the
/// process ends. Death is then seen from the process itself, not from its channel, which a
/// grandchild that inherited it may keep open long after the child died.
#[derive(Debug)]
pub struct Child {
    pid: i32,
    channel: Option<Channel>,
    status: Option<ExitStatus>,
    pidfd: Option<OwnedFd>,
}

impl Child {
    pub(crate) fn new(pid: i32, channel: Channel) -> Child {
        // Opened before anyone can reap the child, so the pid cannot have been reused: it
        // names our child. A kernel without pidfd_open (before 5.3) leaves it `None`.
        let pidfd = sys::pidfd_open(pid).ok();
        Child {
            pid,
            channel: Some(channel),
            status: None,
            pidfd,
        }
    }

    /// A descriptor that becomes readable when the child ends (poll it, or register it with a
    /// poller); `None` on kernels without `pidfd_open`.
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(AsFd::as_fd)
    }

    /// Waits up to `timeout` for the child to end and reaps it if it did: `None` if it still
    /// runs. Without a pidfd it only checks once, without waiting.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, ProcessError> {
        if self.status.is_none() {
            if let Some(fd) = self.pidfd.as_ref() {
                sys::wait_readable(fd.as_fd(), timeout);
            }
        }
        self.try_wait()
    }

    /// The child's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The parent's end of the channel (`None` once taken).
    pub fn channel(&mut self) -> Option<&mut Channel> {
        self.channel.as_mut()
    }

    /// Takes the channel (to move it into an async channel, or to drop it so the child reads
    /// end-of-stream).
    pub fn take_channel(&mut self) -> Option<Channel> {
        self.channel.take()
    }

    /// Sends `signal` to the child (nothing if it was already reaped).
    pub fn signal(&mut self, signal: Signal) -> Result<(), ProcessError> {
        if self.status.is_some() {
            return Ok(());
        }
        sys::kill(self.pid, signal.0).map_err(|source| ProcessError::Child {
            pid: self.pid,
            source,
        })
    }

    /// Kills the child with `SIGKILL` (it is reaped by the next wait or by drop).
    pub fn kill(&mut self) -> Result<(), ProcessError> {
        self.signal(Signal::KILL)
    }

    /// Blocks until the child ends, reaps it, and returns how it ended.
    pub fn wait(&mut self) -> Result<ExitStatus, ProcessError> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let status = sys::waitpid(self.pid).map_err(|source| ProcessError::Child {
            pid: self.pid,
            source,
        })?;
        Ok(*self.status.insert(status.into()))
    }

    /// Reaps the child if it has ended, without blocking.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, ProcessError> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let status = sys::try_waitpid(self.pid).map_err(|source| ProcessError::Child {
            pid: self.pid,
            source,
        })?;
        Ok(status.map(|s| *self.status.insert(s.into())))
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // Transition (2): a handle must not leave an unreapable process behind.
        if self.status.is_none() {
            let _ = sys::kill(self.pid, libc::SIGKILL);
            let _ = sys::waitpid(self.pid);
        }
    }
}
