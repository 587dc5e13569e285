//! # `HyperIo`: hyper's `rt::Read` / `rt::Write` on Switchyard's streams, without zeroing
//!
//! hyper hands its reads an *uninitialised* buffer (a `ReadBufCursor` over the spare capacity
//! of its `BytesMut`). futures-io's `AsyncRead` takes `&mut [u8]`, which must be initialised,
//! so a plain adapter zeroes the whole spare capacity before every read: CPU for the memset,
//! and every page of every connection's buffer touched (resident) even when a request is a
//! few hundred bytes. `HyperIo` never zeroes hyper's buffer. It reads one of two ways:
//!
//! 1. **Direct**, when the kernel probably holds data (the last read filled what it was
//!    given): `read(2)` straight into the uninitialised cursor (`rustix::io::read` takes
//!    `&mut [MaybeUninit<u8>]` and returns the initialised prefix), zero-copy. It spends one
//!    unit of the task's [`coop`] budget, as every runtime socket operation does.
//! 2. **Through the stream**, when the socket may be empty (the last read was short, or a
//!    direct read met `WouldBlock`): the stream's own futures-io `poll_read`, into a
//!    [`BOUNCE`]-byte buffer on the stack, then copied into the cursor. This path is the one
//!    that waits: it parks the task on the stream's registration and, on a short read or
//!    `WouldBlock`, clears the registration's readiness, so the next wait costs no syscall. If
//!    the bounce buffer comes back full, more is probably waiting: a direct read (1) follows
//!    at once, into the rest of the cursor.
//!
//! A request that fits in the bounce buffer thus costs one `read(2)` and a copy of its bytes,
//! as many syscalls as tokio's own stream; a large body is read zero-copy, a bounce-full at a
//! time through (2) and the rest through (1). Which way a read goes is only a hint (the
//! `drained` flag): either way is correct whatever the kernel holds, since (1) falls back to
//! (2) on `WouldBlock` and (2) waits for readiness.
//!
//! What it saves, measured by `examples/hyper_read_cost.rs` (1,000 Unix socket pairs on one
//! loop, each with a fresh 8 KiB buffer as hyper's first, 100 reads of 500 bytes each; 2
//! shared cores, five runs): after one read per connection the resident set grew by 472 KiB
//! with `HyperIo` and by 4,024 KiB with a zeroing futures-io adapter, and the 100,000 reads
//! took 0.04-0.07 s of user CPU against 0.10-0.14 s (system time, mostly the syscalls, was
//! the same: 0.21-0.27 s against 0.22-0.29 s).
//!
//! The direct path needs only what the runtime makes public (the stream's fd and its
//! futures-io impl). A runtime method that reads into an uninitialised buffer through the
//! registration (`TcpStream::poll_read_uninit(&self, cx, &mut [MaybeUninit<u8>])`, the
//! runtime's retry loop around the same `read(2)`) would make the bounce buffer and its copy
//! unnecessary.
//!
//! Writes go straight to the stream's futures-io `AsyncWrite` (vectored writes included:
//! hyper's HTTP/1 encoder writes head and body as separate slices).

use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use ::hyper::rt;
use switchyard_runtime::coop;
use switchyard_runtime::futures_io::{AsyncRead, AsyncWrite};
use switchyard_runtime::net::{TcpStream, UnixStream};

/// The stack buffer of read path 2 (module doc). A GET with a browser's usual headers
/// (~500-900 bytes) fits, so a typical request takes one syscall and leaves the readiness
/// cleared; the price is a 1 KiB memset of hot stack per wait. Picked by that reasoning, not
/// measured.
pub const BOUNCE: usize = 1024;

mod sealed {
    pub trait Sealed {}
    impl Sealed for switchyard_runtime::net::TcpStream {}
    impl Sealed for switchyard_runtime::net::UnixStream {}
}

/// A Switchyard byte stream whose futures-io read is a plain `read(2)` on its fd, so that
/// [`HyperIo`] may read that fd directly. Sealed: implemented for [`TcpStream`] and
/// [`UnixStream`] only, since for a stream that transforms its bytes (TLS, say) a direct read
/// of the fd would bypass it.
pub trait StreamSocket: sealed::Sealed + AsyncRead + AsyncWrite + AsFd + Unpin {}

impl StreamSocket for TcpStream {}
impl StreamSocket for UnixStream {}

/// A Switchyard stream as hyper's [`rt::Read`] + [`rt::Write`].
///
/// Reads never zero hyper's uninitialised buffer (the design is told in `src/hyper/io.rs`).
/// While the socket may be empty, a read waits through the stream's own futures-io read, into a
/// [`BOUNCE`]-byte stack buffer whose bytes are then copied; when data is known to wait, it is
/// read with `read(2)` straight into hyper's buffer. A request that fits in the bounce buffer
/// costs one syscall; a large body is read zero-copy after its first [`BOUNCE`] bytes.
#[derive(Debug)]
pub struct HyperIo<S> {
    stream: S,
    /// The kernel's receive buffer may be empty: read through the stream (path 2), not
    /// directly. A hint only (module doc).
    drained: bool,
    /// An error met by the direct read that followed a successful bounce read, in the same
    /// call: the bytes went up first, the error is returned by the next call.
    pending_error: Option<io::Error>,
}

impl<S: StreamSocket> HyperIo<S> {
    /// Wraps `stream`.
    pub fn new(stream: S) -> HyperIo<S> {
        HyperIo {
            stream,
            // A new connection: the first read waits through the stream.
            drained: true,
            pending_error: None,
        }
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, mutably (reading it directly is allowed: `HyperIo` keeps no bytes).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Unwraps the stream. An error held for the next read (module doc) is lost with the
    /// wrapper; the stream reports its own state again.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Read path 1: one `read(2)` into the cursor's uninitialised part. Returns the count
    /// (0: end of stream); `WouldBlock` if the socket was empty.
    fn read_direct(&mut self, buf: &mut rt::ReadBufCursor<'_>) -> io::Result<usize> {
        // SAFETY: `as_mut` requires that we de-initialise nothing; `read(2)` only writes
        // bytes into the slice, and nothing else is done with it.
        let unfilled = unsafe { buf.as_mut() };
        let len = unfilled.len();
        let n = loop {
            match rustix::io::read(self.stream.as_fd(), &mut *unfilled) {
                Ok((filled, _)) => break filled.len(),
                Err(rustix::io::Errno::INTR) => continue,
                Err(errno) => {
                    if errno == rustix::io::Errno::AGAIN {
                        self.drained = true;
                    }
                    return Err(errno.into());
                }
            }
        };
        // Short (or end of stream): the kernel buffer is empty now.
        if n < len {
            self.drained = true;
        }
        // SAFETY: `rustix::io::read` returned the first `n` bytes of `unfilled` as
        // initialised (`filled`); `unfilled` is the cursor's own unfilled part, so these are
        // the next `n` bytes of the cursor.
        unsafe { buf.advance(n) };
        Ok(n)
    }
}

impl<S: StreamSocket> rt::Read for HyperIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(error) = this.pending_error.take() {
            return Poll::Ready(Err(error));
        }
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if !this.drained {
            let grant = ready!(coop::poll_proceed(cx));
            match this.read_direct(&mut buf) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    // Nothing read: the grant is dropped unspent; path 2 waits.
                }
                result => {
                    grant.made_progress();
                    return Poll::Ready(result.map(drop));
                }
            }
        }
        // Path 2. `want` keeps the copy within the cursor.
        let mut bounce = [0u8; BOUNCE];
        let want = buf.remaining().min(BOUNCE);
        let n = ready!(Pin::new(&mut this.stream).poll_read(cx, &mut bounce[..want]))?;
        buf.put_slice(&bounce[..n]);
        if n > 0 && n == want {
            // Full: the kernel probably holds more.
            this.drained = false;
            if buf.remaining() > 0 {
                match this.read_direct(&mut buf) {
                    Ok(_) => {}
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(error) => this.pending_error = Some(error),
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: StreamSocket> rt::Write for HyperIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    /// Shuts down the write half: the peer reads end-of-stream.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::mem::MaybeUninit;

    use futures_util::AsyncWriteExt;
    use switchyard_scheduler::local::EventLoop;

    use super::*;

    /// One `poll_read` (awaited until ready) into a fresh uninitialised buffer of `capacity`.
    async fn read_once(io: &mut HyperIo<UnixStream>, capacity: usize) -> io::Result<Vec<u8>> {
        let mut storage = vec![MaybeUninit::<u8>::uninit(); capacity];
        let mut buf = rt::ReadBuf::uninit(&mut storage);
        poll_fn(|cx| rt::Read::poll_read(Pin::new(&mut *io), cx, buf.unfilled())).await?;
        Ok(buf.filled().to_vec())
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 13 % 251) as u8).collect()
    }

    #[test]
    fn one_read_takes_a_bounce_then_the_rest_directly() {
        let mut el = EventLoop::new().unwrap();
        el.block_on(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let mut io = HyperIo::new(a);
            let sent = pattern(3 * BOUNCE);
            b.write_all(&sent).await.unwrap();
            // A bounce alone would return BOUNCE bytes; the direct read brings the rest.
            let got = read_once(&mut io, 4 * BOUNCE).await.unwrap();
            assert_eq!(got, sent);
            assert!(io.drained, "a short direct read leaves the socket drained");
        });
    }

    #[test]
    fn a_full_read_makes_the_next_one_direct() {
        let mut el = EventLoop::new().unwrap();
        el.block_on(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let mut io = HyperIo::new(a);
            let sent = pattern(3 * BOUNCE);
            b.write_all(&sent).await.unwrap();
            let first = read_once(&mut io, 2 * BOUNCE).await.unwrap();
            assert_eq!(first, sent[..2 * BOUNCE]);
            assert!(!io.drained, "the cursor was filled: more may wait");
            let second = read_once(&mut io, 4 * BOUNCE).await.unwrap();
            assert_eq!(second, sent[2 * BOUNCE..]);
            assert!(io.drained);
        });
    }

    #[test]
    fn a_small_message_is_one_bounce() {
        let mut el = EventLoop::new().unwrap();
        el.block_on(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let mut io = HyperIo::new(a);
            b.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
            let got = read_once(&mut io, 8 * BOUNCE).await.unwrap();
            assert_eq!(got, b"GET / HTTP/1.1\r\n\r\n");
            assert!(io.drained);
        });
    }

    #[test]
    fn end_of_stream_reads_nothing_on_either_path() {
        let mut el = EventLoop::new().unwrap();
        el.block_on(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let mut io = HyperIo::new(a);
            let sent = pattern(2 * BOUNCE);
            b.write_all(&sent).await.unwrap();
            drop(b);
            // Fills the cursor exactly: the next read goes direct and meets the end.
            assert_eq!(read_once(&mut io, 2 * BOUNCE).await.unwrap(), sent);
            assert!(!io.drained);
            assert_eq!(read_once(&mut io, BOUNCE).await.unwrap(), b"");
            assert!(io.drained);
            // Through the stream, the end reads the same.
            assert_eq!(read_once(&mut io, BOUNCE).await.unwrap(), b"");
        });
    }
}
