"""Experiment `echo` for Python's models (docs/lab.md): a TCP echo server on loopback, served by
the model in a process of its own, driven by an open-loop client in this process.

Servers (`echo.py --serve MODEL` prints {"port": P, "pids": [...]}, the processes that serve,
and serves until its stdin closes):
* py-asyncio: asyncio.start_server, one coroutine per connection (read, write, drain);
* py-threading: one thread per connection (recv, sendall), accepted by the main thread;
* py-multiprocessing: pre-forked: one worker process per CPU of --cpus, all accepting on the shared
  listening socket (as gunicorn does), each serving its connections with a selectors loop.

Client: 100 connections (tiny: 10), 64-byte messages, request k on connection k mod C at its
scheduled time t0 + k / rate whether or not earlier replies came back. A reply's lateness is
its arrival time minus its request's *scheduled* time (corrected for coordinated omission);
every reply is checked byte for byte. One message round-trips on every connection before the
clock starts. Rows `rate=<r>`: `lateness` (ns, percentiles), `ops_per_sec` and
`cpu_ns_per_op`, at the lab's rates, 10,000/s and 50,000/s (quick: 10,000/s), a fresh server
for each; then, but in quick, the first rate again over 1,000 connections (`rate=<r>,conns=1000`),
or a skip naming the descriptor limit where RLIMIT_NOFILE's hard limit is below what it needs.

Server CPU (`cpu_ns_per_op`): the server runs in processes of its own (the --serve process and,
for py-multiprocessing, its workers, whose pids it announces), so no client time needs taking
out: the client sums the first field of /proc/PID/task/*/schedstat (the scheduler's run time in
ns, user + system, as the Rust models' `other_process_cpu_ns`) over those processes just before
t0 and just after the last reply, and divides the difference by the replies. A thread that
exits in between would take its time with it; none does (a connection's thread lives until the
client closes it, after the second reading). The client is Python
too: its own lag (actual send - scheduled send, p99) is in the note, so a row where the client,
not the server, fell behind says so. (It used to build each message byte by byte, 5 to 10 µs
twice per request, and could not send more than about 10,000/s; with the tails built once it
kept up with 40,000/s on a loaded 2-core VM.)
"""

import asyncio
import collections
import json
import os
import selectors
import socket
import subprocess
import sys
import threading

import labcommon as lc

EXP = "echo"
MESSAGE = 64
DRAIN_NS = 10_000_000_000
MANY_CONNECTIONS = 1_000  # docs/lab.md: the `conns=1000` variant (not in quick)


# The 48 bytes after a message's head depend only on one byte, `base`: built once here, so
# that making (and checking) a message costs the client about 1 µs instead of about 5 to 10
# (a generator of 48 items per message had made the client, not the server, the limit).
TAILS = [bytes((base + j) & 0xFF for j in range(16, MESSAGE)) for base in range(256)]


def message(seq, conn):
    head = seq.to_bytes(8, "little") + conn.to_bytes(8, "little")
    return head + TAILS[(seq * 31 + conn * 7) & 0xFF]


# ---- servers ----

def _wait_for_stdin_close():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except OSError:
        pass


def _listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1024)
    return s


def _announce(port, workers=()):
    pids = [os.getpid()] + [p.pid for p in workers]
    print(json.dumps({"port": port, "pids": pids}), flush=True)


def serve_asyncio(_workers):
    async def handle(reader, writer):
        writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def main():
        sock = _listener()
        server = await asyncio.start_server(handle, sock=sock)
        _announce(sock.getsockname()[1])
        await asyncio.get_running_loop().run_in_executor(None, _wait_for_stdin_close)
        server.close()

    asyncio.run(main())


def serve_threads(_workers):
    sock = _listener()

    def handle(conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    def accept():
        while True:
            conn, _ = sock.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    _announce(sock.getsockname()[1])
    _wait_for_stdin_close()


def _prefork_worker(sock):
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, None)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    continue  # another worker took it
                conn.setblocking(False)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(conn, selectors.EVENT_READ, True)
            else:
                conn = key.fileobj
                try:
                    data = conn.recv(4096)
                except BlockingIOError:
                    continue
                if not data:
                    sel.unregister(conn)
                    conn.close()
                    continue
                conn.setblocking(True)  # a 64-byte echo fits the send buffer
                conn.sendall(data)
                conn.setblocking(False)


def serve_processes(workers):
    ctx = lc.mp_context()
    sock = _listener()
    workers = [ctx.Process(target=_prefork_worker, args=(sock,), daemon=True)
               for _ in range(workers)]
    for p in workers:
        p.start()
    _announce(sock.getsockname()[1], workers)
    _wait_for_stdin_close()
    for p in workers:
        p.kill()


SERVERS = {"py-asyncio": serve_asyncio, "py-threading": serve_threads,
           "py-multiprocessing": serve_processes}


# ---- the client ----

def server_cpu_ns(pids):
    """CPU time so far of every thread of `pids` (ns): /proc/PID/task/*/schedstat's first field."""
    total = 0
    for pid in pids:
        base = "/proc/%d/task" % pid
        for tid in os.listdir(base):
            try:
                with open("%s/%s/schedstat" % (base, tid)) as f:
                    total += int(f.read().split()[0])
            except FileNotFoundError:
                pass  # a thread that just ended
    return total


def descriptors(connections):
    """Raises the soft RLIMIT_NOFILE to the hard limit; None if that covers `connections`
    (one descriptor each in the client and in the server, plus 64 for the rest), else why not."""
    import resource

    need = connections + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        return ("%d connections need %d file descriptors per process (client and server), "
                "RLIMIT_NOFILE's hard limit is %d" % (connections, need, hard))
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return None


def drive(port, connections, rate, run_ns, pids):
    conns = []
    for c in range(connections):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conns.append(s)
    for c, s in enumerate(conns):  # warm-up: one round trip per connection
        m = message(0, c)
        s.sendall(m)
        got = b""
        while len(got) < MESSAGE:
            part = s.recv(MESSAGE - len(got))
            if not part:
                raise RuntimeError("the server closed connection %d during warm-up" % c)
            got += part
        if got != m:
            raise RuntimeError("wrong warm-up reply on connection %d" % c)
    sel = selectors.DefaultSelector()
    for c, s in enumerate(conns):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, c)
    total = rate * run_ns // 1_000_000_000
    pending = [collections.deque() for _ in conns]  # (seq, scheduled) per connection
    buffers = [b""] * connections
    late, lag = [], []
    sent = replies = 0
    last_reply = 0
    cpu0 = server_cpu_ns(pids)
    t0 = lc.now()
    give_up = t0 + run_ns + DRAIN_NS
    while replies < total:
        now = lc.now()
        if now > give_up:
            raise RuntimeError("the server answered %d of %d requests" % (replies, total))
        while sent < total and t0 + sent * 1_000_000_000 // rate <= now:
            c = sent % connections
            due = t0 + sent * 1_000_000_000 // rate
            conns[c].sendall(message(sent + 1, c))
            lag.append(lc.now() - due)
            pending[c].append((sent + 1, due))
            sent += 1
            now = lc.now()
        timeout = 0.01
        if sent < total:
            timeout = max(0.0, min(timeout, (t0 + sent * 1_000_000_000 // rate - now) / 1e9))
        for key, _ in sel.select(timeout):
            c = key.data
            data = key.fileobj.recv(65536)
            if not data:
                raise RuntimeError("the server closed connection %d" % c)
            at = lc.now()
            buf = buffers[c] + data
            while len(buf) >= MESSAGE:
                reply, buf = buf[:MESSAGE], buf[MESSAGE:]
                if not pending[c]:
                    raise RuntimeError("an unrequested reply on connection %d" % c)
                seq, due = pending[c].popleft()
                if reply != message(seq, c):
                    raise RuntimeError("a wrong reply on connection %d (request %d)" % (c, seq))
                late.append(at - due)
                replies += 1
                last_reply = at
            buffers[c] = buf
    cpu = server_cpu_ns(pids) - cpu0
    for s in conns:
        s.close()
    return late, lag, replies * 1e9 / max(1, last_reply - t0), cpu


def main():
    if len(sys.argv) in (3, 4) and sys.argv[1] == "--serve":
        workers = int(sys.argv[3]) if len(sys.argv) == 4 else len(lc.cpus())
        SERVERS[sys.argv[2]](workers)
        return
    a = lc.parse_args(EXP)
    m = a.model
    rates = a.pick([10_000, 50_000], [10_000], [1_000])
    run_ms = a.pick(600, 250, 200)
    connections = a.pick(100, 100, 10)
    cpus = lc.cpus()
    # The server inherits this script's mask (pinned with --pin); the client then moves to
    # the last CPU, as the lab's own client does, so it does not compete with the server.
    client_cpu = cpus[-1] if len(cpus) > 1 else None
    start_mask = os.sched_getaffinity(0)
    runs = [(rate, connections) for rate in rates]
    if a.size != "quick":
        runs.append((rates[0], MANY_CONNECTIONS))
    for rate, conns in runs:
        if conns == MANY_CONNECTIONS:
            why = descriptors(conns)
            if why is not None:
                lc.skip(EXP, m, variant_of(rate, conns), why)
                continue
        # Each rate's server starts with the script's own mask, not the client's CPU.
        lc.unpin(start_mask)
        one_rate(m, rate, run_ms, conns, client_cpu)


def variant_of(rate, connections):
    if connections == MANY_CONNECTIONS:
        return "rate=%d,conns=%d" % (rate, connections)
    return "rate=%d" % rate


def one_rate(m, rate, run_ms, connections, client_cpu):
    server = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", m,
                               str(len(lc.cpus()))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if client_cpu is not None:
        lc.pin(client_cpu)
    try:
        line = server.stdout.readline()
        if not line:
            raise RuntimeError("the %s echo server did not start (exit %s)" % (m, server.wait()))
        announced = json.loads(line)
        late, lag, ops, cpu = drive(announced["port"], connections, rate, run_ms * 1_000_000,
                                    announced["pids"])
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    how = {"py-asyncio": "asyncio.start_server, a coroutine per connection",
           "py-threading": "a thread per connection",
           "py-multiprocessing": "%d pre-forked worker processes sharing the listening socket, "
                                 "a selectors loop each" % len(lc.cpus())}[m]
    lag.sort()
    note = ("%s; %d connections, %d requests/s for %d ms, a Python open-loop client%s "
            "(its own lag p99 %.0f µs); %s" % (
                how, connections, rate, run_ms,
                "" if client_cpu is None else " on CPU %d" % client_cpu,
                lc.percentile(lag, 0.99) / 1e3, lc.scaled(2_000, run_ms) + " ms"))
    variant = variant_of(rate, connections)
    lc.hist_row(EXP, m, variant, "lateness", late, len(late), note)
    lc.row(EXP, m, variant, "ops_per_sec", ops, "ops/s", len(late), 1, note=note)
    lc.row(EXP, m, variant, "cpu_ns_per_op", cpu / max(1, len(late)), "ns", len(late), 1,
           note="server CPU %d µs over the measured interval (t0 to the last reply): the "
                "server's processes (%d), /proc/PID/task/*/schedstat, / replies"
                % (cpu // 1000, len(announced["pids"])))


if __name__ == "__main__":
    main()
