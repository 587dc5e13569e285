//! `TcpListener`: accepts TCP connections without blocking the thread.

use std::future::poll_fn;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::task::{Context, Poll};

use mio::Interest;

use super::registered::{Registered, impl_as_fd};
use super::tcp_stream::TcpStream;
use crate::reactor::IoHandle;

/// The listen backlog [`TcpListener::bind`] asks for: the queue of connections that finished
/// the handshake and wait for `accept`. std and mio ask for 128, which a burst of 200
/// connecting clients overflows (71 SYNs dropped on the 2-core VM, those clients waiting the
/// kernel's 1 s retransmit). Go asks for the system maximum; 1024 is the figure tokio's
/// `TcpSocket::listen` examples use, and the kernel caps it at `net.core.somaxconn` anyway.
pub const DEFAULT_LISTEN_BACKLOG: u32 = 1024;

/// A TCP socket listening for connections, registered with a reactor.
///
/// ```no_run
/// # async fn example() -> std::io::Result<()> {
/// use switchyard_runtime::net::TcpListener;
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let (stream, peer) = listener.accept().await?;
/// # drop((stream, peer)); Ok(()) }
/// ```
#[derive(Debug)]
pub struct TcpListener {
    io: Registered<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (each resolved address in turn until one works) on the current
    /// thread's reactor ([`IoHandle::current`]), with `SO_REUSEADDR` and a listen backlog of
    /// [`DEFAULT_LISTEN_BACKLOG`]. Resolving a host name blocks; pass a `SocketAddr` to avoid it.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        TcpListener::bind_with(&IoHandle::current()?, addr)
    }

    /// [`bind`](Self::bind) on the reactor of `handle`.
    pub fn bind_with(handle: &IoHandle, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        TcpListener::bind_with_backlog(handle, addr, DEFAULT_LISTEN_BACKLOG)
    }

    /// [`bind`](Self::bind) on the reactor of `handle`, asking the kernel for a queue of
    /// `backlog` connections that completed the handshake but are not yet accepted. Linux
    /// caps it at `net.core.somaxconn` silently; a connection that finds the queue full has
    /// its SYN dropped, and its client waits for the kernel's 1 s retransmit.
    pub fn bind_with_backlog(
        handle: &IoHandle,
        addr: impl ToSocketAddrs,
        backlog: u32,
    ) -> io::Result<TcpListener> {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        each_addr(addr, |addr| {
            let listener = listen(addr, backlog)?;
            Ok(TcpListener {
                io: Registered::new(handle, listener, Interest::READABLE)?,
            })
        })
    }

    /// Adopts a std listener (switched to non-blocking mode here) on `handle`'s reactor.
    pub fn from_std_with(
        handle: &IoHandle,
        listener: std::net::TcpListener,
    ) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        let listener = mio::net::TcpListener::from_std(listener);
        Ok(TcpListener {
            io: Registered::new(handle, listener, Interest::READABLE)?,
        })
    }

    /// Waits for the next connection; the stream is registered with this listener's reactor.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for the next connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.io
            .poll_read_io(cx, |listener| listener.accept())
            .map(|accepted| {
                let (stream, peer) = accepted?;
                let handle = self.io.registration().handle();
                Ok((TcpStream::from_mio(handle, stream)?, peer))
            })
    }

    /// The address this listener is bound to (with the port the OS chose for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().local_addr()
    }
}

/// A non-blocking, close-on-exec socket bound to `addr` and listening with `backlog`. mio's
/// own `bind` listens with std's 128, which 200 clients connecting at once overflow.
fn listen(addr: SocketAddr, backlog: i32) -> io::Result<mio::net::TcpListener> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let fd = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    // As std and mio: a restarted server can bind a port whose old connections sit in
    // TIME_WAIT.
    rustix::net::sockopt::set_socket_reuseaddr(&fd, true)?;
    rustix::net::bind(&fd, &addr)?;
    rustix::net::listen(&fd, backlog)?;
    Ok(mio::net::TcpListener::from_std(
        std::net::TcpListener::from(fd),
    ))
}

/// Tries `f` on each address `addr` resolves to; the last error if none works.
pub(crate) fn each_addr<T>(
    addr: impl ToSocketAddrs,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last_error = None;
    for addr in addr.to_socket_addrs()? {
        match f(addr) {
            Ok(value) => return Ok(value),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket address",
        )
    }))
}

impl_as_fd!(TcpListener);
