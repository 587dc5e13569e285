//! The `echo` server, written once for every task model with sockets ([`TcpRuntime`]):
//! accept the connections one by one, a spawned task each that echoes every byte it reads
//! until its peer closes. The client and the measurement are the experiment's
//! (`crate::experiments::echo`, docs/lab.md "Experiments").

use std::io;

use crate::adapter::TcpRuntime;
use crate::models::{ECHO_BUFFER, Outcome, Skip};

fn failed(e: io::Error) -> Skip {
    Skip(format!("echo failed: {e}"))
}

/// One connection: echoes every byte read until the peer closes it.
pub async fn serve_connection<R: TcpRuntime>(mut stream: R::Stream) -> io::Result<()> {
    let mut buf = [0u8; ECHO_BUFFER];
    loop {
        let n = R::read(&mut stream, &mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        R::write_all(&mut stream, &buf[..n]).await?;
    }
}

/// Serves echo on `listener`: accepts exactly `connections` connections, a task each
/// ([`serve_connection`]), and returns once every one has closed.
pub async fn serve<R: TcpRuntime>(
    spawner: R::Spawner,
    listener: std::net::TcpListener,
    connections: u64,
) -> Outcome<()> {
    let listener = R::listener(listener).map_err(failed)?;
    let mut conns = Vec::with_capacity(connections as usize);
    for _ in 0..connections {
        let stream = R::accept(&listener).await.map_err(failed)?;
        conns.push(R::spawn(&spawner, serve_connection::<R>(stream))?);
    }
    for conn in conns {
        R::join(conn)
            .await
            .ok_or_else(|| Skip("a connection task failed (panicked or was cancelled)".to_owned()))?
            .map_err(failed)?;
    }
    Ok(())
}
