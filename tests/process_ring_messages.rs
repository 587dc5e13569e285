//! The ring's ordinary behaviour with an honest peer: messages larger than the ring stream
//! through, a wrapped message is read in place, a message too large to read in place stays
//! for `recv`, waits time out, and a dropped end closes the ring.
use std::os::fd::AsFd;
use std::time::Duration;

use switchyard::runtime::process::ring::{RingConsumer, RingError, RingProducer, create};
use switchyard::runtime::process::shm::SharedRegion;

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
fn a_message_is_read_in_place_even_when_it_wraps() {
    let (mut tx, mut rx) = pair(64);
    for round in 0..10u8 {
        let message: Vec<u8> = (0..40).map(|i| i ^ round).collect();
        tx.send(&message).unwrap();
        let got = rx
            .recv_with(|a, b| [a.to_vec(), b.to_vec()].concat())
            .unwrap();
        assert_eq!(got, message);
    }
}

#[test]
fn reading_in_place_refuses_a_message_larger_than_the_ring_and_leaves_it_for_recv() {
    let (mut tx, mut rx) = pair(64);
    let sender = std::thread::spawn(move || {
        tx.send(&[7; 100]).unwrap();
        tx.send(&[8; 60]).unwrap();
    });
    // 100 bytes and their prefix cannot lie in a 64-byte ring at once.
    assert!(matches!(
        rx.recv_with(|_, _| ()),
        Err(RingError::TooLong { len: 100, max: 60 })
    ));
    let mut buf = Vec::new();
    rx.recv(&mut buf).unwrap();
    assert_eq!(buf, [7; 100]);
    let got = rx
        .recv_with(|a, b| [a.to_vec(), b.to_vec()].concat())
        .unwrap();
    assert_eq!(got, [8; 60]);
    sender.join().unwrap();
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
