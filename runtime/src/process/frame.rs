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
//!
//! The reader reads in [`READ_CHUNK`] pieces into its own buffer so that a small frame costs
//! one system call; bytes past the current frame are kept for the next one.

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

/// How far a body buffer grows ahead of the bytes received (invariant 2).
pub const GROW_STEP: usize = 1 << 20;

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
    /// Descriptors that arrived with the bytes, in order.
    fds: Vec<OwnedFd>,
    /// Set once the stream ended or a frame was oversized: every later read repeats the error.
    broken: Option<Broken>,
}

#[derive(Clone, Copy, Debug)]
enum Broken {
    Closed,
    Oversized { len: usize, max: usize },
}

impl FrameReader {
    /// A reader whose frames may not exceed `max` bytes of body.
    pub fn new(max: usize) -> Self {
        FrameReader {
            max,
            buf: Vec::new(),
            start: 0,
            end: 0,
            fds: Vec::new(),
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

    /// Takes the oldest descriptor that arrived with the stream.
    pub fn take_fd(&mut self) -> Option<OwnedFd> {
        (!self.fds.is_empty()).then(|| self.fds.remove(0))
    }

    /// Returns the next frame's body, calling `read(buf, fds)` (which returns `Ok(0)` at
    /// end-of-stream, or `WouldBlock`) as often as needed.
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
        mut read: impl FnMut(&mut [u8], &mut Vec<OwnedFd>) -> io::Result<usize>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, FrameError> {
        loop {
            if let Some(broken) = self.broken {
                return Err(match broken {
                    Broken::Closed => FrameError::PeerClosed,
                    Broken::Oversized { len, max } => FrameError::Oversized { len, max },
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
                    self.start = body.end;
                    if self.start == self.end {
                        // Nothing buffered past this frame: the next read starts at the front.
                        // The body's bytes stay where they are until then.
                        self.start = 0;
                        self.end = 0;
                    }
                    return Ok(f(&self.buf[body]));
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
                .max(READ_CHUNK)
                .min(self.end + GROW_STEP.max(READ_CHUNK));
            self.buf
                .resize(target.max(self.end + READ_CHUNK.min(frame_len)), 0);
        }
        let result = read(&mut self.buf[self.end..], &mut self.fds);
        match result {
            Ok(0) => {
                self.broken = Some(Broken::Closed);
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
}
