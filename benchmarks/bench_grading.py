"""Autograder throughput: grade a demo class of N submissions and report submissions/minute.

    python benchmarks/bench_grading.py [--n 100] [--jobs 2] [--no-jax-cache | --both]
    python benchmarks/bench_grading.py --single      # one submission at a time, 3 runs each

The class comes from :func:`nnlib.grading.demo.make_class` (correct, partly right, broken and
hostile submissions, including an endless loop that costs one cell timeout). When nbgrader is
importable, the same submissions are also graded with ``nbgrader autograde`` in a scratch
course folder and both rates are printed side by side; otherwise that row says so. nnlib-grade's
time includes building its compilation cache (one run of the solution); ``--no-jax-cache``
grades without it, ``--both`` grades the class both ways (cache first) in the same run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nnlib.grading import autograde, demo, results, sandbox, specs  # noqa: E402

FULL = sum(q.points for q in specs.assignment("backprop").QUESTIONS)


def bench_nnlib(subs: Path, out: Path, jobs: int, cell_timeout: float,
                jax_cache: bool = True) -> float:
    limits = sandbox.Limits(cell_timeout=cell_timeout, total_timeout=300)
    t0 = time.perf_counter()
    autograde.grade_all("backprop", subs, out, course=REPO, jobs=jobs, limits=limits, force=True,
                        log=lambda *_: None, jax_cache=jax_cache)
    return time.perf_counter() - t0


def bench_nbgrader(subs: Path, solution: Path, work: Path, cell_timeout: float) -> float | None:
    if importlib.util.find_spec("nbgrader") is None:
        return None
    course = work / "course"
    (course / "source" / "backprop").mkdir(parents=True)
    shutil.copy(solution, course / "source" / "backprop" / "backprop.ipynb")
    for nb in subs.glob("*.ipynb"):
        d = course / "submitted" / nb.stem / "backprop"
        d.mkdir(parents=True)
        shutil.copy(nb, d / "backprop.ipynb")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.root = %r\n"
        "c.ExecutePreprocessor.timeout = %d\n" % (str(course), int(cell_timeout)))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PYTHONPATH": str(REPO)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "nbgrader", *a], cwd=course,  # noqa
                                    env=env, capture_output=True, text=True)
    run("db", "assignment", "add", "backprop")
    run("generate_assignment", "backprop", "--force")
    for nb in subs.glob("*.ipynb"):
        run("db", "student", "add", nb.stem)
    t0 = time.perf_counter()
    done = run("autograde", "backprop", "--force")
    secs = time.perf_counter() - t0
    if done.returncode != 0:
        print(f"nbgrader autograde failed: {done.stderr[-500:]}")
    run("export")
    csv_path = course / "grades.csv"
    rows = csv_path.read_text().splitlines()[1:] if csv_path.exists() else []
    print(f"nbgrader graded {len(rows)} submissions; full marks: "
          f"{sum(1 for r in rows if float(r.split(',')[7]) == FULL)}")
    return secs


def bench_single(repeats: int = 3) -> None:
    """Seconds to grade the solution (with and without the JAX cache) and the student version."""
    import dataclasses

    from nnlib.grading import jaxcache

    source = autograde.resolve_source("backprop", REPO)
    cfg = autograde.Config(limits=sandbox.Limits(cell_timeout=60, total_timeout=300))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        entries = autograde.build_jax_cache(source, cfg)
        print(f"JAX cache built in {time.perf_counter() - t0:.2f} s ({len(entries)} entries)")
        cached = dataclasses.replace(cfg, cache_dir=str(jaxcache.install(
            entries, Path(tmp) / "cache")))
        student = source.parents[2] / "assignments" / "backprop" / "backprop.ipynb"
        for name, path, c in (("solution, JAX cache", source, cached),
                              ("solution, no cache", source, cfg),
                              ("student version, JAX cache", student, cached)):
            times = []
            for i in range(repeats):
                t0 = time.perf_counter()
                autograde.grade_submission(source, path, f"s{i}", Path(tmp) / "out", cfg=c)
                times.append(time.perf_counter() - t0)
            print(f"{name}: " + ", ".join(f"{t:.2f}" for t in times) + " s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--cell-timeout", type=float, default=10.0)
    p.add_argument("--no-jax-cache", action="store_true", help="grade without the JAX cache")
    p.add_argument("--both", action="store_true", help="grade with and without the JAX cache")
    p.add_argument("--single", action="store_true",
                   help="time one submission at a time instead of a class")
    a = p.parse_args()
    if a.single:
        bench_single()
        return
    modes = [True, False] if a.both else [not a.no_jax_cache]
    rows = []
    solution = autograde.resolve_source("backprop", REPO)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        demo.make_class(solution, tmp / "subs", n=a.n, seed=0)
        scores = []
        for cache in modes:
            out = tmp / f"out-{cache}"
            secs = bench_nnlib(tmp / "subs", out, a.jobs, a.cell_timeout, cache)
            graded = results.load_results(out)
            scores.append({s: r["score"] for s, r in graded.items()})
            print(f"nnlib-grade (JAX cache {'on' if cache else 'off'}) graded {len(graded)} "
                  f"submissions; full marks: {sum(1 for r in graded.values() if r['score'] == FULL)}")
            rows.append((f"nnlib-grade, JAX cache {'on' if cache else 'off'}", secs, len(graded)))
        if len(scores) == 2:
            print("same scores with and without the cache:", scores[0] == scores[1])
        nbg = bench_nbgrader(tmp / "subs", solution, tmp, a.cell_timeout)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{a.n} submissions of backprop, cell timeout {a.cell_timeout:g} s")
    print("| grader | jobs | seconds | submissions/minute |")
    print("|---|---|---|---|")
    for name, secs, count in rows:
        print(f"| {name} | {a.jobs} | {secs:.0f} | {60 * count / secs:.1f} |")
    if nbg is None:
        print("| nbgrader autograde | 1 | not installed | - |")
    else:
        print(f"| nbgrader autograde | 1 | {nbg:.0f} | {60 * a.n / nbg:.1f} |")


if __name__ == "__main__":
    main()
