use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::*;

#[test]
fn block_on_returns_the_output_of_a_ready_future() {
    let exec = NaiveExecutor::new();
    assert_eq!(exec.block_on(async { 7 }), 7);
}

#[test]
fn spawned_tasks_all_run_and_join() {
    const TASKS: usize = if cfg!(miri) { 10 } else { 1_000 };
    let exec = NaiveExecutor::new();
    let counter = Arc::new(AtomicUsize::new(0));
    let total = exec.block_on(async {
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let counter = Arc::clone(&counter);
                exec.spawn(async move {
                    counter.fetch_add(1, Ordering::Relaxed);
                    i
                })
            })
            .collect();
        let mut total = 0;
        for handle in handles {
            total += handle.await.unwrap();
        }
        total
    });
    assert_eq!(counter.load(Ordering::Relaxed), TASKS);
    assert_eq!(total, TASKS * (TASKS - 1) / 2);
}

#[test]
fn yield_now_interleaves_tasks_in_fifo_order() {
    let exec = NaiveExecutor::new();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    exec.block_on(async {
        let a = {
            let log = Arc::clone(&log);
            exec.spawn(async move {
                for i in 0..3 {
                    log.lock().unwrap().push(('a', i));
                    yield_now().await;
                }
            })
        };
        let b = {
            let log = Arc::clone(&log);
            exec.spawn(async move {
                for i in 0..3 {
                    log.lock().unwrap().push(('b', i));
                    yield_now().await;
                }
            })
        };
        a.await.unwrap();
        b.await.unwrap();
    });
    let log = log.lock().unwrap();
    assert_eq!(
        *log,
        [('a', 0), ('b', 0), ('a', 1), ('b', 1), ('a', 2), ('b', 2)]
    );
}

#[test]
fn a_panicking_task_reports_err_and_the_executor_lives_on() {
    let exec = NaiveExecutor::new();
    let (panicked, after) = exec.block_on(async {
        let bad = exec.spawn(async { panic!("boom") });
        let bad: Result<(), JoinError> = bad.await;
        let good = exec.spawn(async { 5 }).await;
        (bad, good)
    });
    assert_eq!(panicked, Err(JoinError::Panicked("boom".to_owned())));
    assert_eq!(after, Ok(5));
}

#[test]
fn a_spawner_spawns_from_another_thread_and_wakes_block_on() {
    let exec = NaiveExecutor::new();
    let spawner = exec.spawner();
    let handle = std::thread::spawn(move || spawner.spawn(async { "from afar" }))
        .join()
        .unwrap();
    assert_eq!(exec.block_on(handle), Ok("from afar"));
}

#[test]
fn sleep_completes_no_earlier_than_its_deadline() {
    let exec = NaiveExecutor::new();
    let start = Instant::now();
    exec.block_on(sleep(Duration::from_millis(5)));
    assert!(start.elapsed() >= Duration::from_millis(5));
}

#[test]
fn a_pending_task_stays_alive_while_its_handle_exists() {
    struct CountDrop(Arc<AtomicUsize>);
    impl Drop for CountDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    let exec = NaiveExecutor::new();
    let dropped = Arc::new(AtomicUsize::new(0));
    let guard = CountDrop(Arc::clone(&dropped));
    let handle = exec.spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    });
    exec.block_on(yield_now());
    assert_eq!(dropped.load(Ordering::Relaxed), 0);
    assert!(!handle.is_finished());
    drop(handle);
    assert_eq!(dropped.load(Ordering::Relaxed), 1);
}
