//! A hand-off is counted and names the task that was stuck: a task that blocks its worker's
//! thread (here until released) has its `TaskId` in the hand-off log, and the tasks it woke
//! before blocking (in the worker's LIFO slot) run on the spare thread meanwhile.

use std::sync::mpsc;
use std::time::Duration;
use switchyard::runtime::sync::oneshot;
use switchyard::scheduler::pool::Pool;

const GUARD: Duration = Duration::from_secs(30);

#[test]
fn the_hand_off_log_names_the_stuck_task_and_its_lifo_task_runs() {
    let pool = Pool::builder()
        .workers(1)
        .stall_time_slice(Some(Duration::from_millis(5)))
        .build()
        .expect("pool");
    let (woken_tx, woken_rx) = oneshot::channel::<()>();
    let (ran_tx, ran_rx) = mpsc::channel::<()>();
    // A task waiting on a oneshot: the blocker's send wakes it into the LIFO slot.
    let waiter = pool.spawn(async move {
        woken_rx.await.expect("sender dropped");
        ran_tx.send(()).unwrap();
    });
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let blocker = pool.spawn(async move {
        started_tx.send(()).unwrap();
        let _ = woken_tx.send(());
        release_rx.recv_timeout(GUARD).expect("never released");
    });
    let blocker_id = blocker.id();
    started_rx.recv_timeout(GUARD).unwrap();
    ran_rx
        .recv_timeout(GUARD)
        .expect("the woken task did not run while its worker was blocked");
    let metrics = pool.metrics();
    assert!(metrics.hand_offs >= 1, "{metrics:?}");
    // On a loaded machine a descheduled thread can look stuck too; the blocker must be named.
    assert!(
        metrics
            .hand_off_log
            .iter()
            .any(|h| h.task == Some(blocker_id) && h.worker == 0),
        "{metrics:?}"
    );
    release_tx.send(()).unwrap();
    pool.block_on(blocker).expect("blocker");
    pool.block_on(waiter).expect("waiter");
}
