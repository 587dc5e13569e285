"""Experiment `scale` for Python's models (docs/lab.md): N parked units, each N in a fresh
interpreter; `bytes_per_unit` (resident growth / N) and `ns_per_unit` (creation time / N).

py-asyncio: N tasks each awaiting a future of its own that never completes; py-threading: N
threads blocked in os.read on a pipe; py-multiprocessing: N processes blocked reading a
multiprocessing.Pipe, memory = the parent's growth + the children's Pss (as the lab's process model).
The child reports after it has seen every unit parked, then exits without cleaning up.
"""

import asyncio
import json
import os
import subprocess
import sys
import threading

import labcommon as lc

EXP = "scale"
# A generous bound on one parked unit's memory, per model, for the cap on N (never swap).
UNIT_BOUND = {"py-asyncio": 4 << 10, "py-threading": 64 << 10, "py-multiprocessing": 16 << 20}


def _park_asyncio(n):
    async def parked(started):
        started.append(None)
        await asyncio.get_running_loop().create_future()

    async def main():
        started = []
        before = lc.rss_bytes()
        t0 = lc.now()
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(parked(started)) for _ in range(n)]
        while len(started) < n:
            await asyncio.sleep(0)
        elapsed = lc.now() - t0
        return elapsed, lc.rss_bytes() - before, len(tasks)

    return asyncio.run(main())[:2]


def _park_threads(n):
    r, _w = os.pipe()
    ready = threading.Semaphore(0)

    def parked():
        ready.release()
        os.read(r, 1)

    before = lc.rss_bytes()
    t0 = lc.now()
    for _ in range(n):
        threading.Thread(target=parked, daemon=True).start()
    for _ in range(n):
        ready.acquire()
    return lc.now() - t0, lc.rss_bytes() - before


def _parked_process(r, ready):
    ready.release()
    r.recv_bytes()


def _park_processes(n):
    ctx = lc.mp_context()
    # A Connection, not a raw fd: it reaches the children under every start method.
    r, _w = ctx.Pipe(duplex=False)
    ready = ctx.Semaphore(0)
    before = lc.rss_bytes()
    t0 = lc.now()
    procs = []
    for _ in range(n):
        p = ctx.Process(target=_parked_process, args=(r, ready), daemon=True)
        p.start()
        procs.append(p)
    for _ in range(n):
        ready.acquire()
    elapsed = lc.now() - t0
    pss = [lc.pss_bytes(p.pid) for p in procs]
    if any(x is None for x in pss):
        raise RuntimeError("cannot read /proc/PID/smaps_rollup of the children")
    growth = lc.rss_bytes() - before + sum(pss)
    for p in procs:
        p.kill()
    return elapsed, growth


def park(model, n):
    fn = {"py-asyncio": _park_asyncio, "py-threading": _park_threads,
          "py-multiprocessing": _park_processes}[model]
    elapsed, growth = fn(n)
    print(json.dumps({"elapsed_ns": elapsed, "growth": growth}), flush=True)
    os._exit(0)


def available_memory():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def thread_limit():
    limits = []
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_NPROC)[0]
        if soft != resource.RLIM_INFINITY:
            limits.append((soft, "RLIMIT_NPROC"))
    except (ImportError, OSError, AttributeError):
        pass
    try:
        with open("/proc/sys/kernel/threads-max") as f:
            limits.append((int(f.read()), "kernel.threads-max"))
    except (OSError, ValueError):
        pass
    # Leave room for the rest of the machine.
    return min(((v // 2, why) for v, why in limits), default=(None, None))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--park":
        park(sys.argv[2], int(sys.argv[3]))
    a = lc.parse_args(EXP)
    m = a.model
    largest, lab_largest = {
        "py-asyncio": (a.pick(100_000, 10_000, 100), 1_000_000),
        "py-threading": (a.pick(10_000, 100, 100), 10_000),
        "py-multiprocessing": (a.pick(100, 10, 10), 1_000),
    }[m]
    caps = []
    if largest < lab_largest:
        caps.append(lc.scaled(lab_largest, largest))
    mem = available_memory()
    if mem is not None and largest > mem // 2 // UNIT_BOUND[m]:
        largest = mem // 2 // UNIT_BOUND[m]
        caps.append("capped at %d units by half of MemAvailable" % largest)
    if m != "py-asyncio":
        limit, why = thread_limit()
        if limit is not None and largest > limit:
            largest = limit
            caps.append("capped at %d units by %s / 2" % (limit, why))
    how = {"py-asyncio": "tasks awaiting a future that never completes",
           "py-threading": "threads blocked in os.read on a pipe",
           "py-multiprocessing": "processes blocked reading a multiprocessing.Pipe; memory = parent "
                                 "growth + children's Pss"}[m]
    n = 10
    while n <= largest:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--park", m, str(n)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        variant = "N=%d" % n
        try:
            res = json.loads(out.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            err = (out.stderr.strip().splitlines() or ["no output"])[-1]
            lc.skip(EXP, m, variant, "the child for N=%d failed (exit %s): %s"
                    % (n, out.returncode, err))
            break
        note = "; ".join([how + ", in a fresh interpreter"] + caps)
        lc.row(EXP, m, variant, "bytes_per_unit", max(0, res["growth"]) / n, "B", n, 1, note=note)
        lc.row(EXP, m, variant, "ns_per_unit", res["elapsed_ns"] / n, "ns", n, 1, note=note)
        n *= 10


if __name__ == "__main__":
    main()
