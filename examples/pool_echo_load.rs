//! The pool's TCP echo against tokio's multi-thread runtime, under an open-loop load: latency,
//! server CPU per request, resident memory per connection, and the pool's hand-offs. Also
//! the CPU an idle pool burns.
//!
//! ```sh
//! cargo run --release --example pool_echo_load -- [RATE] [CONNS] [SECS] [REPEATS]
//! cargo run --release --example pool_echo_load -- idle [SECS]
//! ```
//!
//! Defaults: 10,000 requests/s over 100 connections for 2 s, 3 repeats. Each (runtime,
//! repeat) runs in a child process of its own (this binary, re-executed), so resident memory
//! is that runtime's alone; runs alternate pool, tokio, pool, ... so drift on a shared machine
//! hits both. Both servers get 2 worker threads, unpinned.
//!
//! Method (the lab's `echo` experiment, reduced):
//!
//! - the client is one thread with non-blocking std sockets and `poll(2)`; request `k` (64
//!   bytes) goes on connection `k mod CONNS` at its scheduled time `t0 + k / RATE`, whether
//!   earlier replies came back or not (open loop);
//! - latency is reply arrival minus the request's *scheduled* time (coordinated omission
//!   corrected);
//! - server CPU = process CPU (`getrusage(RUSAGE_SELF)`) minus the client thread's
//!   (`RUSAGE_THREAD`), over the measured interval, divided by the replies; the server's
//!   context switches per request likewise (`ru_nvcsw + ru_nivcsw`);
//! - memory per connection (`rss_kib_per_conn`): `VmRSS` after every connection is open and
//!   warmed up minus `VmRSS` after the first one alone is, divided by `CONNS - 1` (so `CONNS`
//!   must be 2 or more); the server's fixed memory (`server_kib`): `VmRSS` after the first
//!   connection's round trip minus `VmRSS` before the server started, and of it the anonymous
//!   part (`server_anon_kib`, from `RssAnon`: the runtime's own heap and stacks, without the
//!   code pages, whose count varies by tens of KiB from run to run); and `VmHWM` at the end.
//!   Until 2026-11-30 the figure per connection was `VmRSS` after all connections minus `VmRSS`
//!   before the server, divided by `CONNS`: at 100 connections about half of it was fixed,
//!   the same for 1 connection as for 100 (issue 11): the binary's and libc's code paged in
//!   when the server first runs (400-500 KiB, file-backed, shared with every process of the
//!   binary), the worker threads' stacks and the runtime's own structures. That total is
//!   `server_kib + (CONNS - 1) * rss_kib_per_conn`, divided by `CONNS`. The client's own
//!   memory per connection (a `Conn`, under 100 bytes) is in both runtimes' figure alike;
//! - `POOL_SPIN_US=n` sets the pool's spin budget (`Builder::spin_before_sleep`) for a sweep;
//! - idle: a pool with I/O and the monitor on, no work, `SECS` seconds: CPU (`utime+stime`
//!   from `getrusage`) and context switches (every thread's `/proc/self/task/*/status`)
//!   per second.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const MESSAGE: usize = 64;
const WORKERS: usize = 2;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("idle") => idle(args.get(1).map_or(3, |s| s.parse().expect("SECS"))),
        Some("--child") => child(&args[1..]),
        _ => parent(&args),
    }
}

/// Runs every (runtime, repeat) in a child and prints one line each, then the medians.
fn parent(args: &[String]) {
    let rate: u64 = args.first().map_or(10_000, |s| s.parse().expect("RATE"));
    let conns: usize = args.get(1).map_or(100, |s| s.parse().expect("CONNS"));
    let secs: f64 = args.get(2).map_or(2.0, |s| s.parse().expect("SECS"));
    let repeats: usize = args.get(3).map_or(3, |s| s.parse().expect("REPEATS"));
    let exe = std::env::current_exe().expect("own path");
    let mut rows: Vec<(String, Vec<f64>)> = Vec::new();
    println!(
        "runtime  rate  conns  p50_us  p99_us  p999_us  cpu_ns_per_op  rss_kib_per_conn  server_kib  server_anon_kib  hwm_kib  hand_offs  csw_per_op"
    );
    for _ in 0..repeats {
        for model in ["pool", "tokio"] {
            let out = std::process::Command::new(&exe)
                .args([
                    "--child",
                    model,
                    &rate.to_string(),
                    &conns.to_string(),
                    &secs.to_string(),
                ])
                .output()
                .expect("run child");
            let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if !out.status.success() {
                eprintln!("{model}: {}", String::from_utf8_lossy(&out.stderr));
                continue;
            }
            println!("{line}");
            let figures: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .map(|f| f.parse().unwrap_or(f64::NAN))
                .collect();
            rows.push((model.to_owned(), figures));
        }
    }
    // Medians, min, max per runtime, and pool/tokio ratios of the medians.
    let names = [
        "p50_us",
        "p99_us",
        "p999_us",
        "cpu_ns_per_op",
        "rss_kib_per_conn",
        "server_kib",
        "server_anon_kib",
        "hwm_kib",
    ];
    let stat = |model: &str, col: usize| {
        let mut v: Vec<f64> = rows
            .iter()
            .filter(|(m, _)| m == model)
            .map(|(_, f)| f[col])
            .collect();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    println!("\nmedian [min, max] over {repeats} repeats; ratio = pool / tokio of the medians");
    for (i, name) in names.iter().enumerate() {
        let col = i + 2;
        let (pm, plo, phi) = stat("pool", col);
        let (tm, tlo, thi) = stat("tokio", col);
        println!(
            "{name:>17}: pool {pm:.1} [{plo:.1}, {phi:.1}]  tokio {tm:.1} [{tlo:.1}, {thi:.1}]  ratio {:.2}",
            pm / tm
        );
    }
    let (pm, plo, phi) = stat("pool", 11);
    let (tm, tlo, thi) = stat("tokio", 11);
    println!(
        "       csw_per_op: pool {pm:.3} [{plo:.3}, {phi:.3}]  tokio {tm:.3} [{tlo:.3}, {thi:.3}]  ratio {:.2}",
        pm / tm
    );
    let (h, hlo, hhi) = stat("pool", 10);
    println!("        hand_offs: pool {h} [{hlo}, {hhi}]");
}

/// One run: serve on `model`, drive the client, print one line.
fn child(args: &[String]) {
    let model = args[0].as_str();
    let rate: u64 = args[1].parse().expect("rate");
    let conns: usize = args[2].parse().expect("conns");
    assert!(
        conns >= 2,
        "CONNS must be 2 or more (memory per connection: module doc)"
    );
    let secs: f64 = args[3].parse().expect("secs");
    let (rss_before, anon_before) = (status_kib("VmRSS:"), status_kib("RssAnon:"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = Server::start(model, listener);
    let report = drive(addr, conns, rate, Duration::from_secs_f64(secs));
    let hand_offs = server.hand_offs();
    drop(server);
    let p = |q: f64| report.latency_ns[((report.latency_ns.len() - 1) as f64 * q) as usize];
    println!(
        "{model} {rate} {conns} {:.1} {:.1} {:.1} {:.0} {:.2} {} {} {} {} {:.3}",
        p(0.5) as f64 / 1e3,
        p(0.99) as f64 / 1e3,
        p(0.999) as f64 / 1e3,
        report.server_cpu_ns as f64 / report.latency_ns.len() as f64,
        (report.rss_warm_kib.saturating_sub(report.rss_first_kib)) as f64 / (conns - 1) as f64,
        report.rss_first_kib.saturating_sub(rss_before),
        report.anon_first_kib.saturating_sub(anon_before),
        status_kib("VmHWM:"),
        hand_offs,
        report.server_switches as f64 / report.latency_ns.len() as f64,
    );
}

enum Server {
    Pool(switchyard::scheduler::pool::Pool),
    // Held so the runtime lives (and its threads serve) until dropped.
    Tokio(#[allow(dead_code)] tokio::runtime::Runtime),
}

impl Server {
    fn start(model: &str, listener: std::net::TcpListener) -> Server {
        listener.set_nonblocking(true).expect("nonblocking");
        match model {
            "pool" => {
                let mut builder = switchyard::scheduler::pool::Pool::builder().workers(WORKERS);
                // POOL_SPIN_US: the spin budget, for a sweep (default: the pool's).
                if let Some(us) = std::env::var("POOL_SPIN_US")
                    .ok()
                    .and_then(|v| v.parse().ok())
                {
                    builder = builder.spin_before_sleep(Duration::from_micros(us));
                }
                let pool = builder.build().expect("pool");
                let handle = pool.handle();
                pool.spawn(async move {
                    let listener = switchyard::runtime::net::TcpListener::from_std_with(
                        &switchyard::runtime::reactor::IoHandle::current().expect("in the pool"),
                        listener,
                    )
                    .expect("register listener");
                    loop {
                        let (stream, _) = listener.accept().await.expect("accept");
                        handle.spawn(pool_echo(stream));
                    }
                });
                Server::Pool(pool)
            }
            _ => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(WORKERS)
                    .enable_all()
                    .build()
                    .expect("tokio");
                rt.spawn(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("register");
                    loop {
                        let (stream, _) = listener.accept().await.expect("accept");
                        tokio::spawn(tokio_echo(stream));
                    }
                });
                Server::Tokio(rt)
            }
        }
    }

    fn hand_offs(&self) -> u64 {
        match self {
            Server::Pool(pool) => pool.metrics().hand_offs,
            Server::Tokio(_) => 0,
        }
    }
}

async fn pool_echo(mut stream: switchyard::runtime::net::TcpStream) -> io::Result<()> {
    use futures_util::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

async fn tokio_echo(mut stream: tokio::net::TcpStream) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

struct Report {
    latency_ns: Vec<u64>,
    server_cpu_ns: u64,
    server_switches: u64,
    /// After the first connection's round trip alone.
    rss_first_kib: u64,
    /// Its anonymous part (`RssAnon`).
    anon_first_kib: u64,
    /// After every connection's.
    rss_warm_kib: u64,
}

struct Conn {
    stream: TcpStream,
    out: Vec<u8>,
    inbox: usize,
    pending: VecDeque<Instant>,
}

/// The open-loop client (module doc).
fn drive(addr: SocketAddr, conns: usize, rate: u64, run_for: Duration) -> Report {
    let connect = || {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Conn {
            stream,
            out: Vec::new(),
            inbox: 0,
            pending: VecDeque::new(),
        }
    };
    // Warm-up: one round trip per connection, blocking; the first connection's alone first
    // (memory: module doc).
    let mut buf = [0u8; 4096];
    let mut warm = |c: &mut Conn| {
        c.stream.write_all(&[7u8; MESSAGE]).expect("warm write");
        c.stream.read_exact(&mut buf[..MESSAGE]).expect("warm read");
        c.stream.set_nonblocking(true).expect("nonblocking");
    };
    let mut cs: Vec<Conn> = Vec::with_capacity(conns);
    cs.push(connect());
    warm(&mut cs[0]);
    let (rss_first_kib, anon_first_kib) = (status_kib("VmRSS:"), status_kib("RssAnon:"));
    cs.extend((1..conns).map(|_| connect()));
    cs[1..].iter_mut().for_each(&mut warm);
    let rss_warm_kib = status_kib("VmRSS:");
    let requests = (rate as f64 * run_for.as_secs_f64()) as u64;
    let mut latency_ns = Vec::with_capacity(requests as usize);
    let cpu0 = (
        rusage_full(libc::RUSAGE_SELF),
        rusage_full(libc::RUSAGE_THREAD),
    );
    let t0 = Instant::now();
    let due = |k: u64| t0 + Duration::from_nanos(k * 1_000_000_000 / rate);
    let mut next = 0u64;
    let deadline = t0 + run_for + Duration::from_secs(10);
    while (latency_ns.len() as u64) < requests {
        let now = Instant::now();
        assert!(now < deadline, "the server did not answer everything");
        while next < requests && due(next) <= now {
            let c = &mut cs[(next % conns as u64) as usize];
            c.out.extend_from_slice(&[next as u8; MESSAGE]);
            c.pending.push_back(due(next));
            next += 1;
        }
        for c in &mut cs {
            flush(c);
            receive(c, &mut buf, &mut latency_ns);
        }
        let wait = if next < requests {
            due(next).saturating_duration_since(Instant::now())
        } else {
            Duration::from_millis(1)
        };
        poll(&cs, wait);
    }
    let cpu1 = (
        rusage_full(libc::RUSAGE_SELF),
        rusage_full(libc::RUSAGE_THREAD),
    );
    latency_ns.sort_unstable();
    Report {
        latency_ns,
        server_cpu_ns: (cpu1.0.0 - cpu0.0.0).saturating_sub(cpu1.1.0 - cpu0.1.0),
        server_switches: (cpu1.0.1 - cpu0.0.1).saturating_sub(cpu1.1.1 - cpu0.1.1),
        rss_first_kib,
        anon_first_kib,
        rss_warm_kib,
    }
}

fn flush(c: &mut Conn) {
    while !c.out.is_empty() {
        match c.stream.write(&c.out) {
            Ok(n) => {
                c.out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("write: {e}"),
        }
    }
}

fn receive(c: &mut Conn, buf: &mut [u8], latency_ns: &mut Vec<u64>) {
    loop {
        match c.stream.read(buf) {
            Ok(0) => panic!("server closed"),
            Ok(n) => c.inbox += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    let now = Instant::now();
    while c.inbox >= MESSAGE {
        c.inbox -= MESSAGE;
        let scheduled = c.pending.pop_front().expect("reply nobody asked for");
        latency_ns.push(now.duration_since(scheduled).as_nanos() as u64);
    }
}

fn poll(cs: &[Conn], wait: Duration) {
    let mut fds: Vec<libc::pollfd> = cs
        .iter()
        .map(|c| libc::pollfd {
            fd: c.stream.as_raw_fd(),
            events: libc::POLLIN | if c.out.is_empty() { 0 } else { libc::POLLOUT },
            revents: 0,
        })
        .collect();
    let ts = libc::timespec {
        tv_sec: wait.as_secs() as _,
        tv_nsec: wait.subsec_nanos() as _,
    };
    // SAFETY: `fds` is a valid array of `fds.len()` pollfds that outlives the call; `ts` is
    // a valid timespec; a null sigmask leaves the mask alone.
    unsafe {
        libc::ppoll(fds.as_mut_ptr(), fds.len() as _, &ts, std::ptr::null());
    }
}

/// CPU time (user + system) of `who`, in ns.
fn rusage(who: libc::c_int) -> u64 {
    rusage_full(who).0
}

/// CPU time of `who` in ns, and its context switches (voluntary + involuntary).
fn rusage_full(who: libc::c_int) -> (u64, u64) {
    // SAFETY: getrusage writes one rusage into the zeroed struct we pass.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    (
        tv(ru.ru_utime) + tv(ru.ru_stime),
        (ru.ru_nvcsw + ru.ru_nivcsw) as u64,
    )
}

/// A `kB` field of /proc/self/status.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("status")
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// An idle pool's CPU and context switches per second.
fn idle(secs: u64) {
    let pool = switchyard::scheduler::pool::Pool::builder()
        .workers(WORKERS)
        .build()
        .expect("pool");
    // Let the workers reach their first sleep.
    pool.block_on(pool.spawn(async {})).expect("task");
    // /proc/self/status counts the main thread only: sum every thread's.
    let switches = || -> u64 {
        std::fs::read_dir("/proc/self/task")
            .expect("tasks")
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("status")).ok())
            .flat_map(|status| {
                status
                    .lines()
                    .filter(|l| l.contains("ctxt_switches:"))
                    .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                    .collect::<Vec<_>>()
            })
            .sum()
    };
    let (c0, s0, t0) = (rusage(libc::RUSAGE_SELF), switches(), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    let (c1, s1, dt) = (
        rusage(libc::RUSAGE_SELF),
        switches(),
        t0.elapsed().as_secs_f64(),
    );
    println!(
        "idle pool: {:.3} ms CPU per second, {:.1} context switches per second (all threads), {} hand-offs",
        (c1 - c0) as f64 / 1e6 / dt,
        (s1 - s0) as f64 / dt,
        pool.metrics().hand_offs
    );
}
