//! A listener takes a burst of simultaneous connections: its listen backlog is
//! `DEFAULT_LISTEN_BACKLOG` (capped by the kernel's `somaxconn`), not std's and mio's 128,
//! so 200 clients that connect before the server accepts anyone all finish their handshake
//! instead of waiting a second for the kernel to retransmit dropped SYNs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use switchyard::runtime::net::{DEFAULT_LISTEN_BACKLOG, TcpListener};
use switchyard::runtime::sync::oneshot;
use switchyard::scheduler::local::{EventLoop, spawn_local};

const CLIENTS: usize = 200;

/// A bound on one loopback connect, so that a SYN the listener drops fails the test with
/// `TimedOut` instead of a hang. A connect that the backlog admits completes at once.
const CONNECT_BOUND: Duration = Duration::from_secs(10);

/// The listening socket's accept queue: (connections waiting, the queue's maximum). For a
/// listener, Linux's `TCP_INFO` reports them in `tcpi_unacked` and `tcpi_sacked`.
fn accept_queue(fd: &impl AsRawFd) -> (u32, u32) {
    // SAFETY: tcp_info is plain old data, so all-zero is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` and `len` are valid for writes of the sizes given, and the fd is open for
    // the duration of the call (borrowed from its owner).
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    assert_eq!(
        rc,
        0,
        "getsockopt(TCP_INFO): {}",
        std::io::Error::last_os_error()
    );
    (info.tcpi_unacked, info.tcpi_sacked)
}

fn somaxconn() -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .expect("read somaxconn")
        .trim()
        .parse()
        .expect("somaxconn is a number")
}

#[test]
fn two_hundred_simultaneous_connections_all_complete_and_echo() {
    let mut el = EventLoop::new().unwrap();
    el.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (_, max) = accept_queue(&listener);
        assert_eq!(max, DEFAULT_LISTEN_BACKLOG.min(somaxconn()));

        // Every client connects before the server accepts anyone: the burst the backlog is for.
        let mut clients = Vec::with_capacity(CLIENTS);
        for i in 0..CLIENTS {
            let client = StdTcpStream::connect_timeout(&addr, CONNECT_BOUND)
                .unwrap_or_else(|e| panic!("client {i} could not connect: {e}"));
            clients.push(client);
        }
        let (waiting, _) = accept_queue(&listener);
        assert_eq!(
            waiting as usize, CLIENTS,
            "every handshake finished before any accept"
        );

        let server = spawn_local(async move {
            for _ in 0..CLIENTS {
                let (mut stream, _) = listener.accept().await.unwrap();
                spawn_local(async move {
                    let mut byte = [0u8; 1];
                    stream.read_exact(&mut byte).await.unwrap();
                    stream.write_all(&byte).await.unwrap();
                })
                .unwrap();
            }
        })
        .unwrap();

        // The clients are blocking std sockets: talk to them from a plain thread while the
        // loop serves, and hear that it is done over a oneshot (the echo tasks are detached,
        // so the loop must keep running until then).
        let (done_tx, done_rx) = oneshot::channel();
        let talk = std::thread::spawn(move || {
            for (i, client) in clients.iter_mut().enumerate() {
                let byte = [i as u8];
                client.write_all(&byte).unwrap();
                let mut back = [0u8; 1];
                client.read_exact(&mut back).unwrap();
                assert_eq!(back, byte, "client {i} got its byte back");
            }
            let _ = done_tx.send(clients.len());
        });
        server.await.unwrap();
        let echoed = done_rx.await;
        talk.join().expect("the talking thread panicked");
        assert_eq!(echoed.ok(), Some(CLIENTS));
    });
}
