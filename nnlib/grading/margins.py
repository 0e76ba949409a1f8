"""How safely the course's own solutions pass the autograder's random checks.

The autograder draws **fresh random inputs** for every submission (:mod:`.autograde`), so a
check whose verdict depends on the draw (a training task's accuracy on a fresh split, a
dropout rate measured on a random mask) can fail a correct answer by bad luck. That would
cost a student points at random, so every check must pass a correct answer with a margin:

* this module runs the stored solution's functions on ``draws`` independent draws of each
  question's cases, exactly as the grader judges them, and counts the failures;
* for a training question (``Question.accuracy_floor`` set) it also reports the accuracies
  and the **margin**: ``(mean - floor) / sd`` over the draws. At 5 standard deviations a
  correct answer fails about once in 3.5 million gradings (one-sided normal tail).

Run it from the repository root after changing a spec, a threshold or a solution::

    .venv/bin/python -m nnlib.grading.margins                 # every assignment, 200 draws
    .venv/bin/python -m nnlib.grading.margins cnn --draws 1000 --question train_cnn
    python -m nnlib.grading.margins --course PATH_TO_THE_COURSE   # nnlib installed elsewhere

It exits 1 when a draw fails or a margin is below ``--min-margin`` (default 5). The solution
notebook's provided and answer cells run in this process (they are the course's own code);
each assignment runs in its own child process, since a notebook may change JAX's global
settings (``jax_enable_x64``). ``tests/test_grading_margins.py`` runs a fixed, smaller draw.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnlib.grading import core, notebooks, specs

REPO = Path(__file__).resolve().parents[2]


def solution_namespace(assignment: str, course: Path = REPO) -> dict[str, Any]:
    """The names the solution notebook of ``assignment`` defines.

    Runs, in order, every code cell of ``<course>/solutions/<name>/<name>.ipynb`` that carries
    nbgrader metadata, except the graded test cells: the provided (locked) cells, the answer
    cells and the ungraded cells between them (timings, tables), as the grader's kernel runs
    them. Their printing is discarded.
    """
    path = Path(course) / "solutions" / assignment / f"{assignment}.ipynb"
    nb = notebooks.read_notebook(path)
    namespace: dict[str, Any] = {"__name__": f"solution_{assignment}"}
    for cell in nb.cells:
        meta = notebooks.meta(cell)
        if cell.cell_type != "code" or not meta or meta.get("grade"):
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            code = compile(notebooks.source(cell), f"{path.name}:{meta.get('grade_id')}", "exec")
            exec(code, namespace)  # noqa: S102 - the course's own solution, not a student's
    return namespace


def sample(question: core.Question, namespace: Mapping[str, Any], draws: int, seed: int
           ) -> dict[str, Any]:
    """Judges ``question`` on ``draws`` independent draws of its cases, as the grader does.

    Draw ``d`` uses ``numpy.random.default_rng`` seeded from ``(seed, d)``, so a run is
    reproducible. Returns a summary dict: ``failures`` ``[(draw, case, first problem)]``,
    the ``accuracies`` (training questions), ``floor``, ``margin`` and ``seconds``.
    """
    if draws < 1:
        raise ValueError(f"draws must be at least 1, got {draws}")
    t0 = time.perf_counter()
    failures, accuracies, cases = [], [], 0
    for d in range(draws):
        rng = np.random.default_rng([seed, d])
        for desc, inputs in question.make_cases(rng):
            cases += 1
            with contextlib.redirect_stdout(io.StringIO()):
                outputs, error = core.run_case(question, namespace, inputs)
            problems = core.evaluate_case(question, inputs, outputs, error)
            if problems:
                failures.append((d, desc, problems[0]))
            acc = core.accuracy_of(inputs, outputs)
            if question.accuracy_floor is not None and acc is not None:
                accuracies.append(acc)
    out: dict[str, Any] = {"question": question.name, "draws": draws, "cases": cases,
                           "failures": failures, "accuracies": accuracies,
                           "floor": question.accuracy_floor, "margin": None,
                           "seconds": time.perf_counter() - t0}
    if question.accuracy_floor is not None:
        if len(accuracies) != cases:
            failures.append((-1, "", f"{cases - len(accuracies)} case(s) returned no accuracy"))
        elif len(accuracies) > 1:
            a = np.asarray(accuracies)
            sd = float(a.std(ddof=1))
            out["margin"] = (math.inf if sd == 0 else
                             (float(a.mean()) - question.accuracy_floor) / sd)
    return out


def check_assignment(assignment: str, draws: int, seed: int, questions: Sequence[str] = (),
                     course: Path = REPO) -> list[dict[str, Any]]:
    """:func:`sample` for each question of ``assignment`` (or those named), in this process."""
    spec = specs.assignment(assignment)
    known = [q.name for q in spec.QUESTIONS]
    unknown = [q for q in questions if q not in known]
    if unknown:
        raise ValueError(f"{assignment} has no question {', '.join(unknown)}; "
                         f"its questions: {', '.join(known)}")
    namespace = solution_namespace(assignment, course)
    return [sample(q, namespace, draws, seed) for q in spec.QUESTIONS
            if not questions or q.name in questions]


def report_row(assignment: str, r: Mapping[str, Any], min_margin: float) -> tuple[str, bool]:
    """``(line of the table, passed)`` for one :func:`sample` result: passed when no draw
    failed and the margin, if any, is at least ``min_margin``."""
    ok = not r["failures"] and (r["margin"] is None or r["margin"] >= min_margin)
    text = (f"{assignment + '.' + r['question']:42} {r['draws']:6d} {r['cases']:6d} "
            f"{len(r['failures']):5d} {r['seconds']:8.1f}")
    if r["floor"] is not None and r["accuracies"]:
        a = np.asarray(r["accuracies"])
        margin = "-" if r["margin"] is None else f"{r['margin']:.1f}"
        text += (f"   {a.min():.3f} {float(np.quantile(a, 0.01)):.3f} {a.mean():.3f} "
                 f"{a.std(ddof=1) if len(a) > 1 else 0.0:.4f} {r['floor']:.2f} {margin:>6}")
    text += "" if ok else "   <-- FAILS"
    for d, desc, problem in r["failures"][:3]:
        text += f"\n      draw {d}, {desc}: {problem}"
    return text, ok


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nnlib.grading.margins",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("assignments", nargs="*", default=list(specs.ASSIGNMENTS),
                    help="assignments to check (default: all)")
    ap.add_argument("--draws", type=int, default=200, help="draws per question (default 200)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    ap.add_argument("--question", action="append", default=[],
                    help="only this question (repeatable; needs one assignment)")
    ap.add_argument("--min-margin", type=float, default=5.0,
                    help="least (mean - floor) / sd for a training question (default 5)")
    ap.add_argument("--course", type=Path, default=REPO,
                    help="the course folder holding solutions/ (default: this nnlib's checkout)")
    ap.add_argument("--json", action="store_true",
                    help="print one JSON object {assignment: [results]} (used by the children)")
    args = ap.parse_args(argv)
    for a in args.assignments:
        specs.assignment(a)  # a ValueError naming the known assignments
    if args.draws < 1:
        ap.error(f"--draws must be at least 1, got {args.draws}")
    if args.question and len(args.assignments) != 1:
        ap.error("--question needs exactly one assignment")
    args.course = args.course.resolve()
    missing = [a for a in args.assignments
               if not (args.course / "solutions" / a / f"{a}.ipynb").is_file()]
    if missing:
        ap.error(f"no solutions/{missing[0]}/{missing[0]}.ipynb under {args.course}: "
                 "give the course folder with --course")
    if args.json:
        out = {a: check_assignment(a, args.draws, args.seed, args.question, args.course)
               for a in args.assignments}
        print(json.dumps(out))
        return 0
    print(f"{'question':42} {'draws':>6} {'cases':>6} {'fail':>5} {'seconds':>8}   "
          "accuracy: min    p1  mean     sd floor margin")
    ok_all = True
    for a in args.assignments:
        cmd = [sys.executable, "-m", "nnlib.grading.margins", a, "--json", "--draws",
               str(args.draws), "--seed", str(args.seed), "--course", str(args.course)]
        for q in args.question:
            cmd += ["--question", q]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
        if done.returncode != 0:
            print(f"{a}: the check itself failed:\n{done.stderr[-2000:]}")
            ok_all = False
            continue
        for r in json.loads(done.stdout.strip().splitlines()[-1])[a]:
            text, ok = report_row(a, r, args.min_margin)
            ok_all &= ok
            print(text, flush=True)
    print("all checks pass every draw with their margins" if ok_all else
          "SOME CHECKS CAN FAIL A CORRECT ANSWER (see above)")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
