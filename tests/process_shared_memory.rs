//! Shared memory crosses processes: a region handed to a child by descriptor is the same
//! memory, is never world-readable, and is gone from this process when dropped; a 1 MiB
//! message crosses through the ring intact.
mod process_support;

use std::os::fd::AsFd;

use switchyard::runtime::process::shm::{REGION_MODE, SharedRegion};
use switchyard::runtime::process::{self, Channel, Entry, StartMethod, ring};

/// Maps the region it receives, squares the u64s in place, and replies.
fn square_in_place(mut channel: Channel) {
    let (count, fd) = channel.recv_with_fd::<usize>().unwrap();
    let region = SharedRegion::from_fd(fd).unwrap();
    let view = region.view::<u64>(0, count).unwrap();
    for i in 0..count {
        let v = view.get(i).unwrap();
        view.set(i, v * v);
    }
    channel.send(&()).unwrap();
}

/// Receives a ring and echoes each message's checksum until the ring closes.
fn ring_sum(mut channel: Channel) {
    let ((), fd) = channel.recv_with_fd::<()>().unwrap();
    let mut rx = ring::RingConsumer::new(SharedRegion::from_fd(fd).unwrap()).unwrap();
    let mut buf = Vec::new();
    while rx.recv(&mut buf).is_ok() {
        let sum: u64 = buf.iter().map(|&b| u64::from(b)).sum();
        channel.send(&(buf.len(), sum)).unwrap();
    }
}

fn memfds() -> usize {
    process_support::open_fds()
        .iter()
        .filter(|f| f.contains("memfd:switchyard-shm"))
        .count()
}

fn a_child_writes_the_parents_region() {
    let region = SharedRegion::new(8 * 100).unwrap();
    assert_eq!(
        region.mode().unwrap() & 0o077,
        0,
        "never group/world accessible"
    );
    assert_eq!(region.mode().unwrap(), REGION_MODE);
    let view = region.view::<u64>(0, 100).unwrap();
    for i in 0..100 {
        view.set(i, i as u64);
    }
    let mut child = process::start("square_in_place", StartMethod::Spawn).unwrap();
    let channel = child.channel().unwrap();
    channel.send_with_fd(&100usize, region.as_fd()).unwrap();
    channel.recv::<()>().unwrap();
    for i in 0..100 {
        assert_eq!(view.get(i), Some((i * i) as u64));
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(memfds(), 1);
    drop(region);
    assert_eq!(memfds(), 0, "the region's descriptor is gone with it");
}

fn a_one_mebibyte_message_crosses_the_ring() {
    let region = ring::create(256 << 10).unwrap();
    let mut child = process::start("ring_sum", StartMethod::Spawn).unwrap();
    let mut channel = child.take_channel().unwrap();
    channel.send_with_fd(&(), region.as_fd()).unwrap();
    let mut tx = ring::RingProducer::new(region).unwrap();
    let message: Vec<u8> = (0..1u32 << 20).map(|i| (i % 253) as u8).collect();
    let sum: u64 = message.iter().map(|&b| u64::from(b)).sum();
    for _ in 0..3 {
        tx.send(&message).unwrap();
        assert_eq!(channel.recv::<(usize, u64)>().unwrap(), (1 << 20, sum));
    }
    drop(tx);
    assert!(child.wait().unwrap().success());
    assert_eq!(memfds(), 0);
}

fn main() {
    process::init([
        Entry::new("square_in_place", square_in_place),
        Entry::new("ring_sum", ring_sum),
    ])
    .expect("init");
    process_support::run(&[
        (
            "a_child_writes_the_parents_region",
            a_child_writes_the_parents_region,
        ),
        (
            "a_one_mebibyte_message_crosses_the_ring",
            a_one_mebibyte_message_crosses_the_ring,
        ),
    ]);
}
