"""Experiment `latency` for Python's models (docs/lab.md): how late a unit wakes from a 1 ms
sleep on the model's own timer (lateness = wake time - deadline, ns, with percentiles).

* `idle`: sequential 1 ms sleeps: `await asyncio.sleep(0.001)` in a task, `time.sleep(0.001)`
  in a thread, `time.sleep(0.001)` in a child process.
* `loaded`: the same probe while other units each loop on a yield (`await asyncio.sleep(0)`
  tasks; `os.sched_yield()` threads, which must win the GIL back; `os.sched_yield()`
  processes).
"""

import asyncio
import os
import threading
import time

import labcommon as lc

EXP = "latency"
PERIOD_NS = 1_000_000


# ---- asyncio ----

async def _aio_probe(count):
    late = []
    for _ in range(count):
        deadline = lc.now() + PERIOD_NS
        await asyncio.sleep(PERIOD_NS / 1e9)
        late.append(lc.now() - deadline)
    return late


async def _aio_run(idle, probes, background):
    idle_late = await _aio_probe(idle)
    stop = []

    async def busy():
        while not stop:
            await asyncio.sleep(0)

    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(busy()) for _ in range(background)]
    await asyncio.sleep(0)
    loaded_late = await _aio_probe(probes)
    stop.append(True)
    for t in tasks:
        await t
    return idle_late, loaded_late


# ---- threads and processes ----

def _probe(count):
    late = []
    for _ in range(count):
        deadline = lc.now() + PERIOD_NS
        time.sleep(PERIOD_NS / 1e9)
        late.append(lc.now() - deadline)
    return late


def _thread_run(count, background):
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            os.sched_yield()

    others = [threading.Thread(target=busy) for _ in range(background)]
    for t in others:
        t.start()
    out = []
    probe = threading.Thread(target=lambda: out.extend(_probe(count)))
    probe.start()
    probe.join()
    stop.set()
    for t in others:
        t.join()
    return out


def _proc_probe(count, result):
    result.send(_probe(count))


def _proc_busy(stop):
    while not stop.is_set():
        os.sched_yield()


def _proc_run(ctx, count, background):
    stop = ctx.Event()
    others = [ctx.Process(target=_proc_busy, args=(stop,)) for _ in range(background)]
    for p in others:
        p.start()
    r, w = ctx.Pipe(duplex=False)
    probe = ctx.Process(target=_proc_probe, args=(count, w))
    probe.start()
    w.close()
    try:
        out = r.recv()
    except EOFError:
        probe.join()
        raise RuntimeError("the probe process died (exit code %s)" % probe.exitcode)
    finally:
        stop.set()
        for p in others:
            p.join()
    probe.join()
    return out


def main():
    a = lc.parse_args(EXP)
    m = a.model
    idle = a.pick(500, 50, 10)
    probes = a.pick(100, 30, 5)
    background = {
        "py-asyncio": a.pick(1_000, 200, 20),
        "py-threading": a.pick(200, 50, 5),
        "py-multiprocessing": a.pick(20, 10, 2),
    }[m]
    if m == "py-asyncio":
        idle_late, loaded_late = asyncio.run(_aio_run(idle, probes, background))
        what, bg = "await asyncio.sleep(0.001) in a task", "tasks looping on await asyncio.sleep(0)"
    elif m == "py-threading":
        idle_late = _thread_run(idle, 0)
        loaded_late = _thread_run(probes, background)
        what, bg = "time.sleep(0.001) in a thread", "threads looping on os.sched_yield()"
    else:
        ctx = lc.mp_context()
        idle_late = _proc_run(ctx, idle, 0)
        loaded_late = _proc_run(ctx, probes, background)
        what, bg = "time.sleep(0.001) in a child process", "processes looping on os.sched_yield()"
    lc.hist_row(EXP, m, "idle", "lateness", idle_late, idle,
                "%s; %s probes" % (what, lc.scaled(1_000, idle)))
    lc.hist_row(EXP, m, "loaded", "lateness", loaded_late, probes,
                "%s, with %d %s; %s probes; %s background units" % (
                    what, background, bg, lc.scaled(500, probes), lc.scaled(10_000, background)))


if __name__ == "__main__":
    main()
