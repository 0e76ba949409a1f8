"""Times ``import nnlib`` (budget: under 2 s) and the imports a lesson's first cell makes.

Each import runs in a fresh interpreter, several times; the median is reported. Exit status
1 when ``import nnlib`` misses its budget.

Usage::

    python benchmarks/bench_import.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

BUDGET_S = 2.0
STATEMENTS = {
    "import nnlib": "import nnlib",
    "core (layers, losses, optim, train)": "import nnlib.layers, nnlib.losses, nnlib.optim, nnlib.train",
    "everything (+ data, viz, grading)": "import nnlib.layers, nnlib.train, nnlib.data, nnlib.viz, nnlib.grading",
}


def time_import(statement: str, repeat: int) -> float:
    """Median wall-clock seconds of ``python -c statement`` over ``repeat`` fresh runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print("| import | median s (interpreter start included) |")
    print("|---|---:|")
    results = {name: time_import(stmt, args.repeat) for name, stmt in STATEMENTS.items()}
    for name, seconds in results.items():
        print(f"| `{name}` | {seconds:.2f} |")
    ok = results["import nnlib"] < BUDGET_S
    print(f"\nimport nnlib under {BUDGET_S:.0f} s: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
