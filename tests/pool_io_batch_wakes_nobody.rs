//! A worker that wakes in the reactor with a batch of readiness events runs the tasks they wake
//! on its own seat, and wakes another worker at most once for the batch, after it is awake
//! again (sleep.rs, S5), never once per event. With one worker there is nobody to wake, so a
//! batch of readable sockets must cost no wake-up at all (`Metrics::sleeper_wakes`).
//!
//! Before S5, every event past the first pushed the LIFO slot's task to the deque and notified
//! (N1-N3) from inside the reactor's dispatch; the driving worker, still listed as a sleeper
//! there, popped itself and wrote its own eventfd (issue 11's profile: about 3% of the echo's
//! requests at 10k/s cost such a self-wake, and the searcher it made then woke the other
//! worker, F1).

use futures_util::AsyncReadExt;
use std::io::{self, Write};
use switchyard::runtime::net::TcpStream;
use switchyard::runtime::reactor::IoHandle;
use switchyard::scheduler::pool::Pool;

/// Sockets made readable together: one batch for the reactor (its event buffer holds 1,024).
const SOCKETS: usize = 32;

#[test]
fn a_readiness_batch_on_one_worker_wakes_nobody() {
    // The socket pairs are made outside the pool, with blocking std calls.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..SOCKETS {
        writers.push(std::net::TcpStream::connect(addr).expect("connect"));
        let (reader, _) = listener.accept().expect("accept");
        reader.set_nonblocking(true).expect("nonblocking");
        readers.push(reader);
    }

    let pool = Pool::builder().workers(1).build().expect("pool");
    let handle = pool.handle();
    let outer = pool.spawn(async move {
        let io = IoHandle::current().expect("a pool task sees the pool's reactor");
        // Every reader polls once (and waits on readiness) before the writer runs: the pool's
        // one worker runs what a task spawns in spawn order.
        let reads: Vec<_> = readers
            .into_iter()
            .map(|reader| {
                let mut reader = TcpStream::from_std_with(&io, reader).expect("register");
                handle.spawn(async move {
                    let mut byte = [0u8; 1];
                    reader.read_exact(&mut byte).await?;
                    Ok::<_, io::Error>(byte[0])
                })
            })
            .collect();
        // Nothing outside this task schedules on the pool from here on, so every wake-up
        // counted below comes from the readiness batch.
        let before = handle.metrics().sleeper_wakes;
        // The writes complete at once on loopback: when the worker next sleeps in the reactor,
        // all of the readers are ready together.
        let writer = handle.spawn(async move {
            for mut writer in writers {
                writer.write_all(&[7])?;
            }
            Ok::<_, io::Error>(())
        });
        writer.await.expect("writer task")?;
        let mut bytes = Vec::new();
        for read in reads {
            bytes.push(read.await.expect("reader task")?);
        }
        let after = handle.metrics().sleeper_wakes;
        Ok::<_, io::Error>((bytes, after - before))
    });
    let (bytes, wakes) = pool
        .block_on(outer)
        .expect("outer task")
        .expect("i/o error");
    assert_eq!(bytes, vec![7u8; SOCKETS], "a reader lost its byte");
    assert_eq!(
        wakes, 0,
        "a batch of {SOCKETS} readiness events on a one-worker pool woke a sleeper {wakes} times \
         (the worker woke itself)"
    );
}
