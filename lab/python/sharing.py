"""Experiment `sharing` for Python's models (docs/lab.md): units together make a fixed number of
increments of one counter, by the model's lock, by an atomic-like operation, or by sending each
increment to one owner over the model's channel. Variants `lock,units=<n>`,
`atomic,units=<n>`, `message,units=<n>` for n = 1, 2, 4, 16; metric `ns_per_op` (wall time
from the start signal to the last unit done, over the increments). The final count is checked.

* py-asyncio: tasks; `async with asyncio.Lock()`; atomic: a plain `+=` (no other task runs
  between two awaits); message: an asyncio.Queue(maxsize=1024) to an owner task.
* py-threading: threads; threading.Lock; atomic-like: next() on one itertools.count (one C
  call, atomic under the GIL); message: a queue.Queue(maxsize=1024) to an owner thread.
* py-multiprocessing: processes; a multiprocessing.Value's lock; no atomic fetch_add on shared
  memory exists in Python's stdlib (skipped, with that reason); message: a
  multiprocessing.Queue(1024) to the parent process, the owner.
"""

import asyncio
import itertools
import queue
import threading

import labcommon as lc

EXP = "sharing"
LAB_TOTAL = 1_000_000


async def _aio(kind, units, total):
    share = total // units
    state = [0]
    lock = asyncio.Lock()
    q = asyncio.Queue(maxsize=1024)

    async def unit():
        if kind == "lock":
            for _ in range(share):
                async with lock:
                    state[0] += 1
        elif kind == "atomic":
            for _ in range(share):
                state[0] += 1
        else:
            for _ in range(share):
                await q.put(1)

    async def owner():
        for _ in range(share * units):
            state[0] += await q.get()

    loop = asyncio.get_running_loop()
    t0 = lc.now()
    tasks = [loop.create_task(unit()) for _ in range(units)]
    if kind == "message":
        tasks.append(loop.create_task(owner()))
    for t in tasks:
        await t
    return lc.now() - t0, state[0]


def _threads(kind, units, total):
    share = total // units
    state = [0]
    lock = threading.Lock()
    counter = itertools.count(1)
    last = [0]
    q = queue.Queue(maxsize=1024)
    go = threading.Event()

    def unit():
        go.wait()
        if kind == "lock":
            for _ in range(share):
                with lock:
                    state[0] += 1
        elif kind == "atomic":
            mine = 0
            for _ in range(share):
                mine = next(counter)
            with lock:
                last[0] = max(last[0], mine)
        else:
            for _ in range(share):
                q.put(1)

    def owner():
        for _ in range(share * units):
            state[0] += q.get()

    threads = [threading.Thread(target=unit) for _ in range(units)]
    if kind == "message":
        threads.append(threading.Thread(target=owner))
    for t in threads:
        t.start()
    t0 = lc.now()
    go.set()
    for t in threads:
        t.join()
    elapsed = lc.now() - t0
    return elapsed, (last[0] if kind == "atomic" else state[0])


def _proc_lock_unit(value, share, ready, go):
    ready.release()
    go.wait()
    for _ in range(share):
        with value.get_lock():
            value.value += 1


def _proc_message_unit(q, share, ready, go):
    ready.release()
    go.wait()
    for _ in range(share):
        q.put(1)


def _processes(kind, units, total):
    ctx = lc.mp_context()
    share = total // units
    ready, go = ctx.Semaphore(0), ctx.Event()
    value = ctx.Value("q", 0)
    q = ctx.Queue(1024)
    if kind == "lock":
        procs = [ctx.Process(target=_proc_lock_unit, args=(value, share, ready, go))
                 for _ in range(units)]
    else:
        procs = [ctx.Process(target=_proc_message_unit, args=(q, share, ready, go))
                 for _ in range(units)]
    for p in procs:
        p.start()
    for _ in range(units):
        ready.acquire()
    t0 = lc.now()
    go.set()
    count = 0
    if kind == "message":
        for _ in range(share * units):
            count += q.get(timeout=60)
    for p in procs:
        p.join()
    elapsed = lc.now() - t0
    if any(p.exitcode != 0 for p in procs):
        raise RuntimeError("a unit process failed (exit codes %s)" % [p.exitcode for p in procs])
    return elapsed, (value.value if kind == "lock" else count)


def main():
    a = lc.parse_args(EXP)
    m = a.model
    unit_counts = a.pick([1, 2, 4, 16], [1, 2, 4, 16], [1, 2])
    if m == "py-multiprocessing":
        total = {"lock": a.pick(5_000, 1_000, 64), "message": a.pick(2_000, 400, 64)}
        kinds = ["lock", "message"]
    else:
        total = dict.fromkeys(["lock", "atomic", "message"], a.pick(20_000, 4_000, 64))
        kinds = ["lock", "atomic", "message"]
    how = {
        ("py-asyncio", "lock"): "tasks, async with asyncio.Lock()",
        ("py-asyncio", "atomic"): "tasks, a plain += (atomic between awaits on one loop)",
        ("py-asyncio", "message"): "tasks, an asyncio.Queue(maxsize=1024) to an owner task",
        ("py-threading", "lock"): "threads, with threading.Lock()",
        ("py-threading", "atomic"): "threads, next() on one itertools.count (atomic under the GIL)",
        ("py-threading", "message"): "threads, a queue.Queue(maxsize=1024) to an owner thread",
        ("py-multiprocessing", "lock"): "processes, a multiprocessing.Value under its lock",
        ("py-multiprocessing", "message"): "processes, a multiprocessing.Queue(1024) to the "
                                           "parent, the owner",
    }
    for kind in ["lock", "atomic", "message"]:
        for units in unit_counts:
            variant = "%s,units=%d" % (kind, units)
            if kind not in kinds:
                lc.skip(EXP, m, variant, "not applicable: Python's stdlib has no atomic fetch_add "
                        "on shared memory (a multiprocessing.Value's += needs its lock: the "
                        "lock rows)")
                continue
            n = total[kind] // units * units
            per_op = []
            for _ in range(a.samples):
                if m == "py-asyncio":
                    elapsed, count = asyncio.run(_aio(kind, units, total[kind]))
                elif m == "py-threading":
                    elapsed, count = _threads(kind, units, total[kind])
                else:
                    elapsed, count = _processes(kind, units, total[kind])
                if count != n:
                    raise RuntimeError("%s: the counter reads %d after %d increments"
                                       % (variant, count, n))
                per_op.append(elapsed / n)
            lc.batch_row(EXP, m, variant, n, per_op,
                         "%s; %s increments" % (how[(m, kind)], lc.scaled(LAB_TOTAL, n)))


if __name__ == "__main__":
    main()
