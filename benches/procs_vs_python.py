"""Python's side of benches/procs.rs: Pool.map and ProcessPoolExecutor.map over trivial items,
with default settings (the default start method, the automatic chunksize for Pool.map), the
pool started before timing. Prints one `name median_us` line per measurement.

Run by `cargo bench --bench procs` where python3 is installed, or by hand:
`python3 benches/procs_vs_python.py 2000 2` (items, workers).
"""
import concurrent.futures
import multiprocessing
import sys
import time

RUNS = 50


def identity(x):
    return x


def median_us(run):
    run()  # warm up
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2] * 1e6


def main():
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    with multiprocessing.Pool(workers) as pool:
        us = median_us(lambda: pool.map(identity, range(items)))
        print(f"python_pool_map_{items} {us:.0f}")
    with concurrent.futures.ProcessPoolExecutor(workers) as ex:
        us = median_us(lambda: list(ex.map(identity, range(items))))
        print(f"python_executor_map_{items} {us:.0f}")
    ctx = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    with ctx.Pool(1) as pool:
        pool.apply(identity, (0,))
    print(f"python_spawn_pool_1_worker {(time.perf_counter() - start) * 1e6:.0f}")


if __name__ == "__main__":
    main()
