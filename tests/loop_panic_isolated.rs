//! A panicking task gives `Err` at its `JoinHandle` with the payload; the loop and the other
//! tasks go on.

use switchyard::scheduler::local::{EventLoop, spawn_local, yield_now};

#[test]
fn a_panic_becomes_an_error_carrying_its_message_and_the_loop_goes_on() {
    let mut el = EventLoop::new().unwrap();
    let (err, others) = el.block_on(async {
        let bad = spawn_local(async {
            yield_now().await;
            panic!("task exploded: code {}", 7);
        })
        .unwrap();
        let good: Vec<_> = (0..10)
            .map(|i| {
                spawn_local(async move {
                    yield_now().await;
                    yield_now().await;
                    i
                })
                .unwrap()
            })
            .collect();
        let err = bad.await.unwrap_err();
        let mut others = 0;
        for h in good {
            others += h.await.unwrap();
        }
        (err, others)
    });
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("task exploded: code 7"));
    assert_eq!(others, 45);
    // The loop is still usable.
    assert_eq!(
        el.block_on(async { spawn_local(async { 5 }).unwrap().await.unwrap() }),
        5
    );
}

#[test]
fn a_panic_payload_can_be_taken_out() {
    let mut el = EventLoop::new().unwrap();
    let err = el.block_on(async {
        spawn_local(async { std::panic::panic_any(1234u32) })
            .unwrap()
            .await
            .unwrap_err()
    });
    let payload = err.into_panic();
    assert_eq!(payload.downcast_ref::<u32>(), Some(&1234));
}
