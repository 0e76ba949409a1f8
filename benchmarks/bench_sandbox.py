"""The grading sandbox's costs and its fairness: start-up time, and a CPU hog's neighbour.

    python benchmarks/bench_sandbox.py [--work 3e7] [--hog 400]

1. Start-up: seconds from nothing to a kernel that has run one cell (bubblewrap, the
   IPython shell, the channel), median of 5.
2. Fairness: a "victim" sandbox times a fixed pure-Python loop, alone and while a "hog"
   sandbox keeps up to ``--hog`` busy processes running (each trying ``setsid``), as a
   student graded beside a hostile one would. Three set-ups: the sandbox as it runs (with a
   cgroup where the grader can make one, i.e. as root), the sandbox without a cgroup (the
   non-root fallback: one session per sandbox, ``setsid`` refused), and, for comparison,
   the same hog as plain processes outside any sandbox.
The slowdown is the victim's time with the hog divided by its time alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnlib.grading import cgroups, sandbox  # noqa: E402

LIMITS = sandbox.Limits(cell_timeout=120, total_timeout=180)
HOG = """# nnlib-bench-hog
import os, time
n = 0
for _ in range({hog}):
    try:
        if os.fork() == 0:
            try:
                os.setsid()
            except OSError:
                pass
            while True:
                pass
        n += 1
    except OSError:
        break
time.sleep({seconds})
"""
VICTIM = """
import time
t = time.perf_counter()
s = 0
for i in range({work}):
    s += i
raise RuntimeError(f"{{time.perf_counter() - t:.3f}}")
"""


def run(code: str) -> sandbox.RunReport:
    return sandbox.run_cells([(0, code)], sandbox=sandbox.Sandbox(), limits=LIMITS, inputs={},
                             probes={})


def victim(work: int) -> float | None:
    """The victim's loop time, or None if it did not even finish within its limits."""
    rep = run(VICTIM.format(work=work))
    if not rep.cells or rep.cells[0].status != "error":
        return None
    return float(rep.cells[0].detail.split(": ", 1)[1])


def with_hog(work: int, hog: int, *, sandboxed: bool) -> float | None:
    seconds = 60
    if sandboxed:
        t = threading.Thread(target=run, args=(HOG.format(hog=hog, seconds=seconds),))
        t.start()
        procs = []
    else:
        code = HOG.format(hog=hog, seconds=seconds)
        procs = [subprocess.Popen([sys.executable, "-c", code], start_new_session=True)]
    time.sleep(3)  # the hog is up
    try:
        return victim(work)
    finally:
        if procs:  # its processes left its session (setsid): found by their command line
            subprocess.run(["pkill", "-9", "-f", "nnlib-bench-hog"], check=False)
            procs[0].wait()
        if sandboxed:
            t.join()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=float, default=3e7, help="iterations of the victim's loop")
    p.add_argument("--hog", type=int, default=400, help="busy processes the hog tries to start")
    a = p.parse_args()
    sandbox.Sandbox().check()
    work = int(a.work)
    starts = []
    for _ in range(5):
        t0 = time.perf_counter()
        run("x = 1")
        starts.append(time.perf_counter() - t0)
    probe = cgroups.create(1 << 30, 64)
    if probe is not None:
        probe.close()
    print(f"machine: {os.cpu_count()} cores; euid {os.geteuid()}; "
          f"cgroup: {'yes' if probe else 'no'}")
    print(f"sandbox start-up + one cell: median {statistics.median(starts):.3f} s "
          f"(min {min(starts):.3f}, max {max(starts):.3f})")
    alone = victim(work)
    rows = [("victim alone", alone)]
    rows.append(("beside a hog, sandbox as it runs", with_hog(work, a.hog, sandboxed=True)))
    real_create = cgroups.create
    cgroups.create = lambda *args, **kw: None  # the non-root fallback
    try:
        rows.append(("beside a hog, sandbox without a cgroup",
                     with_hog(work, a.hog, sandboxed=True)))
    finally:
        cgroups.create = real_create
    rows.append(("beside the same hog outside any sandbox", with_hog(work, a.hog,
                                                                     sandboxed=False)))
    print("| set-up | victim's loop (s) | slowdown |")
    print("|---|---|---|")
    for name, secs in rows:
        if secs is None:
            print(f"| {name} | did not finish within {LIMITS.cell_timeout:g} s | - |")
        else:
            print(f"| {name} | {secs:.2f} | {secs / alone:.2f}x |")


if __name__ == "__main__":
    main()
