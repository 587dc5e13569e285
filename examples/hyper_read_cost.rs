//! What `HyperIo`'s reads save against a futures-io adapter that zeroes hyper's buffer:
//! resident memory and instructions, at `CONNECTIONS` connections.
//!
//! ```sh
//! cargo build --release --features hyper --example hyper_read_cost
//! perf stat -e instructions:u target/release/examples/hyper_read_cost hyper_io
//! perf stat -e instructions:u target/release/examples/hyper_read_cost zeroing
//! ```
//!
//! Each connection is a Unix socket pair on one loop, with its own 8 KiB read buffer (hyper's
//! first read buffer, `INIT_BUFFER_SIZE`, freshly allocated as hyper's `BytesMut` is). Each
//! round writes a 500-byte request on every connection, then reads it back through the
//! adapter into the buffer's uninitialised spare capacity, as hyper does. The program prints
//! the resident set after the first round (each buffer read into once) and at the end.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::AsyncWriteExt;
use hyper::rt;
use switchyard::hyper::HyperIo;
use switchyard::runtime::futures_io::AsyncRead;
use switchyard::runtime::net::UnixStream;
use switchyard::scheduler::local::EventLoop;

const CONNECTIONS: usize = 1_000;
const ROUNDS: usize = 100;
const REQUEST: usize = 500;
/// hyper's first read buffer (`proto::h1::io::INIT_BUFFER_SIZE`).
const READ_BUFFER: usize = 8 * 1024;

/// The futures-io way: initialise (zero) the cursor, then read into it.
struct Zeroing(UnixStream);

impl rt::Read for Zeroing {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let n = ready!(Pin::new(&mut self.get_mut().0).poll_read(cx, buf.initialize_unfilled()))?;
        // SAFETY: `initialize_unfilled` initialised the whole unfilled part, of which the read
        // filled the first `n` bytes.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

/// The resident set, in KiB (`/proc/self/statm`, field 2, in pages).
fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .unwrap_or(0);
    pages * 4
}

async fn run<R: rt::Read + Unpin>(wrap: impl Fn(UnixStream) -> R) -> io::Result<()> {
    let request = vec![b'x'; REQUEST];
    let mut connections = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let (a, b) = UnixStream::pair()?;
        let buffer: Vec<u8> = Vec::with_capacity(READ_BUFFER);
        connections.push((wrap(a), b, buffer));
    }
    let before = rss_kib();
    for round in 0..ROUNDS {
        for (reader, writer, buffer) in &mut connections {
            writer.write_all(&request).await?;
            let spare = buffer.spare_capacity_mut();
            let mut buf = rt::ReadBuf::uninit(spare);
            poll_fn(|cx| Pin::new(&mut *reader).poll_read(cx, buf.unfilled())).await?;
            assert_eq!(buf.filled().len(), REQUEST);
        }
        if round == 0 {
            println!(
                "after one read per connection: +{} KiB resident ({} connections)",
                rss_kib().saturating_sub(before),
                CONNECTIONS
            );
        }
    }
    println!("{} reads of {REQUEST} bytes", CONNECTIONS * ROUNDS);
    Ok(())
}

fn main() -> io::Result<()> {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let mut el = EventLoop::new()?;
    match mode.as_str() {
        "hyper_io" => el.block_on(run(HyperIo::new)),
        "zeroing" => el.block_on(run(Zeroing)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "usage: hyper_read_cost hyper_io|zeroing",
        )),
    }
}
