"""Experiment `fairness` for Python's models (docs/lab.md): units that all want the CPU loop on
cheap work (one turn: a counter increment and a clock read, then the model's yield) from a
common start signal until a common stop time. Rows, variant `jain`: `jain_index` (Jain's
index over the per-unit turn counts, (sum x)^2 / (n sum x^2); higher is better) and
`max_starvation` (ns: the longest gap between two turns of one unit, the first gap starting
at the start signal).

py-asyncio: 1,000 tasks yielding with `await asyncio.sleep(0)`; py-threading: 1,000 threads
yielding with os.sched_yield() (the GIL decides who runs); py-multiprocessing: 100 processes
(scaled: 1,000 Python processes would not fit a small machine's run budget) with
os.sched_yield().
"""

import asyncio
import os
import threading

import labcommon as lc

EXP = "fairness"


def _turns(t0, stop, yield_now):
    count, last, worst = 0, t0, 0
    while True:
        count += 1
        t = lc.now()
        if t - last > worst:
            worst = t - last
        last = t
        if t >= stop:
            return count, worst
        yield_now()


async def _aio_run(units, run_for):
    state = {}
    go = asyncio.Event()

    async def unit():
        await go.wait()
        t0, stop = state["t0"], state["stop"]
        count, last, worst = 0, t0, 0
        while True:
            count += 1
            t = lc.now()
            if t - last > worst:
                worst = t - last
            last = t
            if t >= stop:
                return count, worst
            await asyncio.sleep(0)

    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(unit()) for _ in range(units)]
    await asyncio.sleep(0)  # every task waits on `go`
    state["t0"] = lc.now()
    state["stop"] = state["t0"] + run_for
    go.set()
    return [await t for t in tasks]


def _thread_run(units, run_for):
    state = {}
    go = threading.Event()
    ready = threading.Semaphore(0)
    out = []
    lock = threading.Lock()

    def unit():
        ready.release()
        go.wait()
        r = _turns(state["t0"], state["stop"], os.sched_yield)
        with lock:
            out.append(r)

    threads = [threading.Thread(target=unit) for _ in range(units)]
    for t in threads:
        t.start()
    for _ in range(units):
        ready.acquire()
    state["t0"] = lc.now()
    state["stop"] = state["t0"] + run_for
    go.set()
    for t in threads:
        t.join()
    return out


def _proc_unit(start, run_for, ready, go, result):
    ready.release()
    go.wait()
    result.put(_turns(start.value, start.value + run_for, os.sched_yield))


def _proc_run(units, run_for):
    ctx = lc.mp_context()
    start = ctx.Value("q", 0)
    ready, go, result = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_proc_unit, args=(start, run_for, ready, go, result))
             for _ in range(units)]
    for p in procs:
        p.start()
    for _ in range(units):
        ready.acquire()
    start.value = lc.now()
    go.set()
    out = [result.get(timeout=run_for / 1e9 + 60) for _ in range(units)]
    for p in procs:
        p.join()
    return out


def main():
    a = lc.parse_args(EXP)
    m = a.model
    run_ms = a.pick(500, 100, 30)
    run_for = run_ms * 1_000_000
    if m == "py-asyncio":
        units = a.pick(1_000, 1_000, 20)
        out = asyncio.run(_aio_run(units, run_for))
        how = "tasks yielding with await asyncio.sleep(0)"
    elif m == "py-threading":
        units = a.pick(1_000, 1_000, 20)
        out = _thread_run(units, run_for)
        how = "threads yielding with os.sched_yield()"
    else:
        units = a.pick(100, 100, 10)
        out = _proc_run(units, run_for)
        how = "processes yielding with os.sched_yield(); " + lc.scaled(1_000, units) + " units"
    counts = [c for c, _ in out]
    total = sum(counts)
    jain = total * total / (len(counts) * sum(c * c for c in counts))
    worst = max(w for _, w in out)
    note = "%d %s for %d ms; %d turns in all, %d to %d per unit" % (
        units, how, run_ms, total, min(counts), max(counts))
    lc.row(EXP, m, "jain", "jain_index", jain, "index", units, 1, note=note)
    lc.row(EXP, m, "jain", "max_starvation", worst, "ns", units, 1, note=note)


if __name__ == "__main__":
    main()
