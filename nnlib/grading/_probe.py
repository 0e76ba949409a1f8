"""The grader's probe, run in the student's kernel after the student's cells.

``run(assignment, question, namespace)`` loads the inputs the grader wrote for this run
(``inputs/<question>.npz``), calls the student's functions from ``namespace`` through the
question's ``run``, and writes the raw outputs as plain arrays to ``outputs/<question>.npz``
(atomically, after every case, so whatever was computed before a crash survives). Nothing
here decides a mark: the grader loads these arrays with ``allow_pickle=False`` and judges them
in its own process. A student who tampers with this module can only spoil their own data.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np


def _save(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def run(assignment: str, question: str, namespace: Mapping[str, Any], folder: str = ".") -> None:
    """Runs ``question``'s cases on the student's functions; writes their outputs."""
    from nnlib.grading import core, specs

    q = {x.name: x for x in specs.assignment(assignment).QUESTIONS}[question]
    with np.load(os.path.join(folder, "inputs", f"{question}.npz"), allow_pickle=False) as data:
        flat = {k: data[k] for k in data.files}
    n_cases = 1 + max(int(k.split(".", 1)[0][1:]) for k in flat)
    out_path = os.path.join(folder, "outputs", f"{question}.npz")
    out: dict[str, np.ndarray] = {}
    missing = [f for f in q.functions if not callable(namespace.get(f))]
    if missing:
        out["missing"] = np.array(missing)
        _save(out_path, out)
        return
    fns = {f: namespace[f] for f in q.functions}
    for i in range(n_cases):
        prefix = f"c{i}."
        inputs = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
        outputs, error = core.run_case(q, fns, inputs)
        if error is None:
            for key, value in outputs.items():
                arr, why = core.as_numeric(value, key)
                if why:
                    error = f"TypeError: {why}"
                    break
                out[prefix + key] = arr
        if error is not None:
            out = {k: v for k, v in out.items() if not k.startswith(prefix)}
            out[prefix + "__error__"] = np.array(error)
        _save(out_path, out)
