//! `block_on` inside a running loop is refused loudly instead of stalling the outer loop.

use switchyard::scheduler::local::EventLoop;

#[test]
#[should_panic(expected = "block_on called from inside a running event loop")]
fn nested_block_on_panics_with_a_message() {
    let mut outer = EventLoop::new().unwrap();
    outer.block_on(async {
        let mut inner = EventLoop::new().unwrap();
        inner.block_on(async {});
    });
}

#[test]
fn an_event_loop_may_be_dropped_inside_another_loops_task() {
    let mut outer = EventLoop::new().unwrap();
    let out = outer.block_on(async {
        let inner = EventLoop::new().unwrap();
        let h = inner.spawn_local(std::future::pending::<()>()).unwrap();
        drop(inner);
        h.await.unwrap_err().is_cancelled()
    });
    assert!(out);
}
