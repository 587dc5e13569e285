"""Experiment `speedup` for Python's models (docs/lab.md): the same integer-hashing chunks as the
lab's Rust workload (lab/src/experiments/speedup.rs: `chunk`, 30,000 rounds of
x = rotl64((x ^ i) * 0x9E3779B97F4A7C15, 29), starting from seed | 1), written in pure Python so
that the GIL shows, on n = 1 ..= nproc workers taking chunk numbers from a shared counter.

Rows `n=<k>` / `speedup` (T(1) / T(k) from the medians; min and max from the slowest and the
fastest T(k)) and `amdahl` / `parallel_fraction`: Amdahl's p fitted by least squares on
1/S(n) - 1 = p (1/n - 1), unclamped, as the Rust side computes it.

py-asyncio: k tasks on one loop, `await asyncio.sleep(0)` after each chunk; py-threading: k
threads, thread i pinned to the i-th CPU of the affinity mask; py-multiprocessing: k processes,
placed the same way. Every run's checksum (the sum of the chunks' hashes, mod 2^64) must equal
the serial one, so the work cannot be skipped.
"""

import asyncio
import sys
import threading

import labcommon as lc

EXP = "speedup"
CHUNK_ROUNDS = 30_000
MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15  # 2^64 / the golden ratio


def chunk(seed):
    """One chunk: the Rust lab's `chunk(seed)`, bit for bit."""
    x = (seed | 1) & MASK
    for i in range(CHUNK_ROUNDS):
        x = ((x ^ i) * GOLDEN) & MASK
        x = ((x << 29) & MASK) | (x >> 35)
    return x


def amdahl_fraction(points):
    """Amdahl's p from (n, S(n)) pairs, least squares; None without an n > 1."""
    xy = xx = 0.0
    for n, s in points:
        x = 1.0 / n - 1.0
        y = 1.0 / s - 1.0
        xy += x * y
        xx += x * x
    return xy / xx if xx > 0.0 else None


# ---- the three ways to run `chunks` chunks on `workers` workers; each returns (ns, checksum) ----

def run_asyncio(chunks, workers, _cpus):
    async def main():
        state = {"next": 0, "sum": 0}

        async def worker():
            while state["next"] < chunks:
                i = state["next"]
                state["next"] = i + 1
                state["sum"] = (state["sum"] + chunk(i)) & MASK
                await asyncio.sleep(0)

        loop = asyncio.get_running_loop()
        t0 = lc.now()
        tasks = [loop.create_task(worker()) for _ in range(workers)]
        for t in tasks:
            await t
        return lc.now() - t0, state["sum"]

    return asyncio.run(main())


def run_threads(chunks, workers, cpus):
    lock = threading.Lock()
    state = {"next": 0, "sum": 0}

    def worker(index):
        lc.pin(cpus[index % len(cpus)])
        while True:
            with lock:
                i = state["next"]
                state["next"] = i + 1
            if i >= chunks:
                return
            h = chunk(i)
            with lock:
                state["sum"] = (state["sum"] + h) & MASK

    units = [threading.Thread(target=worker, args=(k,)) for k in range(workers)]
    t0 = lc.now()
    for t in units:
        t.start()
    for t in units:
        t.join()
    return lc.now() - t0, state["sum"]


def _proc_worker(index, cpu, chunks, counter, total):
    lc.pin(cpu)
    s = 0
    while True:
        with counter.get_lock():
            i = counter.value
            counter.value = i + 1
        if i >= chunks:
            break
        s = (s + chunk(i)) & MASK
    with total.get_lock():
        total.value = (total.value + s) & MASK


def run_processes(chunks, workers, cpus):
    ctx = lc.mp_context()
    counter = ctx.Value("q", 0)
    total = ctx.Value("Q", 0)
    units = [ctx.Process(target=_proc_worker,
                         args=(k, cpus[k % len(cpus)], chunks, counter, total))
             for k in range(workers)]
    t0 = lc.now()
    for p in units:
        p.start()
    for p in units:
        p.join()
    elapsed = lc.now() - t0
    if any(p.exitcode != 0 for p in units):
        raise RuntimeError("a worker process failed (exit codes %s)" % [p.exitcode for p in units])
    return elapsed, total.value


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--chunk":
        print(chunk(int(sys.argv[2])))
        return
    a = lc.parse_args(EXP)
    m = a.model
    chunks = a.pick(24, 8, 2)
    cpus = lc.cpus()
    run, how = {
        "py-asyncio": (run_asyncio, "k tasks on one event loop, await asyncio.sleep(0) per chunk"),
        "py-threading": (run_threads, "k threading.Threads, each pinned to its own CPU"),
        "py-multiprocessing": (run_processes, "k processes (start method %s, started inside the "
                               "timing), each pinned to its own CPU" % lc.start_method()),
    }[m]
    times = []
    checksum = None
    for k in range(1, a.nproc + 1):
        samples = []
        for _ in range(a.samples):
            elapsed, s = run(chunks, k, cpus)
            if checksum is None:
                checksum = s
            elif s != checksum:
                raise RuntimeError("checksum %d on %d workers, %d before: lost work" % (s, k, checksum))
            samples.append(elapsed)
        times.append((k, samples))
    t1 = lc.median(times[0][1])
    note = "%s; %d chunks of the lab's hashing in pure Python; %s" % (
        how, chunks, lc.scaled(2_000, chunks) + " chunks")
    points = []
    for k, samples in times:
        s = t1 / lc.median(samples)
        points.append((k, s))
        lc.row(EXP, m, "n=%d" % k, "speedup", s, "x", chunks, len(samples),
               t1 / max(samples), s, t1 / min(samples), note)
    p = amdahl_fraction(points)
    if p is not None:
        lc.row(EXP, m, "amdahl", "parallel_fraction", p, "fraction", chunks, len(times),
               note="Amdahl's p, least squares over n = 1..=%d" % a.nproc)


if __name__ == "__main__":
    main()
