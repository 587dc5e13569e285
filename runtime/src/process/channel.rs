//! The duplex channel: typed messages in length-prefixed frames, over two pipes beside a
//! socketpair.
//!
//! A [`Channel`] is one end of a framed, duplex channel. Each side sends serde values
//! (encoded with postcard, a compact varint format) as frames ([`super::frame`]) and receives
//! them in order. It comes in two shapes:
//!
//! * **Split** (what [`start`](super::start()) gives a parent and its child): the data path is
//!   two pipes, one per direction, and an `AF_UNIX` stream socketpair carries only the frames
//!   sent with a descriptor ([`Channel::send_with_fd`] / [`Channel::recv_with_fd`]).
//! * **Socket** ([`Channel::pair`], [`Channel::from_fd`]): everything over one socketpair.
//!
//! Why pipes for the data path: a pipe write that wakes a reader is the shortest path the
//! kernel has between two processes (what `perf bench sched pipe` measures); the same frame on
//! a Unix stream socket took 1.6 to 1.8 times as long per same-core round trip on the 2-core
//! VM (`benches/procs.rs`, the side-by-side ping-pong), for the socket layer's buffer
//! accounting and `skb` allocation. Why a socket beside them: only a Unix socket can carry a descriptor
//! (`SCM_RIGHTS`). The launcher makes the pipes itself and hands the child its two ends as the
//! first two frames on the socket, so every start method installs one descriptor,
//! [`CHILD_FD`], and [`Channel::attach_pipes`] (run by the child before its entry point) turns
//! it into a split channel.
//!
//! Start cost: the handover adds, per start, two pipes and two small `sendmsg`s in the parent
//! and two `recvmsg`s in the child, none of them a wait (the pipe ends are queued before the
//! child exists). The child reads them with a [`SMALL_READ_CHUNK`](super::frame::SMALL_READ_CHUNK)
//! buffer, which then stays the split channel's descriptor reader. A
//! [`READ_CHUNK`](super::frame::READ_CHUNK) buffer there is 64 KiB of zero-filled heap: 16
//! page faults in a freshly forked child before its entry runs (35 per child, against 18
//! before the split and 22 with the small buffer). In CPU time per fork-server start of an
//! empty entry, every process counted (`perf stat -e task-clock` of a program that starts 200
//! such children and then waits for them, 10 times; medians of 4 runs on the loaded 2-core VM): 204 µs before the split, 274 µs with the 64 KiB read,
//! 240 µs with the small one; the rest is the pipes themselves (made, passed, closed). The
//! lab's wall-clock `spawn / process / forkserver` moved the same way but by less than its
//! run-to-run spread on a shared VM (docs/lab.md).
//!
//! Order: frames sent with `send` arrive in order, and so do frames sent with `send_with_fd`;
//! in a split channel the two kinds travel on different descriptors, so there is no order
//! *between* them. A receiver asks for the kind it expects (`recv` or `recv_with_fd`), as it
//! always had to.
//!
//! Invariants:
//! 1. Every descriptor is created close-on-exec, so a channel never leaks into an unrelated
//!    child; the start methods install the child's socket as [`CHILD_FD`] explicitly, and the
//!    child's pipe ends travel on it.
//! 2. A dead peer is an error value, never a `SIGPIPE`: socket writes use `MSG_NOSIGNAL`; a
//!    pipe write cannot, so a channel made while `SIGPIPE` has its default action blocks the
//!    signal in the writing thread for each write and takes back the one the write raised
//!    (`sys::write_gather`). Rust's runtime ignores `SIGPIPE` before `main`, and then a pipe
//!    write costs one `writev`. (A program that restores the default action after making a
//!    channel must make the channel again.)
//! 3. Every socket read goes through `recvmsg` with room for descriptors, so a descriptor sent
//!    with a message is never dropped by a read that did not expect it; and never kept either
//!    when its frame is received by a call that did not ask for it: it is closed, and the call
//!    fails with [`FrameError::UnexpectedFds`] ([`super::frame`], invariant 5). At most
//!    [`Channel::max_fds`] descriptors wait for their frames at once. A pipe cannot carry a
//!    descriptor at all.
//! 4. A peer that dies while we wait gives [`FrameError::PeerClosed`] or
//!    [`FrameError::Truncated`]: the kernel closes its ends when the last process holding them
//!    exits, so a blocked read always returns. The same [`FrameReader`] reads the pipe and the
//!    socket, so truncated, oversized and malformed frames get the same typed errors on both.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::FrameError;
use super::frame::{self, DEFAULT_MAX_FRAME, FrameReader, SMALL_READ_CHUNK};
use super::sys;

/// The descriptor number a child finds its channel's socket at (the first after stdio).
pub const CHILD_FD: RawFd = 3;

/// One end of a duplex, framed channel. Blocking; see `AsyncChannel` for the async side.
#[derive(Debug)]
pub struct Channel {
    /// The socket: every frame in a socket channel; only the frames that carry a descriptor in
    /// a split one.
    sock: OwnedFd,
    /// A split channel's data path.
    pipes: Option<Pipes>,
    /// Reads the data path (the pipe, or the socket).
    reader: FrameReader,
    /// A split channel's reader of the socket (frames with descriptors).
    fd_reader: FrameReader,
    max_frame: usize,
    /// The encode buffer, kept between sends so a message costs no allocation.
    out: Vec<u8>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

/// A split channel's two pipe ends.
#[derive(Debug)]
pub(crate) struct Pipes {
    /// The read end of the peer-to-us pipe.
    pub(crate) rx: OwnedFd,
    /// The write end of the us-to-peer pipe.
    pub(crate) tx: OwnedFd,
    /// Whether `rx` has `O_NONBLOCK` (set by [`Channel::set_nonblocking_reads`]).
    rx_nonblocking: bool,
    /// Whether `tx` has `O_NONBLOCK` (set with a write timeout).
    tx_nonblocking: bool,
    /// Invariant 2: `SIGPIPE` had its default action when the channel was made.
    pub(crate) mask_sigpipe: bool,
}

impl Pipes {
    fn new(rx: OwnedFd, tx: OwnedFd) -> Pipes {
        Pipes {
            rx,
            tx,
            rx_nonblocking: false,
            tx_nonblocking: false,
            mask_sigpipe: sys::sigpipe_is_default(),
        }
    }
}

/// What a channel is made of, for the async channel.
pub(crate) struct Parts {
    pub(crate) sock: OwnedFd,
    pub(crate) pipes: Option<Pipes>,
    pub(crate) reader: FrameReader,
    pub(crate) max_frame: usize,
}

/// The tags of the two frames that hand a child its pipe ends (in this order).
const CHILD_READS: u8 = 0;
const CHILD_WRITES: u8 = 1;

impl Channel {
    /// A connected pair of socket channels (both ends close-on-exec).
    pub fn pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = sys::socketpair()?;
        Ok((Channel::from_fd(a), Channel::from_fd(b)))
    }

    /// The launcher's pair: a split channel for the parent, and the child's socket channel
    /// with the child's two pipe ends already queued on it (as two frames, each carrying one
    /// end), for [`Channel::attach_pipes`] in the child.
    pub(crate) fn launch_pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = sys::socketpair()?;
        let (to_child_r, to_child_w) = sys::pipe()?;
        let (to_parent_r, to_parent_w) = sys::pipe()?;
        let mut parent = Channel::from_fd(a);
        let io = |e: FrameError| match e {
            FrameError::Io(e) => e,
            e => io::Error::other(e),
        };
        parent
            .send_with_fd(&CHILD_READS, to_child_r.as_fd())
            .map_err(io)?;
        parent
            .send_with_fd(&CHILD_WRITES, to_parent_w.as_fd())
            .map_err(io)?;
        parent.pipes = Some(Pipes::new(to_parent_r, to_child_w));
        Ok((parent, Channel::from_fd(b)))
    }

    /// The child's side of [`Channel::launch_pair`]: takes the two pipe ends queued on this
    /// socket channel and makes it split. Run by every child before its entry point.
    pub(crate) fn attach_pipes(mut self) -> Result<Channel, FrameError> {
        // This reader becomes the descriptor reader: small reads (no 64 KiB buffer to fault
        // in before the entry runs; see "Start cost" above).
        self.reader.set_chunk(SMALL_READ_CHUNK);
        let (tag, rx) = self.recv_with_fd::<u8>()?;
        let (tag2, tx) = self.recv_with_fd::<u8>()?;
        if (tag, tag2) != (CHILD_READS, CHILD_WRITES) {
            return Err(FrameError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                "the parent did not hand over the channel's pipes",
            )));
        }
        // The socket's reader (and any bytes it buffered) keeps reading the socket.
        self.fd_reader = std::mem::replace(&mut self.reader, FrameReader::new(self.max_frame));
        self.reader.set_max_fds(self.fd_reader.max_fds());
        self.pipes = Some(Pipes::new(rx, tx));
        Ok(self)
    }

    /// Wraps a connected stream socket (a socket channel).
    pub fn from_fd(fd: OwnedFd) -> Channel {
        let mut fd_reader = FrameReader::new(DEFAULT_MAX_FRAME);
        fd_reader.set_chunk(SMALL_READ_CHUNK);
        Channel {
            sock: fd,
            pipes: None,
            reader: FrameReader::new(DEFAULT_MAX_FRAME),
            fd_reader,
            max_frame: DEFAULT_MAX_FRAME,
            out: Vec::new(),
            read_timeout: None,
            write_timeout: None,
        }
    }

    /// Whether the data path is a pair of pipes (a split channel, module docs).
    pub fn is_split(&self) -> bool {
        self.pipes.is_some()
    }

    /// The descriptor frames arrive on (the incoming pipe, or the socket): what to register
    /// with a poller. Also what [`AsFd`] gives.
    pub fn read_fd(&self) -> BorrowedFd<'_> {
        self.pipes
            .as_ref()
            .map_or(self.sock.as_fd(), |p| p.rx.as_fd())
    }

    /// The descriptor frames leave on (the outgoing pipe, or the socket).
    pub fn write_fd(&self) -> BorrowedFd<'_> {
        self.pipes
            .as_ref()
            .map_or(self.sock.as_fd(), |p| p.tx.as_fd())
    }

    /// The socket (which carries the frames sent with descriptors).
    pub fn socket(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
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
        self.fd_reader.set_max(max);
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
        self.fd_reader.set_max_fds(max);
    }

    /// Bounds every blocking receive: one that waits longer fails with
    /// `FrameError::Io(WouldBlock)` (bytes of a partial frame are kept). `None` waits for
    /// ever; a zero duration is refused with `InvalidInput`.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        check_timeout(timeout)?;
        use rustix::net::sockopt::{Timeout, set_socket_timeout};
        set_socket_timeout(&self.sock, Timeout::Recv, timeout)?;
        self.read_timeout = timeout;
        Ok(())
    }

    /// Bounds every blocking send: one that cannot write for that long fails with
    /// `FrameError::Io(WouldBlock)`, possibly after part of its frame was written (the stream
    /// is then torn: drop the channel). `None` waits for ever; zero is refused.
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        check_timeout(timeout)?;
        use rustix::net::sockopt::{Timeout, set_socket_timeout};
        set_socket_timeout(&self.sock, Timeout::Send, timeout)?;
        if let Some(p) = self.pipes.as_mut() {
            // The outgoing pipe's description is ours alone (the child holds the other end).
            sys::set_nonblocking(p.tx.as_fd(), timeout.is_some())?;
            p.tx_nonblocking = timeout.is_some();
        }
        self.write_timeout = timeout;
        Ok(())
    }

    /// Puts the incoming pipe in non-blocking mode (or back), so that [`Channel::try_recv`]
    /// costs one `read` instead of a `poll` and a `read`; blocking receives keep blocking (they
    /// wait in `poll`). For a reader driven by an edge-triggered poller. A socket channel needs
    /// nothing (each read says whether to block) and ignores it.
    pub fn set_nonblocking_reads(&mut self, on: bool) -> io::Result<()> {
        if let Some(p) = self.pipes.as_mut() {
            // The incoming pipe's read end is held by this process alone.
            sys::set_nonblocking(p.rx.as_fd(), on)?;
            p.rx_nonblocking = on;
        }
        Ok(())
    }

    /// Sends one value and returns once it is in the pipe (or socket) buffer.
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

    /// Sends raw bytes as one frame, header and body in one gathered write (no copy of the
    /// body).
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        let header = frame::header(bytes.len(), self.max_frame)?;
        self.write_all(&header, bytes)
    }

    /// Sends one value with a file descriptor attached (the receiver gets its own copy,
    /// close-on-exec, through [`Channel::recv_with_fd`]). Always on the socket.
    pub fn send_with_fd<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        fd: BorrowedFd<'_>,
    ) -> Result<(), FrameError> {
        let frame = frame::encode(value, self.max_frame)?;
        let n = sys::send_with_fd(self.sock.as_fd(), &frame, fd)?;
        write_socket(self.sock.as_fd(), &frame[n..], &[])
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
        self.read_data(false, f)
    }

    /// Receives one value if a whole frame is already buffered or readable without blocking;
    /// `Ok(None)` otherwise (the bytes of a partial frame are kept for the next call).
    pub fn try_recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        match self.read_data(true, frame::decode) {
            Ok(value) => value.map(Some),
            Err(FrameError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One frame from the data path.
    fn read_data<R>(
        &mut self,
        nonblocking: bool,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, FrameError> {
        match &self.pipes {
            Some(p) => {
                let (fd, fd_nonblocking) = (p.rx.as_fd(), p.rx_nonblocking);
                let timeout = self.read_timeout;
                self.reader.read_frame_with(
                    |buf, _| read_pipe(fd, buf, nonblocking, fd_nonblocking, timeout),
                    f,
                )
            }
            None => {
                let fd = self.sock.as_fd();
                self.reader
                    .read_frame_with(|buf, fds| sys::recv_with_fds(fd, buf, nonblocking, fds), f)
            }
        }
    }

    /// Receives one value sent with [`Channel::send_with_fd`], and its descriptor. A frame
    /// without one is [`FrameError::MissingFd`], with more than one
    /// [`FrameError::UnexpectedFds`] (closed); either way the frame is dropped.
    pub fn recv_with_fd<T: DeserializeOwned>(&mut self) -> Result<(T, OwnedFd), FrameError> {
        let fd = self.sock.as_fd();
        let reader = if self.pipes.is_some() {
            &mut self.fd_reader
        } else {
            &mut self.reader
        };
        let (value, fd) = reader.read_frame_with_fd(
            |buf, fds| sys::recv_with_fds(fd, buf, false, fds),
            frame::decode,
        )?;
        Ok((value?, fd))
    }

    /// Writes all of `first` then `second` on the data path (gathered: one system call when
    /// there is room), retrying short writes and `EINTR`.
    fn write_all(&mut self, mut first: &[u8], mut second: &[u8]) -> Result<(), FrameError> {
        let Some(p) = &self.pipes else {
            return write_socket(self.sock.as_fd(), first, second);
        };
        while !first.is_empty() || !second.is_empty() {
            match sys::write_gather(p.tx.as_fd(), first, second, p.mask_sigpipe) {
                Ok(n) => {
                    let from_first = n.min(first.len());
                    first = &first[from_first..];
                    second = &second[n - from_first..];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && p.tx_nonblocking => {
                    // Only with a write timeout (set_write_timeout made the pipe non-blocking).
                    if !sys::poll_one(p.tx.as_fd(), libc::POLLOUT, self.write_timeout)? {
                        return Err(FrameError::Io(e));
                    }
                }
                Err(e) => return Err(FrameError::Io(e)),
            }
        }
        Ok(())
    }

    /// Splits into its parts (for the async channel).
    pub(crate) fn into_parts(self) -> Parts {
        Parts {
            sock: self.sock,
            pipes: self.pipes,
            reader: self.reader,
            max_frame: self.max_frame,
        }
    }

    /// The socket of a socket channel (a child's end before [`Channel::attach_pipes`]).
    pub(crate) fn into_socket(self) -> OwnedFd {
        debug_assert!(
            self.pipes.is_none(),
            "a split channel's pipes would be dropped"
        );
        self.sock
    }

    /// The child's side: the channel socket its parent installed at [`CHILD_FD`].
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

/// A zero timeout is refused, as `std`'s sockets refuse it (it would mean "for ever" to the
/// socket options and "not at all" to `poll`).
fn check_timeout(timeout: Option<Duration>) -> io::Result<()> {
    if timeout == Some(Duration::ZERO) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a timeout of zero is not a timeout",
        ));
    }
    Ok(())
}

/// Writes all of `first` then `second` on a socket (gathered, one `sendmsg` when the socket
/// has room), retrying short writes and `EINTR`.
fn write_socket(fd: BorrowedFd<'_>, mut first: &[u8], mut second: &[u8]) -> Result<(), FrameError> {
    while !first.is_empty() || !second.is_empty() {
        match sys::send_gather(fd, first, second, false) {
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

/// One read from the incoming pipe. `nonblocking`: return `WouldBlock` rather than wait (one
/// `poll` first if the pipe itself blocks). Blocking: wait for ever, or up to `timeout`
/// (then `WouldBlock`, as a socket's receive timeout says).
fn read_pipe(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    nonblocking: bool,
    fd_nonblocking: bool,
    timeout: Option<Duration>,
) -> io::Result<usize> {
    let would_block = || Err(io::Error::from(io::ErrorKind::WouldBlock));
    if nonblocking && !fd_nonblocking {
        if !sys::poll_one(fd, libc::POLLIN, Some(Duration::ZERO))? {
            return would_block();
        }
    } else if !nonblocking && timeout.is_some() && !sys::poll_one(fd, libc::POLLIN, timeout)? {
        return would_block();
    }
    loop {
        match sys::read(fd, buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && !nonblocking => {
                if !sys::poll_one(fd, libc::POLLIN, timeout)? {
                    return would_block();
                }
            }
            other => return other,
        }
    }
}

impl AsFd for Channel {
    /// [`Channel::read_fd`]: the descriptor to wait on for incoming frames.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read_fd()
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

    /// A launcher's pair, both ends in this process.
    fn split_pair() -> (Channel, Channel) {
        let (parent, child) = Channel::launch_pair().unwrap();
        (parent, child.attach_pipes().unwrap())
    }

    #[test]
    fn a_launched_pair_splits_its_data_onto_pipes() {
        let (mut a, mut b) = split_pair();
        assert!(a.is_split() && b.is_split());
        assert_ne!(a.read_fd().as_raw_fd(), a.socket().as_raw_fd());
        a.send(&("ping", 1u64)).unwrap();
        assert_eq!(b.recv::<(String, u64)>().unwrap(), ("ping".into(), 1));
        b.send(&vec![1u8, 2, 3]).unwrap();
        assert_eq!(a.recv::<Vec<u8>>().unwrap(), vec![1, 2, 3]);
        // Descriptors travel on the socket, frames on the pipes, each kind in order.
        let (x, _y) = sys::socketpair().unwrap();
        a.send_with_fd(&2u8, x.as_fd()).unwrap();
        a.send(&1u8).unwrap();
        assert_eq!(b.recv::<u8>().unwrap(), 1);
        assert_eq!(b.recv_with_fd::<u8>().unwrap().0, 2);
        assert_eq!(b.try_recv::<u8>().unwrap(), None);
        b.set_nonblocking_reads(true).unwrap();
        assert_eq!(b.try_recv::<u8>().unwrap(), None);
        a.send(&9u8).unwrap();
        assert_eq!(b.try_recv::<u8>().unwrap(), Some(9));
        a.send(&10u8).unwrap();
        assert_eq!(
            b.recv::<u8>().unwrap(),
            10,
            "a blocking recv on a non-blocking pipe"
        );
    }

    #[test]
    fn the_child_takes_its_pipes_without_a_large_buffer() {
        // "Start cost": the handover is read with a small buffer, and that reader stays the
        // descriptor reader; the data path's reader has allocated nothing yet.
        let (mut a, b) = split_pair();
        assert!(b.fd_reader.buffer_len() <= frame::SMALL_READ_CHUNK);
        assert_eq!(b.reader.buffer_len(), 0);
        let mut b = b;
        let (x, _y) = sys::socketpair().unwrap();
        a.send_with_fd(&vec![5u8; 4000], x.as_fd()).unwrap();
        assert_eq!(b.recv_with_fd::<Vec<u8>>().unwrap().0, vec![5u8; 4000]);
    }

    #[test]
    fn a_split_channel_keeps_the_framing_rules() {
        let (mut a, mut b) = split_pair();
        b.set_max_frame_size(8);
        a.send_bytes(&[0; 64]).unwrap();
        assert!(matches!(
            b.recv_bytes(),
            Err(FrameError::Oversized { len: 64, max: 8 })
        ));
        let (a, mut b) = split_pair();
        // Half a header, then the writer goes.
        rustix::io::write(a.write_fd(), &[1, 0]).unwrap();
        drop(a);
        assert!(matches!(
            b.recv_bytes(),
            Err(FrameError::Truncated {
                expected: 4,
                got: 2
            })
        ));
        let (mut a, mut b) = split_pair();
        a.send_bytes(&[0xff]).unwrap();
        assert!(matches!(
            b.recv::<String>(),
            Err(FrameError::Malformed { .. })
        ));
        drop(b);
        let err = a.send(&1u32).unwrap_err();
        assert!(err.is_peer_gone(), "{err:?}");
        let (mut a, b) = split_pair();
        drop(b);
        assert!(matches!(a.recv::<u32>(), Err(FrameError::PeerClosed)));
    }

    #[test]
    fn split_timeouts_bound_waits_and_zero_is_refused() {
        let (mut a, mut b) = split_pair();
        assert!(b.set_read_timeout(Some(Duration::ZERO)).is_err());
        b.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        match b.recv::<u8>() {
            Err(FrameError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
            other => panic!("{other:?}"),
        }
        a.send(&3u8).unwrap();
        assert_eq!(b.recv::<u8>().unwrap(), 3);
        // Fill the pipe: a writer with a timeout gives up instead of blocking.
        a.set_write_timeout(Some(Duration::from_millis(1))).unwrap();
        let big = vec![0u8; 1 << 20];
        match a.send_bytes(&big) {
            Err(FrameError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
            other => panic!("{other:?}"),
        }
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
        let (mut a, mut b) = split_pair();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7) as u8).collect();
        let sender = std::thread::spawn(move || {
            a.send_bytes(&data).unwrap();
            data
        });
        let got = b.recv_bytes().unwrap();
        assert_eq!(got, sender.join().unwrap());
    }
}
