//! Stress: a thousand loops, each with sockets, timers, local and remote tasks and a handle
//! kept past its drop, leave no file descriptor, thread or memory behind (issue 7, item 7).
//! This file is its own process, so nothing else opens fds or threads, or allocates, meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use switchyard::runtime::net::{TcpListener, TcpStream};
use switchyard::runtime::sync::oneshot;
use switchyard::runtime::time::sleep;
use switchyard::scheduler::local::{EventLoop, spawn_local};

mod resources;
use resources::{open_fds, threads, threads_settle_to};

const CYCLES: usize = 1_000;
/// Cycles run before the baseline is taken: the allocator's arenas and the thread-local
/// caches reach their steady size in the first few.
const WARM_UP: usize = 50;
/// Resident memory the cycles after the warm-up may add, per cycle: a loose bound, since the
/// allocator keeps freed pages resident and reuses them (the exact check is the heap count
/// below). A leaked loop costs far more than this (its reactor's events buffer alone is
/// 12 KiB).
const RSS_BUDGET_PER_CYCLE: usize = 1024;

/// Bytes the heap may hold after the cycles beyond what it held after the warm-up: the heap is
/// counted exactly (see [`Counting`]), so this only absorbs a buffer that grows once in a
/// while (the test harness's own); a leak of 64 bytes per cycle (one small allocation) is
/// several times more.
const HEAP_SLACK: usize = 16 * 1024;

/// The global allocator, counting the bytes live on the heap.
struct Counting;

static LIVE_HEAP_BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees are ours; the counter is a side record that no allocation depends on.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged (the caller meets `alloc`'s contract).
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_HEAP_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged (the caller meets `dealloc`'s contract).
        unsafe { System.dealloc(ptr, layout) };
        LIVE_HEAP_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged (the caller meets `realloc`'s contract).
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE_HEAP_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE_HEAP_BYTES.fetch_add(new_size, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_heap() -> usize {
    LIVE_HEAP_BYTES.load(Ordering::Relaxed)
}

/// A field of `/proc/self/status`, in its own unit (kB for memory).
fn status_field(name: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in /proc/self/status"));
    line[name.len()..]
        .split_whitespace()
        .next()
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("unreadable {name}: {line}"))
}

fn rss_bytes() -> usize {
    status_field("VmRSS:") * 1024
}

/// One loop's life: a TCP connection accepted and left parked, a timer, local and remote
/// tasks, a task parked for ever, and a handle kept past the drop.
fn cycle() {
    let mut el = EventLoop::new().unwrap();
    let handle = el.handle();
    let remote = std::thread::spawn({
        let handle = handle.clone();
        move || handle.spawn(async { 7 }).expect("the loop is alive")
    })
    .join()
    .unwrap();
    el.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (accepted_tx, accepted) = oneshot::channel();
        let _server = spawn_local(async move {
            let (stream, _) = listener.accept().await.unwrap();
            accepted_tx.send(()).unwrap();
            std::future::pending::<()>().await;
            drop(stream);
        })
        .unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        accepted.await.unwrap();
        sleep(Duration::from_micros(50)).await;
        assert_eq!(remote.await.unwrap(), 7);
        // Parked for ever on a timer far away: the drop must cancel it and its timer entry.
        spawn_local(sleep(Duration::from_secs(3600))).unwrap();
    });
    drop(el);
    assert!(handle.is_shut_down());
}

#[test]
#[ignore = "stress: run by .ci/run's stress step"]
fn a_thousand_loops_leave_no_fd_thread_or_memory_behind() {
    let fds_before = open_fds();
    let threads_before = threads();
    for _ in 0..WARM_UP {
        cycle();
    }
    let rss_after_warm_up = rss_bytes();
    let heap_after_warm_up = live_heap();
    for i in WARM_UP..CYCLES {
        cycle();
        assert_eq!(open_fds(), fds_before, "fds leaked by cycle {i}");
        assert_eq!(
            threads_settle_to(threads_before),
            threads_before,
            "threads left by cycle {i}"
        );
    }
    let heap_grown = live_heap().saturating_sub(heap_after_warm_up);
    assert!(
        heap_grown <= HEAP_SLACK,
        "the heap grew by {heap_grown} bytes over {} cycles: a leak",
        CYCLES - WARM_UP
    );
    let grown = rss_bytes().saturating_sub(rss_after_warm_up);
    let budget = (CYCLES - WARM_UP) * RSS_BUDGET_PER_CYCLE;
    assert!(
        grown <= budget,
        "resident memory grew by {grown} bytes over {} cycles (budget {budget})",
        CYCLES - WARM_UP
    );
}
