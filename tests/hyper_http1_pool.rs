//! hyper's HTTP/1.1 on the pool, through `switchyard::hyper`: the `hello_hyper` example
//! answers a raw socket and a hyper client (ten requests on one kept-alive connection); an
//! echo service returns bodies of every size, from empty to 1 MiB, byte for byte (`HyperIo`
//! reads them into hyper's uninitialised buffers, module doc of `src/hyper/io.rs`), on one
//! connection and on 64 at once; and hyper's header timeout, on `HyperTimer`, closes a connection that
//! never finishes its request.

#[path = "../examples/hello_hyper.rs"]
mod hello_hyper;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1 as client_http1;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use switchyard::hyper::{HyperIo, HyperTimer};
use switchyard::runtime::net::{TcpListener, TcpStream};
use switchyard::scheduler::pool::{self, Pool};

const REQUESTS_PER_CONNECTION: usize = 10;

/// A pool with a listener bound from this (non-pool) thread on the pool's reactor.
fn pool_and_listener() -> (Pool, TcpListener, SocketAddr) {
    let pool = Pool::builder().workers(2).build().expect("pool");
    let io = pool.handle().io_handle().expect("the pool has a reactor");
    let listener = TcpListener::bind_with(&io, "127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    (pool, listener, addr)
}

#[test]
fn hello_hyper_answers_a_raw_tcp_request() {
    let (pool, listener, addr) = pool_and_listener();
    drop(pool.spawn(hello_hyper::serve(listener)));
    let mut client = std::net::TcpStream::connect(addr).expect("connect");
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut response = String::new();
    client.read_to_string(&mut response).expect("read");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-length: 13\r\n"),
        "{response}"
    );
    assert!(response.ends_with("\r\n\r\nHello, World!"), "{response}");
}

#[test]
fn hello_hyper_answers_a_hyper_client_on_one_kept_alive_connection() {
    let (pool, listener, addr) = pool_and_listener();
    drop(pool.spawn(hello_hyper::serve(listener)));
    let client = pool.spawn(async move {
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, connection) = client_http1::handshake(HyperIo::new(stream)).await?;
        let connection = pool::spawn(connection).expect("a pool task");
        let mut bodies = Vec::new();
        for _ in 0..REQUESTS_PER_CONNECTION {
            let request = Request::get("/")
                .header("host", "test")
                .body(Full::new(Bytes::new()))?;
            let response = sender.send_request(request).await?;
            assert_eq!(response.status(), 200);
            bodies.push(response.into_body().collect().await?.to_bytes());
        }
        drop(sender);
        // With the sender gone, the client connection ends cleanly.
        connection.await.expect("connection task")?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(bodies)
    });
    let bodies = pool.block_on(client).expect("client task").expect("http");
    assert_eq!(bodies.len(), REQUESTS_PER_CONNECTION);
    assert!(bodies.iter().all(|body| body == hello_hyper::HELLO));
}

/// Answers with the request's body.
async fn echo(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let body = request.into_body().collect().await?.to_bytes();
    Ok(Response::new(Full::new(body)))
}

/// A size step for the bodies: hyper reads in 8 KiB buffers, and a request head is a few
/// hundred bytes, so bodies around 1 KiB end inside hyper's first buffer.
const KIB: usize = 1024;

/// `len` bytes that differ by position, so a lost, doubled or misplaced chunk shows.
fn pattern(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i.wrapping_mul(7) ^ (i >> 8)) as u8)
        .collect()
}

#[test]
fn bodies_of_every_size_around_the_read_paths_come_back_byte_for_byte() {
    let sizes = [
        0,
        1,
        KIB - 1,
        KIB,
        KIB + 1,
        8 * 1024,
        64 * 1024 + 3,
        1024 * 1024,
    ];
    let (pool, listener, addr) = pool_and_listener();
    drop(pool.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            pool::spawn(
                http1::Builder::new()
                    .timer(HyperTimer)
                    .serve_connection(HyperIo::new(stream), service_fn(echo)),
            )
            .expect("a pool task");
        }
    }));
    let client = pool.spawn(async move {
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, connection) = client_http1::handshake(HyperIo::new(stream)).await?;
        drop(pool::spawn(connection).expect("a pool task"));
        let mut mismatches = Vec::new();
        for len in sizes {
            let sent = pattern(len);
            let request = Request::post("/")
                .header("host", "test")
                .body(Full::new(sent.clone()))?;
            let response = sender.send_request(request).await?;
            let back = response.into_body().collect().await?.to_bytes();
            if back != sent {
                mismatches.push((len, back.len()));
            }
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(mismatches)
    });
    let mismatches = pool.block_on(client).expect("client task").expect("http");
    assert_eq!(
        mismatches,
        [],
        "(size sent, size echoed) of the bodies that differ"
    );
}

#[test]
fn header_read_timeout_on_hyper_timer_closes_a_silent_connection() {
    let (pool, listener, addr) = pool_and_listener();
    let server = pool.spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        http1::Builder::new()
            .timer(HyperTimer)
            .header_read_timeout(Duration::from_millis(100))
            .serve_connection(HyperIo::new(stream), service_fn(echo))
            .await
    });
    let mut client = std::net::TcpStream::connect(addr).expect("connect");
    // Half a request head, then silence.
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: te")
        .expect("write");
    let error = pool
        .block_on(server)
        .expect("server task")
        .expect_err("the head never ends: the connection must time out");
    assert!(error.is_timeout(), "{error}");
    let mut rest = Vec::new();
    // The server closed: end of stream (hyper may first send a 408).
    client.read_to_end(&mut rest).expect("read");
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        rest.is_empty() || rest.starts_with("HTTP/1.1 408"),
        "{rest}"
    );
}

#[test]
fn many_concurrent_connections_each_get_their_own_bodies_back() {
    const CONNECTIONS: usize = 64;
    const REQUESTS: usize = 4;
    let (pool, listener, addr) = pool_and_listener();
    drop(pool.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            pool::spawn(
                http1::Builder::new()
                    .timer(HyperTimer)
                    .serve_connection(HyperIo::new(stream), service_fn(echo)),
            )
            .expect("a pool task");
        }
    }));
    let handle = pool.handle();
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            handle.spawn(async move {
                let stream = TcpStream::connect(addr).await?;
                let (mut sender, connection) =
                    client_http1::handshake(HyperIo::new(stream)).await?;
                drop(pool::spawn(connection).expect("a pool task"));
                let mut wrong = 0usize;
                for r in 0..REQUESTS {
                    // Sizes up to a few KiB, different per connection and request.
                    let sent = pattern((c * 977 + r * 3001) % (4 * KIB) + c);
                    let request = Request::post("/")
                        .header("host", "test")
                        .body(Full::new(sent.clone()))?;
                    let response = sender.send_request(request).await?;
                    if response.into_body().collect().await?.to_bytes() != sent {
                        wrong += 1;
                    }
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(wrong)
            })
        })
        .collect();
    let mut wrong = 0;
    for client in clients {
        wrong += pool.block_on(client).expect("client task").expect("http");
    }
    assert_eq!(wrong, 0, "responses that did not echo their request");
}
