"""What every Python peer script of the Switchyard lab shares (stdlib only).

The lab (docs/lab.md, "Coming from Python"; workloads and names from docs/lab.md) runs one script per
experiment as a child process, once per model (py-asyncio, py-threading, py-multiprocessing):

    python3 EXPERIMENT.py --model MODEL [--size full|quick|tiny | --quick] [--cpus 0,1,..]
                          [--pin CPU] [--nproc K]

and reads its standard output: one JSON object per line, each either a row of the result
file (exactly its field names: experiment, model, variant, metric, value, unit, n, samples,
min, median, max, p50, p90, p99, p999, max_latency, note; histogram rows add "raw", the
recorded values in the row's unit, from which the lab builds its HdrHistogram), or
{"skip": {...}} for a variant that is not measured, with the reason. Anything else on stdout is
an error. A script that fails exits non-zero and the last line of its stderr says why.

Python runs these workloads hundreds of times slower than Rust, so the counts are scaled down
from docs/lab.md's; every row's `n` gives the count actually used and its note says so.
"""

import argparse
import json
import math
import os
import sys
import time

MODELS = ("py-asyncio", "py-threading", "py-multiprocessing")
SIZES = ("full", "quick", "tiny")

# Repetitions per batch: Python's full run takes 3, not the lab's 5 (time budget).
SAMPLES = {"full": 3, "quick": 3, "tiny": 2}
# Untimed round trips before each ping-pong sample's timed ones, as the lab's own models
# (lab/src/workloads/mod.rs, WARMUP_ROUND_TRIPS): a fresh cross-core pair starts faster than
# its steady state on a VM.
WARMUP_ROUND_TRIPS = 500

now = time.monotonic_ns  # CLOCK_MONOTONIC: one clock for every process of the machine


class Args:
    def __init__(self, model, size, nproc):
        self.model = model
        self.size = size
        self.nproc = nproc
        self.samples = SAMPLES[size]

    def pick(self, full, quick, tiny):
        """The count for this run's size."""
        return {"full": full, "quick": quick, "tiny": tiny}[self.size]


def parse_args(experiment, argv=None):
    p = argparse.ArgumentParser(prog=experiment + ".py")
    p.add_argument("--model", required=True, choices=MODELS)
    p.add_argument("--size", default="full", choices=SIZES)
    p.add_argument("--quick", dest="size", action="store_const", const="quick",
                   help="the same as --size quick")
    p.add_argument("--nproc", type=int, default=None)
    p.add_argument("--pin", type=int, default=None,
                   help="run on this CPU (and what the script starts inherits it), except units "
                        "an experiment places explicitly; as the lab pins its own measurements")
    p.add_argument("--cpus", default=None,
                   help="the CPUs to run on, e.g. 0,1 (the lab passes its own process's mask, "
                        "so a script started from a pinned lab thread still sees every CPU)")
    a = p.parse_args(argv)
    if a.cpus is not None:
        try:
            mask = {int(c) for c in a.cpus.split(",") if c}
            os.sched_setaffinity(0, mask)
        except (ValueError, OSError) as e:
            p.error("--cpus %s: %s" % (a.cpus, e))
    global _ALLOWED, PINNED
    _ALLOWED = cpus()
    if a.pin is not None:
        if a.pin not in _ALLOWED:
            p.error("--pin %d: not one of the CPUs %s" % (a.pin, _ALLOWED))
        os.sched_setaffinity(0, {a.pin})
        PINNED = a.pin
    nproc = len(cpus()) if a.nproc is None else a.nproc
    if nproc < 1:
        p.error("--nproc must be at least 1")
    return Args(a.model, a.size, nproc)


def mp_context(method=None):
    """A multiprocessing context: the interpreter's default (fork on Linux before 3.14,
    forkserver from 3.14) or `method`. A fork server preloads the script, so that each child
    does not import it again (as a server forking from an initialised process should)."""
    import multiprocessing

    ctx = multiprocessing.get_context(method)
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["__main__"])
    return ctx


def start_method():
    import multiprocessing

    return multiprocessing.get_start_method()


FIELDS = ("experiment", "model", "variant", "metric", "value", "unit", "n", "samples",
          "min", "median", "max", "p50", "p90", "p99", "p999", "max_latency", "note")


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def row(experiment, model, variant, metric, value, unit, n, samples, lo=None, mid=None, hi=None,
        note=None, **extra):
    """Prints one row; min/median/max default to value."""
    r = {
        "experiment": experiment, "model": model, "variant": variant, "metric": metric,
        "value": float(value), "unit": unit, "n": int(n), "samples": int(samples),
        "min": float(value if lo is None else lo),
        "median": float(value if mid is None else mid),
        "max": float(value if hi is None else hi),
        "p50": None, "p90": None, "p99": None, "p999": None, "max_latency": None,
        "note": _placed(note),
    }
    r.update(extra)
    emit(r)


def _placed(note):
    """The note, saying where the script ran when it was pinned."""
    if PINNED is None:
        return note
    where = "script pinned to CPU %d (units placed explicitly say where they ran)" % PINNED
    return where if not note else note + "; " + where


def median(xs):
    s = sorted(xs)
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


def batch_row(experiment, model, variant, n, per_op, note=None, metric="ns_per_op", unit="ns"):
    """A row from per-operation figures of several samples: median, min, max."""
    row(experiment, model, variant, metric, median(per_op), unit, n, len(per_op),
        min(per_op), median(per_op), max(per_op), note)


def percentile(sorted_xs, q):
    """Nearest-rank percentile of sorted values."""
    if not sorted_xs:
        return None
    k = max(0, min(len(sorted_xs) - 1, math.ceil(q * len(sorted_xs)) - 1))
    return float(sorted_xs[k])


def hist_row(experiment, model, variant, metric, values, n, note=None, unit="ns"):
    """A histogram row: value the median; percentiles filled; the raw values attached."""
    s = sorted(int(max(0, v)) for v in values)
    if not s:
        raise RuntimeError("no values recorded for %s/%s" % (experiment, variant))
    p50 = percentile(s, 0.5)
    emit({
        "experiment": experiment, "model": model, "variant": variant, "metric": metric,
        "value": p50, "unit": unit, "n": int(n), "samples": len(s),
        "min": float(s[0]), "median": p50, "max": float(s[-1]),
        "p50": p50, "p90": percentile(s, 0.9), "p99": percentile(s, 0.99),
        "p999": percentile(s, 0.999), "max_latency": float(s[-1]),
        "note": _placed(note), "raw": s,
    })


def skip(experiment, model, variant, reason):
    emit({"skip": {"experiment": experiment, "model": model, "variant": variant,
                   "reason": reason}})


# The CPUs the script may place units on (set by --cpus before --pin narrows the mask).
_ALLOWED = None
# --pin: the CPU the script and what it starts run on, unless a unit is placed explicitly.
PINNED = None


def cpus():
    """The CPUs this script may place units on: --cpus, else the affinity mask."""
    if _ALLOWED is not None:
        return list(_ALLOWED)
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def pin(cpu):
    """Pins the calling thread (Linux: pid 0 is the calling thread) to `cpu`; best effort."""
    try:
        os.sched_setaffinity(0, {cpu})
        return True
    except (AttributeError, OSError):
        return False


def unpin(mask):
    try:
        os.sched_setaffinity(0, mask)
    except (AttributeError, OSError):
        pass


def current_cpu():
    """The CPU the calling thread last ran on (/proc/thread-self/stat field 39), or None."""
    try:
        with open("/proc/thread-self/stat") as f:
            text = f.read()
        return int(text[text.rindex(")") + 2:].split()[36])
    except (OSError, ValueError, IndexError):
        return None


def rss_bytes(pid="self"):
    """Resident memory of a process (VmRSS), in bytes."""
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/%s/status" % pid)


def pss_bytes(pid):
    """Proportional resident memory of a process (Pss), in bytes, or None where unreadable."""
    try:
        with open("/proc/%s/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def scaled(lab, used):
    """The note's wording for a count scaled down from the lab's."""
    return "scaled for Python: %s (lab: %s)" % (format(used, ","), format(lab, ","))


def placement_note(wanted, ran):
    """Says where two units were asked to run and where they ran."""
    ran_txt = ", ".join("?" if c is None else str(c) for c in ran)
    ok = all(c is None or c == w for c, w in zip(ran, wanted))
    return "units asked for CPUs %s, ran on %s%s" % (
        ", ".join(str(c) for c in wanted), ran_txt, "" if ok else " (NOT where asked)")
