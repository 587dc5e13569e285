//! The ring fuzzed from the peer's side: a seeded, deterministic run of many cases in which
//! the test plays the other process, honest in some steps and forging header words, length
//! prefixes and data in others, while a real [`RingConsumer`] or [`RingProducer`] works the
//! other end. Shared by `process_ring_forged` (a few thousand cases, every run) and
//! `stress_ring_fuzz` (a million, in CI's stress step).
//!
//! Each operation's result is checked against a model of what the end must say:
//! 1. a peer position more than the capacity away from the end's own (in either direction) is
//!    `Corrupt` naming that word and both values, and then every later call repeats it;
//! 2. a consistent position never yields `Corrupt`;
//! 3. a message over the maximum is `TooLong`, and nothing received is over the maximum;
//! 4. the only other outcomes are `Ok`, `TimedOut` and `Closed`.
//!
//! And the process survives: no panic, no signal.
#![allow(dead_code)]

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use switchyard::runtime::process::ring::{
    self, CONSUMER_GONE, Corruption, DATA_OFFSET, LEN_PREFIX, OFF_CAPACITY, OFF_CLOSED, OFF_HEAD,
    OFF_MAGIC, OFF_TAIL, PRODUCER_GONE, RingConsumer, RingError, RingProducer,
};
use switchyard::runtime::process::shm::SharedRegion;

/// SplitMix64: a tiny seeded generator, so a failing case replays from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

/// The peer's mapping of the ring: every word and byte, writable at will.
pub struct Peer {
    pub region: SharedRegion,
    pub capacity: usize,
}

impl Peer {
    /// A second mapping of `region`, as another process would have.
    pub fn of(region: &SharedRegion) -> Peer {
        let fd = region.as_fd().try_clone_to_owned().unwrap();
        let region = SharedRegion::from_fd(fd).unwrap();
        let capacity = region.len() - DATA_OFFSET;
        Peer { region, capacity }
    }

    pub fn u64(&self, offset: usize) -> &AtomicU64 {
        self.region.atomic_u64(offset).unwrap()
    }

    pub fn u32(&self, offset: usize) -> &AtomicU32 {
        self.region.atomic_u32(offset).unwrap()
    }

    /// Writes `bytes` at stream position `pos`, wrapping as the ring does.
    pub fn write_at(&self, pos: u64, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            let at = (pos as usize).wrapping_add(i) % self.capacity;
            self.region.write_bytes(DATA_OFFSET + at, &[*b]).unwrap();
        }
    }

    /// An honest message at stream position `pos`; returns the position after it.
    pub fn put_message(&self, pos: u64, body: &[u8]) -> u64 {
        self.write_at(pos, &(body.len() as u32).to_le_bytes());
        self.write_at(pos.wrapping_add(LEN_PREFIX as u64), body);
        pos.wrapping_add((LEN_PREFIX + body.len()) as u64)
    }
}

fn distance(head: u64, tail: u64, capacity: usize) -> Option<u64> {
    let d = tail.wrapping_sub(head);
    (d <= capacity as u64).then_some(d)
}

/// A forged position near `honest` or anywhere: small offsets both ways (often still
/// consistent), just past the capacity, far away, and the extremes.
fn forged_position(rng: &mut Rng, honest: u64, capacity: usize) -> u64 {
    let cap = capacity as u64;
    match rng.below(7) {
        0 => honest.wrapping_add(rng.below(cap + 1)),
        1 => honest.wrapping_sub(rng.below(cap + 1)),
        2 => honest.wrapping_add(cap + 1 + rng.below(4)),
        3 => honest.wrapping_sub(cap + 1 + rng.below(4)),
        4 => u64::MAX - rng.below(4),
        5 => rng.below(4),
        _ => rng.next(),
    }
}

/// A value for a word the end owns, far from any honest position (top bit set), so the model
/// can tell whether the end stored its own position over it.
fn forged_own_position(rng: &mut Rng) -> u64 {
    rng.next() | 1 << 63
}

/// A forged length prefix: plausible, just over the limits, or huge.
fn forged_len(rng: &mut Rng, capacity: usize, max: usize) -> u32 {
    match rng.below(5) {
        0 => rng.below(capacity as u64 + 1) as u32,
        1 => (capacity - LEN_PREFIX + 1) as u32,
        2 => max.saturating_add(1).min(u32::MAX as usize) as u32,
        3 => 0xFFFF_FFF0,
        _ => rng.next() as u32,
    }
}

/// What one case did, for the summary.
#[derive(Default, Debug)]
pub struct Tally {
    pub ops: u64,
    pub ok: u64,
    pub corrupt: u64,
    pub too_long: u64,
    pub timed_out: u64,
    pub closed: u64,
    pub not_a_ring: u64,
}

impl Tally {
    fn count(&mut self, r: &Result<(), RingError>) {
        self.ops += 1;
        match r {
            Ok(()) => self.ok += 1,
            Err(RingError::Corrupt(_)) => self.corrupt += 1,
            Err(RingError::TooLong { .. }) => self.too_long += 1,
            Err(RingError::TimedOut) => self.timed_out += 1,
            Err(RingError::Closed) => self.closed += 1,
            Err(e) => panic!("unexpected error after open: {e:?}"),
        }
    }
}

const STEPS: u64 = 8;

/// Runs `cases` cases from `seed`, panicking with the case's seed on the first wrong result.
pub fn run(seed: u64, cases: u64) -> Tally {
    let mut tally = Tally::default();
    let mut seeds = Rng::new(seed);
    for case in 0..cases {
        let case_seed = seeds.next();
        let mut rng = Rng::new(case_seed);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            one_case(&mut rng, &mut tally)
        }));
        if let Err(e) = result {
            eprintln!("ring fuzz: case {case} (seed {case_seed:#x}) failed");
            std::panic::resume_unwind(e);
        }
    }
    tally
}

fn one_case(rng: &mut Rng, tally: &mut Tally) {
    let capacity = LEN_PREFIX << rng.below(6);
    let region = ring::create(capacity).unwrap();
    let peer = Peer::of(&region);
    assert_eq!(peer.capacity, capacity);
    if rng.chance(8) {
        // A forged header before the end opens it: a ring or NotARing, nothing else.
        let (word, value) = match rng.below(3) {
            0 => (OFF_MAGIC, rng.next()),
            1 => (OFF_CAPACITY, rng.next() >> rng.below(64)),
            _ => (OFF_CAPACITY, capacity as u64 * 2),
        };
        let honest = peer.u64(word).swap(value, SeqCst);
        let opened = if rng.chance(2) {
            RingConsumer::new(region).map(drop)
        } else {
            RingProducer::new(region).map(drop)
        };
        match opened {
            Err(RingError::NotARing) => tally.not_a_ring += 1,
            Ok(()) if value == honest => {}
            other => panic!("a forged header ({word}: {value:#x}) opened as {other:?}"),
        }
        return;
    }
    if rng.chance(2) {
        consumer_case(rng, tally, region, &peer);
    } else {
        producer_case(rng, tally, region, &peer);
    }
}

/// The end under test reads; the peer writes (and forges).
fn consumer_case(rng: &mut Rng, tally: &mut Tally, region: SharedRegion, peer: &Peer) {
    let capacity = peer.capacity;
    let mut rx = RingConsumer::new(region).unwrap();
    let max = if rng.chance(2) {
        ring::DEFAULT_MAX_MESSAGE
    } else {
        rng.below(2 * capacity as u64) as usize
    };
    rx.set_max_message_size(max);
    // The peer's honest tail, and the consumer's true head (model).
    let mut tail = 0u64;
    let mut head = 0u64;
    let mut latched: Option<Corruption> = None;
    let mut buf = Vec::new();
    for _ in 0..rng.below(STEPS) + 1 {
        for _ in 0..rng.below(3) + 1 {
            match rng.below(8) {
                0 | 1 => {
                    let room = capacity - distance(head, tail, capacity).unwrap_or(0) as usize;
                    if room >= LEN_PREFIX {
                        let body: Vec<u8> = (0..rng.below((room - LEN_PREFIX) as u64 + 1))
                            .map(|_| rng.next() as u8)
                            .collect();
                        tail = peer.put_message(tail, &body);
                        peer.u64(OFF_TAIL).store(tail, SeqCst);
                    }
                }
                2 => peer
                    .u64(OFF_TAIL)
                    .store(forged_position(rng, head, capacity), SeqCst),
                3 => peer.write_at(head, &forged_len(rng, capacity, max).to_le_bytes()),
                4 => peer.u64(OFF_HEAD).store(forged_own_position(rng), SeqCst),
                5 => peer.u32(OFF_CLOSED).store(rng.below(4) as u32, SeqCst),
                6 => peer.write_at(rng.next(), &rng.next().to_le_bytes()),
                _ => peer.u64(OFF_CAPACITY).store(rng.next(), SeqCst),
            }
        }
        let seen_tail = peer.u64(OFF_TAIL).load(SeqCst);
        let head_before = peer.u64(OFF_HEAD).load(SeqCst);
        let in_place = rng.chance(2);
        let producer_gone = peer.u32(OFF_CLOSED).load(SeqCst) & PRODUCER_GONE != 0;
        let result = if in_place && producer_gone {
            // recv_with has no timeout: only called when the producer is gone, so it
            // cannot wait.
            let limit = max.min(capacity - LEN_PREFIX);
            rx.recv_with(|a, b| {
                assert!(
                    a.len() + b.len() <= limit,
                    "an in-place message over the limit"
                );
                let mut copy = vec![0; a.len() + b.len()];
                a.copy_to(&mut copy);
                b.copy_to(&mut copy[a.len()..]);
            })
        } else {
            rx.recv_timeout(&mut buf, Duration::ZERO)
                .inspect(|()| assert!(buf.len() <= max, "a message over the maximum"))
        };
        tally.count(&result);
        let expected = latched.or_else(|| {
            distance(head, seen_tail, capacity)
                .is_none()
                .then_some(Corruption::Tail {
                    head,
                    tail: seen_tail,
                    capacity,
                })
        });
        match (&result, expected) {
            (Err(RingError::Corrupt(c)), Some(e)) => assert_eq!(*c, e),
            (Err(RingError::Corrupt(c)), None) => panic!("consistent positions gave {c:?}"),
            (other, Some(e)) => panic!("expected Corrupt({e:?}), got {other:?}"),
            (Err(RingError::TooLong { len, max: m }), None) => assert!(len > m),
            (_, None) => {}
        }
        latched = expected;
        // The consumer stores its own position whenever it consumed; it never reads it back.
        let head_after = peer.u64(OFF_HEAD).load(SeqCst);
        if head_after != head_before {
            assert!(
                distance(head, head_after, capacity).is_some(),
                "the consumer moved from {head} to {head_after}"
            );
            head = head_after;
        }
    }
}

/// The end under test writes; the peer reads (and forges).
fn producer_case(rng: &mut Rng, tally: &mut Tally, region: SharedRegion, peer: &Peer) {
    let capacity = peer.capacity;
    let mut tx = RingProducer::new(region).unwrap();
    let max = if rng.chance(2) {
        ring::DEFAULT_MAX_MESSAGE
    } else {
        rng.below(2 * capacity as u64) as usize
    };
    tx.set_max_message_size(max);
    // The producer's true tail (model).
    let mut tail = 0u64;
    let mut latched: Option<Corruption> = None;
    for _ in 0..rng.below(STEPS) + 1 {
        for _ in 0..rng.below(3) + 1 {
            match rng.below(6) {
                0 | 1 => peer.u64(OFF_HEAD).store(
                    tail.wrapping_sub(rng.below(capacity as u64 + 1).min(tail)),
                    SeqCst,
                ),
                2 | 3 => peer
                    .u64(OFF_HEAD)
                    .store(forged_position(rng, tail, capacity), SeqCst),
                4 => peer.u64(OFF_TAIL).store(forged_own_position(rng), SeqCst),
                _ => peer.u32(OFF_CLOSED).store(rng.below(4) as u32, SeqCst),
            }
        }
        let seen_head = peer.u64(OFF_HEAD).load(SeqCst);
        let tail_before = peer.u64(OFF_TAIL).load(SeqCst);
        let consumer_gone = peer.u32(OFF_CLOSED).load(SeqCst) & CONSUMER_GONE != 0;
        let message: Vec<u8> = (0..rng.below(2 * capacity as u64 + 1))
            .map(|_| rng.next() as u8)
            .collect();
        let result = tx.send_timeout(&message, Duration::ZERO);
        tally.count(&result);
        let corrupt = distance(seen_head, tail, capacity)
            .is_none()
            .then_some(Corruption::Head {
                head: seen_head,
                tail,
                capacity,
            });
        // The checks in the order the producer makes them.
        match (&result, latched) {
            (Err(RingError::Corrupt(c)), Some(l)) => assert_eq!(*c, l),
            (other, Some(l)) => panic!("expected the latched Corrupt({l:?}), got {other:?}"),
            (Err(RingError::TooLong { len, max: m }), None) => {
                assert_eq!(*len, message.len());
                assert!(len > m);
            }
            (_, None) if message.len() > max => panic!("{result:?} for an oversized message"),
            (Err(RingError::Closed), None) => assert!(consumer_gone),
            (_, None) if consumer_gone => panic!("{result:?} with the consumer gone"),
            (Err(RingError::Corrupt(c)), None) => assert_eq!(Some(*c), corrupt),
            (other, None) => assert!(corrupt.is_none(), "{other:?} for a forged head"),
        }
        if matches!(result, Err(RingError::Corrupt(_))) {
            latched = latched.or(corrupt);
        }
        let tail_after = peer.u64(OFF_TAIL).load(SeqCst);
        if tail_after != tail_before {
            assert!(
                distance(seen_head, tail_after, capacity).is_some(),
                "the producer wrote past the space it had: head {seen_head}, tail {tail_after}"
            );
            tail = tail_after;
        }
    }
}
