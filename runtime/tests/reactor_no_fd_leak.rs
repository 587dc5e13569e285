//! Dropping a reactor and its sockets leaves no file descriptor open.
//!
//! In a file of its own so it runs in its own process, alone: the count of `/proc/self/fd`
//! entries is only meaningful when no other test opens files at the same time.

use std::future::Future;
use std::net::Shutdown;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use switchyard_runtime::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use switchyard_runtime::reactor::Reactor;

struct Flag(AtomicBool);

impl futures_task::ArcWake for Flag {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        // Release/Acquire: the waking side's writes are visible to the next poll.
        arc_self.0.store(true, Ordering::Release);
    }
}

/// Polls `future` and the reactor in turn (all wakes here come from this thread's reactor).
fn block_on<F: Future>(reactor: &mut Reactor, future: F) -> F::Output {
    let flag = Arc::new(Flag(AtomicBool::new(true)));
    let waker = futures_task::waker(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if flag.0.swap(false, Ordering::Acquire) {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
        } else {
            reactor.poll(Some(Duration::from_secs(10))).unwrap();
        }
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Opens one of everything, uses it, and drops it all, the reactor before some sockets.
fn one_of_everything(socket_dir: &std::path::Path) {
    let mut reactor = Reactor::with_capacity(64).unwrap();
    let handle = reactor.handle();
    let listener = TcpListener::bind_with(&handle, "127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = block_on(&mut reactor, TcpStream::connect_with(&handle, addr)).unwrap();
    let (server, client) = block_on(&mut reactor, async {
        // The handshake completes in the kernel's backlog before accept.
        let (server, _) = listener.accept().await.unwrap();
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        (&server).read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        (server, client)
    });
    server.shutdown(Shutdown::Both).unwrap();

    let udp = UdpSocket::bind_with(&handle, "127.0.0.1:0").unwrap();
    let (a, b) = UnixStream::pair_with(&handle).unwrap();
    let path = socket_dir.join("leak.sock");
    let _ = std::fs::remove_file(&path);
    let unix_listener = UnixListener::bind_with(&handle, &path).unwrap();
    let unix_client = block_on(&mut reactor, UnixStream::connect_with(&handle, &path)).unwrap();
    // A refused connect must not leak its socket either.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert!(block_on(&mut reactor, TcpStream::connect_with(&handle, closed)).is_err());
    reactor.poll(Some(Duration::from_micros(200))).unwrap();

    drop((listener, server, udp, a));
    // The reactor goes first; the sockets still registered with it go after.
    drop(reactor);
    drop((client, b, unix_listener, unix_client));
    drop(handle);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn dropping_a_reactor_and_its_sockets_closes_every_fd() {
    let socket_dir = std::env::temp_dir().join(format!("switchyard-fd-{}", std::process::id()));
    std::fs::create_dir_all(&socket_dir).unwrap();
    // Warm-up: lazily opened process-wide fds (if any) are opened now, not counted later.
    one_of_everything(&socket_dir);
    let before = open_fds();
    for _ in 0..3 {
        one_of_everything(&socket_dir);
    }
    let after = open_fds();
    std::fs::remove_dir_all(&socket_dir).unwrap();
    assert_eq!(after, before, "file descriptors leaked");
}
