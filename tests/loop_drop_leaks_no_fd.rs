//! Dropping a loop closes every file descriptor it opened (this file is its own process, so
//! no other test opens fds meanwhile).

use switchyard::runtime::net::{TcpListener, TcpStream};
use switchyard::runtime::sync::oneshot;
use switchyard::scheduler::local::{EventLoop, spawn_local};

mod resources;
use resources::open_fds;

#[test]
fn a_loop_with_sockets_timers_and_handles_leaks_no_fd_when_dropped() {
    let before = open_fds();
    for _ in 0..3 {
        let mut el = EventLoop::new().unwrap();
        let handle = el.handle();
        el.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let (accepted_tx, accepted) = oneshot::channel();
            let server = spawn_local(async move {
                let (stream, _) = listener.accept().await.unwrap();
                accepted_tx.send(()).unwrap();
                // Parked forever on a socket: the loop's drop must close it.
                std::future::pending::<()>().await;
                drop(stream);
            })
            .unwrap();
            let _client = TcpStream::connect(addr).await.unwrap();
            // The server holds its accepted stream now (and parks on it for ever).
            accepted.await.unwrap();
            drop(server);
            // The client stream is dropped here; the server's stays parked.
        });
        drop(el);
        // A handle kept alive after the drop holds no fd of the loop's.
        assert!(handle.is_shut_down());
        drop(handle);
    }
    assert_eq!(open_fds(), before);
}
