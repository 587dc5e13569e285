//! A TCP echo server on the loop: one task per connection.
//!
//! ```sh
//! cargo run --release --example echo -- 127.0.0.1:7000
//! ```
//!
//! `tests/echo_1000_connections.rs` drives 1,000 concurrent connections through [`serve`].

use std::io;
use std::net::SocketAddr;

use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use switchyard::runtime::net::{TcpListener, TcpStream};
use switchyard::scheduler::local::{EventLoop, spawn_local};

/// The size of each connection's buffer: one read, one write.
const BUFFER: usize = 16 * 1024;

/// Accepts connections forever, echoing each on a task of its own.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        let (stream, _peer) = listener.accept().await?;
        // A full task table refuses the connection (the stream is dropped, closing it); the
        // server goes on.
        if let Err(error) = spawn_local(echo(stream)) {
            eprintln!("echo: refusing a connection: {error}");
        }
    }
}

/// Echoes everything read on `stream` until the peer closes its side; returns the byte count.
pub async fn echo(mut stream: TcpStream) -> io::Result<u64> {
    let mut buf = vec![0u8; BUFFER];
    let mut total = 0u64;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            stream.close().await?;
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

#[allow(dead_code)] // the test includes this file as a module and does not call main
fn main() -> io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".to_owned())
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("address: {e}")))?;
    let mut el = EventLoop::new()?;
    el.block_on(async {
        let listener = TcpListener::bind(addr)?;
        println!("echo server listening on {}", listener.local_addr()?);
        serve(listener).await
    })
}
