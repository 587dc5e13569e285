//! "Hello, World!" over HTTP/1.1, served by hyper on the pool.
//!
//! ```sh
//! cargo run --release --features hyper --example hello_hyper -- 127.0.0.1:3000
//! curl http://127.0.0.1:3000/
//! ```
//!
//! The listener is bound from `main` on the pool's reactor; the accept loop is a pool task;
//! each connection is a task of its own, spawned on the current pool (`pool::spawn`).
//! `tests/hyper_http1_pool.rs` drives the same [`serve`] with a hyper client and a raw socket.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use switchyard::hyper::{HyperIo, HyperTimer};
use switchyard::runtime::net::TcpListener;
use switchyard::scheduler::pool::{self, Pool};

/// The one response.
pub const HELLO: &[u8] = b"Hello, World!";

/// Answers every request with [`HELLO`].
pub async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(HELLO))))
}

/// Accepts connections forever (run it as a pool task), serving each on a pool task of its
/// own. An accept error (a full fd table, say) is reported and the loop goes on; so is a
/// connection error (a peer that resets mid-request).
pub async fn serve(listener: TcpListener) -> Result<(), pool::NotInPool> {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                eprintln!("hello_hyper: accept: {error}");
                continue;
            }
        };
        pool::spawn(async move {
            let connection = http1::Builder::new()
                .timer(HyperTimer)
                .serve_connection(HyperIo::new(stream), service_fn(hello));
            if let Err(error) = connection.await {
                eprintln!("hello_hyper: connection: {error}");
            }
        })?;
    }
}

#[allow(dead_code)] // the test includes this file as a module and does not call main
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned())
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("address: {e}")))?;
    let pool = Pool::new()?;
    let listener = TcpListener::bind_with(&pool.handle().io_handle()?, addr)?;
    println!(
        "hello_hyper: listening on http://{}",
        listener.local_addr()?
    );
    pool.block_on(pool.spawn(serve(listener)))??;
    Ok(())
}
