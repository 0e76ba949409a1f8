"""The grader's probe, run in the student's kernel after the student's cells.

``run(assignment, question, namespace)`` takes the inputs the grader sent for this run
(:data:`nnlib.grading.runner.INPUTS`), calls the student's functions from ``namespace``
through the question's ``run``, and sends each case's raw outputs to the grader as soon as the
case finishes (so whatever was computed before a crash survives), with the forbidden
functions the case reached (:mod:`nnlib.grading.honesty`). Nothing here decides a mark: the
grader decodes these frames with caps and judges the arrays in its own process. A student who
tampers with this module can only spoil their own results.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np


def _wire_array(value: Any, key: str) -> tuple[np.ndarray | None, str | None]:
    """An output as an array the channel carries (numbers and booleans), or a problem."""
    from nnlib.grading import core, wire

    arr, why = core.as_numeric(value, key)
    if why:
        return None, why
    if wire.dtype_name(arr) is None:
        if not np.issubdtype(arr.dtype, np.floating):
            return None, f"`{key}` is not a numeric array the grader reads (dtype {arr.dtype})"
        arr = arr.astype(np.float64)
    return arr, None


def run(assignment: str, question: str, namespace: Mapping[str, Any]) -> None:
    """Runs ``question``'s cases on the student's functions; sends their outputs."""
    from nnlib.grading import core, honesty, runner, specs

    q = {x.name: x for x in specs.assignment(assignment).QUESTIONS}[question]
    cases = runner.INPUTS.get(question, {})
    missing = [f for f in q.functions if not callable(namespace.get(f))]
    if missing:
        runner.send({"op": "missing", "question": question, "functions": missing})
        return
    fns = {f: namespace[f] for f in q.functions}
    for i in sorted(cases):
        with honesty.watch() as reached:
            outputs, error = core.run_case(q, fns, cases[i])
        arrays = {}
        if error is None:
            for key, value in outputs.items():
                arr, why = _wire_array(value, key)
                if why:
                    error = f"TypeError: {why}"
                    arrays = {}
                    break
                arrays[key] = arr
        runner.send({"op": "case", "question": question, "case": i,
                     "error": None if error is None else runner.clip(error),
                     "reached": sorted(reached)}, arrays)
