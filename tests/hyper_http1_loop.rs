//! hyper's HTTP/1.1 on the event loop, through `switchyard::hyper`: a `!Send` service (it
//! counts in an `Rc<Cell>`) answers a hyper client, server and client both on one loop; and
//! `LoopExecutor` panics with the loop's own message when the task table is full, instead of
//! dropping hyper's future unsaid (`src/hyper/executor.rs`).

use std::cell::Cell;
use std::convert::Infallible;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1 as client_http1;
use hyper::rt::Executor;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use switchyard::hyper::{HyperIo, HyperTimer, LoopExecutor};
use switchyard::runtime::net::{TcpListener, TcpStream};
use switchyard::scheduler::local::{EventLoop, spawn_local};

const REQUESTS: usize = 5;

#[test]
fn a_not_send_service_on_the_loop_answers_a_hyper_client() {
    let mut el = EventLoop::new().expect("loop");
    let answers = el.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        // `Rc`: the service, hence the connection future, is `!Send`.
        let served = Rc::new(Cell::new(0usize));
        spawn_local(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let served = served.clone();
                let service = service_fn(move |_: Request<Incoming>| {
                    served.set(served.get() + 1);
                    let body = Bytes::from(served.get().to_string());
                    async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
                });
                let connection = http1::Builder::new()
                    .timer(HyperTimer)
                    .serve_connection(HyperIo::new(stream), service);
                spawn_local(connection).expect("task table has room");
            }
        })
        .expect("task table has room");

        let stream = TcpStream::connect(addr).await?;
        let (mut sender, connection) = client_http1::handshake(HyperIo::new(stream)).await?;
        LoopExecutor.execute(connection);
        let mut answers = Vec::new();
        for _ in 0..REQUESTS {
            let request = Request::get("/")
                .header("host", "test")
                .body(Full::new(Bytes::new()))?;
            let response = sender.send_request(request).await?;
            let body = response.into_body().collect().await?.to_bytes();
            answers.push(String::from_utf8(body.to_vec())?);
        }
        Ok::<_, Box<dyn std::error::Error>>(answers)
    });
    let answers = answers.expect("http");
    let expected: Vec<String> = (1..=REQUESTS).map(|n| n.to_string()).collect();
    assert_eq!(answers, expected);
}

#[test]
fn loop_executor_panics_with_the_loops_reason_when_the_table_is_full() {
    let mut el = EventLoop::builder().task_capacity(1).build().expect("loop");
    let outcome = el.block_on(async {
        let _filler = spawn_local(std::future::pending::<()>()).expect("room for one");
        catch_unwind(AssertUnwindSafe(|| LoopExecutor.execute(async {})))
    });
    let panic = outcome.expect_err("the table is full: execute must not return quietly");
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    assert!(message.contains("LoopExecutor"), "{message}");
    assert!(message.contains("task table is full"), "{message}");
}

#[test]
fn loop_executor_panics_off_the_loop() {
    let panic = catch_unwind(|| LoopExecutor.execute(async {})).expect_err("no loop here");
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    assert!(message.contains("outside EventLoop::block_on"), "{message}");
}
