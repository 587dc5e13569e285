//! The async side of [`Channel`]: the same frames, awaited on the reactor.
//!
//! [`AsyncChannel`] registers the socket with the reactor (`IoHandle::register`, readable and
//! writable, edge-triggered) and uses `MSG_DONTWAIT` on each call, so the descriptor itself
//! stays in blocking mode and can be turned back into a blocking [`Channel`].
//!
//! The read path is the blocking channel's [`FrameReader`], resumed after each `WouldBlock`:
//!
//! 1. spend one unit of the task's budget ([`crate::coop::poll_proceed`]);
//! 2. wait for read readiness;
//! 3. read until a whole frame is buffered (done) or the socket says `WouldBlock` (clear the
//!    readiness, go to 2). Bytes of a partial frame stay in the reader, so dropping a `recv`
//!    future loses nothing.
//!
//! The write path encodes a frame into an outgoing buffer and flushes it; a `send` future
//! dropped half-way leaves the rest of its frame in the buffer, and the next `send` (or
//! [`AsyncChannel::flush`]) finishes it first, so frames are never interleaved or torn.
//! A peer that dies gives the same errors as the blocking channel: end-of-stream is
//! [`FrameError::PeerClosed`] or [`FrameError::Truncated`], a write is `BrokenPipe`.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::task::{Context, Poll, ready};

use mio::Interest;
use mio::unix::SourceFd;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::channel::Channel;
use super::error::FrameError;
use super::frame::{self, FrameReader};
use super::sys;
use crate::coop;
use crate::reactor::{IoHandle, Registration};

/// One end of a framed channel whose waits go through the reactor.
#[derive(Debug)]
pub struct AsyncChannel {
    fd: OwnedFd,
    reader: FrameReader,
    max_frame: usize,
    registration: Registration,
    /// Encoded bytes not yet written: `out[sent..]`.
    out: Vec<u8>,
    sent: usize,
}

impl Channel {
    /// Moves this channel onto the current reactor ([`IoHandle::current`]).
    pub fn into_async(self) -> io::Result<AsyncChannel> {
        self.into_async_with(&IoHandle::current()?)
    }

    /// Moves this channel onto the reactor of `handle`.
    pub fn into_async_with(self, handle: &IoHandle) -> io::Result<AsyncChannel> {
        let (fd, reader, max_frame) = self.into_parts();
        let raw = fd.as_raw_fd();
        let registration =
            handle.register(&mut SourceFd(&raw), Interest::READABLE | Interest::WRITABLE)?;
        Ok(AsyncChannel {
            fd,
            reader,
            max_frame,
            registration,
            out: Vec::new(),
            sent: 0,
        })
    }
}

impl AsyncChannel {
    /// Sends one value: finishes any frame a cancelled `send` left, then this one.
    pub async fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), FrameError> {
        self.flush().await?;
        self.out = frame::encode(value, self.max_frame)?;
        self.sent = 0;
        self.flush().await
    }

    /// Writes whatever is left of the last frame.
    pub async fn flush(&mut self) -> Result<(), FrameError> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Receives one value.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<T, FrameError> {
        poll_fn(|cx| self.poll_recv_with(cx, frame::decode)).await?
    }

    /// Polls for one frame's bytes (steps 1 to 3 of the module docs).
    pub fn poll_recv_bytes(&mut self, cx: &mut Context<'_>) -> Poll<Result<Vec<u8>, FrameError>> {
        self.poll_recv_with(cx, <[u8]>::to_vec)
    }

    /// Polls for one frame and hands its body to `f` where it lies in the reader's buffer.
    fn poll_recv_with<R>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Poll<Result<R, FrameError>> {
        let mut f = Some(f);
        let grant = ready!(coop::poll_proceed(cx));
        loop {
            ready!(self.registration.poll_read_ready(cx))?;
            let fd = self.fd.as_fd();
            let f = &mut f;
            match self.reader.read_frame_with(
                |buf, fds| sys::recv_with_fds(fd, buf, true, fds),
                |body| f.take().map(|f| f(body)),
            ) {
                Ok(Some(value)) => {
                    grant.made_progress();
                    return Poll::Ready(Ok(value));
                }
                Ok(None) => unreachable!("the body callback runs at most once"),
                Err(FrameError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.registration.clear_read_ready();
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Polls the outgoing buffer empty.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), FrameError>> {
        if self.sent == self.out.len() {
            return Poll::Ready(Ok(()));
        }
        let grant = ready!(coop::poll_proceed(cx));
        while self.sent < self.out.len() {
            ready!(self.registration.poll_write_ready(cx))?;
            match sys::send(self.fd.as_fd(), &self.out[self.sent..], true) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.registration.clear_write_ready();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(FrameError::Io(e))),
            }
        }
        self.out.clear();
        self.sent = 0;
        grant.made_progress();
        Poll::Ready(Ok(()))
    }

    /// The maximum frame body this end sends or accepts.
    pub fn set_max_frame_size(&mut self, max: usize) {
        self.max_frame = max;
        self.reader.set_max(max);
    }

    /// The most descriptors that may wait for their frames at once, as
    /// [`Channel::set_max_fds`]. Every frame the async side receives must carry none: one that
    /// does is refused with [`FrameError::UnexpectedFds`], its descriptors closed.
    pub fn set_max_fds(&mut self, max: usize) {
        self.reader.set_max_fds(max);
    }
}

impl Drop for AsyncChannel {
    fn drop(&mut self) {
        // Deregister before the descriptor closes (see Registration::deregister).
        let raw = self.fd.as_raw_fd();
        let _ = self.registration.deregister(&mut SourceFd(&raw));
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;

    use super::*;
    use crate::reactor::Reactor;

    /// Polls `f` to completion, driving `reactor` while it is pending.
    fn block_on<F: Future>(reactor: &mut Reactor, f: F) -> F::Output {
        let waker = futures_task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut f = pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            reactor.poll(None).unwrap();
        }
    }

    #[test]
    fn async_ends_exchange_frames_through_the_reactor() {
        let mut reactor = Reactor::new().unwrap();
        let handle = reactor.handle();
        let (a, b) = Channel::pair().unwrap();
        let mut a = a.into_async_with(&handle).unwrap();
        let mut b = b.into_async_with(&handle).unwrap();
        let big = vec![7u8; 1 << 20];
        let got = block_on(&mut reactor, async {
            let send = async {
                a.send(&big).await.unwrap();
                a.send(&"done").await.unwrap();
            };
            let recv = async {
                let v: Vec<u8> = b.recv().await.unwrap();
                let s: String = b.recv().await.unwrap();
                (v.len(), s)
            };
            futures_util::future::join(send, recv).await.1
        });
        assert_eq!(got, (1 << 20, "done".to_owned()));
    }

    #[test]
    fn an_async_receiver_sees_a_dropped_peer() {
        let mut reactor = Reactor::new().unwrap();
        let handle = reactor.handle();
        let (a, b) = Channel::pair().unwrap();
        let mut a = a.into_async_with(&handle).unwrap();
        drop(b);
        let r = block_on(&mut reactor, a.recv::<u32>());
        assert!(matches!(r, Err(FrameError::PeerClosed)), "{r:?}");
    }
}
