//! # `HyperIo`: hyper's `rt::Read` / `rt::Write` on Switchyard's streams, without zeroing
//!
//! hyper hands its reads an *uninitialised* buffer (a `ReadBufCursor` over the spare capacity
//! of its `BytesMut`). futures-io's `AsyncRead` takes `&mut [u8]`, which must be initialised,
//! so a plain adapter zeroes the whole spare capacity before every read: CPU for the memset,
//! and every page of every connection's buffer touched (resident) even when a request is a
//! few hundred bytes. `HyperIo` never zeroes hyper's buffer: it reads with the stream's
//! [`poll_read_uninit`](TcpStream::poll_read_uninit), which passes the cursor's uninitialised
//! part to `read(2)` and returns how many bytes the kernel wrote, and then advances the
//! cursor by exactly that count.
//!
//! That read is the stream's own: it waits on the stream's registration, retries
//! `Interrupted`, spends one unit of the task's cooperative budget, and clears the
//! registration's readiness on a short read (so the next wait costs no syscall), exactly as
//! the futures-io `poll_read` does (`switchyard_runtime`'s `net/registered.rs`). So every read
//! costs one `read(2)` and no copy, whatever its size.
//!
//! What it saves, measured by `examples/hyper_read_cost.rs` (1,000 Unix socket pairs on one
//! loop, each with a fresh 8 KiB buffer as hyper's first, 100 reads of 500 bytes each; 2
//! shared cores, nine runs, medians with min-max): after one read per connection the resident
//! set grew by 456 KiB with `HyperIo` and by 4,016 KiB with a zeroing futures-io adapter; the
//! 100,000 reads took 0.06 s (0.04-0.07) of user CPU against 0.11 s (0.08-0.17), and the same
//! system time (0.26 s against 0.27 s: one `read(2)` or `recvfrom(2)` per read either way, as
//! `perf stat -e 'syscalls:sys_enter_read*,syscalls:sys_enter_recvfrom'` counts). An earlier
//! `HyperIo`, which waited through futures-io into a 1 KiB stack buffer and copied, cost the
//! same here (0.06 s user, 0.23 s system); it paid a copy per read, and a second syscall for
//! reads over 1 KiB, which reading straight into the cursor removes.
//!
//! Writes go straight to the stream's futures-io `AsyncWrite` (vectored writes included:
//! hyper's HTTP/1 encoder writes head and body as separate slices).

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use ::hyper::rt;
use switchyard_runtime::futures_io::AsyncWrite;
use switchyard_runtime::net::{TcpStream, UnixStream};

mod sealed {
    pub trait Sealed {}
    impl Sealed for switchyard_runtime::net::TcpStream {}
    impl Sealed for switchyard_runtime::net::UnixStream {}
}

/// A Switchyard byte stream that can read into uninitialised memory, which [`HyperIo`]
/// needs. Sealed: implemented for [`TcpStream`] and [`UnixStream`].
pub trait StreamSocket: sealed::Sealed + AsyncWrite + Unpin {
    /// The stream's `poll_read_uninit` ([`TcpStream::poll_read_uninit`]): returns `n`, and
    /// the first `n` bytes of `buf` are then initialised with the bytes read.
    fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>>;
}

impl StreamSocket for TcpStream {
    #[inline]
    fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        TcpStream::poll_read_uninit(self, cx, buf)
    }
}

impl StreamSocket for UnixStream {
    #[inline]
    fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        UnixStream::poll_read_uninit(self, cx, buf)
    }
}

/// A Switchyard stream as hyper's [`rt::Read`] + [`rt::Write`].
///
/// Reads go straight into hyper's uninitialised buffer, never zeroed and never copied (the
/// design is told in `src/hyper/io.rs`).
#[derive(Debug)]
pub struct HyperIo<S> {
    stream: S,
}

impl<S: StreamSocket> HyperIo<S> {
    /// Wraps `stream`.
    pub fn new(stream: S) -> HyperIo<S> {
        HyperIo { stream }
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, mutably (reading it directly is allowed: `HyperIo` keeps no bytes).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S: StreamSocket> rt::Read for HyperIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        // SAFETY: `as_mut` asks that we de-initialise no byte of the slice: only
        // `poll_read_uninit` touches it, which lets `read(2)` write bytes into it and writes
        // nothing else.
        let unfilled = unsafe { buf.as_mut() };
        let n = ready!(self.stream.poll_read_uninit(cx, unfilled))?;
        // SAFETY: `advance(n)` asks that the cursor's next `n` bytes be initialised: they are
        // the first `n` bytes of `unfilled`, which `poll_read_uninit` initialised with the
        // bytes it read (its contract: `n` is the count `read(2)` returned, at most the
        // slice's length). The slice is ours alone (`&mut`), so no other thread or task can
        // have changed it since.
        unsafe { buf.advance(n) };
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

    use switchyard_scheduler::local::EventLoop;

    use super::*;

    /// One `poll_read` (awaited until ready) into a fresh uninitialised buffer of `capacity`.
    async fn read_once(io: &mut HyperIo<UnixStream>, capacity: usize) -> io::Result<Vec<u8>> {
        let mut storage = vec![MaybeUninit::<u8>::uninit(); capacity];
        let mut buf = rt::ReadBuf::uninit(&mut storage);
        poll_fn(|cx| rt::Read::poll_read(Pin::new(&mut *io), cx, buf.unfilled())).await?;
        Ok(buf.filled().to_vec())
    }

    /// Writes all of `bytes` to `stream` with write(2) on its fd. The stream's own write is
    /// std's, which is send(2) with MSG_NOSIGNAL, and Miri's socketpair emulates read(2) and
    /// write(2) but not send(2); these tests are about the read side. A socketpair's buffer
    /// takes these few KiB in one call.
    fn write_fd(stream: &UnixStream, bytes: &[u8]) {
        let written = rustix::io::write(std::os::fd::AsFd::as_fd(stream), bytes).unwrap();
        assert_eq!(written, bytes.len());
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 13 % 251) as u8).collect()
    }

    #[test]
    fn a_read_fills_the_cursor_with_exactly_the_bytes_sent() {
        let mut el = EventLoop::new().unwrap();
        el.block_on(async {
            let (a, b) = UnixStream::pair().unwrap();
            let mut io = HyperIo::new(a);
            let sent = pattern(3000);
            write_fd(&b, &sent);
            // A cursor smaller than what waits: filled exactly, the rest left for later.
            let first = read_once(&mut io, 1000).await.unwrap();
            assert_eq!(first, sent[..1000]);
            let mut got = first;
            while got.len() < sent.len() {
                got.extend(read_once(&mut io, 4096).await.unwrap());
            }
            assert_eq!(got, sent);
        });
    }

    #[test]
    fn a_small_message_is_one_read() {
        let mut el = EventLoop::new().unwrap();
        el.block_on(async {
            let (a, b) = UnixStream::pair().unwrap();
            let mut io = HyperIo::new(a);
            write_fd(&b, b"GET / HTTP/1.1\r\n\r\n");
            let got = read_once(&mut io, 8192).await.unwrap();
            assert_eq!(got, b"GET / HTTP/1.1\r\n\r\n");
        });
    }

    #[test]
    fn end_of_stream_reads_nothing() {
        let mut el = EventLoop::new().unwrap();
        el.block_on(async {
            let (a, b) = UnixStream::pair().unwrap();
            let mut io = HyperIo::new(a);
            let sent = pattern(2048);
            write_fd(&b, &sent);
            drop(b);
            assert_eq!(read_once(&mut io, 2048).await.unwrap(), sent);
            assert_eq!(read_once(&mut io, 1024).await.unwrap(), b"");
            assert_eq!(read_once(&mut io, 1024).await.unwrap(), b"", "and again");
        });
    }
}
