//! A spawn beyond the loop's task capacity is refused with a typed error, and loses nothing.

use switchyard::scheduler::local::{EventLoop, SpawnError, spawn_local};

#[test]
fn spawn_beyond_capacity_is_refused_and_capacity_returns_when_tasks_finish() {
    let mut el = EventLoop::builder().task_capacity(3).build().unwrap();
    el.block_on(async {
        let (tx, rx) = switchyard::runtime::sync::oneshot::channel::<()>();
        let blocker = spawn_local(async move {
            let _ = rx.await;
        })
        .unwrap();
        let a = spawn_local(async { 1 }).unwrap();
        let b = spawn_local(async { 2 }).unwrap();
        let err = spawn_local(async { 3 }).unwrap_err();
        assert_eq!(err, SpawnError::AtCapacity { capacity: 3 });
        assert!(err.to_string().contains("task_capacity"), "{err}");
        // The refused future was never run; the accepted ones all complete.
        assert_eq!(a.await.unwrap() + b.await.unwrap(), 3);
        // Two slots are free again.
        let c = spawn_local(async { 4 }).unwrap();
        assert_eq!(c.await.unwrap(), 4);
        tx.send(()).unwrap();
        blocker.await.unwrap();
    });
    assert_eq!(el.metrics().live_tasks, 0);
}

#[test]
fn remote_spawns_share_the_same_capacity() {
    let mut el = EventLoop::builder().task_capacity(2).build().unwrap();
    let handle = el.handle();
    let a = el.spawn_local(std::future::pending::<()>()).unwrap();
    let b = handle.spawn(std::future::pending::<()>()).unwrap();
    let err = std::thread::spawn(move || handle.spawn(async {}).map(drop))
        .join()
        .unwrap()
        .unwrap_err();
    assert_eq!(err, SpawnError::AtCapacity { capacity: 2 });
    a.abort();
    b.abort();
    el.block_on(async move {
        assert!(a.await.unwrap_err().is_cancelled());
        assert!(b.await.unwrap_err().is_cancelled());
    });
    assert_eq!(el.metrics().live_tasks, 0);
}
