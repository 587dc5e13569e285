//! The async side of [`Channel`]: the same frames, awaited on the reactor.
//!
//! [`AsyncChannel`] registers the channel's data path with the reactor (`IoHandle::register`,
//! edge-triggered): a socket channel's socket, readable and writable, read and written with
//! `MSG_DONTWAIT`; a split channel's incoming pipe (readable) and outgoing pipe (writable), both
//! put in `O_NONBLOCK` mode (each pipe end is held by this process alone). The socket of a split
//! channel stays open but unused: the async side sends and receives no descriptors.
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

use super::channel::{Channel, Parts, Pipes};
use super::error::FrameError;
use super::frame::{self, FrameReader};
use super::sys;
use crate::coop;
use crate::reactor::{IoHandle, Registration};

/// One end of a framed channel whose waits go through the reactor.
#[derive(Debug)]
pub struct AsyncChannel {
    /// The socket: the data path of a socket channel, kept open beside a split one's pipes.
    sock: OwnedFd,
    /// A split channel's pipes, both `O_NONBLOCK`.
    pipes: Option<Pipes>,
    reader: FrameReader,
    max_frame: usize,
    /// Readiness of the socket, or of the incoming pipe.
    registration: Registration,
    /// Readiness of the outgoing pipe (a split channel).
    write_registration: Option<Registration>,
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
        let Parts {
            sock,
            pipes,
            reader,
            max_frame,
        } = self.into_parts();
        let (registration, write_registration) = match &pipes {
            None => {
                let raw = sock.as_raw_fd();
                let r = handle
                    .register(&mut SourceFd(&raw), Interest::READABLE | Interest::WRITABLE)?;
                (r, None)
            }
            Some(p) => {
                sys::set_nonblocking(p.rx.as_fd(), true)?;
                sys::set_nonblocking(p.tx.as_fd(), true)?;
                let rx = p.rx.as_raw_fd();
                let tx = p.tx.as_raw_fd();
                let r = handle.register(&mut SourceFd(&rx), Interest::READABLE)?;
                let w = match handle.register(&mut SourceFd(&tx), Interest::WRITABLE) {
                    Ok(w) => w,
                    Err(e) => {
                        let _ = r.deregister(&mut SourceFd(&rx));
                        return Err(e);
                    }
                };
                (r, Some(w))
            }
        };
        Ok(AsyncChannel {
            sock,
            pipes,
            reader,
            max_frame,
            registration,
            write_registration,
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
            let f = &mut f;
            let body = |body: &[u8]| f.take().map(|f| f(body));
            let read = match &self.pipes {
                Some(p) => {
                    let fd = p.rx.as_fd();
                    self.reader
                        .read_frame_with(|buf, _| sys::read(fd, buf), body)
                }
                None => {
                    let fd = self.sock.as_fd();
                    self.reader
                        .read_frame_with(|buf, fds| sys::recv_with_fds(fd, buf, true, fds), body)
                }
            };
            match read {
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
        let ready = self
            .write_registration
            .as_ref()
            .unwrap_or(&self.registration);
        while self.sent < self.out.len() {
            ready!(ready.poll_write_ready(cx))?;
            let rest = &self.out[self.sent..];
            let written = match &self.pipes {
                Some(p) => sys::write_gather(p.tx.as_fd(), rest, &[], p.mask_sigpipe),
                None => sys::send(self.sock.as_fd(), rest, true),
            };
            match written {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready.clear_write_ready();
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
        // Deregister before the descriptors close (see Registration::deregister).
        match &self.pipes {
            None => {
                let raw = self.sock.as_raw_fd();
                let _ = self.registration.deregister(&mut SourceFd(&raw));
            }
            Some(p) => {
                let _ = self
                    .registration
                    .deregister(&mut SourceFd(&p.rx.as_raw_fd()));
                if let Some(w) = &self.write_registration {
                    let _ = w.deregister(&mut SourceFd(&p.tx.as_raw_fd()));
                }
            }
        }
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

    /// Sends a 1 MiB frame and a short one from `a` to `b` at once, through `reactor`, and
    /// checks that `b` gets both whole and in order.
    fn exchange_through(reactor: &mut Reactor, a: &mut AsyncChannel, b: &mut AsyncChannel) {
        let big = vec![7u8; 1 << 20];
        let got = block_on(reactor, async {
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
    fn async_ends_exchange_frames_through_the_reactor() {
        let mut reactor = Reactor::new().unwrap();
        let handle = reactor.handle();
        let (a, b) = Channel::pair().unwrap();
        let mut a = a.into_async_with(&handle).unwrap();
        let mut b = b.into_async_with(&handle).unwrap();
        exchange_through(&mut reactor, &mut a, &mut b);
    }

    #[test]
    fn split_async_ends_exchange_frames_through_the_reactor() {
        let mut reactor = Reactor::new().unwrap();
        let handle = reactor.handle();
        let (a, b) = Channel::launch_pair().unwrap();
        let b = b.attach_pipes().unwrap();
        let mut a = a.into_async_with(&handle).unwrap();
        let mut b = b.into_async_with(&handle).unwrap();
        exchange_through(&mut reactor, &mut a, &mut b);
        drop(a);
        let r = block_on(&mut reactor, b.recv::<u32>());
        assert!(matches!(r, Err(FrameError::PeerClosed)), "{r:?}");
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
