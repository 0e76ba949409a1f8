"""Times every notebook from a fresh kernel against the course's budgets.

Budgets (DESIGN.md, on a 2-core CPU): each lesson notebook at most 90 s, all of them together
at most 10 minutes; each assignment solution at most 120 s. A notebook over budget makes
the script exit with status 1, so it can gate a release; it is a benchmark, not a unit test,
because wall-clock time depends on the machine and its load.

Each notebook runs with an empty JAX compilation cache of its own (``NNLIB_COMPILE_CACHE``
set to a fresh folder), so the times are a first run's, as on a fresh machine, however often
the benchmark runs; export ``NNLIB_COMPILE_CACHE`` to choose otherwise (``bench_compile.py``
measures what the cache saves).

Usage::

    python benchmarks/bench_notebooks.py                 # notebooks/*.ipynb and solutions/*/*.ipynb
    python benchmarks/bench_notebooks.py notebooks/01b_backprop_training.ipynb
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
LESSON_BUDGET_S, TOTAL_BUDGET_S, SOLUTION_BUDGET_S = 90.0, 600.0, 120.0


def run(path: Path) -> tuple[float, float]:
    """Executes ``path`` in a fresh kernel; returns (wall seconds, kernel CPU seconds)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def notebook_paths(paths: list[Path]) -> list[Path]:
    """``paths`` made absolute, or every lesson and solution notebook when it is empty."""
    return [p.resolve() for p in paths] or sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
        (ROOT / "solutions").glob("*/*.ipynb"))


def inline_figures() -> None:
    """Kernels started from now on draw inline, whatever the caller exported (with
    MPLBACKEND=Agg, as the test script sets, a kernel would draw every figure and store none)."""
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = notebook_paths(args.paths)
    inline_figures()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the run")
    print("| notebook | wall s | kernel CPU s | budget s | within |")
    print("|---|---:|---:|---:|---|")
    over, lessons_total = False, 0.0
    cold = "NNLIB_COMPILE_CACHE" not in os.environ
    for path in paths:
        budget = SOLUTION_BUDGET_S if "solutions" in path.parts else LESSON_BUDGET_S
        with tempfile.TemporaryDirectory(prefix="nnlib-bench-cache-") as cache:
            if cold:
                os.environ["NNLIB_COMPILE_CACHE"] = cache
            wall, cpu = run(path)
        if budget == LESSON_BUDGET_S:
            lessons_total += wall
        ok = wall <= budget
        over |= not ok
        print(f"| {path.relative_to(ROOT)} | {wall:.1f} | {cpu:.1f} | {budget:.0f} | {'yes' if ok else 'NO'} |")
    total_ok = lessons_total <= TOTAL_BUDGET_S
    print(f"\nlesson notebooks together: {lessons_total:.1f} s (budget {TOTAL_BUDGET_S:.0f} s): "
          f"{'yes' if total_ok else 'NO'}")
    return 0 if (not over and total_ok) else 1


if __name__ == "__main__":
    sys.exit(main())
