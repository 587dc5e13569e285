//! A single-producer, single-consumer ring of byte messages on a [`SharedRegion`], with a
//! futex doorbell for waiting.
//!
//! Layout of the region (each shared word on its own cache line, so the producer's writes of
//! `tail` do not invalidate the consumer's line holding `head`):
//!
//! ```text
//!  0    magic, capacity          written once by Ring::create
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
//! every [`PUBLISH_CHUNK`] bytes, so producer and consumer copy in parallel.
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

use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::shm::{SharedRegion, ShmError};
use super::sys;

/// Identifies an initialised ring ("SYRING01").
const MAGIC: u64 = u64::from_le_bytes(*b"SYRING01");
const OFF_MAGIC: usize = 0;
const OFF_CAPACITY: usize = 8;
const OFF_TAIL: usize = 64;
const OFF_HEAD: usize = 128;
const OFF_DATA_BELL: usize = 192;
const OFF_CONSUMER_WAITING: usize = 196;
const OFF_SPACE_BELL: usize = 256;
const OFF_PRODUCER_WAITING: usize = 260;
const OFF_CLOSED: usize = 320;
/// Where data starts: one page, so data is page-aligned and the header has its own page.
pub const DATA_OFFSET: usize = 4096;
/// `closed` bit set by the producer's drop.
const PRODUCER_GONE: u32 = 1;
/// `closed` bit set by the consumer's drop.
const CONSUMER_GONE: u32 = 2;
/// Bytes in a message's length prefix.
const LEN_PREFIX: usize = 4;
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

/// Why a ring operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// The other side dropped its end (for the consumer: after every message was read).
    #[error("the other end of the ring was dropped")]
    Closed,
    /// The wait timed out (the peer may be dead; check its channel or child handle).
    #[error("timed out waiting on the ring")]
    TimedOut,
    /// The region does not hold a ring (wrong magic or a capacity that does not fit).
    #[error("the shared region does not hold an initialised ring")]
    NotARing,
    /// The message is longer than a length prefix can say.
    #[error("a ring message of {0} bytes exceeds the 4 GiB limit of its length prefix")]
    TooLong(usize),
    /// Making or mapping the region failed.
    #[error(transparent)]
    Shm(#[from] ShmError),
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
    capacity: usize,
    /// [`SPIN_BEFORE_SLEEP`], or 0 when this process may run on one CPU only (spinning
    /// would then only keep the peer, on the same CPU, from running).
    spin: u32,
    /// [`PUBLISH_CHUNK`], or the whole free space on one CPU (where publishing early cannot
    /// overlap anything and each wake-up would cost a context switch).
    publish_chunk: usize,
}

/// Whether this thread may run on more than one CPU.
fn may_run_in_parallel() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

impl Ring {
    fn open(region: SharedRegion) -> Result<Ring, RingError> {
        let magic = region.atomic_u64(OFF_MAGIC)?.load(Ordering::Acquire);
        let capacity = region.atomic_u64(OFF_CAPACITY)?.load(Ordering::Acquire) as usize;
        if magic != MAGIC
            || !capacity.is_power_of_two()
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
        })
    }

    fn words(&self) -> Words<'_> {
        let r = &self.region;
        // Offsets are constants inside the header page that Ring::open checked exists.
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

    /// Copies `src` into the ring at stream position `pos` (wrapping).
    fn copy_in(&self, pos: u64, src: &[u8]) {
        let at = pos as usize & (self.capacity - 1);
        let first = src.len().min(self.capacity - at);
        // SAFETY: `at + first <= capacity` and `src.len() - first <= at` keep both copies
        // inside the data area; the producer only writes bytes between `tail` and
        // `head + capacity`, which the consumer does not read until `tail` is published.
        unsafe {
            let data = self.region.base().add(DATA_OFFSET);
            std::ptr::copy_nonoverlapping(src.as_ptr(), data.add(at), first);
            std::ptr::copy_nonoverlapping(src.as_ptr().add(first), data, src.len() - first);
        }
    }

    /// Copies from the ring at stream position `pos` into `dst` (wrapping).
    fn copy_out(&self, pos: u64, dst: &mut [u8]) {
        let at = pos as usize & (self.capacity - 1);
        let first = dst.len().min(self.capacity - at);
        // SAFETY: as in copy_in; the consumer only reads bytes between `head` and the
        // published `tail`, which the producer does not overwrite until `head` moves past.
        unsafe {
            let data = self.region.base().add(DATA_OFFSET);
            std::ptr::copy_nonoverlapping(data.add(at), dst.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(data, dst.as_mut_ptr().add(first), dst.len() - first);
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

/// The writing end of a ring.
pub struct RingProducer {
    ring: Ring,
}

impl RingProducer {
    /// The producer on a region made by [`create`] (in this process or another).
    pub fn new(region: SharedRegion) -> Result<RingProducer, RingError> {
        Ok(RingProducer {
            ring: Ring::open(region)?,
        })
    }

    /// The data capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.ring.capacity
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
        let len = u32::try_from(message.len()).map_err(|_| RingError::TooLong(message.len()))?;
        // One stream of prefix and body, so a small message is published (and rung) once:
        // the consumer wakes once per message, not once for the prefix and again for the body.
        self.write([&len.to_le_bytes(), message], deadline)
    }

    fn write(&mut self, parts: [&[u8]; 2], deadline: Option<Instant>) -> Result<(), RingError> {
        let ring = &self.ring;
        let w = ring.words();
        let capacity = ring.capacity as u64;
        let [mut first, mut second] = parts;
        // Only this end writes `tail`, so a Relaxed read of our own value is exact.
        let mut tail = w.tail.load(Ordering::Relaxed);
        while !first.is_empty() || !second.is_empty() {
            let free = |head: u64| capacity - (tail - head);
            let consumer_gone = || w.closed.load(Ordering::SeqCst) & CONSUMER_GONE != 0;
            Ring::wait(
                ring.spin,
                w.space_bell,
                w.producer_waiting,
                || free(w.head.load(Ordering::SeqCst)) > 0 || consumer_gone(),
                deadline,
            )?;
            if consumer_gone() {
                return Err(RingError::Closed);
            }
            // Acquire: the consumer's reads of the bytes before `head` are done.
            let mut room = (free(w.head.load(Ordering::Acquire)) as usize).min(ring.publish_chunk);
            for part in [&mut first, &mut second] {
                let n = room.min(part.len());
                ring.copy_in(tail, &part[..n]);
                tail += n as u64;
                room -= n;
                *part = &part[n..];
            }
            // SeqCst: publishes the bytes (it is at least Release) and takes part in the
            // doorbell's total order.
            w.tail.store(tail, Ordering::SeqCst);
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
}

impl RingConsumer {
    /// The consumer on a region made by [`create`] (in this process or another).
    pub fn new(region: SharedRegion) -> Result<RingConsumer, RingError> {
        Ok(RingConsumer {
            ring: Ring::open(region)?,
        })
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
        let mut len = [0u8; LEN_PREFIX];
        self.read(&mut len, deadline)?;
        // Reuse the buffer's bytes: only growth is zero-filled (a 1 MiB memset per message
        // would cost as much as the copy itself).
        let len = u32::from_le_bytes(len) as usize;
        buf.truncate(len);
        buf.resize(len, 0);
        self.read(buf, deadline)
    }

    fn read(&mut self, mut dst: &mut [u8], deadline: Option<Instant>) -> Result<(), RingError> {
        let ring = &self.ring;
        let w = ring.words();
        // Only this end writes `head`.
        let mut head = w.head.load(Ordering::Relaxed);
        while !dst.is_empty() {
            let producer_gone = || w.closed.load(Ordering::SeqCst) & PRODUCER_GONE != 0;
            Ring::wait(
                ring.spin,
                w.data_bell,
                w.consumer_waiting,
                || w.tail.load(Ordering::SeqCst) > head || producer_gone(),
                deadline,
            )?;
            // Acquire: the producer's copy of these bytes happened before its `tail` store.
            let available = w.tail.load(Ordering::Acquire) - head;
            if available == 0 {
                return Err(RingError::Closed);
            }
            let n = (available as usize).min(dst.len());
            let (now, rest) = std::mem::take(&mut dst).split_at_mut(n);
            ring.copy_out(head, now);
            head += n as u64;
            // SeqCst: releases the space (at least Release) and joins the doorbell order.
            w.head.store(head, Ordering::SeqCst);
            Ring::ring(w.space_bell, w.producer_waiting);
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

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    fn pair(capacity: usize) -> (RingProducer, RingConsumer) {
        let region = create(capacity).unwrap();
        let other = SharedRegion::from_fd(region.as_fd().try_clone_to_owned().unwrap()).unwrap();
        (
            RingProducer::new(region).unwrap(),
            RingConsumer::new(other).unwrap(),
        )
    }

    #[test]
    fn messages_larger_than_the_ring_stream_through() {
        let (mut tx, mut rx) = pair(64);
        let big: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let expected = big.clone();
        let sender = std::thread::spawn(move || {
            for _ in 0..3 {
                tx.send(&big).unwrap();
            }
            tx.send(b"end").unwrap();
        });
        let mut buf = Vec::new();
        for _ in 0..3 {
            rx.recv(&mut buf).unwrap();
            assert_eq!(buf, expected);
        }
        rx.recv(&mut buf).unwrap();
        assert_eq!(buf, b"end");
        sender.join().unwrap();
        assert!(matches!(rx.recv(&mut buf), Err(RingError::Closed)));
    }

    #[test]
    fn an_empty_ring_times_out() {
        let (_tx, mut rx) = pair(64);
        let mut buf = Vec::new();
        assert!(matches!(
            rx.recv_timeout(&mut buf, Duration::from_millis(1)),
            Err(RingError::TimedOut)
        ));
    }

    #[test]
    fn a_region_without_a_ring_is_refused() {
        let region = SharedRegion::new(8192).unwrap();
        assert!(matches!(
            RingConsumer::new(region),
            Err(RingError::NotARing)
        ));
    }

    #[test]
    fn a_dropped_consumer_closes_the_producer() {
        let (mut tx, rx) = pair(64);
        drop(rx);
        assert!(matches!(tx.send(&[0; 200]), Err(RingError::Closed)));
    }
}
