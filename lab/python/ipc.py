"""Experiment `ipc` for Python's models (docs/lab.md): a message of 8 B, 4 KiB, 64 KiB or 1 MiB
goes to another unit and comes back; rows `<mechanism>_<size>`: `ns_per_op` (one round trip)
and `bytes_per_sec` (both directions' bytes over the median round trip).

* py-asyncio, `channel`: two asyncio.Queue(maxsize=1) between two tasks (a reference moves,
  the bytes are not copied).
* py-threading, `channel`: two queue.Queue(maxsize=1) between two threads (a reference moves);
  `pipe`: two os.pipe() between two threads, the bytes written and read in full.
* py-multiprocessing, between two processes: `channel`: two multiprocessing.Queue (pickled,
  through a feeder thread and a pipe); `pipe`: two multiprocessing.Pipe(duplex=False)
  (send_bytes / recv_bytes); `unix`: one multiprocessing.Pipe() (a socketpair);
  `shm`: multiprocessing.shared_memory, the bytes copied in and out, a multiprocessing.Semaphore
  each way as the signal.
"""

import asyncio
import os
import queue
import threading

import labcommon as lc

EXP = "ipc"
# (size, name, rounds full, quick, tiny); the lab's: 20,000, 10,000, 2,000, 200.
SIZES = [(8, "8B", 500, 100, 10, 20_000), (4 << 10, "4KiB", 250, 50, 5, 10_000),
         (64 << 10, "64KiB", 100, 20, 3, 2_000), (1 << 20, "1MiB", 10, 3, 2, 200)]
MECHANISMS = {
    "py-asyncio": ["channel"],
    "py-threading": ["channel", "pipe"],
    "py-multiprocessing": ["channel", "pipe", "unix", "shm"],
}
HOW = {
    ("py-asyncio", "channel"): "two asyncio.Queue(maxsize=1) between two tasks (no copy)",
    ("py-threading", "channel"): "two queue.Queue(maxsize=1) between two threads (no copy)",
    ("py-threading", "pipe"): "two os.pipe() between two threads",
    ("py-multiprocessing", "channel"): "two multiprocessing.Queue between two processes (pickled)",
    ("py-multiprocessing", "pipe"): "two multiprocessing.Pipe(duplex=False) between two processes",
    ("py-multiprocessing", "unix"): "one multiprocessing.Pipe() (socketpair) between two processes",
    ("py-multiprocessing", "shm"): "multiprocessing.shared_memory, copied in and out, "
                                   "a Semaphore each way",
}


def _check(reply, msg):
    if len(reply) != len(msg):
        raise RuntimeError("a %d-byte message came back as %d bytes" % (len(msg), len(reply)))


def _timed(rounds, samples, one_round, msg):
    """Runs `samples` batches of `rounds` round trips; checks the first reply's content."""
    reply = one_round(msg)
    if bytes(reply) != msg:
        raise RuntimeError("the reply differs from the message")
    out = []
    for _ in range(samples):
        t0 = lc.now()
        for _ in range(rounds):
            _check(one_round(msg), msg)
        out.append((lc.now() - t0) / rounds)
    return out


# ---- asyncio ----

async def _aio_channel(msg, rounds, samples):
    there, back = asyncio.Queue(maxsize=1), asyncio.Queue(maxsize=1)

    async def echo():
        while True:
            m = await there.get()
            if m is None:
                return
            await back.put(m)

    peer = asyncio.get_running_loop().create_task(echo())
    out = []
    for _ in range(samples + 1):
        t0 = lc.now()
        for _ in range(rounds):
            await there.put(msg)
            _check(await back.get(), msg)
        out.append((lc.now() - t0) / rounds)
    await there.put(None)
    await peer
    return out[1:]


# ---- threads ----

def _read_full(fd, n):
    parts, got = [], 0
    while got < n:
        b = os.read(fd, n - got)
        if not b:
            raise RuntimeError("pipe closed early")
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def _write_full(fd, data):
    mv = memoryview(data)
    while mv:
        mv = mv[os.write(fd, mv):]


def _thread_variant(mechanism, msg, rounds, samples):
    size = len(msg)
    if mechanism == "channel":
        there, back = queue.Queue(maxsize=1), queue.Queue(maxsize=1)

        def echo():
            while (m := there.get()) is not None:
                back.put(m)

        def one(m):
            there.put(m)
            return back.get()

        def stop():
            there.put(None)
    else:
        (tr, tw), (br, bw) = os.pipe(), os.pipe()

        def echo():
            while True:
                head = os.read(tr, 1)
                if head == b"\0":
                    return
                _write_full(bw, head + _read_full(tr, size - 1))

        def one(m):
            _write_full(tw, m)
            return _read_full(br, size)

        def stop():
            os.write(tw, b"\0")
    peer = threading.Thread(target=echo)
    peer.start()
    try:
        return _timed(rounds, samples, one, msg)
    finally:
        stop()
        peer.join()
        if mechanism == "pipe":
            for fd in (tr, tw, br, bw):
                os.close(fd)


# ---- processes (module level, so every start method can run them) ----

def _echo_queue(there, back, size, count):
    for _ in range(count):
        back.put(there.get())


def _echo_pipe(there, back, size, count):
    for _ in range(count):
        back.send_bytes(there.recv_bytes())


def _echo_unix(conn, size, count):
    for _ in range(count):
        conn.send_bytes(conn.recv_bytes())


def _echo_shm(name, go, done, size, count):
    from multiprocessing import shared_memory
    shm = shared_memory.SharedMemory(name=name)
    try:
        buf = shm.buf
        for _ in range(count):
            go.acquire()
            data = bytes(buf[:size])
            buf[size:2 * size] = data
            done.release()
        del buf
    finally:
        shm.close()


def _proc_variant(mechanism, msg, rounds, samples):
    ctx = lc.mp_context()
    size = len(msg)
    count = 1 + rounds * samples
    shm = None
    if mechanism == "channel":
        there, back = ctx.Queue(1), ctx.Queue(1)
        peer = ctx.Process(target=_echo_queue, args=(there, back, size, count))

        def one(m):
            there.put(m)
            return back.get()
    elif mechanism == "pipe":
        there_r, there_w = ctx.Pipe(duplex=False)
        back_r, back_w = ctx.Pipe(duplex=False)
        peer = ctx.Process(target=_echo_pipe, args=(there_r, back_w, size, count))

        def one(m):
            there_w.send_bytes(m)
            return back_r.recv_bytes()
    elif mechanism == "unix":
        mine, theirs = ctx.Pipe()
        peer = ctx.Process(target=_echo_unix, args=(theirs, size, count))

        def one(m):
            mine.send_bytes(m)
            return mine.recv_bytes()
    else:
        from multiprocessing import shared_memory
        shm = shared_memory.SharedMemory(create=True, size=2 * size)
        go, done = ctx.Semaphore(0), ctx.Semaphore(0)
        peer = ctx.Process(target=_echo_shm, args=(shm.name, go, done, size, count))
        buf = shm.buf

        def one(m):
            buf[:size] = m
            go.release()
            done.acquire()
            return bytes(buf[size:2 * size])
    peer.start()
    try:
        out = _timed(rounds, samples, one, msg)
    finally:
        peer.join(timeout=30)
        if peer.is_alive():
            peer.kill()
        if shm is not None:
            del buf
            shm.close()
            shm.unlink()
    if peer.exitcode != 0:
        raise RuntimeError("the echoing process failed (exit code %s)" % peer.exitcode)
    return out


def main():
    a = lc.parse_args(EXP)
    m = a.model
    results = []
    if m == "py-asyncio":
        async def all_variants():
            for size, name, full, quick, tiny, lab in SIZES:
                rounds = a.pick(full, quick, tiny)
                msg = bytes((i * 7 + 1) & 0xFF for i in range(size))
                results.append(("channel", name, size, rounds, lab,
                                await _aio_channel(msg, rounds, a.samples)))
        asyncio.run(all_variants())
    else:
        run = _thread_variant if m == "py-threading" else _proc_variant
        for mechanism in MECHANISMS[m]:
            for size, name, full, quick, tiny, lab in SIZES:
                rounds = a.pick(full, quick, tiny)
                msg = bytes((i * 7 + 1) & 0xFF for i in range(size))
                results.append((mechanism, name, size, rounds, lab,
                                run(mechanism, msg, rounds, a.samples)))
    for mechanism, name, size, rounds, lab, per_op in results:
        variant = "%s_%s" % (mechanism, name)
        note = "%s; %s" % (HOW[(m, mechanism)], lc.scaled(lab, rounds) + " round trips")
        lc.batch_row(EXP, m, variant, rounds, per_op, note)
        med = lc.median(per_op)
        lc.row(EXP, m, variant, "bytes_per_sec", 2 * size * 1e9 / med, "B/s", rounds,
               len(per_op), 2 * size * 1e9 / max(per_op), 2 * size * 1e9 / med,
               2 * size * 1e9 / min(per_op), note)


if __name__ == "__main__":
    main()
