//! What the stream types share: their futures-io `AsyncRead` / `AsyncWrite` impls (for the
//! type and for a shared reference to it, so one task can read while another writes), and
//! the small error mappings of connect and close.

use std::io;

/// `peer_addr` answers `ENOTCONN` while the handshake is still going.
pub(crate) fn not_connected_is_false<T>(result: io::Result<T>) -> io::Result<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(error) => Err(error),
    }
}

/// Closing a stream the peer already reset is not an error worth reporting.
pub(crate) fn not_connected_is_ok(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}

/// Implements futures-io's traits for a stream type and for a shared reference to it,
/// by forwarding to its `poll_*_priv` methods (which take `&self`).
macro_rules! impl_async_io {
    ($stream:ty) => {
        $crate::net::async_io::impl_async_io!(@for $stream);
        $crate::net::async_io::impl_async_io!(@for &$stream);
    };
    (@for $ty:ty) => {
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.poll_read_priv(cx, buf)
            }
        }

        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.poll_write_vectored_priv(cx, bufs)
            }

            /// Writes go straight to the kernel: nothing is buffered here.
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            /// Shuts down the write half: the peer reads end-of-stream.
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.poll_close_priv()
            }
        }
    };
}
pub(crate) use impl_async_io;
