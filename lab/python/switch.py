"""Experiment `switch` for Python's models (docs/lab.md): one yield; a ping-pong round trip.

* py-asyncio: `await asyncio.sleep(0)`; two tasks over two asyncio.Queue(maxsize=1). One event
  loop runs on one thread, so it has no cross-core ping-pong (as tokio-ct).
* py-threading: os.sched_yield() (releases the GIL); two threads over two queue.Queue(maxsize=1),
  pinned to one CPU or to two.
* py-multiprocessing: os.sched_yield() in a child process; two processes over two
  multiprocessing.Pipe(duplex=False) (send_bytes / recv_bytes), pinned to one CPU or two.

Each ping-pong sample first makes lc.WARMUP_ROUND_TRIPS untimed round trips, as the lab's models.
"""

import asyncio
import os
import queue
import threading

import labcommon as lc

EXP = "switch"


# ---- asyncio ----

async def _aio_yields(n):
    t0 = lc.now()
    for _ in range(n):
        await asyncio.sleep(0)
    return lc.now() - t0


async def _aio_pingpong(n):
    there, back = asyncio.Queue(maxsize=1), asyncio.Queue(maxsize=1)

    warm = lc.WARMUP_ROUND_TRIPS

    async def pong():
        for _ in range(warm + n):
            await back.put(await there.get())

    peer = asyncio.get_running_loop().create_task(pong())
    for i in range(warm):
        await there.put(i)
        await back.get()
    t0 = lc.now()
    for i in range(n):
        await there.put(i)
        await back.get()
    elapsed = lc.now() - t0
    await peer
    return elapsed


# ---- threads ----

def _yields(n):
    t0 = lc.now()
    for _ in range(n):
        os.sched_yield()
    return lc.now() - t0


def _thread_pingpong(n, cpu_a, cpu_b):
    there, back = queue.Queue(maxsize=1), queue.Queue(maxsize=1)
    out = {}

    warm = lc.WARMUP_ROUND_TRIPS

    def ping():
        lc.pin(cpu_a)
        for i in range(warm):
            there.put(i)
            back.get()
        t0 = lc.now()
        for i in range(n):
            there.put(i)
            back.get()
        out["elapsed"] = lc.now() - t0
        out["cpu_a"] = lc.current_cpu()

    def pong():
        lc.pin(cpu_b)
        for _ in range(warm + n):
            back.put(there.get())
        out["cpu_b"] = lc.current_cpu()

    units = [threading.Thread(target=pong), threading.Thread(target=ping)]
    for t in units:
        t.start()
    for t in units:
        t.join()
    return out["elapsed"], (out["cpu_a"], out["cpu_b"])


# ---- processes (module level, so every start method can run them) ----

def _proc_yields(n, result):
    result.send((_yields(n), lc.current_cpu()))


def _proc_ping(n, cpu, there, back, result):
    lc.pin(cpu)
    for _ in range(lc.WARMUP_ROUND_TRIPS):
        there.send_bytes(b"x")
        back.recv_bytes()
    t0 = lc.now()
    for _ in range(n):
        there.send_bytes(b"x")
        back.recv_bytes()
    result.send((lc.now() - t0, lc.current_cpu()))


def _proc_pong(n, cpu, there, back, result):
    lc.pin(cpu)
    for _ in range(lc.WARMUP_ROUND_TRIPS + n):
        back.send_bytes(there.recv_bytes())
    result.send((0, lc.current_cpu()))


def _run_procs(ctx, specs):
    """Starts one process per (target, args) with a result pipe each; returns their results."""
    procs = []
    for target, args in specs:
        r, w = ctx.Pipe(duplex=False)
        p = ctx.Process(target=target, args=args + (w,))
        p.start()
        w.close()
        procs.append((p, r))
    results = []
    for p, r in procs:
        try:
            results.append(r.recv())
        except EOFError:
            p.join()
            raise RuntimeError("a child process died (exit code %s)" % p.exitcode)
    for p, _ in procs:
        p.join()
    return results


def _proc_pingpong(ctx, n, cpu_a, cpu_b):
    there_r, there_w = ctx.Pipe(duplex=False)
    back_r, back_w = ctx.Pipe(duplex=False)
    ping, pong = _run_procs(ctx, [
        (_proc_ping, (n, cpu_a, there_w, back_r)),
        (_proc_pong, (n, cpu_b, there_r, back_w)),
    ])
    return ping[0], (ping[1], pong[1])


def main():
    a = lc.parse_args(EXP)
    m = a.model
    yields = a.pick(*{"py-asyncio": (50_000, 10_000, 200)}.get(m, (100_000, 20_000, 200)))
    same = a.pick(*{"py-asyncio": (20_000, 4_000, 100)}.get(m, (5_000, 1_000, 50)))
    cross = a.pick(*{"py-asyncio": (0, 0, 0)}.get(m, (1_000, 200, 20)))
    lab_yields, lab_same, lab_cross = (
        (1_000_000, 200_000, 0) if m == "py-asyncio" else (1_000_000, 50_000, 5_000))
    cpus = lc.cpus()
    placements = [("pingpong_same_core", same, lab_same, cpus[0], cpus[0])]
    if m != "py-asyncio":
        if len(cpus) > 1:
            placements.append(("pingpong_cross_core", cross, lab_cross, cpus[0], cpus[1]))
        else:
            lc.skip(EXP, m, "pingpong_cross_core", "this process may use one CPU only")

    if m == "py-asyncio":
        async def all_samples():
            ys = [await _aio_yields(yields) for _ in range(a.samples)]
            ps = [await _aio_pingpong(same) for _ in range(a.samples)]
            return ys, ps
        ys, ps = asyncio.run(all_samples())
        lc.batch_row(EXP, m, "yield", yields, [t / yields for t in ys],
                     "await asyncio.sleep(0); " + lc.scaled(lab_yields, yields))
        lc.batch_row(EXP, m, "pingpong_same_core", same, [t / same for t in ps],
                     "two tasks, two asyncio.Queue(maxsize=1); " + lc.scaled(lab_same, same))
        lc.skip(EXP, m, "pingpong_cross_core",
                "not applicable: one asyncio event loop runs on one thread")
        return

    if m == "py-threading":
        ys = [_yields(yields) for _ in range(a.samples)]
        lc.batch_row(EXP, m, "yield", yields, [t / yields for t in ys],
                     "os.sched_yield() (releases the GIL); " + lc.scaled(lab_yields, yields))
        for variant, n, lab_n, ca, cb in placements:
            runs = [_thread_pingpong(n, ca, cb) for _ in range(a.samples)]
            lc.batch_row(EXP, m, variant, n, [t / n for t, _ in runs],
                         "two threads, two queue.Queue(maxsize=1); %s; %s" % (
                             lc.placement_note((ca, cb), runs[-1][1]), lc.scaled(lab_n, n)))
        return

    ctx = lc.mp_context()
    ys = [_run_procs(ctx, [(_proc_yields, (yields,))])[0][0] for _ in range(a.samples)]
    lc.batch_row(EXP, m, "yield", yields, [t / yields for t in ys],
                 "os.sched_yield() in a child process; " + lc.scaled(lab_yields, yields))
    for variant, n, lab_n, ca, cb in placements:
        runs = [_proc_pingpong(ctx, n, ca, cb) for _ in range(a.samples)]
        lc.batch_row(EXP, m, variant, n, [t / n for t, _ in runs],
                     "two processes, two multiprocessing.Pipe(duplex=False), start method %s; "
                     "%s; %s" % (lc.start_method(), lc.placement_note((ca, cb), runs[-1][1]),
                                 lc.scaled(lab_n, n)))


if __name__ == "__main__":
    main()
