//! Shared memory crosses processes: a region handed to a child by descriptor is the same
//! memory, is never world-readable, and is gone from this process when dropped; a 1 MiB
//! message crosses through the ring intact. A child that turns hostile cannot shrink a region
//! under us, cannot hand us one it could shrink, and cannot make a ring misbehave: each
//! attempt is a typed error here, never a signal (issue 7, item 2).
mod process_support;

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use switchyard::runtime::process::ring::{Corruption, RingError};
use switchyard::runtime::process::shm::{REGION_MODE, SharedRegion, ShmError};
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

/// Tries to truncate the region it receives, and replies with the errno (0 if it worked).
fn shrink(mut channel: Channel) {
    let ((), fd) = channel.recv_with_fd::<()>().unwrap();
    // SAFETY: ftruncate on a descriptor this process owns.
    let rc = unsafe { libc::ftruncate(fd.as_raw_fd(), 0) };
    let errno = if rc == 0 {
        0
    } else {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    };
    channel.send(&errno).unwrap();
}

/// Makes a memfd of its own (sealable or not, but unsealed), hands it over, and truncates it
/// once the parent has answered: what a parent that mapped it would die of.
fn hand_over_unsealed(mut channel: Channel) {
    let flags: u32 = channel.recv().unwrap();
    // SAFETY: memfd_create with a valid C string; the descriptor is ours alone.
    let fd = unsafe { libc::memfd_create(c"hostile".as_ptr(), flags) };
    assert!(fd >= 0);
    // SAFETY: as above.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ftruncate on our own descriptor.
    assert_eq!(unsafe { libc::ftruncate(fd.as_raw_fd(), 8192) }, 0);
    channel.send_with_fd(&(), fd.as_fd()).unwrap();
    let _: () = channel.recv().unwrap();
    // SAFETY: as above.
    unsafe { libc::ftruncate(fd.as_raw_fd(), 0) };
    channel.send(&()).unwrap();
}

/// Maps the ring it receives and forges what it is told to, then replies.
fn forge_ring(mut channel: Channel) {
    let (what, fd) = channel.recv_with_fd::<String>().unwrap();
    let region = SharedRegion::from_fd(fd).unwrap();
    let word = |offset| region.atomic_u64(offset).unwrap();
    match what.as_str() {
        // Issue 7's SIGSEGV: a tail ~100 KB past a 64-byte data area.
        "tail" => word(ring::OFF_TAIL).store(100_000, SeqCst),
        // Issue 7's 4 GiB resize: a length prefix of 0xFFFF_FFF0.
        "length" => {
            region
                .write_bytes(ring::DATA_OFFSET, &0xFFFF_FFF0u32.to_le_bytes())
                .unwrap();
            word(ring::OFF_TAIL).store(4, SeqCst);
        }
        // Issue 7's wrap: a head ahead of the producer's tail.
        "head" => word(ring::OFF_HEAD).store(1_000, SeqCst),
        _ => {}
    }
    channel.send(&()).unwrap();
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

fn a_child_cannot_shrink_a_region() {
    let region = SharedRegion::new(2 * 4096).unwrap();
    let mut child = process::start("shrink", StartMethod::Spawn).unwrap();
    let channel = child.channel().unwrap();
    channel.send_with_fd(&(), region.as_fd()).unwrap();
    assert_eq!(
        channel.recv::<i32>().unwrap(),
        libc::EPERM,
        "ftruncate refused"
    );
    // Without the seal this read of the last page would be SIGBUS.
    let last = region.view::<u64>(region.len() - 8, 1).unwrap();
    last.set(0, 7);
    assert_eq!(last.get(0), Some(7));
    assert!(child.wait().unwrap().success());
}

fn an_unsealed_region_from_a_child_is_refused() {
    for flags in [
        libc::MFD_CLOEXEC,
        libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
    ] {
        let mut child = process::start("hand_over_unsealed", StartMethod::Spawn).unwrap();
        let channel = child.channel().unwrap();
        channel.send(&flags).unwrap();
        let ((), fd) = channel.recv_with_fd::<()>().unwrap();
        let err = SharedRegion::from_fd(fd).unwrap_err();
        assert!(matches!(err, ShmError::Unsealed { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("refusing to map a descriptor that is not sealed")
        );
        channel.send(&()).unwrap();
        channel.recv::<()>().unwrap();
        assert!(child.wait().unwrap().success());
    }
}

/// Hands a fresh 64-byte ring to a `forge_ring` child, waits for it to forge `what`.
fn forged_by_a_child(what: &str) -> (SharedRegion, process::Child) {
    let region = ring::create(64).unwrap();
    let mut child = process::start("forge_ring", StartMethod::Spawn).unwrap();
    let channel = child.channel().unwrap();
    channel.send_with_fd(what, region.as_fd()).unwrap();
    channel.recv::<()>().unwrap();
    (region, child)
}

fn a_ring_forged_by_a_child_is_a_typed_error() {
    let (region, mut child) = forged_by_a_child("tail");
    let mut rx = ring::RingConsumer::new(region).unwrap();
    let mut buf = Vec::new();
    let err = rx.recv_timeout(&mut buf, Duration::ZERO).unwrap_err();
    assert!(
        matches!(
            err,
            RingError::Corrupt(Corruption::Tail {
                head: 0,
                tail: 100_000,
                capacity: 64
            })
        ),
        "{err:?}"
    );
    assert!(child.wait().unwrap().success());

    let (region, mut child) = forged_by_a_child("length");
    let mut rx = ring::RingConsumer::new(region).unwrap();
    let err = rx.recv_timeout(&mut buf, Duration::ZERO).unwrap_err();
    assert!(
        matches!(
            err,
            RingError::TooLong {
                len: 0xFFFF_FFF0,
                max: ring::DEFAULT_MAX_MESSAGE
            }
        ),
        "{err:?}"
    );
    assert_eq!(buf.capacity(), 0, "nothing allocated for the claimed 4 GiB");
    assert!(child.wait().unwrap().success());

    let (region, mut child) = forged_by_a_child("head");
    let mut tx = ring::RingProducer::new(region).unwrap();
    let err = tx.send(b"hello").unwrap_err();
    assert!(
        matches!(
            err,
            RingError::Corrupt(Corruption::Head {
                head: 1_000,
                tail: 0,
                capacity: 64
            })
        ),
        "{err:?}"
    );
    assert!(child.wait().unwrap().success());
}

fn main() {
    process::init([
        Entry::new("square_in_place", square_in_place),
        Entry::new("ring_sum", ring_sum),
        Entry::new("shrink", shrink),
        Entry::new("hand_over_unsealed", hand_over_unsealed),
        Entry::new("forge_ring", forge_ring),
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
        (
            "a_child_cannot_shrink_a_region",
            a_child_cannot_shrink_a_region,
        ),
        (
            "an_unsealed_region_from_a_child_is_refused",
            an_unsealed_region_from_a_child_is_refused,
        ),
        (
            "a_ring_forged_by_a_child_is_a_typed_error",
            a_ring_forged_by_a_child_is_a_typed_error,
        ),
    ]);
}
