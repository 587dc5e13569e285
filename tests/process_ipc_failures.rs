//! Every way a peer process can break the channel gives its own typed error, never a panic
//! and never a hang: death between frames, death inside a frame, an oversized frame, a
//! malformed frame, and writing to a dead peer.
//!
//! Rust sets `SIGPIPE` to ignored before `main`, which would hide a send without
//! `MSG_NOSIGNAL`; `main` restores the default action first, so such a send kills this test
//! (issue 14, item 4).
mod process_support;

use std::os::fd::{AsFd, AsRawFd};

use switchyard::runtime::process::{self, Channel, Entry, FrameError, StartMethod};
use switchyard::scheduler::local::EventLoop;

/// Waits for a command, then misbehaves as told.
fn misbehave(mut channel: Channel) {
    let Ok(what) = channel.recv::<String>() else {
        return;
    };
    let fd = channel.write_fd().as_raw_fd();
    let raw = |bytes: &[u8]| {
        // SAFETY: writing a valid buffer to our own open descriptor (the outgoing pipe).
        unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    };
    match what.as_str() {
        "die" => process_support::kill_self(),
        "die-mid-frame" => {
            // A header announcing 100 bytes, then 10 of them, then death.
            raw(&100u32.to_le_bytes());
            raw(&[0; 10]);
            process_support::kill_self();
        }
        "oversized" => {
            raw(&(1u32 << 30).to_le_bytes());
            let _ = channel.recv::<String>();
        }
        "malformed" => {
            // A 2-byte frame that is not a valid postcard String (length 5, one byte).
            raw(&2u32.to_le_bytes());
            raw(&[5, b'x']);
            let _ = channel.recv::<String>();
        }
        _ => {}
    }
}

fn start_and_tell(what: &str) -> (process::Child, Channel) {
    let mut child = process::start("misbehave", StartMethod::Spawn).unwrap();
    let mut channel = child.take_channel().unwrap();
    channel.send(what).unwrap();
    (child, channel)
}

fn a_peer_killed_while_we_wait_is_peer_closed() {
    let (mut child, mut channel) = start_and_tell("die");
    let err = channel.recv::<String>().unwrap_err();
    assert!(matches!(err, FrameError::PeerClosed), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the peer closed the channel (it exited, crashed or dropped its end)"
    );
    assert_eq!(child.wait().unwrap().signal(), Some(process::Signal::KILL));
}

fn a_peer_dying_inside_a_frame_is_truncated() {
    let (_child, mut channel) = start_and_tell("die-mid-frame");
    let err = channel.recv::<Vec<u8>>().unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::Truncated {
                expected: 100,
                got: 10
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "truncated frame: the peer closed the channel after 10 of 100 bytes (it probably died \
         while sending)"
    );
}

fn an_oversized_frame_is_refused_without_allocating_it() {
    let (_child, mut channel) = start_and_tell("oversized");
    channel.set_max_frame_size(1 << 20);
    let err = channel.recv::<Vec<u8>>().unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::Oversized {
                len: 1_073_741_824,
                max: 1_048_576
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "frame of 1073741824 bytes exceeds the maximum frame size of 1048576 bytes (raise it \
         with Channel::set_max_frame_size, or send bulk data through shared memory)"
    );
}

fn a_malformed_frame_is_a_typed_error() {
    let (_child, mut channel) = start_and_tell("malformed");
    let err = channel.recv::<String>().unwrap_err();
    assert!(
        matches!(err, FrameError::Malformed { len: 2, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("malformed frame: its 2 bytes do not decode")
    );
}

/// A channel whose peer is dead and reaped.
fn dead_peer() -> Channel {
    let (mut child, channel) = start_and_tell("die");
    child.wait().unwrap();
    channel
}

/// Each way of sending, to a dead peer: an error value, never `SIGPIPE` (which, restored to
/// its default action in `main`, would end this process). A pipe or socket whose peer is
/// closed fails the very first write with `EPIPE`.
fn writing_to_a_dead_peer_is_an_error_not_sigpipe() {
    assert_eq!(
        sigpipe_action(),
        libc::SIG_DFL,
        "SIGPIPE must be deadly here, or this test sees nothing"
    );
    let mut channel = dead_peer();
    let err = channel.send(&vec![0u8; 4096]).unwrap_err();
    assert!(err.is_peer_gone(), "send: {err:?}");
    let err = channel.send_bytes(&[0; 16]).unwrap_err();
    assert!(err.is_peer_gone(), "send_bytes: {err:?}");

    let mut channel = dead_peer();
    let (x, _y) = std::os::unix::net::UnixStream::pair().unwrap();
    let err = channel.send_with_fd(&1u8, x.as_fd()).unwrap_err();
    assert!(err.is_peer_gone(), "send_with_fd: {err:?}");

    let channel = dead_peer();
    let err = EventLoop::new()
        .unwrap()
        .block_on(async move { channel.into_async().unwrap().send(&1u8).await })
        .unwrap_err();
    assert!(err.is_peer_gone(), "async send: {err:?}");

    // The same over a socket channel (a launched child's data path is a pair of pipes, where
    // the signal is masked for the write; a socket channel relies on `MSG_NOSIGNAL`).
    for way in 0..3 {
        let (mut a, b) = Channel::pair().unwrap();
        drop(b);
        let err = match way {
            0 => a.send(&vec![0u8; 4096]).unwrap_err(),
            1 => a.send_bytes(&[0; 16]).unwrap_err(),
            _ => EventLoop::new()
                .unwrap()
                .block_on(async move { a.into_async().unwrap().send(&1u8).await })
                .unwrap_err(),
        };
        assert!(err.is_peer_gone(), "socket channel, way {way}: {err:?}");
    }
}

/// This process's current `SIGPIPE` disposition.
fn sigpipe_action() -> libc::sighandler_t {
    // SAFETY: sigaction with a null new action only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old);
        old.sa_sigaction
    }
}

fn main() {
    process::init([Entry::new("misbehave", misbehave)]).expect("init");
    // Undo Rust's SIG_IGN (module docs): a send that forgets MSG_NOSIGNAL now kills us.
    // SAFETY: setting a signal's disposition to its default has no memory-safety
    // preconditions; no handler of ours is replaced.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    process_support::run(&[
        (
            "a_peer_killed_while_we_wait_is_peer_closed",
            a_peer_killed_while_we_wait_is_peer_closed,
        ),
        (
            "a_peer_dying_inside_a_frame_is_truncated",
            a_peer_dying_inside_a_frame_is_truncated,
        ),
        (
            "an_oversized_frame_is_refused_without_allocating_it",
            an_oversized_frame_is_refused_without_allocating_it,
        ),
        (
            "a_malformed_frame_is_a_typed_error",
            a_malformed_frame_is_a_typed_error,
        ),
        (
            "writing_to_a_dead_peer_is_an_error_not_sigpipe",
            writing_to_a_dead_peer_is_an_error_not_sigpipe,
        ),
    ]);
}
