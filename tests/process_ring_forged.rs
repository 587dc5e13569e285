//! A ring whose peer forges what it shares: every forged position, length prefix and header
//! word gives a typed error, never an access outside the region, a wrap, a huge allocation or
//! a signal (issue 7, item 2). The peer is played by a second mapping of the region, which is
//! exactly what another process has; `process_shared_memory` does it from a real child.
mod ring_fuzz;

use std::time::Duration;

use ring_fuzz::Peer;
use switchyard::runtime::process::frame::GROW_STEP;
use switchyard::runtime::process::ring::{
    self, Corruption, DEFAULT_MAX_MESSAGE, LEN_PREFIX, OFF_CAPACITY, OFF_HEAD, OFF_TAIL,
    RingConsumer, RingError, RingProducer,
};
use switchyard::runtime::process::shm::SharedRegion;

const CAPACITY: usize = 64;

fn consumer() -> (RingConsumer, Peer) {
    let region = ring::create(CAPACITY).unwrap();
    let peer = Peer::of(&region);
    (RingConsumer::new(region).unwrap(), peer)
}

fn producer() -> (RingProducer, Peer) {
    let region = ring::create(CAPACITY).unwrap();
    let peer = Peer::of(&region);
    (RingProducer::new(region).unwrap(), peer)
}

fn recv_now(rx: &mut RingConsumer, buf: &mut Vec<u8>) -> Result<(), RingError> {
    rx.recv_timeout(buf, Duration::ZERO)
}

#[test]
fn a_tail_far_ahead_is_corrupt_and_stays_corrupt() {
    // The SIGSEGV of issue 7: a tail ~100 KB ahead of head made recv copy past the data area.
    let (mut rx, peer) = consumer();
    peer.put_message(0, &[1; 8]);
    peer.u64(OFF_TAIL)
        .store(100_000, std::sync::atomic::Ordering::SeqCst);
    let mut buf = Vec::new();
    let expected = Corruption::Tail {
        head: 0,
        tail: 100_000,
        capacity: CAPACITY,
    };
    for _ in 0..2 {
        match recv_now(&mut rx, &mut buf) {
            Err(RingError::Corrupt(c)) => assert_eq!(c, expected),
            other => panic!("{other:?}"),
        }
    }
    // Putting the tail back does not revive a ring that lost its framing.
    peer.u64(OFF_TAIL)
        .store(12, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(
        recv_now(&mut rx, &mut buf),
        Err(RingError::Corrupt(_))
    ));
    assert!(buf.is_empty());
    let err = rx.recv_with(|_, _| ()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the peer corrupted the ring (tail 100000 is not within 64 bytes ahead of head 0); \
         drop the ring and distrust the peer"
    );
}

#[test]
fn a_tail_behind_head_is_corrupt() {
    let (mut rx, peer) = consumer();
    let end = peer.put_message(0, b"hello");
    peer.u64(OFF_TAIL)
        .store(end, std::sync::atomic::Ordering::SeqCst);
    let mut buf = Vec::new();
    recv_now(&mut rx, &mut buf).unwrap();
    assert_eq!(buf, b"hello");
    for forged in [end - 1, 0, u64::MAX] {
        let (mut rx, peer) = consumer();
        let end = peer.put_message(0, b"hello");
        peer.u64(OFF_TAIL)
            .store(end, std::sync::atomic::Ordering::SeqCst);
        recv_now(&mut rx, &mut buf).unwrap();
        peer.u64(OFF_TAIL)
            .store(forged, std::sync::atomic::Ordering::SeqCst);
        match recv_now(&mut rx, &mut buf) {
            Err(RingError::Corrupt(Corruption::Tail { head, tail, .. })) if forged != 0 => {
                assert_eq!((head, tail), (end, forged))
            }
            // 0 is 9 bytes behind head: also corrupt.
            Err(RingError::Corrupt(Corruption::Tail { tail: 0, .. })) => {}
            other => panic!("tail {forged}: {other:?}"),
        }
    }
}

#[test]
fn a_forged_head_is_corrupt_for_the_producer() {
    // The wrap of issue 7: `capacity - (tail - head)` with head ahead of tail.
    for (forged, tail_written) in [(1u64, 0usize), (u64::MAX / 2, 0), (1_000_000, 0), (10, 60)] {
        let (mut tx, peer) = producer();
        if tail_written > 0 {
            tx.send(&vec![0; tail_written - LEN_PREFIX]).unwrap();
            peer.u64(OFF_HEAD)
                .store(tail_written as u64, std::sync::atomic::Ordering::SeqCst);
        }
        // 10 with tail 60 is consistent (50 bytes in flight): the send then only waits.
        peer.u64(OFF_HEAD)
            .store(forged, std::sync::atomic::Ordering::SeqCst);
        let result = tx.send_timeout(&[7; 100], Duration::ZERO);
        if forged == 10 {
            assert!(matches!(result, Err(RingError::TimedOut)), "{result:?}");
            continue;
        }
        match result {
            Err(RingError::Corrupt(Corruption::Head {
                head,
                tail,
                capacity,
            })) => assert_eq!(
                (head, tail, capacity),
                (forged, tail_written as u64, CAPACITY)
            ),
            other => panic!("head {forged}: {other:?}"),
        }
        assert!(matches!(
            tx.send(b"after"),
            Err(RingError::Corrupt(Corruption::Head { .. }))
        ));
    }
}

#[test]
fn a_huge_length_prefix_is_refused_before_allocating() {
    // The 4 GiB resize of issue 7.
    let (mut rx, peer) = consumer();
    peer.write_at(0, &0xFFFF_FFF0u32.to_le_bytes());
    peer.u64(OFF_TAIL)
        .store(4, std::sync::atomic::Ordering::SeqCst);
    let mut buf = Vec::new();
    for _ in 0..2 {
        match recv_now(&mut rx, &mut buf) {
            Err(RingError::TooLong { len, max }) => {
                assert_eq!((len, max), (0xFFFF_FFF0, DEFAULT_MAX_MESSAGE))
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(buf.capacity(), 0, "nothing allocated");
    assert!(matches!(
        rx.recv_with(|_, _| ()),
        Err(RingError::TooLong {
            len: 0xFFFF_FFF0,
            max: 60
        })
    ));
    // Even with the limit raised to the prefix's maximum, the buffer grows with the data that
    // arrives, not with what the prefix claims.
    rx.set_max_message_size(u32::MAX as usize);
    assert!(matches!(
        recv_now(&mut rx, &mut buf),
        Err(RingError::TimedOut)
    ));
    assert!(buf.capacity() <= 2 * GROW_STEP, "{}", buf.capacity());
}

#[test]
fn an_end_ignores_what_the_peer_writes_over_its_own_position() {
    let (mut rx, peer) = consumer();
    let end = peer.put_message(0, b"first");
    peer.u64(OFF_TAIL)
        .store(end, std::sync::atomic::Ordering::SeqCst);
    peer.u64(OFF_HEAD)
        .store(u64::MAX / 2, std::sync::atomic::Ordering::SeqCst);
    let mut buf = Vec::new();
    recv_now(&mut rx, &mut buf).unwrap();
    assert_eq!(buf, b"first");
    assert_eq!(
        peer.u64(OFF_HEAD).load(std::sync::atomic::Ordering::SeqCst),
        end
    );

    let (mut tx, peer) = producer();
    peer.u64(OFF_TAIL)
        .store(u64::MAX / 2, std::sync::atomic::Ordering::SeqCst);
    tx.send(b"second").unwrap();
    assert_eq!(
        peer.u64(OFF_TAIL).load(std::sync::atomic::Ordering::SeqCst),
        (LEN_PREFIX + 6) as u64
    );
}

#[test]
fn a_capacity_rewritten_after_open_changes_nothing() {
    let (mut rx, peer) = consumer();
    peer.u64(OFF_CAPACITY)
        .store(1 << 40, std::sync::atomic::Ordering::SeqCst);
    let end = peer.put_message(0, &[3; 60]);
    peer.u64(OFF_TAIL)
        .store(end, std::sync::atomic::Ordering::SeqCst);
    let mut buf = Vec::new();
    recv_now(&mut rx, &mut buf).unwrap();
    assert_eq!(buf, [3; 60]);
}

#[test]
fn a_forged_header_is_not_a_ring() {
    for capacity in [0u64, 2, 3, 48, 128, 1 << 40, u64::MAX] {
        let region = ring::create(CAPACITY).unwrap();
        let peer = Peer::of(&region);
        peer.u64(OFF_CAPACITY)
            .store(capacity, std::sync::atomic::Ordering::SeqCst);
        assert!(
            matches!(RingConsumer::new(region), Err(RingError::NotARing)),
            "capacity {capacity}"
        );
    }
    // A region too small to hold the header.
    let small = SharedRegion::new(64).unwrap();
    assert!(matches!(RingProducer::new(small), Err(RingError::NotARing)));
}

#[test]
fn the_sender_refuses_a_message_over_its_maximum_before_writing() {
    let (mut tx, peer) = producer();
    tx.set_max_message_size(10);
    assert!(matches!(
        tx.send(&[0; 11]),
        Err(RingError::TooLong { len: 11, max: 10 })
    ));
    assert_eq!(
        peer.u64(OFF_TAIL).load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing written"
    );
}

/// Cases per run: a few seconds in a debug build; `stress_ring_fuzz` runs a million.
const CASES: u64 = if cfg!(debug_assertions) {
    20_000
} else {
    100_000
};

#[test]
fn the_ring_survives_a_peer_that_forges_anything() {
    let tally = ring_fuzz::run(0x5157_4152_4431, CASES);
    eprintln!("{tally:?}");
    // The run reached every outcome, so the model's checks were each exercised.
    assert!(
        tally.ok > 0 && tally.corrupt > 0 && tally.too_long > 0,
        "{tally:?}"
    );
    assert!(
        tally.timed_out > 0 && tally.closed > 0 && tally.not_a_ring > 0,
        "{tally:?}"
    );
}
