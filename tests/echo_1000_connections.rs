//! The echo example serves 1,000 concurrent connections on one loop, and every byte comes back.

#[path = "../examples/echo.rs"]
mod echo;

use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use switchyard::runtime::net::{TcpListener, TcpStream};
use switchyard::runtime::sync::oneshot;
use switchyard::scheduler::local::{EventLoop, spawn_local};

const CONNECTIONS: usize = 1_000;
const BYTES_PER_CONNECTION: usize = 8 * 1024;
const CHUNK: usize = 1_000;

/// Connection `i`'s bytes: a pattern that differs per connection and per position.
fn pattern(i: usize) -> Vec<u8> {
    (0..BYTES_PER_CONNECTION)
        .map(|j| (i.wrapping_mul(31) ^ j.wrapping_mul(7)) as u8)
        .collect()
}

#[test]
fn one_thousand_concurrent_connections_get_every_byte_back() {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let mut el = EventLoop::new().unwrap();
        el.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let serving = spawn_local(echo::serve(listener)).unwrap();
            let _ = stop_rx.await;
            serving.abort();
        });
    });
    let addr = addr_rx.recv().unwrap();

    let mut el = EventLoop::new().unwrap();
    let results = el.block_on(async move {
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|i| {
                spawn_local(async move {
                    let mut stream = TcpStream::connect(addr).await?;
                    let sent = pattern(i);
                    let mut received = vec![0u8; sent.len()];
                    let mut read = 0;
                    // Interleave writes and reads so neither side's buffers fill up.
                    for chunk in sent.chunks(CHUNK) {
                        stream.write_all(chunk).await?;
                        let want = read + chunk.len();
                        stream.read_exact(&mut received[read..want]).await?;
                        read = want;
                    }
                    stream.close().await?;
                    let mut rest = Vec::new();
                    stream.read_to_end(&mut rest).await?;
                    Ok::<_, std::io::Error>((i, received == sent, rest.is_empty()))
                })
                .unwrap()
            })
            .collect();
        let mut results = Vec::new();
        for c in clients {
            results.push(c.await.unwrap());
        }
        results
    });
    stop_tx.send(()).unwrap();
    server.join().unwrap();

    let mut ok = 0;
    for r in results {
        let (i, same, clean_end) = r.expect("client I/O failed");
        assert!(same, "connection {i} got different bytes back");
        assert!(clean_end, "connection {i} got extra bytes after its own");
        ok += 1;
    }
    assert_eq!(ok, CONNECTIONS);
}
