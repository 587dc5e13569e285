//! The async channel works across processes on the event loop: values go to a spawned child
//! and back through the reactor, and a child that dies while the loop awaits its reply gives
//! `PeerClosed`, not a hang.
mod process_support;

use switchyard::runtime::process::{self, Channel, Entry, FrameError, StartMethod};
use switchyard::scheduler::local::EventLoop;

/// Echoes values until the parent closes, or dies when asked to.
fn echo_or_die(mut channel: Channel) {
    while let Ok(v) = channel.recv::<String>() {
        if v == "die" {
            process_support::kill_self();
        }
        if channel.send(&v.to_uppercase()).is_err() {
            return;
        }
    }
}

fn values_cross_to_a_child_and_back_on_the_loop() {
    let mut child = process::start("echo_or_die", StartMethod::Spawn).unwrap();
    let channel = child.take_channel().unwrap();
    let mut event_loop = EventLoop::new().unwrap();
    let replies = event_loop.block_on(async move {
        let mut channel = channel.into_async().unwrap();
        let mut replies = Vec::new();
        for word in ["ping", "pong", "done"] {
            channel.send(word).await.unwrap();
            replies.push(channel.recv::<String>().await.unwrap());
        }
        replies
    });
    assert_eq!(replies, ["PING", "PONG", "DONE"]);
    assert!(
        child.wait().unwrap().success(),
        "the child saw end-of-stream"
    );
}

fn a_child_dying_while_the_loop_awaits_is_peer_closed() {
    let mut child = process::start("echo_or_die", StartMethod::Spawn).unwrap();
    let channel = child.take_channel().unwrap();
    let mut event_loop = EventLoop::new().unwrap();
    let result = event_loop.block_on(async move {
        let mut channel = channel.into_async().unwrap();
        channel.send("die").await.unwrap();
        channel.recv::<String>().await
    });
    assert!(matches!(result, Err(FrameError::PeerClosed)), "{result:?}");
    assert_eq!(child.wait().unwrap().signal(), Some(process::Signal::KILL));
}

fn main() {
    process::init([Entry::new("echo_or_die", echo_or_die)]).expect("init");
    process_support::run(&[
        (
            "values_cross_to_a_child_and_back_on_the_loop",
            values_cross_to_a_child_and_back_on_the_loop,
        ),
        (
            "a_child_dying_while_the_loop_awaits_is_peer_closed",
            a_child_dying_while_the_loop_awaits_is_peer_closed,
        ),
    ]);
}
