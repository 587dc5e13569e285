//! A single-producer, single-consumer ring of byte messages on a [`SharedRegion`], with a
//! futex doorbell for waiting.
//!
//! Layout of the region (each shared word on its own cache line, so the producer's writes of
//! `tail` do not invalidate the consumer's line holding `head`):
//!
//! ```text
//!  0    magic, capacity          written once, by create
//!  64   tail      u64            bytes ever written; written by the producer only
//!  128  head      u64            bytes ever read;    written by the consumer only
//!  192  data_bell u32, consumer_waiting u32    the consumer sleeps on data_bell
//!  256  space_bell u32, producer_waiting u32   the producer sleeps on space_bell
//!  320  closed    u32            bit 0: producer gone, bit 1: consumer gone
//!  4096 data[capacity]           capacity is a power of two; position p is at p % capacity
//! ```
//!
//! A message is a 4-byte little-endian length and its bytes, streamed through the ring: a
//! message larger than the ring simply takes several laps, the producer waiting for space
//! and the consumer for data, so memory stays bounded by the capacity. The producer publishes
//! every [`PUBLISH_CHUNK`] bytes, so producer and consumer copy in parallel. Each end refuses
//! messages over its maximum ([`DEFAULT_MAX_MESSAGE`], `set_max_message_size`) with
//! [`RingError::TooLong`]: the sender before writing anything, the receiver before allocating
//! anything, and the receiver's buffer then grows with the bytes that arrive.
//!
//! **The doorbell protocol** (one bell per direction; shown for data, space is symmetric):
//!
//! 1. The producer copies bytes in, then publishes `tail` (`SeqCst`), bumps `data_bell`
//!    (`SeqCst`), and calls `FUTEX_WAKE` only if `consumer_waiting` is set.
//! 2. The consumer, finding no data, sets `consumer_waiting` (`SeqCst`), reads `data_bell`,
//!    checks `tail` again, and only then `FUTEX_WAIT`s for `data_bell` to change.
//!
//! No lost wake-up: all six accesses are `SeqCst`, so they have one total order. If the
//! producer's read of `consumer_waiting` came before the consumer set it, then the
//! producer's `tail` store came before the consumer's re-check, which sees the data. Otherwise
//! the producer wakes: either the consumer is asleep and is woken, or it has not slept yet and
//! its `FUTEX_WAIT` finds `data_bell` changed (the bump preceded the wake) and returns at once.
//!
//! A side that goes away (dropped) sets its `closed` bit and rings both bells. A side that is
//! *killed* cannot, so every wait takes an optional timeout; a caller that must survive a
//! killed peer pairs the ring with a channel, whose end-of-stream reports the death.
//!
//! **What a peer may forge.** The other end is another process, buggy or hostile, and it can
//! write every word of the region at any time. No value it writes is used before it is
//! checked (the memory-level argument is in [`shm`], "Why nothing a peer writes is
//! undefined behaviour here"):
//!
//! 1. `magic` and `capacity` are read once, by `Ring::open`: the capacity must be a power of
//!    two of at least [`LEN_PREFIX`] bytes that exactly fills the region after the header
//!    ([`RingError::NotARing`]). Each end keeps its copy; rewriting them later changes nothing.
//! 2. Each end keeps its own position (the producer's `tail`, the consumer's `head`) in private
//!    memory and only *stores* it to the region; it never reads its own position back, so a
//!    peer that overwrites it fools only itself.
//! 3. The one position an end reads is the peer's, and it is checked before use: the distance
//!    `tail - head` (wrapping, in `u64`) must be at most the capacity, else
//!    [`RingError::Corrupt`] names the forged word ([`Corruption`]). A tail behind the head
//!    wraps to a huge distance and is caught the same way; a position that moves back but
//!    stays in range only makes this end wait or read stale bytes. Every copy then covers
//!    at most `capacity` bytes at `position % capacity`, split in two at the end of the data
//!    area, so it stays inside the region. A corrupt ring stays corrupt: every later call
//!    repeats the error.
//! 4. A length prefix is read in place, without consuming it, and compared with the maximum
//!    message size (for [`RingConsumer::recv_with`], also with the capacity less the prefix)
//!    before anything is allocated ([`RingError::TooLong`]); the receive buffer then grows
//!    with the bytes that actually arrive ([`GROW_STEP`] at a time), never with what the
//!    prefix claims.
//! 5. Message bytes are copied out as they are, with volatile reads (shm point 4), or handed
//!    over as [`SharedBytes`] windows that are copied from, never borrowed.
//! 6. Bells, waiting flags and `closed` bits are hints: a forged value costs a spurious wake-up
//!    or an early [`RingError::Closed`], never memory safety. A peer that stops writing can
//!    stall a wait, which is what the timeouts are for.

use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

pub use super::error::{Corruption, RingError};
use super::frame::{DEFAULT_MAX_FRAME, GROW_STEP};
use super::shm::{self, SharedBytes, SharedRegion};
use super::sys;

// The layout of the module docs: the format two processes agree on, so public (a peer written
// in another language, or a test playing a hostile peer, needs it).
/// Identifies an initialised ring ("SYRING01"), at [`OFF_MAGIC`].
pub const MAGIC: u64 = u64::from_le_bytes(*b"SYRING01");
/// Offset of the magic (u64).
pub const OFF_MAGIC: usize = 0;
/// Offset of the data capacity in bytes (u64).
pub const OFF_CAPACITY: usize = 8;
/// Offset of `tail`, bytes ever written (u64, stored by the producer).
pub const OFF_TAIL: usize = 64;
/// Offset of `head`, bytes ever read (u64, stored by the consumer).
pub const OFF_HEAD: usize = 128;
/// Offset of the data doorbell (u32).
pub const OFF_DATA_BELL: usize = 192;
/// Offset of the consumer's waiting flag (u32).
pub const OFF_CONSUMER_WAITING: usize = 196;
/// Offset of the space doorbell (u32).
pub const OFF_SPACE_BELL: usize = 256;
/// Offset of the producer's waiting flag (u32).
pub const OFF_PRODUCER_WAITING: usize = 260;
/// Offset of the `closed` bits (u32).
pub const OFF_CLOSED: usize = 320;
/// Where data starts: one page, so data is page-aligned and the header has its own page.
pub const DATA_OFFSET: usize = 4096;
/// `closed` bit set by the producer's drop.
pub const PRODUCER_GONE: u32 = 1;
/// `closed` bit set by the consumer's drop.
pub const CONSUMER_GONE: u32 = 2;
/// Bytes in a message's length prefix (also the smallest capacity a ring may have, so a
/// prefix can be read in place).
pub const LEN_PREFIX: usize = 4;
/// The default maximum message size of both ends: the channel's default maximum frame
/// ([`DEFAULT_MAX_FRAME`], 64 MiB), so moving a message from a channel to a ring never meets
/// a smaller limit.
pub const DEFAULT_MAX_MESSAGE: usize = DEFAULT_MAX_FRAME;
/// Looks at the ring before a waiting side sleeps on the futex: about 10 µs of
/// `spin_loop` on current x86 (a `pause` is ~40 cycles), the order of one 64 KiB copy, so a
/// peer that is mid-message is caught without a sleep. Picked by reasoning; the lab's `ipc`
/// experiment shows its effect.
pub const SPIN_BEFORE_SLEEP: u32 = 1 << 10;
/// The producer publishes `tail` (and rings) at least every this many bytes, so the consumer
/// copies a large message out on its core while the producer still copies it in on another:
/// on two cores a big message then costs about one copy's time, not two. 64 KiB: large enough
/// that the doorbell's atomics are noise, small enough to overlap most of a 1 MiB message.
/// Picked by reasoning, to be tuned with the lab's `ipc` experiment.
pub const PUBLISH_CHUNK: usize = 64 << 10;

/// Bytes between `head` and `tail`, if at most `capacity` (point 3 of the module docs).
fn distance(head: u64, tail: u64, capacity: usize) -> Option<usize> {
    let d = tail.wrapping_sub(head);
    (d <= capacity as u64).then_some(d as usize)
}

/// The shared words, resolved once.
struct Words<'a> {
    tail: &'a AtomicU64,
    head: &'a AtomicU64,
    data_bell: &'a AtomicU32,
    consumer_waiting: &'a AtomicU32,
    space_bell: &'a AtomicU32,
    producer_waiting: &'a AtomicU32,
    closed: &'a AtomicU32,
}

/// One end's view of the ring.
struct Ring {
    region: SharedRegion,
    /// Read once by `open` and never again (point 1).
    capacity: usize,
    /// [`SPIN_BEFORE_SLEEP`], or 0 when this process may run on one CPU only (spinning
    /// would then only keep the peer, on the same CPU, from running).
    spin: u32,
    /// [`PUBLISH_CHUNK`], or the whole free space on one CPU (where publishing early cannot
    /// overlap anything and each wake-up would cost a context switch).
    publish_chunk: usize,
    /// The largest message this end sends or accepts.
    max_message: usize,
    /// Set by the first [`Corruption`] seen: every later call repeats it.
    corrupt: Option<Corruption>,
}

/// Whether this thread may run on more than one CPU.
fn may_run_in_parallel() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

/// A contiguous piece of the data area: `len` bytes at data offset `at`.
#[derive(Clone, Copy)]
struct Span {
    at: usize,
    len: usize,
}

impl Ring {
    fn open(region: SharedRegion) -> Result<Ring, RingError> {
        if region.len() <= DATA_OFFSET {
            return Err(RingError::NotARing);
        }
        let magic = region.atomic_u64(OFF_MAGIC)?.load(Ordering::Acquire);
        let capacity = region.atomic_u64(OFF_CAPACITY)?.load(Ordering::Acquire);
        let capacity = usize::try_from(capacity).map_err(|_| RingError::NotARing)?;
        if magic != MAGIC
            || !capacity.is_power_of_two()
            || capacity < LEN_PREFIX
            || DATA_OFFSET.checked_add(capacity) != Some(region.len())
        {
            return Err(RingError::NotARing);
        }
        let parallel = may_run_in_parallel();
        Ok(Ring {
            region,
            capacity,
            spin: if parallel { SPIN_BEFORE_SLEEP } else { 0 },
            publish_chunk: if parallel { PUBLISH_CHUNK } else { usize::MAX },
            max_message: DEFAULT_MAX_MESSAGE,
            corrupt: None,
        })
    }

    fn words(&self) -> Words<'_> {
        let r = &self.region;
        // Offsets are constants inside the header page, which Ring::open checked exists.
        let u32_at = |o| r.atomic_u32(o).expect("header word in bounds");
        let u64_at = |o| r.atomic_u64(o).expect("header word in bounds");
        Words {
            tail: u64_at(OFF_TAIL),
            head: u64_at(OFF_HEAD),
            data_bell: u32_at(OFF_DATA_BELL),
            consumer_waiting: u32_at(OFF_CONSUMER_WAITING),
            space_bell: u32_at(OFF_SPACE_BELL),
            producer_waiting: u32_at(OFF_PRODUCER_WAITING),
            closed: u32_at(OFF_CLOSED),
        }
    }

    /// Fails with the corruption seen earlier, if any (point 3: a corrupt ring stays so).
    fn check(&self) -> Result<(), RingError> {
        self.corrupt.map_or(Ok(()), |c| Err(RingError::Corrupt(c)))
    }

    /// Remembers `c` and returns it as an error.
    fn poison(&mut self, c: Corruption) -> RingError {
        self.corrupt = Some(c);
        RingError::Corrupt(c)
    }

    /// The `len` bytes at stream position `pos` as one or two spans of the data area (two
    /// when they wrap around its end).
    ///
    /// # Panics
    /// If `len > capacity`: every caller passes a length it checked against the capacity
    /// (point 3), so this is a bug here, never the peer's doing.
    fn spans(&self, pos: u64, len: usize) -> [Span; 2] {
        assert!(len <= self.capacity, "a ring copy of {len} bytes");
        let at = pos as usize & (self.capacity - 1);
        let first = len.min(self.capacity - at);
        // at < capacity and first <= capacity - at; the rest, len - first, is 0 or
        // len - (capacity - at) <= at since len <= capacity: both spans are in the data area.
        [
            Span { at, len: first },
            Span {
                at: 0,
                len: len - first,
            },
        ]
    }

    /// The span's first byte.
    fn data(&self, span: Span) -> *mut u8 {
        debug_assert!(span.at + span.len <= self.capacity);
        // SAFETY: `at <= capacity` (from `spans`) and the region is DATA_OFFSET + capacity
        // bytes long (checked by `open`), so the result is inside the mapping or one past it.
        unsafe { self.region.base().add(DATA_OFFSET + span.at) }
    }

    /// Copies `src` into the ring at stream position `pos` (wrapping).
    fn copy_in(&self, pos: u64, src: Part<'_>) {
        let [a, b] = self.spans(pos, src.len());
        let (first, second) = src.split_at(a.len);
        // SAFETY: 1. each span lies inside the data area (`spans`), `first` and `second` have
        // exactly the spans' lengths; 2. the copies are volatile word copies (shm points 1 to
        // 3), so a consumer that reads or writes these bytes concurrently, honest or not,
        // causes no undefined behaviour here; an honest one does not look at them before
        // `tail` is published.
        unsafe {
            first.copy_to_shared(self.data(a));
            second.copy_to_shared(self.data(b));
        }
    }

    /// Copies from the ring at stream position `pos` into `dst` (wrapping).
    fn copy_out(&self, pos: u64, dst: &mut [u8]) {
        let [a, b] = self.spans(pos, dst.len());
        let (first, second) = dst.split_at_mut(a.len);
        // SAFETY: as in copy_in: in bounds (`spans`), volatile reads (shm points 1 to 4); the
        // bytes are whatever the producer left, and u8 accepts any.
        unsafe {
            shm::copy_from_shared(self.data(a), first);
            shm::copy_from_shared(self.data(b), second);
        }
    }

    /// The same bytes as a window that is copied from, not borrowed.
    fn window(&self, pos: u64, len: usize) -> [SharedBytes<'_>; 2] {
        let [a, b] = self.spans(pos, len);
        // SAFETY: both spans lie inside the data area (`spans`), which lives as long as
        // `self.region`, borrowed for the windows' lifetime.
        unsafe {
            [
                SharedBytes::new(self.data(a), a.len),
                SharedBytes::new(self.data(b), b.len),
            ]
        }
    }

    /// Step 2 of the doorbell protocol: sleeps on `bell` unless `ready()` already holds.
    fn wait(
        spin: u32,
        bell: &AtomicU32,
        waiting: &AtomicU32,
        ready: impl Fn() -> bool,
        deadline: Option<Instant>,
    ) -> Result<(), RingError> {
        // A peer that is copying on another core publishes within microseconds: spin briefly
        // before paying for a futex sleep and the wake-up's scheduling delay.
        for _ in 0..spin {
            if ready() {
                return Ok(());
            }
            std::hint::spin_loop();
        }
        while !ready() {
            let timeout = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Err(RingError::TimedOut),
                },
                None => None,
            };
            // SeqCst: the Dekker pattern of the module docs needs one total order.
            waiting.store(1, Ordering::SeqCst);
            let seen = bell.load(Ordering::SeqCst);
            if !ready() {
                sys::futex_wait(bell, seen, timeout);
            }
            waiting.store(0, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Step 1 of the doorbell protocol.
    fn ring(bell: &AtomicU32, waiting: &AtomicU32) {
        bell.fetch_add(1, Ordering::SeqCst);
        if waiting.load(Ordering::SeqCst) != 0 {
            sys::futex_wake(bell, 1);
        }
    }

    fn close(&self, bit: u32) {
        let w = self.words();
        w.closed.fetch_or(bit, Ordering::SeqCst);
        Ring::ring(w.data_bell, w.consumer_waiting);
        Ring::ring(w.space_bell, w.producer_waiting);
    }
}

/// Makes a ring with at least `min_capacity` bytes of data (rounded up to a power of two):
/// the region to hand to both ends ([`RingProducer::new`], [`RingConsumer::new`]), and to
/// another process by its descriptor.
pub fn create(min_capacity: usize) -> Result<SharedRegion, RingError> {
    let capacity = min_capacity.max(LEN_PREFIX).next_power_of_two();
    let region = SharedRegion::new(DATA_OFFSET + capacity)?;
    region
        .atomic_u64(OFF_CAPACITY)?
        .store(capacity as u64, Ordering::Release);
    // Release: whoever reads the magic (Acquire, in Ring::open) sees the capacity.
    region
        .atomic_u64(OFF_MAGIC)?
        .store(MAGIC, Ordering::Release);
    Ok(region)
}

/// A piece of a message to send: bytes of this process, or bytes in shared memory (a message
/// another ring handed over with [`RingConsumer::recv_with`]).
#[derive(Clone, Copy, Debug)]
pub enum Part<'a> {
    /// Private bytes.
    Local(&'a [u8]),
    /// Bytes in a shared region, copied with volatile reads.
    Shared(SharedBytes<'a>),
}

impl<'a> Part<'a> {
    fn len(&self) -> usize {
        match self {
            Part::Local(b) => b.len(),
            Part::Shared(b) => b.len(),
        }
    }

    fn split_at(self, mid: usize) -> (Part<'a>, Part<'a>) {
        match self {
            Part::Local(b) => {
                let (x, y) = b.split_at(mid);
                (Part::Local(x), Part::Local(y))
            }
            Part::Shared(b) => {
                let (x, y) = b.split_at(mid);
                (Part::Shared(x), Part::Shared(y))
            }
        }
    }

    /// # Safety
    /// `dst..dst + self.len()` lies inside the live mapping of a region.
    unsafe fn copy_to_shared(self, dst: *mut u8) {
        // SAFETY: the source is a Rust slice or a window inside a live region; the
        // destination is the caller's contract.
        unsafe {
            match self {
                Part::Local(b) => shm::copy_to_shared(b, dst),
                Part::Shared(b) => shm::copy_shared(b.as_ptr(), dst, b.len()),
            }
        }
    }
}

impl<'a> From<&'a [u8]> for Part<'a> {
    fn from(b: &'a [u8]) -> Part<'a> {
        Part::Local(b)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Part<'a> {
    fn from(b: &'a [u8; N]) -> Part<'a> {
        Part::Local(b)
    }
}

impl<'a> From<&'a Vec<u8>> for Part<'a> {
    fn from(b: &'a Vec<u8>) -> Part<'a> {
        Part::Local(b)
    }
}

impl<'a> From<SharedBytes<'a>> for Part<'a> {
    fn from(b: SharedBytes<'a>) -> Part<'a> {
        Part::Shared(b)
    }
}

/// The writing end of a ring.
pub struct RingProducer {
    ring: Ring,
    /// Bytes ever written: this end's own position, never read back from the region (point 2).
    tail: u64,
}

impl RingProducer {
    /// The producer on a region made by [`create`] (in this process or another).
    pub fn new(region: SharedRegion) -> Result<RingProducer, RingError> {
        let ring = Ring::open(region)?;
        // Whatever the region says (a forged value only offsets the positions: point 3 checks
        // distances, not values).
        let tail = ring.words().tail.load(Ordering::Acquire);
        Ok(RingProducer { ring, tail })
    }

    /// The data capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.ring.capacity
    }

    /// The largest message [`RingProducer::send`] accepts (default [`DEFAULT_MAX_MESSAGE`]).
    pub fn max_message_size(&self) -> usize {
        self.ring.max_message
    }

    /// Sets the largest message this end sends.
    pub fn set_max_message_size(&mut self, max: usize) {
        self.ring.max_message = max;
    }

    /// Sends one message, waiting for space as needed (without limit).
    pub fn send(&mut self, message: &[u8]) -> Result<(), RingError> {
        self.send_deadline(message, None)
    }

    /// Sends one message, giving up with [`RingError::TimedOut`] after `timeout` (the part
    /// already written stays; the ring is then unusable for framing, so drop it).
    pub fn send_timeout(&mut self, message: &[u8], timeout: Duration) -> Result<(), RingError> {
        self.send_deadline(message, Some(Instant::now() + timeout))
    }

    fn send_deadline(
        &mut self,
        message: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(), RingError> {
        self.send_gather_deadline([Part::Local(message), Part::Local(&[])], deadline)
    }

    /// Sends the concatenation of `parts` as one message. A part may be a slice or a message
    /// another ring handed over ([`RingConsumer::recv_with`]), so echoing one ring into another
    /// costs a single copy.
    pub fn send_gather<'a, P: Into<Part<'a>>>(&mut self, parts: [P; 2]) -> Result<(), RingError> {
        let [a, b] = parts;
        self.send_gather_deadline([a.into(), b.into()], None)
    }

    fn send_gather_deadline(
        &mut self,
        [a, b]: [Part<'_>; 2],
        deadline: Option<Instant>,
    ) -> Result<(), RingError> {
        self.ring.check()?;
        let total = a.len().saturating_add(b.len());
        let max = self.ring.max_message.min(u32::MAX as usize);
        if total > max {
            return Err(RingError::TooLong { len: total, max });
        }
        let len = (total as u32).to_le_bytes();
        // One stream of prefix and body, so a small message is published (and rung) once:
        // the consumer wakes once per message, not once for the prefix and again for the body.
        self.write([Part::Local(&len), a, b], deadline)
    }

    /// Free bytes, given the consumer's `head` (point 3).
    fn free(&self, head: u64) -> Result<usize, Corruption> {
        let capacity = self.ring.capacity;
        distance(head, self.tail, capacity)
            .map(|used| capacity - used)
            .ok_or(Corruption::Head {
                head,
                tail: self.tail,
                capacity,
            })
    }

    fn write(
        &mut self,
        mut parts: [Part<'_>; 3],
        deadline: Option<Instant>,
    ) -> Result<(), RingError> {
        while parts.iter().any(|p| p.len() > 0) {
            let ring = &self.ring;
            let w = ring.words();
            let consumer_gone = || w.closed.load(Ordering::SeqCst) & CONSUMER_GONE != 0;
            Ring::wait(
                ring.spin,
                w.space_bell,
                w.producer_waiting,
                // A forged head is "ready" too, so that it is reported below.
                || self.free(w.head.load(Ordering::SeqCst)) != Ok(0) || consumer_gone(),
                deadline,
            )?;
            if consumer_gone() {
                return Err(RingError::Closed);
            }
            // Acquire: the consumer's reads of the bytes before `head` are done.
            let free = self.free(w.head.load(Ordering::Acquire));
            let mut room = match free {
                Ok(room) => room.min(ring.publish_chunk),
                Err(c) => return Err(self.ring.poison(c)),
            };
            for part in &mut parts {
                let (now, rest) = part.split_at(room.min(part.len()));
                ring.copy_in(self.tail, now);
                self.tail = self.tail.wrapping_add(now.len() as u64);
                room -= now.len();
                *part = rest;
            }
            // SeqCst: publishes the bytes (it is at least Release) and takes part in the
            // doorbell's total order.
            w.tail.store(self.tail, Ordering::SeqCst);
            Ring::ring(w.data_bell, w.consumer_waiting);
        }
        Ok(())
    }
}

impl Drop for RingProducer {
    fn drop(&mut self) {
        self.ring.close(PRODUCER_GONE);
    }
}

/// The reading end of a ring.
pub struct RingConsumer {
    ring: Ring,
    /// Bytes ever read: this end's own position, never read back from the region (point 2).
    head: u64,
}

impl RingConsumer {
    /// The consumer on a region made by [`create`] (in this process or another).
    pub fn new(region: SharedRegion) -> Result<RingConsumer, RingError> {
        let ring = Ring::open(region)?;
        let head = ring.words().head.load(Ordering::Acquire);
        Ok(RingConsumer { ring, head })
    }

    /// The data capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.ring.capacity
    }

    /// The largest message this end accepts (default [`DEFAULT_MAX_MESSAGE`]).
    pub fn max_message_size(&self) -> usize {
        self.ring.max_message
    }

    /// Sets the largest message this end accepts: a longer one gives [`RingError::TooLong`]
    /// before anything is allocated for it.
    pub fn set_max_message_size(&mut self, max: usize) {
        self.ring.max_message = max;
    }

    /// Receives one message into `buf` (replacing its contents), waiting without limit.
    /// [`RingError::Closed`] once the producer was dropped and every message was read.
    pub fn recv(&mut self, buf: &mut Vec<u8>) -> Result<(), RingError> {
        self.recv_deadline(buf, None)
    }

    /// As [`RingConsumer::recv`], giving up with [`RingError::TimedOut`] after `timeout`.
    pub fn recv_timeout(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<(), RingError> {
        self.recv_deadline(buf, Some(Instant::now() + timeout))
    }

    fn recv_deadline(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<(), RingError> {
        let len = self.peek_len(deadline)?;
        if len > self.ring.max_message {
            return Err(RingError::TooLong {
                len,
                max: self.ring.max_message,
            });
        }
        self.consume(LEN_PREFIX as u64);
        // Grow with the bytes that arrive (point 4), reusing the buffer's bytes: only growth
        // is zero-filled (a 1 MiB memset per message would cost as much as the copy itself).
        let step = GROW_STEP.max(self.ring.capacity);
        buf.truncate(len);
        let mut got = 0;
        while got < len {
            let upto = len.min(got + step);
            if buf.len() < upto {
                buf.resize(upto, 0);
            }
            self.read(&mut buf[got..upto], deadline)?;
            got = upto;
        }
        Ok(())
    }

    /// Receives one message and hands it to `f` where it lies in shared memory, as two
    /// windows (the second is non-empty when the message wraps around the ring's end): no
    /// copy. The message and its 4-byte prefix must fit in the ring, else
    /// [`RingError::TooLong`] and the message stays in the ring for [`RingConsumer::recv`].
    ///
    /// The windows are copied from ([`SharedBytes::copy_to`], or handed to
    /// [`RingProducer::send_gather`]), never borrowed as `&[u8]`: the producer's process can
    /// write those bytes at any moment, and Rust forbids a shared slice whose bytes change.
    pub fn recv_with<R>(
        &mut self,
        f: impl FnOnce(SharedBytes<'_>, SharedBytes<'_>) -> R,
    ) -> Result<R, RingError> {
        let len = self.peek_len(None)?;
        let max = self.ring.max_message.min(self.ring.capacity - LEN_PREFIX);
        if len > max {
            return Err(RingError::TooLong { len, max });
        }
        self.wait_for(LEN_PREFIX + len, None)?;
        let [a, b] = self
            .ring
            .window(self.head.wrapping_add(LEN_PREFIX as u64), len);
        let result = f(a, b);
        self.consume((LEN_PREFIX + len) as u64);
        Ok(result)
    }

    /// Waits until at least `need` bytes (at most the capacity) are published, and returns
    /// how many are. [`RingError::Closed`] if the producer is gone with fewer left.
    fn wait_for(&mut self, need: usize, deadline: Option<Instant>) -> Result<usize, RingError> {
        self.ring.check()?;
        let ring = &self.ring;
        let w = ring.words();
        let head = self.head;
        let available = |tail: u64| distance(head, tail, ring.capacity);
        let producer_gone = || w.closed.load(Ordering::SeqCst) & PRODUCER_GONE != 0;
        Ring::wait(
            ring.spin,
            w.data_bell,
            w.consumer_waiting,
            // A forged tail is "ready" too, so that it is reported below.
            || {
                available(w.tail.load(Ordering::SeqCst)).is_none_or(|n| n >= need)
                    || producer_gone()
            },
            deadline,
        )?;
        // Acquire: the producer's copy of these bytes happened before its `tail` store.
        let tail = w.tail.load(Ordering::Acquire);
        match available(tail) {
            Some(n) if n >= need => Ok(n),
            Some(_) => Err(RingError::Closed),
            None => {
                let capacity = ring.capacity;
                Err(self.ring.poison(Corruption::Tail {
                    head,
                    tail,
                    capacity,
                }))
            }
        }
    }

    /// The next message's length, read in place without consuming it.
    fn peek_len(&mut self, deadline: Option<Instant>) -> Result<usize, RingError> {
        self.wait_for(LEN_PREFIX, deadline)?;
        let mut len = [0u8; LEN_PREFIX];
        self.ring.copy_out(self.head, &mut len);
        Ok(u32::from_le_bytes(len) as usize)
    }

    /// Releases `n` read bytes to the producer.
    fn consume(&mut self, n: u64) {
        self.head = self.head.wrapping_add(n);
        let w = self.ring.words();
        // SeqCst: releases the space (at least Release) and joins the doorbell order.
        w.head.store(self.head, Ordering::SeqCst);
        Ring::ring(w.space_bell, w.producer_waiting);
    }

    fn read(&mut self, mut dst: &mut [u8], deadline: Option<Instant>) -> Result<(), RingError> {
        while !dst.is_empty() {
            let available = self.wait_for(1, deadline)?;
            let n = available.min(dst.len());
            let (now, rest) = std::mem::take(&mut dst).split_at_mut(n);
            self.ring.copy_out(self.head, now);
            self.consume(n as u64);
            dst = rest;
        }
        Ok(())
    }
}

impl Drop for RingConsumer {
    fn drop(&mut self) {
        self.ring.close(CONSUMER_GONE);
    }
}
