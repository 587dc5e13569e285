//! hyper's HTTP/2 through `switchyard::hyper`, on the pool and on the loop: the server spawns
//! one task per stream through the executor (`PoolExecutor`, `LoopExecutor`), the client its
//! connection task; many requests in flight on one connection at once each get their own
//! answer.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2 as client_http2;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper::{Request, Response};
use switchyard::hyper::{HyperIo, HyperTimer, LoopExecutor, PoolExecutor};
use switchyard::runtime::net::{TcpListener, TcpStream};
use switchyard::scheduler::local::{EventLoop, spawn_local};
use switchyard::scheduler::pool::{self, Pool};

const STREAMS: usize = 32;

/// Answers with the request's path, reversed, so each stream's answer is its own.
async fn reverse_path(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let reversed: String = request.uri().path().chars().rev().collect();
    Ok(Response::new(Full::new(Bytes::from(reversed))))
}

fn path(i: usize) -> String {
    format!("/stream-{i}")
}

fn reversed(i: usize) -> String {
    path(i).chars().rev().collect()
}

#[test]
fn concurrent_streams_on_one_connection_each_get_their_answer_on_the_pool() {
    let pool = Pool::builder().workers(2).build().expect("pool");
    let io = pool.handle().io_handle().expect("the pool has a reactor");
    let listener = TcpListener::bind_with(&io, "127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(pool.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let executor = PoolExecutor::current().expect("a pool task");
            pool::spawn(
                http2::Builder::new(executor)
                    .timer(HyperTimer)
                    .serve_connection(HyperIo::new(stream), service_fn(reverse_path)),
            )
            .expect("a pool task");
        }
    }));
    let client = pool.spawn(async move {
        let stream = TcpStream::connect(addr).await?;
        let executor = PoolExecutor::current().expect("a pool task");
        let (sender, connection) = client_http2::Builder::new(executor)
            .timer(HyperTimer)
            .handshake(HyperIo::new(stream))
            .await?;
        drop(pool::spawn(connection).expect("a pool task"));
        let requests: Vec<_> = (0..STREAMS)
            .map(|i| {
                let mut sender = sender.clone();
                pool::spawn(async move {
                    let request = Request::get(format!("http://test{}", path(i)))
                        .body(Full::new(Bytes::new()))?;
                    let response = sender.send_request(request).await?;
                    let body = response.into_body().collect().await?.to_bytes();
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(String::from_utf8(
                        body.to_vec(),
                    )?)
                })
                .expect("a pool task")
            })
            .collect();
        let mut answers = Vec::new();
        for request in requests {
            answers.push(request.await.expect("request task")?);
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(answers)
    });
    let answers = pool.block_on(client).expect("client task").expect("http/2");
    let expected: Vec<String> = (0..STREAMS).map(reversed).collect();
    assert_eq!(answers, expected);
}

#[test]
fn concurrent_streams_on_one_connection_each_get_their_answer_on_the_loop() {
    let mut el = EventLoop::new().expect("loop");
    let answers = el.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        spawn_local(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                spawn_local(
                    http2::Builder::new(LoopExecutor)
                        .timer(HyperTimer)
                        .serve_connection(HyperIo::new(stream), service_fn(reverse_path)),
                )
                .expect("task table has room");
            }
        })
        .expect("task table has room");
        let stream = TcpStream::connect(addr).await?;
        let (sender, connection) = client_http2::Builder::new(LoopExecutor)
            .timer(HyperTimer)
            .handshake(HyperIo::new(stream))
            .await?;
        spawn_local(connection).expect("task table has room");
        let requests: Vec<_> = (0..STREAMS)
            .map(|i| {
                let mut sender = sender.clone();
                spawn_local(async move {
                    let request = Request::get(format!("http://test{}", path(i)))
                        .body(Full::new(Bytes::new()))?;
                    let response = sender.send_request(request).await?;
                    let body = response.into_body().collect().await?.to_bytes();
                    Ok::<_, Box<dyn std::error::Error>>(String::from_utf8(body.to_vec())?)
                })
                .expect("task table has room")
            })
            .collect();
        let mut answers = Vec::new();
        for request in requests {
            answers.push(request.await.expect("request task")?);
        }
        Ok::<_, Box<dyn std::error::Error>>(answers)
    });
    let answers = answers.expect("http/2");
    let expected: Vec<String> = (0..STREAMS).map(reversed).collect();
    assert_eq!(answers, expected);
}
