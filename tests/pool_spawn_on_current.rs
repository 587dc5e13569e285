//! `pool::spawn` and `PoolHandle::current` find the pool from its own tasks and closures and
//! give a typed error elsewhere; `PoolHandle::io_handle` lets `main` bind a socket that pool
//! tasks then use, and says so when the pool has no reactor.

use std::io::{Read, Write};

use futures_util::{AsyncReadExt, AsyncWriteExt};
use switchyard::runtime::net::TcpListener;
use switchyard::scheduler::pool::{self, NotInPool, Pool, PoolHandle};

#[test]
fn spawn_from_a_pool_task_lands_on_the_same_pool() {
    let pool = Pool::builder()
        .workers(2)
        .thread_name(|i| format!("current-test-{i}"))
        .build()
        .expect("pool");
    let outer = pool.spawn(async {
        let inner = pool::spawn(async { std::thread::current().name().map(str::to_owned) })
            .expect("inside a pool task");
        let here = PoolHandle::current().expect("inside a pool task");
        (inner.await.expect("inner task"), here.workers())
    });
    let (inner_thread, workers) = pool.block_on(outer).expect("outer task");
    let inner_thread = inner_thread.expect("pool threads are named");
    assert!(
        inner_thread.starts_with("current-test-"),
        "the inner task ran on {inner_thread}"
    );
    assert_eq!(workers, 2);
}

#[test]
fn spawn_from_a_pool_closure_works_too() {
    let pool = Pool::builder().workers(1).build().expect("pool");
    let (tx, rx) = std::sync::mpsc::channel();
    pool.execute(move || {
        tx.send(pool::spawn(async { 6 * 7 })).expect("send");
    });
    let join = rx.recv().expect("the closure ran").expect("a pool closure");
    assert_eq!(pool.block_on(join).expect("task"), 42);
}

#[test]
fn outside_a_pool_the_error_is_typed() {
    let pool = Pool::builder().workers(1).build().expect("pool");
    assert_eq!(PoolHandle::current().err(), Some(NotInPool));
    assert_eq!(pool::spawn(async {}).err(), Some(NotInPool));
    // `block_on` polls on the calling thread, which is not a pool thread.
    assert_eq!(
        pool.block_on(async { pool::spawn(async {}).err() }),
        Some(NotInPool)
    );
    let message = NotInPool.to_string();
    assert!(message.contains("PoolHandle"), "{message}");
}

#[test]
fn main_binds_on_the_pool_reactor_and_a_pool_task_serves() {
    let pool = Pool::builder().workers(2).build().expect("pool");
    let io = pool.handle().io_handle().expect("the pool has a reactor");
    let listener = TcpListener::bind_with(&io, "127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = pool.spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let mut word = [0u8; 4];
        stream.read_exact(&mut word).await?;
        stream.write_all(&word).await?;
        Ok::<_, std::io::Error>(word)
    });
    let mut client = std::net::TcpStream::connect(addr).expect("connect");
    client.write_all(b"ping").expect("write");
    let mut back = [0u8; 4];
    client.read_exact(&mut back).expect("read");
    assert_eq!(&back, b"ping");
    assert_eq!(&pool.block_on(server).expect("task").expect("io"), b"ping");
}

#[test]
fn a_pool_without_a_reactor_says_so() {
    let pool = Pool::builder().workers(1).io(false).build().expect("pool");
    let error = pool.handle().io_handle().expect_err("io(false)");
    assert_eq!(error.kind(), std::io::ErrorKind::Unsupported);
}
