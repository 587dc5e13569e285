//! Experiment `echo`: a TCP echo server on loopback, driven by an open-loop client.
//!
//! The model serves echo ([`Model::echo_serve`]) on a listener the lab binds on 127.0.0.1;
//! the client opens 100 connections and sends 64-byte messages at a fixed total rate
//! (default 10,000 and 50,000 requests/s for 2 s each; quick: 10,000/s for 0.5 s), request
//! `k` on connection `k mod 100` at its *scheduled* time `t0 + k / rate`, whether or not
//! earlier replies came back (open loop: a slow server does not slow the client down). Then
//! the first rate again over [`MANY_CONNECTIONS`] (variant `rate=<r>,conns=1000`), where the
//! descriptor limit allows it ([`descriptors_needed`]; a skip naming the limit otherwise).
//!
//! Method:
//!
//! 1. **Client.** One thread of its own ([`run_client`]), on the last CPU when the machine has
//!    two or more (the measured server keeps CPU 0), with plain non-blocking std sockets and
//!    `ppoll(2)` (rustix `poll` with a nanosecond timeout, timer slack set to 1 ns so the
//!    kernel does not defer the wake-up by its default 50 µs). It sends every request whose
//!    time has come, then waits in `ppoll` until the next one is due or a reply arrives. One
//!    thread is enough: a send or a read is one syscall of a few µs, and at 50,000 requests/s
//!    that is a fraction of one core; the note gives the client's own lag (actual send -
//!    scheduled send, p99) so a reader can see when the client, not the server, was late.
//! 2. **Warm-up.** Before the clock starts, one message round-trips on every connection, so
//!    accepting the connections is not measured.
//! 3. **Latency, corrected for coordinated omission.** A reply's latency is its arrival time
//!    minus its request's *scheduled* send time, not its actual send time: if the server
//!    stalls, the requests that queue behind the stall are charged for it. Replies arrive in
//!    order on each connection, so each connection keeps a queue of its requests' scheduled
//!    times. Row `rate=<r>` / `lateness` (ns, p50 .. max filled).
//! 4. **Throughput.** Row `rate=<r>` / `ops_per_sec`: replies / (last reply - t0). Open loop,
//!    so it equals the rate while the server keeps up and falls behind when it does not.
//! 5. **Every reply is checked byte for byte** against the message sent (sequence number,
//!    connection number and a pattern derived from both): a wrong or missing byte is an error,
//!    recorded as a failure in `skipped`, never a figure. So is a server that has not answered
//!    everything [`DRAIN`] after the last request.
//! 6. **Server CPU.** Row `rate=<r>` / `cpu_ns_per_op`: the server's CPU time from t0 to the
//!    last reply / replies. The client runs in the same process on a thread of its own, so it
//!    reads, at t0 and after the last reply, the process's CPU time (`getrusage`), its own
//!    thread's, and that of the processes the model named ([`ServerProcesses`]); the server's
//!    is the first minus the second plus the third, between the two readings (`Cpu`).
//!
//! The client polls only the connections that await a reply, so idle ones cost it nothing
//! (at 1,000 connections, a `poll` over all of them per wake-up would take the client's
//! whole CPU). A client that fails connects once per connection it owed and closes at once,
//! so a server still waiting in `accept` returns.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::num::NonZeroU64;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rustix::event::{PollFd, PollFlags, Timespec};

use super::{Ctx, Experiment, Size, Sizing, histogram_row};
use crate::machine;
use crate::models::{ECHO_BUFFER, Model, ServerProcesses};
use crate::results::Row;
use crate::stats;

/// See the [module docs](self).
pub struct Echo;

const NAME: &str = "echo";

/// docs/lab.md: 64-byte messages.
pub const MESSAGE: usize = 64;

/// How long the client waits for the last replies after the last request was due.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Requests per connection the client makes room for before the run (more grow the buffers,
/// outside the steady state: at 50,000/s over 100 connections one is in flight per 2 ms).
const QUEUED: usize = 16;

/// The longest the client sleeps in one `ppoll`, so it notices an abort (the server failed).
const POLL_CAP: Duration = Duration::from_millis(10);

/// What one rate's run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Connections.
    pub connections: u64,
    /// Requests per second, all connections together.
    pub rate: u64,
    /// How long requests are sent for.
    pub run_for: Duration,
}

impl Workload {
    /// Requests in all.
    pub fn requests(&self) -> u64 {
        (self.rate as u128 * self.run_for.as_millis() / 1_000) as u64
    }

    /// When request `k` is due, after `t0`.
    pub fn due(&self, k: u64) -> Duration {
        Duration::from_nanos((k as u128 * 1_000_000_000 / self.rate.max(1) as u128) as u64)
    }
}

/// docs/lab.md: 100 connections (tiny: 10).
const CONNECTIONS: Size = Size {
    full: 100,
    quick: 100,
    tiny: 10,
};

/// docs/lab.md: the many-connections variant, `conns=1000`, in a full run and a tiny one (the
/// tests'); `--quick` leaves it out, to stay within its budget (connecting and draining 1,000
/// connections per model doubled the quick echo's time).
pub const MANY_CONNECTIONS: u64 = 1_000;

/// File descriptors a run of `connections` needs: the client's end and the server's end of
/// each connection, plus room for the lab's own (listener, pipes, the fork server's channel,
/// the reactors').
pub fn descriptors_needed(connections: u64) -> u64 {
    2 * connections + 64
}

/// Total request rates, requests/s: a light load and one five times heavier (picked so that
/// every model keeps up with the first on a 2-core machine and the second shows who does not).
const RATES: &[u64] = &[10_000, 50_000];
/// The one rate of a quick run, and of a tiny one.
const QUICK_RATE: u64 = 10_000;
const TINY_RATE: u64 = 2_000;

/// How long each rate sends, in ms.
const RUN_MS: Size = Size {
    full: 2_000,
    quick: 500,
    tiny: 100,
};

/// The workloads of `sizing`: one per rate on the default connections (variant
/// `rate=<r>`), then, but in a quick run, the lighter rate on [`MANY_CONNECTIONS`] (variant
/// `rate=<r>,conns=1000`).
pub fn workloads(sizing: Sizing) -> Vec<Workload> {
    let rates: &[u64] = match sizing {
        Sizing::Full => RATES,
        Sizing::Quick => &[QUICK_RATE],
        Sizing::Tiny => &[TINY_RATE],
    };
    let run_for = Duration::from_millis(sizing.pick(RUN_MS));
    let mut all: Vec<Workload> = rates
        .iter()
        .map(|&rate| Workload {
            connections: sizing.pick(CONNECTIONS),
            rate,
            run_for,
        })
        .collect();
    if sizing != Sizing::Quick {
        all.push(Workload {
            connections: MANY_CONNECTIONS,
            rate: rates[0],
            run_for,
        });
    }
    all
}

impl Workload {
    /// Its row's variant (docs/lab.md): `rate=<r>`, with `,conns=<n>` for the
    /// many-connections run.
    pub fn variant(&self) -> String {
        if self.connections == MANY_CONNECTIONS {
            format!("rate={},conns={}", self.rate, self.connections)
        } else {
            format!("rate={}", self.rate)
        }
    }
}

/// Request `seq` on connection `conn`: its sequence number and connection number (little
/// endian), then a pattern derived from both, so a reply can be checked on its own.
pub fn message(seq: u64, conn: u64) -> [u8; MESSAGE] {
    let mut m = [0u8; MESSAGE];
    m[..8].copy_from_slice(&seq.to_le_bytes());
    m[8..16].copy_from_slice(&conn.to_le_bytes());
    for (j, byte) in m.iter_mut().enumerate().skip(16) {
        // 31 and 7: small odd multipliers, so neighbouring messages differ in every byte.
        *byte =
            (seq.wrapping_mul(31).wrapping_add(conn.wrapping_mul(7)) as u8).wrapping_add(j as u8);
    }
    m
}

/// What the client measured.
#[derive(Debug, Clone)]
pub struct ClientReport {
    /// Latency of each reply from its request's scheduled send time, ns.
    pub latency: Histogram<u64>,
    /// The client's own lag: actual send - scheduled send, ns.
    pub send_lag: Histogram<u64>,
    /// Replies received (and checked).
    pub replies: u64,
    /// From t0 to the last reply.
    pub elapsed: Duration,
    /// The server's CPU time over the same interval (see the [module docs](self), 6).
    pub server_cpu: Duration,
}

/// CPU time of the server so far, read by the client thread: every thread of this process
/// (`getrusage(RUSAGE_SELF)`) but the client's own (`CLOCK_THREAD_CPUTIME_ID`, read on the
/// client thread), plus every process the model named ([`ServerProcesses`]: the sum of
/// `/proc/PID/task/*/schedstat`). The difference of two readings is the server's CPU time
/// between them.
#[derive(Debug, Clone, Copy)]
struct Cpu {
    process: u64,
    client: u64,
    others: u64,
}

impl Cpu {
    /// Reads it now; call on the client thread.
    fn now(processes: &[i32]) -> Cpu {
        Cpu {
            others: processes
                .iter()
                .map(|&pid| machine::other_process_cpu_ns(pid).unwrap_or(0))
                .sum(),
            client: machine::thread_cpu_ns(),
            process: machine::process_cpu_ns(),
        }
    }

    /// The server's CPU time from `self` to `later`.
    fn server_until(self, later: Cpu) -> Duration {
        let process = later.process.saturating_sub(self.process);
        let client = later.client.saturating_sub(self.client);
        let others = later.others.saturating_sub(self.others);
        Duration::from_nanos(process.saturating_sub(client) + others)
    }
}

/// One client connection: its socket, what is still to be written, what was read but not yet
/// checked, and the scheduled times of the requests whose replies are still due.
struct Conn {
    stream: TcpStream,
    out: Vec<u8>,
    inbox: Vec<u8>,
    pending: VecDeque<(u64, Instant)>,
}

impl Conn {
    /// Writes as much of `out` as the socket takes.
    fn flush(&mut self) -> Result<(), String> {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => return Err("the server closed a connection".to_owned()),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("write failed: {e}")),
            }
        }
        Ok(())
    }

    /// Reads what is there and checks every whole reply; calls `reply(scheduled)` for each.
    fn receive(&mut self, conn: u64, mut reply: impl FnMut(Instant)) -> Result<(), String> {
        let mut buf = [0u8; ECHO_BUFFER];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return Err("the server closed a connection early".to_owned()),
                Ok(n) => self.inbox.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read failed: {e}")),
            }
        }
        let whole = self.inbox.len() / MESSAGE;
        for chunk in self.inbox.chunks_exact(MESSAGE).take(whole) {
            let Some((seq, scheduled)) = self.pending.pop_front() else {
                return Err(format!("connection {conn}: a reply nobody asked for"));
            };
            if chunk != message(seq, conn) {
                return Err(format!(
                    "connection {conn}: reply to request {seq} differs from the request"
                ));
            }
            reply(scheduled);
        }
        self.inbox.drain(..whole * MESSAGE);
        Ok(())
    }
}

fn nanos(d: Duration) -> u64 {
    d.as_nanos().min(u128::from(u64::MAX)) as u64
}

/// Waits up to `timeout` for any connection that expects a reply to be readable (or
/// writable, where output waits); an idle connection has nothing to say, so 1,000 of them
/// cost the wait nothing.
fn wait(conns: &[Conn], timeout: Duration) -> Result<(), String> {
    let mut fds: Vec<PollFd<'_>> = conns
        .iter()
        .filter(|c| !c.pending.is_empty() || !c.out.is_empty())
        .map(|c| {
            let mut flags = PollFlags::IN;
            if !c.out.is_empty() {
                flags |= PollFlags::OUT;
            }
            PollFd::new(&c.stream, flags)
        })
        .collect();
    let timeout = Timespec {
        tv_sec: timeout.as_secs() as _,
        tv_nsec: timeout.subsec_nanos() as _,
    };
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
        Err(e) => Err(format!("poll failed: {e}")),
    }
}

/// The open-loop client (see the [module docs](self)): connects to `addr`, warms up, sends
/// `work` on schedule, checks every reply, closes. Stops early with an error when `abort`
/// is set (the server failed).
pub fn run_client(
    addr: SocketAddr,
    work: Workload,
    abort: &AtomicBool,
    processes: &ServerProcesses,
) -> Result<ClientReport, String> {
    let _ = rustix::thread::set_current_timer_slack(NonZeroU64::new(1));
    let mut conns = Vec::with_capacity(work.connections as usize);
    for _ in 0..work.connections {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect failed: {e}"))?;
        stream
            .set_nodelay(true)
            .and_then(|()| stream.set_nonblocking(true))
            .map_err(|e| format!("socket options failed: {e}"))?;
        conns.push(Conn {
            stream,
            out: Vec::with_capacity(QUEUED * MESSAGE),
            inbox: Vec::with_capacity(QUEUED * MESSAGE),
            pending: VecDeque::with_capacity(QUEUED),
        });
    }
    // 2. Warm-up: one round trip per connection, sequence numbers u64::MAX - conn.
    let warm_until = Instant::now() + DRAIN;
    for (i, c) in conns.iter_mut().enumerate() {
        let seq = u64::MAX - i as u64;
        c.out.extend_from_slice(&message(seq, i as u64));
        c.pending.push_back((seq, Instant::now()));
        c.flush()?;
    }
    let mut warm = 0;
    while warm < conns.len() {
        if abort.load(Ordering::Relaxed) || Instant::now() > warm_until {
            return Err("the server did not answer the warm-up".to_owned());
        }
        wait(&conns, POLL_CAP)?;
        for (i, c) in conns.iter_mut().enumerate() {
            c.flush()?;
            c.receive(i as u64, |_| warm += 1)?;
        }
    }

    // 1, 3. The measured run.
    let mut latency = stats::new_histogram();
    let mut send_lag = stats::new_histogram();
    let requests = work.requests();
    let n = work.connections;
    let mut next = 0u64;
    let mut replies = 0u64;
    let mut last_reply = Instant::now();
    let pids = processes.pids();
    let cpu0 = Cpu::now(&pids);
    let t0 = Instant::now();
    let drain_until = t0 + work.run_for + DRAIN;
    while replies < requests {
        let now = Instant::now();
        if abort.load(Ordering::Relaxed) {
            return Err("the server stopped".to_owned());
        }
        if now > drain_until {
            return Err(format!(
                "{} of {requests} replies still missing {} s after the last request",
                requests - replies,
                DRAIN.as_secs()
            ));
        }
        while next < requests && t0 + work.due(next) <= now {
            let scheduled = t0 + work.due(next);
            let conn = next % n;
            let seq = next / n;
            let c = &mut conns[conn as usize];
            c.out.extend_from_slice(&message(seq, conn));
            c.pending.push_back((seq, scheduled));
            stats::record(
                &mut send_lag,
                nanos(now.saturating_duration_since(scheduled)),
            );
            next += 1;
        }
        for c in conns.iter_mut().filter(|c| !c.out.is_empty()) {
            c.flush()?;
        }
        let timeout = if next < requests {
            (t0 + work.due(next)).saturating_duration_since(Instant::now())
        } else {
            POLL_CAP
        };
        wait(&conns, timeout.min(POLL_CAP))?;
        for (i, c) in conns.iter_mut().enumerate() {
            if c.pending.is_empty() {
                continue;
            }
            let arrived = Instant::now();
            c.receive(i as u64, |scheduled| {
                stats::record(
                    &mut latency,
                    nanos(arrived.saturating_duration_since(scheduled)),
                );
                replies += 1;
                last_reply = arrived;
            })?;
        }
    }
    let server_cpu = cpu0.server_until(Cpu::now(&pids));
    // Closing the sockets ends the server's connections, and with them `echo_serve`.
    drop(conns);
    Ok(ClientReport {
        latency,
        send_lag,
        replies,
        elapsed: last_reply.saturating_duration_since(t0),
        server_cpu,
    })
}

/// Runs one workload against `model`: binds, starts the client thread, serves, joins.
fn measure(model: &dyn Model, work: Workload) -> Result<ClientReport, String> {
    let (soft, hard) = machine::nofile_limit();
    let needed = descriptors_needed(work.connections);
    if soft < needed {
        return Err(format!(
            "{} connections need RLIMIT_NOFILE of at least {needed} (two descriptors per connection and the lab's own); this process may open {soft} (hard limit {hard}, the lab raised the soft limit to it at start): raise the hard limit (`ulimit -Hn`, limits.conf) to measure it",
            work.connections
        ));
    }
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind failed: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("local_addr failed: {e}"))?;
    let abort = Arc::new(AtomicBool::new(false));
    let processes = Arc::new(ServerProcesses::default());
    let client = std::thread::Builder::new()
        .name("lab-echo-client".to_owned())
        .spawn({
            let (abort, processes) = (Arc::clone(&abort), Arc::clone(&processes));
            move || {
                let cores = machine::cores();
                if cores > 1 {
                    machine::pin_current(cores - 1);
                }
                let report = run_client(addr, work, &abort, &processes);
                if report.is_err() && !abort.load(Ordering::Relaxed) {
                    // The server may still wait to accept the connections the client never
                    // made: these end at once, so it returns.
                    for _ in 0..work.connections {
                        drop(TcpStream::connect(addr));
                    }
                }
                report
            }
        })
        .map_err(|e| format!("could not start the client thread: {e}"))?;
    let served = model.echo_serve(listener, work.connections, &processes);
    if served.is_err() {
        abort.store(true, Ordering::Relaxed);
    }
    let report = client
        .join()
        .map_err(|_| "the client thread panicked".to_owned())?;
    match served {
        Err(skip) => Err(skip.0),
        Ok(()) => report.map_err(|e| format!("failed: {e}")),
    }
}

fn throughput_row(model: &str, variant: &str, report: &ClientReport, note: String) -> Row {
    let secs = report.elapsed.as_secs_f64();
    let value = if secs > 0.0 {
        report.replies as f64 / secs
    } else {
        0.0
    };
    Row::single(
        NAME,
        model,
        variant,
        "ops_per_sec",
        "ops/s",
        report.replies,
        value,
        Some(note),
    )
}

/// Row `cpu_ns_per_op`: the server's CPU time over the measured interval per reply.
fn cpu_row(model: &str, variant: &str, report: &ClientReport) -> Row {
    let value = report.server_cpu.as_nanos() as f64 / report.replies.max(1) as f64;
    let note = format!(
        "server CPU {} µs over the measured interval (t0 to the last reply): getrusage(RUSAGE_SELF) minus the client thread's CLOCK_THREAD_CPUTIME_ID, plus the server's other processes (/proc/PID/task/*/schedstat), / replies",
        report.server_cpu.as_micros()
    );
    Row::single(
        NAME,
        model,
        variant,
        "cpu_ns_per_op",
        "ns",
        report.replies,
        value,
        Some(note),
    )
}

impl Experiment for Echo {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> &'static str {
        "TCP echo on loopback, 100 and 1,000 connections, open-loop client at a fixed rate, 64-byte messages, server CPU per request"
    }

    fn variants(&self) -> &'static str {
        "rate=<r>, rate=<r>,conns=1000 (metrics lateness with percentiles, corrected for coordinated omission; ops_per_sec; cpu_ns_per_op)"
    }

    fn steps(&self, _model: &dyn Model, ctx: &Ctx) -> u64 {
        workloads(ctx.sizing).len() as u64
    }

    fn run(&self, model: &dyn Model, ctx: &mut Ctx) {
        let name = model.name();
        for work in workloads(ctx.sizing) {
            let variant = work.variant();
            match measure(model, work) {
                Ok(report) => {
                    let note = format!(
                        "{} connections, {} requests of {MESSAGE} B over {} ms, every reply checked; latency from the scheduled send time; client lag p99 {} ns",
                        work.connections,
                        work.requests(),
                        work.run_for.as_millis(),
                        report.send_lag.value_at_quantile(0.99)
                    );
                    ctx.rows.push(histogram_row(
                        (NAME, name, &variant, "lateness"),
                        &report.latency,
                        report.replies,
                        Some(note.clone()),
                    ));
                    ctx.rows.push(throughput_row(name, &variant, &report, note));
                    ctx.rows.push(cpu_row(name, &variant, &report));
                }
                Err(why) => ctx.skip(NAME, name, Some(&variant), why),
            }
            ctx.step(name, &variant);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_differ_in_sequence_and_connection() {
        assert_eq!(message(3, 4), message(3, 4));
        assert_ne!(message(3, 4), message(4, 4));
        assert_ne!(message(3, 4), message(3, 5));
        assert_eq!(message(3, 4).len(), MESSAGE);
    }

    #[test]
    fn each_sizing_ends_with_the_thousand_connection_variant_named_by_the_rules() {
        let names =
            |sizing| -> Vec<String> { workloads(sizing).iter().map(Workload::variant).collect() };
        assert_eq!(
            names(Sizing::Full),
            ["rate=10000", "rate=50000", "rate=10000,conns=1000"]
        );
        assert_eq!(names(Sizing::Quick), ["rate=10000"]);
        assert_eq!(names(Sizing::Tiny), ["rate=2000", "rate=2000,conns=1000"]);
        // Two ends per connection, beyond the usual soft limit of 1,024.
        assert!(descriptors_needed(MANY_CONNECTIONS) > 2 * MANY_CONNECTIONS);
    }

    #[test]
    fn requests_are_spread_evenly_over_the_run() {
        let work = Workload {
            connections: 100,
            rate: 10_000,
            run_for: Duration::from_millis(500),
        };
        assert_eq!(work.requests(), 5_000);
        assert_eq!(work.due(0), Duration::ZERO);
        assert_eq!(work.due(10_000), Duration::from_secs(1));
        assert_eq!(work.due(1), Duration::from_micros(100));
    }

    #[test]
    fn the_client_checks_replies_against_a_std_echo_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let work = Workload {
            connections: 3,
            rate: 3_000,
            run_for: Duration::from_millis(20),
        };
        let server = std::thread::spawn(move || {
            let mut threads = Vec::new();
            for _ in 0..work.connections {
                let (mut stream, _) = listener.accept().unwrap();
                threads.push(std::thread::spawn(move || {
                    let mut buf = [0u8; 256];
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => stream.write_all(&buf[..n]).unwrap(),
                        }
                    }
                }));
            }
            for t in threads {
                t.join().unwrap();
            }
        });
        let report = run_client(
            addr,
            work,
            &AtomicBool::new(false),
            &ServerProcesses::default(),
        )
        .unwrap();
        server.join().unwrap();
        assert_eq!(report.replies, 60);
        assert_eq!(report.latency.len(), 60);
    }

    #[test]
    fn the_client_rejects_a_wrong_byte() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let work = Workload {
            connections: 1,
            rate: 1_000,
            run_for: Duration::from_millis(10),
        };
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 256];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        // Corrupts the last byte of whatever it echoes.
                        buf[n - 1] ^= 0xFF;
                        if stream.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let err = run_client(
            addr,
            work,
            &AtomicBool::new(false),
            &ServerProcesses::default(),
        )
        .unwrap_err();
        server.join().unwrap();
        assert!(err.contains("differs"), "{err}");
    }
}
