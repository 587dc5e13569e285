# The lab runs this with `python -I -c` to check that a path is a Python 3 and to record the
# interpreter in the result file (docs/lab.md, "Coming from Python"). It prints one JSON line.
# Written so that any Python, 2 included, runs it and says what it is.
import json, os, platform, sys
gil = getattr(sys, "_is_gil_enabled", None)
try:
    import multiprocessing
    method = multiprocessing.get_start_method()
except Exception:
    method = None
try:
    ncpu = len(os.sched_getaffinity(0))
except Exception:
    ncpu = None
print(json.dumps({"interpreter": {
    "version": platform.python_version(),
    "major": sys.version_info[0],
    "implementation": platform.python_implementation(),
    "executable": sys.executable,
    "gil_enabled": gil() if gil is not None else True,
    "gil_check": "sys._is_gil_enabled()" if gil is not None else "no sys._is_gil_enabled (before 3.13): the GIL is always on",
    "start_method": method,
    "cpus": ncpu,
}}))
