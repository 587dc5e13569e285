//! The duplex channel: typed messages in length-prefixed frames over a socketpair.
//!
//! A [`Channel`] is one end of an `AF_UNIX` stream socketpair. Each side sends serde values
//! (encoded with postcard, a compact varint format) as frames ([`super::frame`]) and receives
//! them in order. The parent keeps one end and hands the other to the child at start-up.
//!
//! Why a socketpair and not two pipes: one descriptor per side for both directions, a peer
//! that dies is seen as end-of-stream (reads) or `EPIPE` (writes) on that one descriptor, and
//! descriptors (a shared memory region, say) can travel with a message as `SCM_RIGHTS`.
//!
//! Invariants:
//! 1. Both ends are created close-on-exec, so a channel never leaks into an unrelated child;
//!    the start methods install the child's end as descriptor [`CHILD_FD`] explicitly.
//! 2. Writes use `MSG_NOSIGNAL`: a dead peer is an error value, never a `SIGPIPE`.
//! 3. Every read goes through `recvmsg` with room for descriptors, so a descriptor sent with a
//!    message is never dropped by a read that did not expect it; and never kept either when
//!    its frame is received by a call that did not ask for it: it is closed, and the call
//!    fails with [`FrameError::UnexpectedFds`] ([`super::frame`], invariant 5). At most
//!    [`Channel::max_fds`] descriptors wait for their frames at once.
//! 4. A peer that dies while we wait gives [`FrameError::PeerClosed`] or
//!    [`FrameError::Truncated`]: the kernel closes its end when the last process holding it
//!    exits, so a blocked read always returns.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::FrameError;
use super::frame::{self, DEFAULT_MAX_FRAME, FrameReader};
use super::sys;

/// The descriptor number a child finds its channel at (the first after stdio).
pub const CHILD_FD: RawFd = 3;

/// One end of a duplex, framed channel. Blocking; see `AsyncChannel` for the async side.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
    reader: FrameReader,
    max_frame: usize,
    /// The encode buffer, kept between sends so a message costs no allocation.
    out: Vec<u8>,
}

impl Channel {
    /// A connected pair of channels (both ends close-on-exec).
    pub fn pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = sys::socketpair()?;
        Ok((Channel::from_fd(a), Channel::from_fd(b)))
    }

    /// Wraps a connected stream socket.
    pub fn from_fd(fd: OwnedFd) -> Channel {
        Channel {
            fd,
            reader: FrameReader::new(DEFAULT_MAX_FRAME),
            max_frame: DEFAULT_MAX_FRAME,
            out: Vec::new(),
        }
    }

    /// The maximum frame body this end sends or accepts (default [`DEFAULT_MAX_FRAME`]).
    pub fn max_frame_size(&self) -> usize {
        self.max_frame
    }

    /// Sets the maximum frame body this end sends or accepts. A larger incoming frame gives
    /// [`FrameError::Oversized`] before anything is allocated for it.
    pub fn set_max_frame_size(&mut self, max: usize) {
        self.max_frame = max;
        self.reader.set_max(max);
    }

    /// The most descriptors that may wait for their frames at once (default
    /// [`frame::DEFAULT_MAX_FDS`]); one more closes them all and breaks the channel with
    /// [`FrameError::TooManyFds`].
    pub fn max_fds(&self) -> usize {
        self.reader.max_fds()
    }

    /// Sets [`Channel::max_fds`].
    pub fn set_max_fds(&mut self, max: usize) {
        self.reader.set_max_fds(max);
    }

    /// Sends one value and returns once it is in the socket buffer.
    pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), FrameError> {
        let out = std::mem::take(&mut self.out);
        let result = frame::encode_into(value, self.max_frame, out);
        let (frame, result) = match result {
            Ok(frame) => {
                let r = self.write_all(&frame, &[]);
                (frame, r)
            }
            Err((frame, e)) => (frame, Err(e)),
        };
        self.out = frame;
        result
    }

    /// Sends raw bytes as one frame, header and body in one `sendmsg` (no copy of the body).
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        let header = frame::header(bytes.len(), self.max_frame)?;
        self.write_all(&header, bytes)
    }

    /// Sends one value with a file descriptor attached (the receiver gets its own copy,
    /// close-on-exec, through [`Channel::recv_with_fd`]).
    pub fn send_with_fd<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        fd: BorrowedFd<'_>,
    ) -> Result<(), FrameError> {
        let frame = frame::encode(value, self.max_frame)?;
        let n = sys::send_with_fd(self.fd.as_fd(), &frame, fd)?;
        self.write_all(&frame[n..], &[])
    }

    /// Receives one value, blocking until it arrives or the peer is gone. A frame that carries
    /// descriptors is refused: they are closed, and the call fails with
    /// [`FrameError::UnexpectedFds`] (the next call receives the next frame).
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<T, FrameError> {
        // Decoded where it lies in the reader's buffer: no copy, no allocation for the body.
        self.recv_with(frame::decode)?
    }

    /// Receives one frame's raw bytes.
    pub fn recv_bytes(&mut self) -> Result<Vec<u8>, FrameError> {
        self.recv_with(<[u8]>::to_vec)
    }

    /// Receives one frame's raw bytes into `buf` (replacing its contents, reusing its
    /// capacity: a stream of large frames costs no allocation).
    pub fn recv_bytes_into(&mut self, buf: &mut Vec<u8>) -> Result<(), FrameError> {
        self.recv_with(|body| {
            buf.clear();
            buf.extend_from_slice(body);
        })
    }

    /// Receives one frame and hands its body to `f` where it lies (valid until the next
    /// receive).
    pub fn recv_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Result<R, FrameError> {
        let fd = self.fd.as_fd();
        self.reader
            .read_frame_with(|buf, fds| sys::recv_with_fds(fd, buf, false, fds), f)
    }

    /// Receives one value if a whole frame is already buffered or readable without blocking;
    /// `Ok(None)` otherwise (the bytes of a partial frame are kept for the next call).
    pub fn try_recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        let fd = self.fd.as_fd();
        match self.reader.read_frame_with(
            |buf, fds| sys::recv_with_fds(fd, buf, true, fds),
            frame::decode,
        ) {
            Ok(value) => value.map(Some),
            Err(FrameError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Receives one value sent with [`Channel::send_with_fd`], and its descriptor. A frame
    /// without one is [`FrameError::MissingFd`], with more than one
    /// [`FrameError::UnexpectedFds`] (closed); either way the frame is dropped.
    pub fn recv_with_fd<T: DeserializeOwned>(&mut self) -> Result<(T, OwnedFd), FrameError> {
        let fd = self.fd.as_fd();
        let (value, fd) = self.reader.read_frame_with_fd(
            |buf, fds| sys::recv_with_fds(fd, buf, false, fds),
            frame::decode,
        )?;
        Ok((value?, fd))
    }

    /// Writes all of `first` then `second` (gathered, one `sendmsg` when the socket has
    /// room), retrying short writes and `EINTR`.
    fn write_all(&mut self, mut first: &[u8], mut second: &[u8]) -> Result<(), FrameError> {
        while !first.is_empty() || !second.is_empty() {
            match sys::send_gather(self.fd.as_fd(), first, second, false) {
                Ok(n) => {
                    let from_first = n.min(first.len());
                    first = &first[from_first..];
                    second = &second[n - from_first..];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FrameError::Io(e)),
            }
        }
        Ok(())
    }

    /// Splits into the socket and the reader state (for the async channel).
    pub(crate) fn into_parts(self) -> (OwnedFd, FrameReader, usize) {
        (self.fd, self.reader, self.max_frame)
    }

    /// The child's side: the channel its parent installed at [`CHILD_FD`].
    ///
    /// # Safety
    /// Descriptor [`CHILD_FD`] must be open and owned by nobody else in this process (true in
    /// a child started by this module, which calls this once from `init()`).
    pub(crate) unsafe fn from_child_fd() -> Channel {
        use std::os::fd::FromRawFd;
        // SAFETY: per this function's contract.
        let fd = unsafe { OwnedFd::from_raw_fd(CHILD_FD) };
        // The start methods cleared close-on-exec to pass it on; set it again so the child's
        // own children do not inherit it.
        // SAFETY: fcntl on an open descriptor with F_SETFD has no memory-safety preconditions.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        Channel::from_fd(fd)
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cross_in_both_directions() {
        let (mut a, mut b) = Channel::pair().unwrap();
        a.send(&("ping", 1u64)).unwrap();
        assert_eq!(b.recv::<(String, u64)>().unwrap(), ("ping".into(), 1));
        b.send(&vec![1u8, 2, 3]).unwrap();
        assert_eq!(a.recv::<Vec<u8>>().unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn a_dropped_peer_is_peer_closed_not_a_hang() {
        let (mut a, b) = Channel::pair().unwrap();
        drop(b);
        assert!(matches!(a.recv::<u32>(), Err(FrameError::PeerClosed)));
        let err = a.send(&1u32).unwrap_err();
        assert!(err.is_peer_gone(), "{err:?}");
    }

    #[test]
    fn an_oversized_incoming_frame_is_refused() {
        let (mut a, mut b) = Channel::pair().unwrap();
        b.set_max_frame_size(8);
        a.send_bytes(&[0; 64]).unwrap();
        assert!(matches!(
            b.recv_bytes(),
            Err(FrameError::Oversized { len: 64, max: 8 })
        ));
    }

    #[test]
    fn a_descriptor_travels_with_its_message() {
        let (mut a, mut b) = Channel::pair().unwrap();
        let (x, _y) = sys::socketpair().unwrap();
        a.send(&1u8).unwrap();
        a.send_with_fd(&2u8, x.as_fd()).unwrap();
        assert_eq!(b.recv::<u8>().unwrap(), 1);
        let (v, fd) = b.recv_with_fd::<u8>().unwrap();
        assert_eq!(v, 2);
        assert_ne!(fd.as_raw_fd(), x.as_raw_fd());
    }

    #[test]
    fn a_large_frame_arrives_whole() {
        let (mut a, mut b) = Channel::pair().unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| i as u8).collect();
        let sender = std::thread::spawn(move || {
            a.send_bytes(&data).unwrap();
            data
        });
        let got = b.recv_bytes().unwrap();
        assert_eq!(got, sender.join().unwrap());
    }
}
