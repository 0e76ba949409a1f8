"""What JAX's persistent compilation cache (``nnlib.compile_cache``) saves: cold vs warm runs.

Each notebook runs twice from a fresh kernel (nbclient, as ``bench_notebooks.py`` runs it):
first with an empty cache folder of its own (cold: everything compiles, and what took at
least the threshold is written), then again with the folder the first run filled (warm).
With ``--tests``, each test module given runs the same way under pytest. A markdown table
gives the wall seconds of both runs, the saving, and the folder's size and entry count.
Timings are wall-clock on a possibly shared machine: compare runs of one invocation, and
re-run when the load average printed first is high.

Usage::

    python benchmarks/bench_compile.py                      # notebooks/*.ipynb, solutions/*/*.ipynb
    python benchmarks/bench_compile.py notebooks/08_cnn.ipynb --tests tests/test_train.py
    python benchmarks/bench_compile.py notebooks/07_training_loop.ipynb --min-compile-time 0

``--min-compile-time S`` sets ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` for the runs
(nnlib's own default is ``nnlib.compile_cache.MIN_COMPILE_TIME_S``), to compare thresholds;
``--off`` adds a third run per row with the cache off (``NNLIB_COMPILE_CACHE=0``), which shows
what writing the entries costs the cold run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_notebooks import ROOT, inline_figures, notebook_paths
from bench_notebooks import run as run_notebook

MiB = 1 << 20


def folder_size(folder: Path) -> tuple[int, int]:
    """``(bytes, entries)`` of a JAX cache folder (entries: the ``*-cache`` files)."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), sum(p.name.endswith("-cache") for p in files)


def run_tests(module: Path) -> float:
    """Runs one test module under pytest in a fresh interpreter; returns wall seconds."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(module)], cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"{module} failed (exit {out.returncode}):\n{out.stdout[-2000:]}")
    return wall


def cold_warm(run: Callable[[], float], cache: Path, off: bool) -> dict[str, float]:
    """Wall seconds of ``run`` with the empty folder ``cache``, again warm, and optionally off."""
    os.environ["NNLIB_COMPILE_CACHE"] = str(cache)
    row = {"cold": run()}
    row["bytes"], row["entries"] = folder_size(cache)
    row["warm"] = run()
    if off:
        os.environ["NNLIB_COMPILE_CACHE"] = "0"
        row["off"] = run()
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all)")
    parser.add_argument("--tests", nargs="+", type=Path, default=[], metavar="MODULE",
                        help="test modules to time the same way (e.g. tests/test_train.py)")
    parser.add_argument("--min-compile-time", type=float, default=None, metavar="S",
                        help="JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS for every run")
    parser.add_argument("--off", action="store_true", help="also time each row with no cache")
    args = parser.parse_args(argv)
    notebooks = notebook_paths(args.paths) if args.paths or not args.tests else []

    # The kernels and pytest inherit this environment: this checkout's nnlib, its cache
    # settings only (a JAX_COMPILATION_CACHE_DIR or NNLIB_GRADING would switch nnlib's off).
    inline_figures()
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                             os.environ.get("PYTHONPATH")]))
    for name in ("JAX_COMPILATION_CACHE_DIR", "NNLIB_GRADING"):
        if os.environ.pop(name, None) is not None:
            print(f"note: {name} unset for these runs")
    if args.min_compile_time is not None:
        os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = str(args.min_compile_time)
    threshold = os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "nnlib's default")

    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the run; "
          f"min compile time cached: {threshold}")
    off_head = " off s |" if args.off else ""
    print(f"| run | cold s | warm s | saved s | saved % |{off_head} cache MiB | entries |")
    print("|---|---:|---:|---:|---:|" + ("---:|" if args.off else "") + "---:|---:|")
    totals = {"cold": 0.0, "warm": 0.0, "off": 0.0, "bytes": 0}
    jobs = [(p.relative_to(ROOT), lambda p=p: run_notebook(p)[0]) for p in notebooks]
    jobs += [(m.relative_to(ROOT) if m.is_relative_to(ROOT) else m, lambda m=m: run_tests(m))
             for m in (p.resolve() for p in args.tests)]
    with tempfile.TemporaryDirectory(prefix="nnlib-bench-compile-") as tmp:
        for i, (name, run) in enumerate(jobs):
            row = cold_warm(run, Path(tmp, str(i)), args.off)
            for k in totals:
                totals[k] += row.get(k, 0)
            print(_line(str(name), row, args.off), flush=True)
    if len(jobs) > 1:
        print(_line("**total**", totals, args.off))
    return 0


def _line(name: str, row: dict[str, float], off: bool) -> str:
    saved = row["cold"] - row["warm"]
    pct = 100 * saved / row["cold"] if row["cold"] else 0.0
    off_cell = f" {row['off']:.1f} |" if off else ""
    entries = f"{row['entries']:.0f}" if "entries" in row else ""
    return (f"| {name} | {row['cold']:.1f} | {row['warm']:.1f} | {saved:.1f} | {pct:.0f} |"
            f"{off_cell} {row['bytes'] / MiB:.1f} | {entries} |")


if __name__ == "__main__":
    sys.exit(main())
