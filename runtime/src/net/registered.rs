//! # `Registered<S>`: a mio source plus its registration, and the retry loop every I/O
//! operation shares
//!
//! Every socket type in this module is a thin wrapper around `Registered<mio type>`. An
//! operation runs the same five steps, written once in [`Registered::poll_io`]:
//!
//! 1. Ask the cooperative budget for one unit ([`coop::poll_proceed`]); if the task has
//!    spent its budget, it has been woken and we return `Pending` so that others run.
//! 2. Wait for readiness in the operation's direction (`Pending` stores the waker).
//! 3. Try the non-blocking syscall.
//! 4. `WouldBlock`: the readiness was stale; clear it (with the tick check that keeps a
//!    newer event) and go back to step 2. `Interrupted`: try again at once.
//! 5. Anything else is the result: mark the budget unit spent
//!    ([`Grant::made_progress`](crate::coop::Grant::made_progress)) and return it.
//!
//! On drop the source is deregistered from epoll before it is closed, then the
//! registration frees its slot.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::task::{Context, Poll, ready};

use mio::Interest;
use mio::event::Source;

use crate::coop;
use crate::reactor::{Direction, IoHandle, Registration};

/// A mio source registered with a reactor.
pub(crate) struct Registered<S: Source> {
    // Field order matters for drop: the source (fd) closes before the slot is freed,
    // after `Drop::drop` has deregistered it.
    source: S,
    registration: Registration,
}

impl<S: Source> Registered<S> {
    /// Registers `source` with the reactor of `handle` for `interest`.
    pub(crate) fn new(handle: &IoHandle, mut source: S, interest: Interest) -> io::Result<Self> {
        let registration = handle.register(&mut source, interest)?;
        Ok(Registered {
            source,
            registration,
        })
    }

    /// The mio source, for syscalls that never block (addresses, options, shutdown).
    pub(crate) fn source(&self) -> &S {
        &self.source
    }

    /// The registration, for waits that are not a syscall retry loop (connect).
    pub(crate) fn registration(&self) -> &Registration {
        &self.registration
    }

    /// Runs `op` on the source when it is ready in `direction`; the steps are in the
    /// module doc.
    pub(crate) fn poll_io<R>(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let grant = ready!(coop::poll_proceed(cx));
        loop {
            ready!(self.registration.poll_ready(direction, cx))?;
            match op(&self.source) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.registration.clear_ready(direction);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                result => {
                    grant.made_progress();
                    return Poll::Ready(result);
                }
            }
        }
    }

    /// [`poll_io`](Self::poll_io) for reading.
    pub(crate) fn poll_read_io<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io(Direction::Read, cx, op)
    }

    /// [`poll_io`](Self::poll_io) for writing.
    pub(crate) fn poll_write_io<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io(Direction::Write, cx, op)
    }

    /// Reads a byte stream into `buf`. A short read (fewer bytes than asked, but not end of
    /// stream) means the kernel buffer is now empty, so the read readiness is cleared at
    /// once instead of by a `WouldBlock` on the next call: one syscall saved per read, as
    /// in tokio. Any byte arriving later is a new edge, hence a new event and a new tick.
    pub(crate) fn poll_read_stream(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>>
    where
        for<'a> &'a S: io::Read,
    {
        let len = buf.len();
        let n = ready!(self.poll_read_io(cx, |mut source| io::Read::read(&mut source, buf)))?;
        self.after_stream_read(n, len);
        Poll::Ready(Ok(n))
    }

    /// [`poll_read_stream`](Self::poll_read_stream) into a buffer that may be uninitialised:
    /// `read(2)` on the fd writes the bytes (`rustix::io::read` takes `&mut [MaybeUninit<u8>]`
    /// and hands back the prefix it wrote), and nothing else touches `buf`. An empty `buf`
    /// returns 0 at once. Returns the count `n`, at most `buf.len()`; the first `n` bytes of
    /// `buf` are then initialised with the bytes read, the rest are as they were. No `unsafe` here: rustix's safe API carries the
    /// proof, and the callers that turn the count into initialised bytes cite this contract.
    pub(crate) fn poll_read_stream_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>>
    where
        S: AsFd,
    {
        let len = buf.len();
        if len == 0 {
            // Nothing to read into: done, without waiting for readiness that may never come.
            return Poll::Ready(Ok(0));
        }
        let n = ready!(self.poll_read_io(cx, |source| {
            match rustix::io::read(source.as_fd(), &mut *buf) {
                Ok((filled, _)) => Ok(filled.len()),
                Err(errno) => Err(io::Error::from(errno)),
            }
        }))?;
        self.after_stream_read(n, len);
        Poll::Ready(Ok(n))
    }

    /// The short-read rule of [`poll_read_stream`](Self::poll_read_stream): `n` bytes read
    /// into room for `len`.
    fn after_stream_read(&self, n: usize, len: usize) {
        if n > 0 && n < len {
            self.registration.clear_read_ready();
        }
    }

    /// Writes `bufs` to a byte stream. A short write means the send buffer is full: the
    /// write readiness is cleared at once, for the same reason as in
    /// [`poll_read_stream`](Self::poll_read_stream). One buffer (every `poll_write`) goes by
    /// `write` (`send(2)` on a socket), not `write_vectored`: `writev(2)` takes the file layer
    /// (the iovec copy-in, `vfs_writev`, `sock_write_iter`), which in issue 11's profile of
    /// the pool's echo cost about 4% of the server's CPU beside tokio's `send`.
    pub(crate) fn poll_write_stream(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>>
    where
        for<'a> &'a S: io::Write,
    {
        let len: usize = bufs.iter().map(|buf| buf.len()).sum();
        let n = ready!(self.poll_write_io(cx, |mut source| match bufs {
            [one] => io::Write::write(&mut source, one),
            _ => io::Write::write_vectored(&mut source, bufs),
        }))?;
        if n > 0 && n < len {
            self.registration.clear_write_ready();
        }
        Poll::Ready(Ok(n))
    }

    /// Waits for a non-blocking `connect` on the source to finish: the socket turns
    /// writable when the handshake ends either way; then `SO_ERROR` (`take_error`) tells
    /// failure, and a peer address (`is_connected`) tells success, as mio's docs prescribe.
    pub(crate) fn poll_connected(
        &self,
        cx: &mut Context<'_>,
        take_error: impl Fn(&S) -> io::Result<Option<io::Error>>,
        is_connected: impl Fn(&S) -> io::Result<bool>,
    ) -> Poll<io::Result<()>> {
        let grant = ready!(coop::poll_proceed(cx));
        loop {
            ready!(self.registration.poll_write_ready(cx))?;
            // SO_ERROR first: a refused or unreachable connect reports here (and clears it).
            if let Some(error) = take_error(&self.source)? {
                grant.made_progress();
                return Poll::Ready(Err(error));
            }
            if is_connected(&self.source)? {
                grant.made_progress();
                return Poll::Ready(Ok(()));
            }
            // Writable but not yet connected: a spurious event; wait for the next one.
            self.registration.clear_write_ready();
        }
    }
}

impl<S: Source> Drop for Registered<S> {
    fn drop(&mut self) {
        // Fails only if the reactor's epoll fd is gone or the source was never registered;
        // neither leaves anything to undo, and close() below removes a lone fd anyway.
        let _ = self.registration.deregister(&mut self.source);
    }
}

impl<S: Source + std::fmt::Debug> std::fmt::Debug for Registered<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("source", &self.source)
            .field("token", &self.registration.token())
            .finish()
    }
}

/// Implements `AsFd` and `AsRawFd` for a socket type wrapping `io: Registered<_>`, so
/// callers can set socket options this module does not wrap. Closing or changing the
/// blocking mode of the fd behind the socket's back breaks it, as with any mio socket.
macro_rules! impl_as_fd {
    ($socket:ty) => {
        impl std::os::fd::AsFd for $socket {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(self.io.source())
            }
        }

        impl std::os::fd::AsRawFd for $socket {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(self.io.source())
            }
        }
    };
}
pub(crate) use impl_as_fd;
