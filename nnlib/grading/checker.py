"""The student-facing checker: ``check("dense_backward", dense_forward, dense_backward)``.

A check runs the student's functions on several inputs (edge cases included: a batch of one,
non-square shapes, zeros, large values), compares the outputs with a float64 reference and
prints what is wrong in plain words: the output whose shape or values are off, by how much,
and -- when the output matches a known wrong variant -- the likely mistake. A stub that still
raises ``NotImplementedError`` gets "not implemented yet".

This is feedback only: it runs in the student's own kernel. The autograder never trusts it;
it calls the student's functions on its own fresh inputs and judges in its own process
(:mod:`nnlib.grading.autograde`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from nnlib.grading import core


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The outcome of :func:`check`; true when every case passed.

    Attributes:
      name: the question's name.
      passed: whether all cases passed.
      report: the plain-language report that :func:`check` printed.
      problems: ``[(case description, [problem, ...]), ...]`` for every case.
    """

    name: str
    passed: bool
    report: str
    problems: tuple

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"CheckResult(name={self.name!r}, passed={self.passed})"

    def _ipython_display_(self) -> None:  # the report was already printed by check()
        return None


def check(name: str, *functions: Callable, seed: int = 0, verbose: bool = True) -> CheckResult:
    """Checks the student's implementation of question ``name``.

    Args:
      name: the question (e.g. ``"dense_backward"``; a wrong name lists the valid ones).
      *functions: the student's functions, in the order the question names them
        (e.g. ``dense_forward, dense_backward``).
      seed: seed of the test inputs (the same seed gives the same inputs).
      verbose: print the report.

    Returns:
      A :class:`CheckResult`, true when every case passed.

    Raises:
      ValueError: unknown question name or wrong number of functions.
      TypeError: an argument that is not callable.
    """
    from nnlib.grading import specs

    q = specs.question(name)
    if len(functions) != len(q.functions):
        raise ValueError(
            f"check({name!r}, ...) needs {len(q.functions)} function(s): "
            f"{', '.join(q.functions)}; got {len(functions)}"
        )
    for fname, fn in zip(q.functions, functions, strict=True):
        if not callable(fn):
            raise TypeError(f"check({name!r}): {fname} must be a function, got {type(fn).__name__}")
    fns = dict(zip(q.functions, functions, strict=True))
    results = []
    for desc, inputs in q.make_cases(np.random.default_rng(seed)):
        outputs, error = core.run_case(q, fns, inputs)
        results.append((desc, core.evaluate_case(q, inputs, outputs, error)))
        if error is not None and error.startswith("NotImplementedError"):
            break
    passed, text = core.summarize(q, results)
    if verbose:
        print(("PASS  " if passed else "FAIL  ") + text)
    return CheckResult(name=q.name, passed=passed, report=text, problems=tuple(results))
