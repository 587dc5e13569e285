//! # Sockets on the reactor
//!
//! TCP, UDP and Unix-domain sockets whose operations never block the thread: each is a mio
//! socket registered with a [`Reactor`](crate::reactor::Reactor), and each operation is a
//! `poll_*` method that tries the non-blocking syscall when the socket is ready and parks
//! the task (its waker stored in the registration) when it is not. The streams implement
//! futures-io [`AsyncRead`](futures_io::AsyncRead) and [`AsyncWrite`](futures_io::AsyncWrite)
//! (also on `&Stream`, so a read and a write can wait at once); `poll_close` shuts down the
//! write half. [`TcpStream::poll_read_uninit`] and [`UnixStream::poll_read_uninit`] read into
//! uninitialised memory (a buffer's spare capacity, hyper's `ReadBufCursor`), which futures-io's
//! `&mut [u8]` would force the caller to zero first. A registration has one waiter slot per direction, so at most one task should
//! wait to read, and one to write, the same socket at a time: a second reader would take
//! the first one's slot, and only the last to wait is woken.
//!
//! Every operation spends one unit of the task's cooperative budget
//! ([`coop::poll_proceed`](crate::coop::poll_proceed)) and keeps it only if it completed, so a
//! task that always finds data cannot starve the others. The loop every operation runs is
//! written once, in `registered.rs`.
//!
//! Constructors come in pairs: `bind` / `connect` / `pair` use the thread's current reactor
//! ([`IoHandle::current`](crate::reactor::IoHandle::current)); `bind_with` / `connect_with` /
//! `pair_with` take an [`IoHandle`](crate::reactor::IoHandle). A socket stays with the
//! reactor it was registered on; a socket accepted from a listener joins the listener's.
//! Dropping a socket deregisters it, closes it and frees its registration slot.

mod async_io;
mod registered;
mod tcp_listener;
mod tcp_stream;
mod udp;
mod unix_listener;
mod unix_stream;

pub use tcp_listener::{DEFAULT_LISTEN_BACKLOG, TcpListener};
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;
pub use unix_listener::UnixListener;
pub use unix_stream::UnixStream;

#[cfg(test)]
mod tests;
