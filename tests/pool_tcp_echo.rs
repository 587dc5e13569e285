//! Pool tasks use sockets: a server task accepts and echoes, client tasks connect, write and
//! read back, all on the pool's own reactor (driven by whichever worker sleeps in it).

use futures_util::{AsyncReadExt, AsyncWriteExt};
use switchyard::runtime::net::{TcpListener, TcpStream};
use switchyard::scheduler::pool::Pool;

const CLIENTS: usize = if cfg!(miri) { 2 } else { 20 };
const MESSAGE: &[u8] = b"switchyard pool echo: sixty-four bytes of payload, give or take.";

#[test]
fn pool_tasks_accept_connect_and_echo_over_tcp() {
    let pool = Pool::builder().workers(2).build().expect("pool");
    let handle = pool.handle();
    let server = pool.spawn(async move {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                handle.spawn(async move {
                    let mut stream = TcpStream::connect(addr).await?;
                    stream.write_all(MESSAGE).await?;
                    let mut back = vec![0u8; MESSAGE.len()];
                    stream.read_exact(&mut back).await?;
                    Ok::<_, std::io::Error>(back)
                })
            })
            .collect();
        for _ in 0..CLIENTS {
            let (mut stream, _) = listener.accept().await?;
            handle.spawn(async move {
                let mut buf = vec![0u8; MESSAGE.len()];
                stream.read_exact(&mut buf).await?;
                stream.write_all(&buf).await?;
                Ok::<_, std::io::Error>(())
            });
        }
        let mut echoed = Vec::new();
        for client in clients {
            echoed.push(client.await.expect("client task")?);
        }
        Ok::<_, std::io::Error>(echoed)
    });
    let echoed = pool
        .block_on(server)
        .expect("server task")
        .expect("i/o error");
    assert_eq!(echoed.len(), CLIENTS);
    assert!(echoed.iter().all(|m| m == MESSAGE));
}
