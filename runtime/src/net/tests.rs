//! Behaviour tests of the sockets, driven by hand: `block_on` alternates polling the test's
//! future and polling the reactor (the event loop lives in the scheduler crate).

use std::future::{Future, poll_fn};
use std::net::{Shutdown, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::coop;
use crate::reactor::test_support::{CountingWaker, block_on};
use crate::reactor::{IoHandle, Reactor, ReactorError};

const LOCALHOST: &str = "127.0.0.1:0";

/// A few KiB: more than one read's worth, so the tests cross `WouldBlock` boundaries.
const PAYLOAD_LEN: usize = if cfg!(miri) { 512 } else { 64 * 1024 };

/// Bytes that differ at every offset (mod 251, a prime), so a reordering or a dropped
/// byte shows.
fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i % 251) as u8).wrapping_add(seed))
        .collect()
}

/// Runs two futures concurrently until both finish, polling each when either is woken
/// (a join for tests; wakes are cheap to over-deliver).
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    let (mut out_a, mut out_b) = (None, None);
    poll_fn(|cx| {
        if out_a.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                out_a = Some(v);
            }
        }
        if out_b.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                out_b = Some(v);
            }
        }
        if out_a.is_some() && out_b.is_some() {
            Poll::Ready((out_a.take().unwrap(), out_b.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}

#[test]
fn tcp_echo_both_ways_keeps_every_byte() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let listener = TcpListener::bind_with(&handle, LOCALHOST).unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = payload(PAYLOAD_LEN, 7);

    let server = async {
        let (stream, _) = listener.accept().await.unwrap();
        // Echo until the client shuts down its write half.
        let (mut reader, mut writer) = (&stream, &stream);
        let mut buf = [0u8; 4096];
        let mut echoed = 0;
        loop {
            let n = reader.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            writer.write_all(&buf[..n]).await.unwrap();
            echoed += n;
        }
        writer.close().await.unwrap();
        echoed
    };
    let client = async {
        let stream = TcpStream::connect_with(&handle, addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        assert!(stream.nodelay().unwrap());
        assert_eq!(stream.peer_addr().unwrap(), addr);
        // Write and read concurrently: the echo of 64 KiB does not fit the socket buffers
        // if we wrote everything first.
        let (mut reader, mut writer) = (&stream, &stream);
        let write = async {
            writer.write_all(&sent).await.unwrap();
            writer.close().await.unwrap();
        };
        let read = async {
            let mut received = Vec::new();
            reader.read_to_end(&mut received).await.unwrap();
            received
        };
        join(write, read).await.1
    };
    let (echoed, received) = block_on(&mut reactor, join(server, client));
    assert_eq!(echoed, sent.len());
    assert_eq!(received.len(), sent.len());
    assert!(received == sent, "the echo differs from what was sent");
}

/// Reads `stream` to its end with `poll_read_uninit`, `chunk` bytes of fresh uninitialised
/// room at a time (never zeroed), and returns what the counts said was read.
async fn read_to_end_uninit(stream: &TcpStream, chunk: usize) -> Vec<u8> {
    let mut received: Vec<u8> = Vec::new();
    loop {
        received.reserve(chunk);
        let spare = &mut received.spare_capacity_mut()[..chunk];
        let n = poll_fn(|cx| stream.poll_read_uninit(cx, spare))
            .await
            .unwrap();
        assert!(n <= chunk, "a count beyond the buffer");
        if n == 0 {
            return received;
        }
        let len = received.len();
        // SAFETY: `poll_read_uninit` initialised the first `n` bytes of the spare capacity
        // (its contract); `reserve` made room for them.
        unsafe { received.set_len(len + n) };
    }
}

#[test]
fn a_read_into_uninitialised_memory_gets_exactly_the_bytes_sent() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let listener = TcpListener::bind_with(&handle, LOCALHOST).unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = payload(PAYLOAD_LEN, 3);
    let writer = async {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream.write_all(&sent).await.unwrap();
        stream.close().await.unwrap();
    };
    let reader = async {
        let stream = TcpStream::connect_with(&handle, addr).await.unwrap();
        // An odd chunk, so reads end mid-pattern and cross `WouldBlock` waits.
        read_to_end_uninit(&stream, 1000).await
    };
    let ((), received) = block_on(&mut reactor, join(writer, reader));
    assert_eq!(received.len(), sent.len());
    assert!(
        received == sent,
        "the bytes read differ from the bytes sent"
    );
}

#[test]
fn an_uninit_read_writes_only_the_bytes_it_counts() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (a, b) = UnixStream::pair_with(&handle).unwrap();
    // The tail is set to a marker (initialised, so the test may read it back) to show that
    // the read leaves everything after its count alone.
    let mut buf = [std::mem::MaybeUninit::new(0xEE_u8); 64];
    // Written with write(2) on the fd: the stream's own write is std's, which is send(2)
    // with MSG_NOSIGNAL, and Miri's socketpair emulates read(2) and write(2) but not send(2).
    // This test is about the read side.
    let written = rustix::io::write(std::os::fd::AsFd::as_fd(&b), b"hello").unwrap();
    assert_eq!(written, 5);
    let n = block_on(&mut reactor, async {
        poll_fn(|cx| a.poll_read_uninit(cx, &mut buf))
            .await
            .unwrap()
    });
    assert_eq!(n, 5);
    // SAFETY: every byte was initialised above, and the read wrote only initialised bytes.
    let bytes: Vec<u8> = buf.iter().map(|b| unsafe { b.assume_init() }).collect();
    assert_eq!(&bytes[..5], b"hello");
    assert!(
        bytes[5..].iter().all(|&b| b == 0xEE),
        "beyond the count: untouched"
    );
    // An empty buffer reads nothing.
    let empty = block_on(&mut reactor, poll_fn(|cx| a.poll_read_uninit(cx, &mut [])));
    assert_eq!(empty.unwrap(), 0);
    drop(b);
    let end = block_on(&mut reactor, poll_fn(|cx| a.poll_read_uninit(cx, &mut buf)));
    assert_eq!(end.unwrap(), 0, "end of stream");
}

#[test]
fn accepts_many_connections() {
    const CONNECTIONS: usize = if cfg!(miri) { 4 } else { 100 };
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let listener = TcpListener::bind_with(&handle, LOCALHOST).unwrap();
    let addr = listener.local_addr().unwrap();
    let (accepted, clients) = block_on(&mut reactor, async {
        let accept_all = async {
            let mut peers = Vec::new();
            for _ in 0..CONNECTIONS {
                let (stream, peer) = listener.accept().await.unwrap();
                assert_eq!(stream.peer_addr().unwrap(), peer);
                peers.push(peer);
            }
            peers
        };
        let connect_all = async {
            let mut locals = Vec::new();
            for _ in 0..CONNECTIONS {
                let stream = TcpStream::connect_with(&handle, addr).await.unwrap();
                locals.push((stream.local_addr().unwrap(), stream));
            }
            locals
        };
        join(accept_all, connect_all).await
    });
    let mut accepted: Vec<SocketAddr> = accepted;
    let mut connected: Vec<SocketAddr> = clients.iter().map(|(addr, _)| *addr).collect();
    accepted.sort();
    connected.sort();
    assert_eq!(accepted, connected, "every client accepted exactly once");
    // Server side dropped, clients still held, plus the listener.
    assert_eq!(handle.registrations(), CONNECTIONS + 1);
    drop(clients);
    drop(listener);
    assert_eq!(handle.registrations(), 0);
}

#[test]
fn connect_refused_is_reported() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    // Bind a port, then close it: nothing listens there now.
    let addr = std::net::TcpListener::bind(LOCALHOST)
        .unwrap()
        .local_addr()
        .unwrap();
    let error = block_on(&mut reactor, TcpStream::connect_with(&handle, addr)).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(handle.registrations(), 0, "the failed socket was not freed");
}

#[test]
fn read_after_peer_close_returns_zero() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let listener = TcpListener::bind_with(&handle, LOCALHOST).unwrap();
    let addr = listener.local_addr().unwrap();
    block_on(&mut reactor, async {
        let (server, client) =
            join(listener.accept(), TcpStream::connect_with(&handle, addr)).await;
        let (mut server, _) = server.unwrap();
        let client = client.unwrap();
        (&client).write_all(b"last words").await.unwrap();
        drop(client);
        let mut buf = Vec::new();
        server.read_to_end(&mut buf).await.unwrap();
        assert_eq!(buf, b"last words");
        // And again: end of stream is sticky.
        assert_eq!(server.read(&mut [0u8; 16]).await.unwrap(), 0);
    });
}

#[test]
fn shutdown_write_is_seen_as_end_of_stream_while_reading_still_works() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    block_on(&mut reactor, async {
        let (mut a, mut b) = UnixStream::pair_with(&handle).unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        assert_eq!(b.read(&mut [0u8; 8]).await.unwrap(), 0);
        b.write_all(b"still open").await.unwrap();
        let mut buf = [0u8; 10];
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still open");
    });
}

#[test]
fn udp_round_trip() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let server = UdpSocket::bind_with(&handle, LOCALHOST).unwrap();
    let client = UdpSocket::bind_with(&handle, LOCALHOST).unwrap();
    let server_addr = server.local_addr().unwrap();
    let client_addr = client.local_addr().unwrap();
    block_on(&mut reactor, async {
        let serve = async {
            let mut buf = [0u8; 64];
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(from, client_addr);
            let reply: Vec<u8> = buf[..n].iter().rev().copied().collect();
            server.send_to(&reply, from).await.unwrap();
        };
        let ask = async {
            client.connect(server_addr).unwrap();
            assert_eq!(client.peer_addr().unwrap(), server_addr);
            assert_eq!(client.send(b"datagram").await.unwrap(), 8);
            let mut buf = [0u8; 64];
            let n = client.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"margatad");
        };
        join(serve, ask).await;
    });
}

#[test]
fn unix_pair_carries_bytes_both_ways() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (a, b) = UnixStream::pair_with(&handle).unwrap();
    let to_b = payload(PAYLOAD_LEN, 1);
    let to_a = payload(PAYLOAD_LEN, 2);
    async fn side(stream: &UnixStream, out: Vec<u8>) -> Vec<u8> {
        let (mut reader, mut writer) = (stream, stream);
        let write = async move {
            writer.write_all(&out).await.unwrap();
            writer.close().await.unwrap();
        };
        let read = async move {
            let mut received = Vec::new();
            reader.read_to_end(&mut received).await.unwrap();
            received
        };
        join(write, read).await.1
    }
    let (got_a, got_b) = block_on(
        &mut reactor,
        join(side(&a, to_b.clone()), side(&b, to_a.clone())),
    );
    assert!(got_a == to_a, "a received corrupted bytes");
    assert!(got_b == to_b, "b received corrupted bytes");
}

#[test]
fn unix_listener_accepts_a_connection() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let dir = std::env::temp_dir().join(format!("switchyard-net-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("listener.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind_with(&handle, &path).unwrap();
    assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(&*path));
    block_on(&mut reactor, async {
        let (accepted, connected) =
            join(listener.accept(), UnixStream::connect_with(&handle, &path)).await;
        let (mut server, _) = accepted.unwrap();
        let mut client = connected.unwrap();
        assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(&*path));
        client.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
    });
    drop(listener);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unix_connect_to_a_missing_path_fails() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let path = std::env::temp_dir().join("switchyard-no-such-socket");
    let error = block_on(&mut reactor, UnixStream::connect_with(&handle, &path)).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn constructors_without_handle_use_the_current_reactor() {
    let mut reactor = Reactor::new().unwrap();
    let error = TcpListener::bind(LOCALHOST).unwrap_err();
    assert_eq!(ReactorError::of(&error), Some(&ReactorError::NoReactor));
    let _entered = reactor.handle().enter();
    let listener = TcpListener::bind(LOCALHOST).unwrap();
    let addr = listener.local_addr().unwrap();
    block_on(&mut reactor, async {
        let (accepted, connected) = join(listener.accept(), TcpStream::connect(addr)).await;
        accepted.unwrap();
        connected.unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        drop(a);
        UdpSocket::bind(LOCALHOST).unwrap();
    });
}

#[test]
fn a_spent_budget_makes_a_ready_read_yield() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (mut a, b) = UnixStream::pair_with(&handle).unwrap();
    block_on(&mut reactor, async {
        (&b).write_all(b"xy").await.unwrap();
        // Make sure the readiness has arrived before the budgeted polls.
        let mut first = [0u8; 1];
        a.read_exact(&mut first).await.unwrap();
    });
    let count = Arc::new(CountingWaker::default());
    let waker = futures_task::waker(count.clone());
    let mut cx = Context::from_waker(&waker);
    let mut buf = [0u8; 1];
    coop::with_budget(coop::Budget::new(1), || {
        let read = pin!(a.read(&mut buf)).poll(&mut cx);
        assert!(matches!(read, Poll::Ready(Ok(1))), "{read:?}");
        let mut more = [0u8; 1];
        let again = pin!(a.read(&mut more)).poll(&mut cx);
        assert!(
            again.is_pending(),
            "the budget was spent, the read must yield"
        );
        assert_eq!(
            count.count(),
            1,
            "a task that yields for budget must be woken"
        );
    });
    assert_eq!(&buf, b"y");
}

#[test]
fn a_pending_read_refunds_its_budget() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (mut a, _b) = UnixStream::pair_with(&handle).unwrap();
    reactor.poll(Some(std::time::Duration::ZERO)).unwrap();
    let waker = futures_task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    coop::with_budget(coop::Budget::new(2), || {
        let mut buf = [0u8; 1];
        assert!(pin!(a.read(&mut buf)).poll(&mut cx).is_pending());
        assert_eq!(coop::current().remaining(), Some(2));
    });
}

#[test]
fn sockets_outliving_their_reactor_fail_instead_of_hanging() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (mut a, _b) = UnixStream::pair_with(&handle).unwrap();
    drop(reactor);
    let waker = futures_task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut buf = [0u8; 1];
    let Poll::Ready(Err(error)) = pin!(a.read(&mut buf)).poll(&mut cx) else {
        panic!("read on a dead reactor must fail");
    };
    assert_eq!(ReactorError::of(&error), Some(&ReactorError::Shutdown));
}

#[test]
fn one_task_reads_while_another_writes_the_same_stream() {
    // The echo test already does this over TCP; here the two halves wait at the same time
    // on one registration, which needs its two waiter slots.
    let mut reactor = Reactor::new().unwrap();
    let handle: IoHandle = reactor.handle();
    let (a, b) = UnixStream::pair_with(&handle).unwrap();
    let big = payload(PAYLOAD_LEN * 4, 3);
    let received = block_on(&mut reactor, async {
        let (mut a_reader, mut a_writer) = (&a, &a);
        let (mut b_reader, mut b_writer) = (&b, &b);
        // b echoes; a writes more than the socket buffer holds while reading the echo.
        let echo = async {
            let mut buf = [0u8; 8192];
            loop {
                let n = b_reader.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                b_writer.write_all(&buf[..n]).await.unwrap();
            }
            b_writer.close().await.unwrap();
        };
        let write = async {
            a_writer.write_all(&big).await.unwrap();
            a_writer.close().await.unwrap();
        };
        let read = async {
            let mut received = Vec::new();
            a_reader.read_to_end(&mut received).await.unwrap();
            received
        };
        join(echo, join(write, read)).await.1.1
    });
    assert!(received == big);
}

#[test]
fn tasks_on_other_threads_are_woken_by_the_reactor_thread() {
    use crate::reactor::test_support::park_block_on;
    use std::sync::atomic::{AtomicBool, Ordering};

    // Bursts of uneven sizes from a writer thread, read in uneven pieces by a reader
    // thread, while a third thread drives the reactor: every wake crosses threads, and
    // each read's clear races the next burst's event (a lost event would hang the reader
    // and fail the test; the race window is narrow, so the deterministic check of the
    // clear is `a_clear_after_a_newer_event_keeps_the_readiness` in the reactor tests).
    const TOTAL: usize = if cfg!(miri) {
        4 * 1024
    } else {
        4 * 1024 * 1024
    };
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (a, b) = UnixStream::pair_with(&handle).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            // Relaxed suffices: the wake below ends the wait that would miss the store.
            while !stop.load(Ordering::Relaxed) {
                reactor.poll(None).unwrap();
            }
        })
    };
    let sent = payload(TOTAL, 9);
    let writer = {
        let sent = sent.clone();
        std::thread::spawn(move || {
            park_block_on(async {
                let mut offset = 0;
                let mut chunk = 1;
                while offset < sent.len() {
                    let end = (offset + chunk).min(sent.len());
                    (&a).write_all(&sent[offset..end]).await.unwrap();
                    offset = end;
                    chunk = chunk * 7 % 65_521 + 1;
                }
                (&a).close().await.unwrap();
            });
        })
    };
    let reader = std::thread::spawn(move || {
        park_block_on(async {
            let mut received = Vec::with_capacity(TOTAL);
            let mut buf = vec![0u8; 3001];
            loop {
                let n = (&b).read(&mut buf).await.unwrap();
                if n == 0 {
                    return received;
                }
                received.extend_from_slice(&buf[..n]);
            }
        })
    });
    writer.join().unwrap();
    let received = reader.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    handle.wake().unwrap();
    driver.join().unwrap();
    assert_eq!(received.len(), sent.len());
    assert!(received == sent, "bytes corrupted crossing threads");
}

#[test]
fn accept_on_a_full_table_reports_it_and_closes_the_connection() {
    let mut reactor = Reactor::with_capacity(2).unwrap();
    let handle = reactor.handle();
    let listener = TcpListener::bind_with(&handle, LOCALHOST).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = block_on(&mut reactor, TcpStream::connect_with(&handle, addr)).unwrap();
    // Listener and client fill the table: the accepted socket has no slot.
    let error = block_on(&mut reactor, listener.accept()).unwrap_err();
    assert_eq!(
        ReactorError::of(&error),
        Some(&ReactorError::TableFull { capacity: 2 })
    );
    // The refused connection was closed, not leaked: the client sees its end.
    let ended = block_on(&mut reactor, async {
        let mut buf = [0u8; 8];
        client.read(&mut buf).await
    });
    assert!(matches!(ended, Ok(0)) || ended.is_err(), "{ended:?}");
}

#[test]
fn socket_options_can_be_set_through_the_fd() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let listener = TcpListener::bind_with(&handle, LOCALHOST).unwrap();
    let addr = listener.local_addr().unwrap();
    let stream = block_on(&mut reactor, TcpStream::connect_with(&handle, addr)).unwrap();
    rustix::net::sockopt::set_tcp_nodelay(&stream, true).unwrap();
    assert!(
        stream.nodelay().unwrap(),
        "the fd is not the stream's socket"
    );
    stream.set_nodelay(false).unwrap();
    assert!(!rustix::net::sockopt::tcp_nodelay(&stream).unwrap());
}

#[test]
fn sockets_registered_while_the_reactor_is_blocked_get_their_events() {
    use crate::reactor::test_support::park_block_on;
    use std::sync::atomic::{AtomicBool, Ordering};

    // The pool's situation: one worker sleeps in the reactor with no timeout while others
    // create sockets. epoll delivers events of fds added during a wait to that same wait.
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut events = 0;
            // Relaxed suffices: the wake below ends the wait that would miss the store.
            while !stop.load(Ordering::Relaxed) {
                events += reactor.poll(None).unwrap();
            }
            events
        })
    };
    const ROUNDS: usize = if cfg!(miri) { 2 } else { 20 };
    for round in 0..ROUNDS {
        let (a, b) = UnixStream::pair_with(&handle).unwrap();
        let message = format!("round {round}");
        let received = park_block_on(async {
            let read = async {
                let mut buf = vec![0u8; message.len()];
                (&b).read_exact(&mut buf).await.unwrap();
                buf
            };
            let write = async { (&a).write_all(message.as_bytes()).await.unwrap() };
            join(read, write).await.0
        });
        assert_eq!(received, message.as_bytes());
    }
    stop.store(true, Ordering::Relaxed);
    handle.wake().unwrap();
    let events = driver.join().unwrap();
    assert!(events >= ROUNDS, "only {events} events for {ROUNDS} rounds");
}
