"""Grading for nnlib's assignments: in-notebook checkers and a tamper-proof autograder.

Student side (feedback in the notebook, runs in the student's kernel)::

    from nnlib.grading import check
    check("dense_backward", dense_forward, dense_backward)

Instructor side (the verdict is computed in the grader's process; see
:mod:`nnlib.grading.cli` for the command line)::

    nnlib-grade backprop submissions/ --out grades/ --jobs 2

Modules: :mod:`~nnlib.grading.core` (questions, comparison, diagnosis),
:mod:`~nnlib.grading.checker` (``check``), :mod:`~nnlib.grading.specs` (the assignments'
questions), :mod:`~nnlib.grading.notebooks` (release and assembly of notebooks),
:mod:`~nnlib.grading.sandbox` (running a kernel with limits), :mod:`~nnlib.grading.autograde`
(grading a class), :mod:`~nnlib.grading.gradescope` (packaging), :mod:`~nnlib.grading.demo`
(a demo class).
"""

from __future__ import annotations

from nnlib.grading.checker import CheckResult, check

__all__ = ["CheckResult", "check"]
