"""Helpers shared by the checker tests: a right answer passes, a wrong one gets its diagnosis."""

from __future__ import annotations

from nnlib.grading import check


def fails_with(name, *fns, expect):
    """Asserts ``check(name, *fns)`` fails and its report contains ``expect``."""
    result = check(name, *fns, verbose=False)
    assert not result.passed, result.report
    assert expect in result.report, result.report
    return result


def passes_on_seeds(name, fns, seeds=(0, 7)):
    """Asserts ``check(name, *fns)`` passes on the cases of every seed in ``seeds``."""
    for seed in seeds:
        result = check(name, *fns, seed=seed, verbose=False)
        assert result.passed, result.report
