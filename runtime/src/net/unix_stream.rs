//! `UnixStream`: a Unix-domain stream socket as futures-io `AsyncRead` + `AsyncWrite`.

use std::future::{Future, poll_fn};
use std::io;
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use mio::Interest;

use super::async_io::{impl_async_io, not_connected_is_false, not_connected_is_ok};
use super::registered::{Registered, impl_as_fd};
use crate::reactor::IoHandle;

/// A Unix-domain stream socket registered with a reactor.
#[derive(Debug)]
pub struct UnixStream {
    io: Registered<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path` on the current thread's reactor (looked up when the
    /// future is first polled). Fails with `WouldBlock` if the listener's backlog is full.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        UnixStream::connect_with(&IoHandle::current()?, path).await
    }

    /// [`connect`](Self::connect) on the reactor of `handle`.
    pub fn connect_with(
        handle: &IoHandle,
        path: impl AsRef<Path>,
    ) -> impl Future<Output = io::Result<UnixStream>> + Send + 'static {
        let handle = handle.clone();
        let path = path.as_ref().to_owned();
        async move {
            let stream = mio::net::UnixStream::connect(&path)?;
            let stream = UnixStream::from_mio(&handle, stream)?;
            poll_fn(|cx| {
                stream
                    .io
                    .poll_connected(cx, mio::net::UnixStream::take_error, |s| {
                        not_connected_is_false(s.peer_addr())
                    })
            })
            .await?;
            Ok(stream)
        }
    }

    /// A connected pair of sockets on the current thread's reactor.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        UnixStream::pair_with(&IoHandle::current()?)
    }

    /// [`pair`](Self::pair) on the reactor of `handle`.
    pub fn pair_with(handle: &IoHandle) -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((
            UnixStream::from_mio(handle, a)?,
            UnixStream::from_mio(handle, b)?,
        ))
    }

    pub(crate) fn from_mio(
        handle: &IoHandle,
        stream: mio::net::UnixStream,
    ) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Registered::new(handle, stream, Interest::READABLE | Interest::WRITABLE)?,
        })
    }

    /// Adopts a connected std stream (switched to non-blocking mode here).
    pub fn from_std_with(
        handle: &IoHandle,
        stream: std::os::unix::net::UnixStream,
    ) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::from_mio(handle, mio::net::UnixStream::from_std(stream))
    }

    /// The local address (unnamed for a socket from `pair` or an unbound `connect`).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().local_addr()
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().peer_addr()
    }

    /// Shuts down the read half, the write half (the peer reads end-of-stream), or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.source().shutdown(how)
    }

    /// Reads into `buf` without initialising it first, for a caller whose buffer is spare
    /// capacity (hyper's `ReadBufCursor`, a `Vec`'s unused tail): futures-io's `poll_read`
    /// takes `&mut [u8]`, which would have to be zeroed first. Waits, retries and spends the
    /// cooperative budget exactly as `poll_read` does (`registered.rs`).
    ///
    /// Returns `n`, the bytes read: 0 is end of stream (an empty `buf` returns 0 at once,
    /// without waiting). The first `n` bytes of `buf` are then initialised with them, and the
    /// rest of `buf` is untouched; `unsafe` code may rely on this (only `read(2)` writes into
    /// `buf`, and `n` is the count it returned).
    pub fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_read_stream_uninit(cx, buf)
    }

    fn poll_read_priv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_read_stream(cx, buf)
    }

    fn poll_write_priv(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_write_stream(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write_stream(cx, bufs)
    }

    fn poll_close_priv(&self) -> Poll<io::Result<()>> {
        Poll::Ready(not_connected_is_ok(self.shutdown(Shutdown::Write)))
    }
}

impl_async_io!(UnixStream);

impl_as_fd!(UnixStream);
