"""Experiment `blocking` for Python's models (docs/lab.md): the others' lateness while one unit
makes a blocking 10 ms call (time.sleep(0.01), as a careless blocking call would) every 50 ms.

20 reporters (the lab: 100; more and Python's own overhead, not the
blocking call, sets the lateness) each keep a grid of deadlines (first + k * 1 ms, the first deadlines spread
evenly over one period) and record wake time - deadline for every deadline of the grid, so a
reporter held up past several deadlines records each of them (no coordinated omission). Row
`others_p99` / `lateness` (ns, value the median, p50 .. max filled; what to read is p99).

py-asyncio: the reporters are tasks sleeping with asyncio.sleep and the blocking call runs
inside a coroutine, so it stalls the loop; py-threading: threads, time.sleep (the call
releases the GIL); py-multiprocessing: processes.
"""

import asyncio
import threading
import time

import labcommon as lc

EXP = "blocking"
PERIOD = 1_000_000
CALL = 10_000_000
CALL_EVERY = 50_000_000


def _grid(index, others, t0, end):
    first = t0 + PERIOD + index * PERIOD // others
    return range(first, end, PERIOD)


def _report(index, others, t0, end):
    late = []
    for deadline in _grid(index, others, t0, end):
        wait = deadline - lc.now()
        if wait > 0:
            time.sleep(wait / 1e9)
        late.append(lc.now() - deadline)
    return late


def _block(t0, end):
    k = 1
    while t0 + k * CALL_EVERY < end:
        wait = t0 + k * CALL_EVERY - lc.now()
        if wait > 0:
            time.sleep(wait / 1e9)
        time.sleep(CALL / 1e9)  # the blocking call
        k += 1
    return k - 1


async def _aio_run(others, run_for):
    async def report(index, t0, end):
        late = []
        for deadline in _grid(index, others, t0, end):
            wait = deadline - lc.now()
            await asyncio.sleep(max(0, wait) / 1e9)
            late.append(lc.now() - deadline)
        return late

    async def block(t0, end):
        k = 1
        while t0 + k * CALL_EVERY < end:
            await asyncio.sleep(max(0, t0 + k * CALL_EVERY - lc.now()) / 1e9)
            time.sleep(CALL / 1e9)  # the blocking call, inside a coroutine
            k += 1
        return k - 1

    t0 = lc.now()
    end = t0 + run_for
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(report(i, t0, end)) for i in range(others)]
    calls = await block(t0, end)
    late = []
    for t in tasks:
        late.extend(await t)
    return late, calls


def _thread_run(others, run_for):
    t0 = lc.now() + 50_000_000  # after every thread has started
    end = t0 + run_for
    out = []
    lock = threading.Lock()

    def report(i):
        late = _report(i, others, t0, end)
        with lock:
            out.extend(late)

    units = [threading.Thread(target=report, args=(i,)) for i in range(others)]
    for t in units:
        t.start()
    calls = _block(t0, end)
    for t in units:
        t.join()
    return out, calls


def _proc_report_main(i, others, start, run_for, go, result):
    go.wait()
    t0 = start.value
    result.put(_report(i, others, t0, t0 + run_for))


def _proc_block(start, run_for, go, result):
    go.wait()
    result.put(_block(start.value, start.value + run_for))


def _proc_run(others, run_for):
    ctx = lc.mp_context()
    start = ctx.Value("q", 0)
    go = ctx.Event()
    result = ctx.Queue()
    units = [ctx.Process(target=_proc_report_main, args=(i, others, start, run_for, go, result))
             for i in range(others)]
    blocker = ctx.Process(target=_proc_block, args=(start, run_for, go, result))
    for p in units + [blocker]:
        p.start()
    start.value = lc.now() + 20_000_000
    go.set()
    late, calls = [], 0
    for _ in range(others + 1):
        got = result.get(timeout=run_for / 1e9 + 60)
        if isinstance(got, int):
            calls = got
        else:
            late.extend(got)
    for p in units + [blocker]:
        p.join()
    return late, calls


def main():
    a = lc.parse_args(EXP)
    m = a.model
    others = a.pick(20, 20, 5)
    run_ms = a.pick(600, 250, 120)
    run_for = run_ms * 1_000_000
    if m == "py-asyncio":
        late, calls = asyncio.run(_aio_run(others, run_for))
        how = "tasks on asyncio.sleep; time.sleep(0.01) inside a coroutine"
    elif m == "py-threading":
        late, calls = _thread_run(others, run_for)
        how = "threads on time.sleep; time.sleep(0.01) in one thread"
    else:
        late, calls = _proc_run(others, run_for)
        how = "processes on time.sleep; time.sleep(0.01) in one process"
    lc.hist_row(EXP, m, "others_p99", "lateness", late, others,
                "%d reporters every 1 ms for %d ms, %d blocking calls of 10 ms; %s; %s; %s" % (
                    others, run_ms, calls, how, lc.scaled(100, others) + " reporters",
                    lc.scaled(2_000, run_ms) + " ms"))


if __name__ == "__main__":
    main()
