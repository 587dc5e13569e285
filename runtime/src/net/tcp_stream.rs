//! `TcpStream`: a TCP connection as futures-io `AsyncRead` + `AsyncWrite`.
//!
//! Connecting is non-blocking: `connect(2)` starts the handshake and returns
//! `EINPROGRESS`; the socket turns writable when the handshake ends, successfully or not;
//! `SO_ERROR` then says which. Reads and writes go through the shared retry loop of
//! `Registered::poll_io`. `&TcpStream` is also `AsyncRead + AsyncWrite`, so one task may
//! read while another writes the same connection (the registration has a waiter per
//! direction).

use std::future::{Future, poll_fn};
use std::io;
use std::mem::MaybeUninit;
use std::net::{Shutdown, SocketAddr};
use std::task::{Context, Poll};

use mio::Interest;

use super::async_io::{impl_async_io, not_connected_is_false, not_connected_is_ok};
use super::registered::{Registered, impl_as_fd};
use crate::reactor::IoHandle;

/// A TCP connection registered with a reactor.
#[derive(Debug)]
pub struct TcpStream {
    io: Registered<mio::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr` on the current thread's reactor (looked up when the future is
    /// first polled).
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect_with(&IoHandle::current()?, addr).await
    }

    /// [`connect`](Self::connect) on the reactor of `handle`. The future owns a clone of
    /// the handle, so it is `'static`.
    pub fn connect_with(
        handle: &IoHandle,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<TcpStream>> + Send + 'static {
        let handle = handle.clone();
        async move {
            let stream = mio::net::TcpStream::connect(addr)?;
            let stream = TcpStream::from_mio(&handle, stream)?;
            poll_fn(|cx| {
                stream
                    .io
                    .poll_connected(cx, mio::net::TcpStream::take_error, |s| {
                        not_connected_is_false(s.peer_addr())
                    })
            })
            .await?;
            Ok(stream)
        }
    }

    pub(crate) fn from_mio(
        handle: &IoHandle,
        stream: mio::net::TcpStream,
    ) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Registered::new(handle, stream, Interest::READABLE | Interest::WRITABLE)?,
        })
    }

    /// Adopts a connected std stream (switched to non-blocking mode here).
    pub fn from_std_with(handle: &IoHandle, stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_mio(handle, mio::net::TcpStream::from_std(stream))
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().local_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm: small writes go out at once).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.source().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.source().nodelay()
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

impl_async_io!(TcpStream);

impl_as_fd!(TcpStream);
