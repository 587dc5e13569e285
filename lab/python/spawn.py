"""Experiment `spawn` for Python's models (docs/lab.md): create empty units from inside a
running one, then join them all; ns per unit (variant `spawn_join`).

py-asyncio: loop.create_task of an empty coroutine, then await each; py-threading:
threading.Thread(target=empty).start(), then join(); py-multiprocessing: Process.start() with
the interpreter's default start method, then join(); py-multiprocessing also `fork` and
`forkserver`: the same with those start methods (the fork server started before the clock).
"""

import asyncio
import threading

import labcommon as lc

EXP = "spawn"


async def _empty():
    pass


async def _aio_spawn_join(n):
    loop = asyncio.get_running_loop()
    t0 = lc.now()
    tasks = [loop.create_task(_empty()) for _ in range(n)]
    for t in tasks:
        await t
    return lc.now() - t0


def _nothing():
    pass


def _thread_spawn_join(n):
    t0 = lc.now()
    units = [threading.Thread(target=_nothing) for _ in range(n)]
    for t in units:
        t.start()
    for t in units:
        t.join()
    return lc.now() - t0


def _proc_spawn_join(ctx, n):
    t0 = lc.now()
    units = [ctx.Process(target=_nothing) for _ in range(n)]
    for p in units:
        p.start()
    for p in units:
        p.join()
    elapsed = lc.now() - t0
    bad = [p.exitcode for p in units if p.exitcode != 0]
    if bad:
        raise RuntimeError("%d child processes failed (exit codes %s)" % (len(bad), bad[:5]))
    return elapsed


def main():
    a = lc.parse_args(EXP)
    m = a.model
    if m == "py-asyncio":
        n, lab_n = a.pick(20_000, 5_000, 100), 100_000

        async def all_samples():
            return [await _aio_spawn_join(n) for _ in range(a.samples)]
        runs = asyncio.run(all_samples())
        how = "loop.create_task(empty()), then await each"
    elif m == "py-threading":
        n, lab_n = a.pick(1_000, 200, 20), 2_000
        runs = [_thread_spawn_join(n) for _ in range(a.samples)]
        how = "threading.Thread(target=empty).start(), then join()"
    else:
        n, lab_n = a.pick(50, 20, 4), 200
        ctx = lc.mp_context()
        runs = [_proc_spawn_join(ctx, n) for _ in range(a.samples)]
        how = "multiprocessing Process.start() (start method %s), then join()" % lc.start_method()
    lc.batch_row(EXP, m, "spawn_join", n, [t / n for t in runs], how + "; " + lc.scaled(lab_n, n))
    if m != "py-multiprocessing":
        return
    import multiprocessing
    for method in ("fork", "forkserver"):
        if method not in multiprocessing.get_all_start_methods():
            lc.skip(EXP, m, method, "start method %s is not available here" % method)
            continue
        ctx = lc.mp_context(method)
        _proc_spawn_join(ctx, 1)  # starts the fork server, outside the timing
        # A fork server start costs tens of ms in CPython (ten times a fork): fewer of them.
        k = n if method == "fork" else a.pick(8, 4, 2)
        runs = [_proc_spawn_join(ctx, k) for _ in range(a.samples)]
        lc.batch_row(EXP, m, method, k, [t / k for t in runs],
                     "multiprocessing Process.start() with start method %s%s, then join(); %s"
                     % (method, " (the server preloads the script)" if method == "forkserver"
                        else "", lc.scaled(lab_n, k)))


if __name__ == "__main__":
    main()
