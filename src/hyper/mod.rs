//! # hyper on Switchyard (feature `hyper`)
//!
//! [hyper](https://docs.rs/hyper/1) 1.x brings no runtime; it asks for four things, each
//! given here:
//!
//! | hyper needs | here | on |
//! |---|---|---|
//! | [`rt::Read`](::hyper::rt::Read) + [`rt::Write`](::hyper::rt::Write) | [`HyperIo`] | [`TcpStream`](switchyard_runtime::net::TcpStream), [`UnixStream`](switchyard_runtime::net::UnixStream) |
//! | [`rt::Timer`](::hyper::rt::Timer) | [`HyperTimer`] | the current runtime's timer wheel (loop or pool) |
//! | [`rt::Executor`](::hyper::rt::Executor) | [`PoolExecutor`], [`LoopExecutor`] | the pool, the loop |
//!
//! Reads go into hyper's uninitialised buffers without zeroing them (`io.rs` says how). The
//! loop's executor panics when the loop refuses a spawn, since hyper's `Executor` cannot be
//! told (`executor.rs` says why, and how to size the loop).
//!
//! This crate's `hyper` feature needs only hyper's `rt` traits; choose the protocols (`http1`,
//! `http2`, `server`, `client`) in your own hyper dependency.
//!
//! ## An HTTP/1.1 server on the pool
//!
//! The listener is bound from `main` on the pool's reactor ([`PoolHandle::io_handle`]); the
//! accept loop is a pool task; each connection is a task of its own, spawned on the current
//! pool with [`pool::spawn`]. `examples/hello_hyper.rs` is the same server as a program.
//!
//! ```
//! use std::convert::Infallible;
//! use std::io::{Read, Write};
//!
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
//! use switchyard::hyper::{HyperIo, HyperTimer};
//! use switchyard::runtime::net::TcpListener;
//! use switchyard::scheduler::pool::{self, Pool};
//!
//! async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from_static(b"Hello, World!"))))
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = Pool::builder().workers(2).build()?;
//! let listener = TcpListener::bind_with(&pool.handle().io_handle()?, "127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! pool.spawn(async move {
//!     loop {
//!         let Ok((stream, _peer)) = listener.accept().await else { continue };
//!         let connection = http1::Builder::new()
//!             .timer(HyperTimer)
//!             .serve_connection(HyperIo::new(stream), service_fn(hello));
//!         pool::spawn(connection).expect("the accept loop is a pool task");
//!     }
//! });
//!
//! // Any HTTP client will do; here, a plain socket.
//! let mut client = std::net::TcpStream::connect(addr)?;
//! client.write_all(b"GET / HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n")?;
//! let mut response = String::new();
//! client.read_to_string(&mut response)?;
//! assert!(response.starts_with("HTTP/1.1 200 OK"));
//! assert!(response.ends_with("Hello, World!"));
//! # Ok(())
//! # }
//! ```
//!
//! On the loop, the same code runs inside [`EventLoop::block_on`] with
//! `spawn_local` in place of `pool::spawn`; services and bodies may then be `!Send`. For
//! HTTP/2, give the builder an executor: `http2::Builder::new(PoolExecutor::current()?)` or
//! `http2::Builder::new(LoopExecutor)`.
//!
//! [`PoolHandle::io_handle`]: switchyard_scheduler::pool::PoolHandle::io_handle
//! [`pool::spawn`]: switchyard_scheduler::pool::spawn
//! [`EventLoop::block_on`]: switchyard_scheduler::local::EventLoop::block_on

mod executor;
mod io;
mod timer;

pub use executor::{LoopExecutor, PoolExecutor};
pub use io::{HyperIo, StreamSocket};
pub use timer::{HyperSleep, HyperTimer};
