//! `UnixListener`: accepts Unix-domain stream connections without blocking the thread.

use std::future::poll_fn;
use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use mio::Interest;

use super::registered::{Registered, impl_as_fd};
use super::unix_stream::UnixStream;
use crate::reactor::IoHandle;

/// A Unix-domain socket listening for connections, registered with a reactor. Dropping it
/// does not remove the socket file (as with std's).
#[derive(Debug)]
pub struct UnixListener {
    io: Registered<mio::net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path` on the current thread's reactor. Fails with `AddrInUse` if a file
    /// is already there.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::bind_with(&IoHandle::current()?, path)
    }

    /// [`bind`](Self::bind) on the reactor of `handle`.
    pub fn bind_with(handle: &IoHandle, path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let listener = mio::net::UnixListener::bind(path)?;
        Ok(UnixListener {
            io: Registered::new(handle, listener, Interest::READABLE)?,
        })
    }

    /// Waits for the next connection; the stream is registered with this listener's reactor.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for the next connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.io
            .poll_read_io(cx, |listener| listener.accept())
            .map(|accepted| {
                let (stream, peer) = accepted?;
                let handle = self.io.registration().handle();
                Ok((UnixStream::from_mio(handle, stream)?, peer))
            })
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().local_addr()
    }
}

impl_as_fd!(UnixListener);
