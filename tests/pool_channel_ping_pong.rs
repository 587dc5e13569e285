//! The runtime's channels work between pool tasks: a capacity-1 ping-pong between two pool
//! tasks delivers every message, in order.

use switchyard::runtime::sync::mpsc;
use switchyard::scheduler::pool::Pool;

const ROUND_TRIPS: u64 = if cfg!(miri) { 10 } else { 100_000 };

#[test]
fn two_pool_tasks_ping_pong_over_capacity_one_channels() {
    let pool = Pool::builder().workers(2).build().expect("pool");
    let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
    let pong = pool.spawn(async move {
        let mut count = 0;
        while let Some(v) = ping_rx.recv().await {
            if pong_tx.send(v).await.is_err() {
                break;
            }
            count += 1;
        }
        count
    });
    let ping = pool.spawn(async move {
        for i in 0..ROUND_TRIPS {
            ping_tx.send(i).await.expect("pong alive");
            assert_eq!(pong_rx.recv().await, Some(i), "message lost or reordered");
        }
    });
    pool.block_on(ping).expect("ping task");
    assert_eq!(pool.block_on(pong).expect("pong task"), ROUND_TRIPS);
}
