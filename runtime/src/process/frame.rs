//! Length-prefixed frames: how a stream of bytes becomes a sequence of messages.
//!
//! ```text
//!  +----------------+---------------------------+
//!  | len: u32 (LE)  | body: len bytes (postcard) |
//!  +----------------+---------------------------+
//! ```
//!
//! Invariants:
//! 1. A frame's body is never larger than the channel's maximum frame size. The sender checks
//!    before writing anything ([`FrameError::Oversized`]); the receiver checks the header before
//!    allocating anything, so a hostile or corrupt length cannot make us allocate more than
//!    the maximum.
//! 2. The body buffer grows with the bytes that actually arrived, [`GROW_STEP`] at a time, not
//!    with what the header announced.
//! 3. End-of-stream between frames is [`FrameError::PeerClosed`]; inside a header or a body it
//!    is [`FrameError::Truncated`]. A body that does not decode is [`FrameError::Malformed`].
//! 4. [`FrameReader`] is a resumable state machine: a read that would block returns
//!    `io::ErrorKind::WouldBlock` with every byte already read kept, so the same code serves the
//!    blocking channel and the async one.
//! 5. The reader never accumulates descriptors. Each descriptor that arrives is attributed to
//!    a frame (below); a frame is received either by a call that asks for exactly one
//!    descriptor ([`FrameReader::read_frame_with_fd`]) or by one that asks for none, and a
//!    frame carrying any other number is refused: its descriptors are closed, its body
//!    dropped, and the call fails with [`FrameError::UnexpectedFds`] (or
//!    [`FrameError::MissingFd`]), the stream staying in step for the next frame. At most
//!    [`FrameReader::max_fds`] descriptors wait for their frames at once; one more closes them
//!    all and breaks the reader ([`FrameError::TooManyFds`]).
//!
//! **Which frame a descriptor belongs to.** On an `AF_UNIX` stream socket the kernel hands
//! `SCM_RIGHTS` descriptors to the `recvmsg` that reads the first byte of the `sendmsg` that
//! carried them, and ends that `recvmsg` with that message's bytes. The sender
//! ([`super::Channel::send_with_fd`]) attaches a descriptor to a `sendmsg` that starts with its
//! frame's header and holds nothing else, so the descriptor belongs to the frame holding the
//! *last* byte of the read that brought it. The reader tags each descriptor with that byte's
//! stream offset. A hostile sender can attach descriptors anywhere; they are then attributed
//! to some frame and refused there, or overflow the cap, and either way closed.
//!
//! The reader reads in [`READ_CHUNK`] pieces into its own buffer so that a small frame costs
//! one system call; bytes past the current frame are kept for the next one. A reader that
//! only ever sees a few small frames (a split channel's descriptor frames) asks for
//! [`SMALL_READ_CHUNK`] instead ([`FrameReader::set_chunk`]): its first read then costs a few
//! hundred bytes of heap, not 64 KiB zero-filled (16 page faults in a freshly forked child).

use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::FrameError;

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 4;

/// The default maximum frame body: 64 MiB. Large enough for any message a pool task should
/// carry; bulk data belongs in shared memory ([`super::shm`]). Picked out of thin air.
pub const DEFAULT_MAX_FRAME: usize = 64 << 20;

/// How much the reader asks the kernel for at once: 64 KiB, the default socket buffer's order
/// of magnitude, so a small frame and its header arrive in one `recvmsg`.
pub const READ_CHUNK: usize = 64 << 10;

/// The read size of a reader that carries only a few small frames (a split channel's
/// descriptor frames: a tag, a fork request). A larger frame still arrives whole: once its
/// header is in, the buffer grows to the frame (invariant 2). Picked as "a few of those
/// frames", well under a page.
pub const SMALL_READ_CHUNK: usize = 256;

/// How far a body buffer grows ahead of the bytes received (invariant 2).
pub const GROW_STEP: usize = 1 << 20;

/// The default cap on descriptors waiting for their frames (invariant 5). An honest sender
/// attaches one descriptor per frame and a read ends with the first message that carries
/// descriptors, so the reader holds at most two at once (the current frame's and the next
/// one's); 16 is twice the most one `recvmsg` takes in (8), so no honest pattern comes near
/// it. Picked by reasoning.
pub const DEFAULT_MAX_FDS: usize = 16;

/// Encodes `value` as one frame (header included), refusing bodies over `max`.
pub fn encode<T: Serialize + ?Sized>(value: &T, max: usize) -> Result<Vec<u8>, FrameError> {
    let mut buf = vec![0u8; HEADER_LEN];
    buf = postcard::to_extend(value, buf).map_err(FrameError::Encode)?;
    let len = buf.len() - HEADER_LEN;
    finish_header(&mut buf, len, max)?;
    Ok(buf)
}

/// Encodes `value` as one frame into `buf` (cleared first; its capacity is reused). On error
/// the buffer comes back with the error, so the caller keeps it.
pub fn encode_into<T: Serialize + ?Sized>(
    value: &T,
    max: usize,
    mut buf: Vec<u8>,
) -> Result<Vec<u8>, (Vec<u8>, FrameError)> {
    buf.clear();
    buf.extend_from_slice(&[0; HEADER_LEN]);
    // to_extend consumes the buffer; on error it is lost, so an empty one is handed back.
    let mut buf = match postcard::to_extend(value, buf) {
        Ok(buf) => buf,
        Err(e) => return Err((Vec::new(), FrameError::Encode(e))),
    };
    let len = buf.len() - HEADER_LEN;
    match finish_header(&mut buf, len, max) {
        Ok(()) => Ok(buf),
        Err(e) => Err((buf, e)),
    }
}

/// The header of a frame whose body has `len` bytes, refusing bodies over `max`.
pub fn header(len: usize, max: usize) -> Result<[u8; HEADER_LEN], FrameError> {
    let mut header = [0u8; HEADER_LEN];
    finish_header(&mut header, len, max)?;
    Ok(header)
}

/// Frames raw bytes (header included), refusing bodies over `max`.
pub fn encode_bytes(body: &[u8], max: usize) -> Result<Vec<u8>, FrameError> {
    let mut buf = Vec::with_capacity(HEADER_LEN + body.len());
    buf.extend_from_slice(&[0; HEADER_LEN]);
    buf.extend_from_slice(body);
    finish_header(&mut buf, body.len(), max)?;
    Ok(buf)
}

fn finish_header(buf: &mut [u8], len: usize, max: usize) -> Result<(), FrameError> {
    if len > max || len > u32::MAX as usize {
        return Err(FrameError::Oversized { len, max });
    }
    buf[..HEADER_LEN].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(())
}

/// Decodes a frame body as `T`.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    postcard::from_bytes(body).map_err(|source| FrameError::Malformed {
        len: body.len(),
        source,
    })
}

/// Reads frames from a byte stream, resumably (invariant 4).
#[derive(Debug)]
pub struct FrameReader {
    max: usize,
    /// Received, unconsumed bytes are `buf[start..end]`; `buf[end..]` is room for the next
    /// read. `buf` is zero-filled only when it grows, never per read.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The stream offset of `buf[start]`: bytes ever consumed.
    consumed: u64,
    /// Descriptors waiting for their frames, in arrival order, each tagged with the stream
    /// offset of the byte it belongs with (module docs, invariant 5).
    fds: VecDeque<(u64, OwnedFd)>,
    /// Scratch space the `read` callback pushes arriving descriptors onto.
    arrived: Vec<OwnedFd>,
    /// The cap on `fds.len()`.
    max_fds: usize,
    /// How much one read asks for ([`READ_CHUNK`] unless set).
    chunk: usize,
    /// Set once the stream ended, a frame was oversized, or too many descriptors arrived:
    /// every later read repeats the error.
    broken: Option<Broken>,
}

#[derive(Clone, Copy, Debug)]
enum Broken {
    Closed,
    Oversized { len: usize, max: usize },
    TooManyFds { max: usize },
}

impl FrameReader {
    /// A reader whose frames may not exceed `max` bytes of body.
    pub fn new(max: usize) -> Self {
        FrameReader {
            max,
            buf: Vec::new(),
            start: 0,
            end: 0,
            consumed: 0,
            fds: VecDeque::new(),
            arrived: Vec::new(),
            max_fds: DEFAULT_MAX_FDS,
            chunk: READ_CHUNK,
            broken: None,
        }
    }

    /// The maximum body size.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Changes the maximum body size for frames not yet started.
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// The most descriptors that may wait for their frames at once (invariant 5).
    pub fn max_fds(&self) -> usize {
        self.max_fds
    }

    /// Changes how much one read asks the kernel for (default [`READ_CHUNK`]; at least one
    /// header's worth). Takes effect the next time the buffer grows.
    pub fn set_chunk(&mut self, chunk: usize) {
        self.chunk = chunk.max(HEADER_LEN);
    }

    /// The bytes the reader's buffer holds room for (what its reads have cost in heap).
    #[cfg(test)]
    pub(crate) fn buffer_len(&self) -> usize {
        self.buf.len()
    }

    /// Changes [`FrameReader::max_fds`].
    pub fn set_max_fds(&mut self, max: usize) {
        self.max_fds = max;
    }

    /// Descriptors now waiting for their frames (at most [`FrameReader::max_fds`]).
    pub fn pending_fds(&self) -> usize {
        self.fds.len()
    }

    /// Returns the next frame's body, calling `read(buf, fds)` (which returns `Ok(0)` at
    /// end-of-stream, or `WouldBlock`) as often as needed. A frame that carries descriptors is
    /// refused (invariant 5).
    pub fn read_frame(
        &mut self,
        read: impl FnMut(&mut [u8], &mut Vec<OwnedFd>) -> io::Result<usize>,
    ) -> Result<Vec<u8>, FrameError> {
        self.read_frame_with(read, <[u8]>::to_vec)
    }

    /// As [`FrameReader::read_frame`], but hands the body to `f` where it lies in the
    /// reader's buffer: no allocation and no copy (decoding a value straight from it).
    pub fn read_frame_with<R>(
        &mut self,
        read: impl FnMut(&mut [u8], &mut Vec<OwnedFd>) -> io::Result<usize>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, FrameError> {
        let (value, fd) = self.read_frame_inner(read, 0, f)?;
        debug_assert!(fd.is_none());
        Ok(value)
    }

    /// As [`FrameReader::read_frame_with`], for a frame that carries exactly one descriptor:
    /// none is [`FrameError::MissingFd`], more is [`FrameError::UnexpectedFds`] (invariant 5).
    pub fn read_frame_with_fd<R>(
        &mut self,
        read: impl FnMut(&mut [u8], &mut Vec<OwnedFd>) -> io::Result<usize>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<(R, OwnedFd), FrameError> {
        let (value, fd) = self.read_frame_inner(read, 1, f)?;
        Ok((value, fd.ok_or(FrameError::MissingFd)?))
    }

    /// Reads one frame that must carry `wanted` descriptors (0 or 1).
    fn read_frame_inner<R>(
        &mut self,
        mut read: impl FnMut(&mut [u8], &mut Vec<OwnedFd>) -> io::Result<usize>,
        wanted: usize,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<(R, Option<OwnedFd>), FrameError> {
        loop {
            if let Some(broken) = self.broken {
                return Err(match broken {
                    Broken::Closed => FrameError::PeerClosed,
                    Broken::Oversized { len, max } => FrameError::Oversized { len, max },
                    Broken::TooManyFds { max } => FrameError::TooManyFds { max },
                });
            }
            let available = &self.buf[self.start..self.end];
            let frame_len = if available.len() >= HEADER_LEN {
                let mut header = [0u8; HEADER_LEN];
                header.copy_from_slice(&available[..HEADER_LEN]);
                let len = u32::from_le_bytes(header) as usize;
                if len > self.max {
                    self.broken = Some(Broken::Oversized { len, max: self.max });
                    continue;
                }
                if available.len() >= HEADER_LEN + len {
                    let body = self.start + HEADER_LEN..self.start + HEADER_LEN + len;
                    self.consumed += (HEADER_LEN + len) as u64;
                    self.start = body.end;
                    if self.start == self.end {
                        // Nothing buffered past this frame: the next read starts at the front.
                        // The body's bytes stay where they are until then.
                        self.start = 0;
                        self.end = 0;
                    }
                    // This frame's descriptors: those tagged before its end.
                    let mut fds = Vec::new();
                    while self.fds.front().is_some_and(|(at, _)| *at < self.consumed) {
                        fds.extend(self.fds.pop_front().map(|(_, fd)| fd));
                    }
                    if fds.len() != wanted {
                        if fds.len() < wanted {
                            return Err(FrameError::MissingFd);
                        }
                        // Dropping `fds` closes them; the body is skipped.
                        return Err(FrameError::UnexpectedFds {
                            count: fds.len(),
                            expected: wanted,
                        });
                    }
                    return Ok((f(&self.buf[body]), fds.pop()));
                }
                HEADER_LEN + len
            } else {
                HEADER_LEN
            };
            self.fill(frame_len, &mut read)?;
        }
    }

    /// One read towards a frame of `frame_len` bytes (header included).
    fn fill(
        &mut self,
        frame_len: usize,
        read: &mut impl FnMut(&mut [u8], &mut Vec<OwnedFd>) -> io::Result<usize>,
    ) -> Result<(), FrameError> {
        let have = self.end - self.start;
        if self.start + frame_len > self.buf.len() && self.start > 0 {
            // Move the partial frame to the front so the rest fits behind it.
            self.buf.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = have;
        }
        if self.end == self.buf.len() {
            // Grow towards the frame, but never more than GROW_STEP past what arrived.
            let target = frame_len
                .max(self.chunk)
                .min(self.end + GROW_STEP.max(self.chunk));
            self.buf
                .resize(target.max(self.end + self.chunk.min(frame_len)), 0);
        }
        let result = read(&mut self.buf[self.end..], &mut self.arrived);
        if !self.arrived.is_empty() {
            // The stream offset of the last byte this read brought (module docs, invariant 5).
            let n = *result.as_ref().unwrap_or(&0) as u64;
            let last = (self.consumed + (self.end - self.start) as u64 + n).saturating_sub(1);
            self.fds.extend(self.arrived.drain(..).map(|fd| (last, fd)));
            if self.fds.len() > self.max_fds {
                self.fds.clear();
                self.broken = Some(Broken::TooManyFds { max: self.max_fds });
                return Err(FrameError::TooManyFds { max: self.max_fds });
            }
        }
        match result {
            Ok(0) => {
                self.broken = Some(Broken::Closed);
                self.fds.clear();
                if have == 0 {
                    Err(FrameError::PeerClosed)
                } else if have < HEADER_LEN {
                    Err(FrameError::Truncated {
                        expected: HEADER_LEN,
                        got: have,
                    })
                } else {
                    Err(FrameError::Truncated {
                        expected: frame_len - HEADER_LEN,
                        got: have - HEADER_LEN,
                    })
                }
            }
            Ok(n) => {
                self.end += n;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(FrameError::Io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_bytes(mut data: &[u8], max: usize) -> Result<Vec<u8>, FrameError> {
        let mut reader = FrameReader::new(max);
        reader.read_frame(|buf, _| {
            let n = buf.len().min(data.len());
            buf[..n].copy_from_slice(&data[..n]);
            data = &data[n..];
            Ok(n)
        })
    }

    #[test]
    fn a_frame_round_trips() {
        let frame = encode(&(7u32, "seven"), DEFAULT_MAX_FRAME).unwrap();
        let body = from_bytes(&frame, DEFAULT_MAX_FRAME).unwrap();
        assert_eq!(decode::<(u32, String)>(&body).unwrap(), (7, "seven".into()));
    }

    #[test]
    fn an_oversized_header_is_refused_before_allocating() {
        let frame = u32::MAX.to_le_bytes();
        match from_bytes(&frame, 1024) {
            Err(FrameError::Oversized { len, max }) => {
                assert_eq!((len, max), (u32::MAX as usize, 1024))
            }
            other => panic!("expected Oversized, got {other:?}"),
        }
    }

    #[test]
    fn sending_an_oversized_value_is_refused() {
        let err = encode_bytes(&[0; 100], 10).unwrap_err();
        assert!(matches!(err, FrameError::Oversized { len: 100, max: 10 }));
    }

    #[test]
    fn end_of_stream_inside_a_body_is_truncated() {
        let mut frame = encode_bytes(&[1; 10], 100).unwrap();
        frame.truncate(HEADER_LEN + 3);
        assert!(matches!(
            from_bytes(&frame, 100),
            Err(FrameError::Truncated {
                expected: 10,
                got: 3
            })
        ));
    }

    #[test]
    fn end_of_stream_inside_a_header_is_truncated() {
        assert!(matches!(
            from_bytes(&[1, 0], 100),
            Err(FrameError::Truncated {
                expected: 4,
                got: 2
            })
        ));
    }

    #[test]
    fn a_small_chunk_reader_stays_small_and_still_reads_a_large_frame_whole() {
        let small = encode_bytes(&[7; 5], 1 << 20).unwrap();
        let large = encode_bytes(&[9; 10_000], 1 << 20).unwrap();
        let stream: Vec<u8> = [small, large].concat();
        let mut at = 0;
        let mut reader = FrameReader::new(1 << 20);
        reader.set_chunk(SMALL_READ_CHUNK);
        let mut read = |buf: &mut [u8], _: &mut Vec<OwnedFd>| {
            let n = buf.len().min(stream.len() - at);
            buf[..n].copy_from_slice(&stream[at..at + n]);
            at += n;
            Ok(n)
        };
        assert_eq!(reader.read_frame(&mut read).unwrap(), vec![7; 5]);
        assert!(reader.buffer_len() <= SMALL_READ_CHUNK);
        assert_eq!(reader.read_frame(&mut read).unwrap(), vec![9; 10_000]);
        assert!(
            reader.buffer_len() < READ_CHUNK,
            "grew to the frame, not to a chunk"
        );
    }

    #[test]
    fn end_of_stream_between_frames_is_peer_closed() {
        assert!(matches!(from_bytes(&[], 100), Err(FrameError::PeerClosed)));
    }

    #[test]
    fn a_body_of_the_wrong_type_is_malformed() {
        let body = [0xff, 0xff];
        assert!(matches!(
            decode::<String>(&body),
            Err(FrameError::Malformed { len: 2, .. })
        ));
    }

    /// What the kernel holds for the reader of an `AF_UNIX` stream: messages (one per
    /// `sendmsg`), each with its bytes and the descriptors attached to it.
    struct Socket {
        queue: std::collections::VecDeque<(Vec<u8>, Vec<OwnedFd>)>,
    }

    impl Socket {
        /// `recvmsg` as the kernel does it (module docs, invariant 5): bytes from as many
        /// messages as fit, a message's descriptors handed over when its first byte is read,
        /// and the read ended right after a message that carried any.
        fn recv(&mut self, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<usize> {
            let mut n = 0;
            while n < buf.len() {
                let Some((bytes, attached)) = self.queue.front_mut() else {
                    break;
                };
                let took_fds = !attached.is_empty();
                fds.append(attached);
                let k = bytes.len().min(buf.len() - n);
                buf[n..n + k].copy_from_slice(&bytes[..k]);
                bytes.drain(..k);
                n += k;
                if bytes.is_empty() {
                    self.queue.pop_front();
                }
                if took_fds {
                    break;
                }
            }
            if n == 0 && self.queue.is_empty() {
                return Ok(0);
            }
            Ok(n)
        }
    }

    /// SplitMix64, seeded: a failing case replays.
    fn next(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn an_fd() -> OwnedFd {
        std::fs::File::open("/dev/null").unwrap().into()
    }

    /// Honest senders (`send` and `send_with_fd` as the channel makes them) in random
    /// mixes, against a reader that receives each frame the way it was sent: every frame
    /// arrives, with its descriptor when it has one, whatever the read sizes.
    #[test]
    fn descriptors_of_honest_frames_reach_their_frames() {
        let mut seed = 0x4644_5331;
        for _ in 0..300 {
            let mut socket = Socket {
                queue: Default::default(),
            };
            let mut with_fd = Vec::new();
            for i in 0..(next(&mut seed) % 20) as u32 {
                let body = vec![i as u8; (next(&mut seed) % 40) as usize];
                let frame = encode_bytes(&body, DEFAULT_MAX_FRAME).unwrap();
                let fd = next(&mut seed) % 3 == 0;
                with_fd.push((body, fd));
                // A large frame may leave sendmsg short: the rest follows in plain sends.
                let split = (next(&mut seed) as usize % (frame.len() + 1)).max(1);
                let attached = if fd { vec![an_fd()] } else { Vec::new() };
                socket.queue.push_back((frame[..split].to_vec(), attached));
                if split < frame.len() {
                    socket
                        .queue
                        .push_back((frame[split..].to_vec(), Vec::new()));
                }
            }
            let mut reader = FrameReader::new(DEFAULT_MAX_FRAME);
            for (body, fd) in with_fd {
                let chunk = 1 + (next(&mut seed) % 64) as usize;
                let mut read = |buf: &mut [u8], fds: &mut Vec<OwnedFd>| {
                    let end = buf.len().min(chunk);
                    socket.recv(&mut buf[..end], fds)
                };
                if fd {
                    let (got, _fd) = reader
                        .read_frame_with_fd(&mut read, <[u8]>::to_vec)
                        .unwrap();
                    assert_eq!(got, body);
                } else {
                    assert_eq!(reader.read_frame(&mut read).unwrap(), body);
                }
                assert!(reader.pending_fds() <= 2, "{}", reader.pending_fds());
            }
            assert_eq!(reader.pending_fds(), 0);
        }
    }

    /// A hostile sender attaches descriptors to arbitrary pieces of the stream, and the
    /// reader asks for one or none at random: the reader never holds more than its cap, and
    /// every outcome is a frame or a typed error.
    #[test]
    fn descriptors_anywhere_are_refused_or_capped() {
        let mut seed = 0x484F_5354;
        let mut outcomes = [0usize; 4];
        for _ in 0..300 {
            let mut socket = Socket {
                queue: Default::default(),
            };
            let mut stream = Vec::new();
            for i in 0..(next(&mut seed) % 20) as u8 {
                let body = vec![i; (next(&mut seed) % 30) as usize];
                stream.extend(encode_bytes(&body, DEFAULT_MAX_FRAME).unwrap());
            }
            while !stream.is_empty() {
                let k = (1 + next(&mut seed) as usize % 16).min(stream.len());
                let fds = (0..next(&mut seed) % 3).map(|_| an_fd()).collect();
                socket.queue.push_back((stream.drain(..k).collect(), fds));
            }
            let mut reader = FrameReader::new(DEFAULT_MAX_FRAME);
            reader.set_max_fds((next(&mut seed) % 6) as usize);
            loop {
                let chunk = 1 + (next(&mut seed) % 32) as usize;
                let mut read = |buf: &mut [u8], fds: &mut Vec<OwnedFd>| {
                    let end = buf.len().min(chunk);
                    socket.recv(&mut buf[..end], fds)
                };
                let result = if next(&mut seed) % 2 == 0 {
                    reader.read_frame_with_fd(&mut read, |_| ()).map(drop)
                } else {
                    reader.read_frame(&mut read).map(drop)
                };
                assert!(reader.pending_fds() <= reader.max_fds());
                match result {
                    Ok(()) => outcomes[0] += 1,
                    Err(FrameError::UnexpectedFds { count, expected }) => {
                        assert!(count > expected);
                        outcomes[1] += 1;
                    }
                    Err(FrameError::MissingFd) => outcomes[2] += 1,
                    Err(FrameError::TooManyFds { .. }) => {
                        outcomes[3] += 1;
                        assert_eq!(reader.pending_fds(), 0);
                        break;
                    }
                    Err(FrameError::PeerClosed) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            assert_eq!(reader.pending_fds(), 0, "nothing held at the end");
        }
        assert!(outcomes.iter().all(|&n| n > 0), "{outcomes:?}");
    }
}
