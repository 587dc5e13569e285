//! Black-box: many concurrent TCP connections through an echo server built on the public
//! `reactor` and `net` API, every byte checked. A tiny executor stands in for the event loop
//! (which lives in the scheduler crate): per-task wake flags, and `Reactor::poll` when no
//! task is runnable.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Context;
use std::time::Duration;

use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use switchyard_runtime::net::{TcpListener, TcpStream};
use switchyard_runtime::reactor::Reactor;

const CONNECTIONS: usize = 200;
const BYTES_PER_CONNECTION: usize = 16 * 1024;

type LocalTask = Pin<Box<dyn Future<Output = ()>>>;

struct Flag(AtomicBool);

impl futures_task::ArcWake for Flag {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        // Release/Acquire: writes before the wake are visible to the next poll.
        arc_self.0.store(true, Ordering::Release);
    }
}

/// Tasks spawned while the executor runs (the server spawns one per connection).
#[derive(Clone, Default)]
struct Spawner(Rc<RefCell<Vec<LocalTask>>>);

impl Spawner {
    fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.0.borrow_mut().push(Box::pin(task));
    }
}

/// Runs every task spawned on `spawner` until all have finished.
fn run(reactor: &mut Reactor, spawner: &Spawner) {
    let mut tasks: Vec<(LocalTask, Arc<Flag>)> = Vec::new();
    loop {
        for task in spawner.0.borrow_mut().drain(..) {
            tasks.push((task, Arc::new(Flag(AtomicBool::new(true)))));
        }
        if tasks.is_empty() {
            return;
        }
        let mut ran = false;
        let mut i = 0;
        while i < tasks.len() {
            let (task, flag) = &mut tasks[i];
            if flag.0.swap(false, Ordering::Acquire) {
                ran = true;
                let waker = futures_task::waker(flag.clone());
                if task
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_ready()
                {
                    drop(tasks.swap_remove(i));
                    continue;
                }
            }
            i += 1;
        }
        if !ran && spawner.0.borrow().is_empty() {
            let events = reactor.poll(Some(Duration::from_secs(10))).unwrap();
            let woken = tasks.iter().any(|(_, flag)| flag.0.load(Ordering::Acquire));
            assert!(events > 0 || woken, "no progress for 10 s: a lost wake-up");
        }
    }
}

fn payload(connection: usize) -> Vec<u8> {
    (0..BYTES_PER_CONNECTION)
        .map(|i| (i % 251) as u8 ^ (connection % 256) as u8)
        .collect()
}

#[test]
fn echo_server_serves_many_concurrent_connections_byte_exact() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let listener = TcpListener::bind_with(&handle, "127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let spawner = Spawner::default();
    let verified = Rc::new(RefCell::new(0usize));

    let server_spawner = spawner.clone();
    spawner.spawn(async move {
        for _ in 0..CONNECTIONS {
            let (stream, _) = listener.accept().await.unwrap();
            server_spawner.spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    let n = (&stream).read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    (&stream).write_all(&buf[..n]).await.unwrap();
                }
                (&stream).close().await.unwrap();
            });
        }
    });
    for connection in 0..CONNECTIONS {
        let handle = handle.clone();
        let verified = verified.clone();
        let client_spawner = spawner.clone();
        spawner.spawn(async move {
            let stream = Rc::new(TcpStream::connect_with(&handle, addr).await.unwrap());
            let sent = payload(connection);
            // Reader and writer as two tasks on one stream, as an application would.
            let writer_stream = stream.clone();
            let to_send = sent.clone();
            client_spawner.spawn(async move {
                (&*writer_stream).write_all(&to_send).await.unwrap();
                (&*writer_stream).close().await.unwrap();
            });
            let mut received = Vec::with_capacity(sent.len());
            (&*stream).read_to_end(&mut received).await.unwrap();
            assert!(received == sent, "connection {connection}: echo differs");
            *verified.borrow_mut() += 1;
        });
    }
    run(&mut reactor, &spawner);
    assert_eq!(*verified.borrow(), CONNECTIONS);
    assert_eq!(handle.registrations(), 0, "sockets left registered");
}
