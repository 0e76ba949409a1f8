"""Questions, comparisons and diagnoses shared by the checkers and the autograder.

A :class:`Question` says how to exercise a student's functions and how to judge what they
return:

* ``make_cases(rng)`` draws fresh inputs (a list of ``(description, inputs)`` pairs, the
  inputs a dict of NumPy arrays) from a ``numpy.random.Generator``;
* ``run(fns, inputs)`` calls the student's functions (``fns`` maps a function name to the
  callable) and returns a dict of outputs -- this is the only code that runs in the
  student's kernel when grading;
* ``reference(inputs)`` computes the expected outputs in float64 NumPy (grader side);
* ``mistakes`` are known wrong variants with the message a student should read when their
  output matches one of them (e.g. "the weight gradient is transposed");
* ``judge(inputs, outputs)`` replaces the reference comparison where outputs are random or
  only a property can be checked (dropout, training accuracy).

:func:`evaluate_case` turns one case's outputs into a list of plain-language problems; the
same function serves the in-notebook :func:`nnlib.grading.check` and the autograder, so a
student and an instructor read the same diagnosis.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

Inputs = Mapping[str, np.ndarray]
Outputs = Mapping[str, Any]
NOT_IMPLEMENTED = "not implemented yet"
LIKELY = "Likely mistake: "

# What a task done "by hand" may not call (see nnlib.grading.honesty): JAX's autodiff, and the
# grader's own questions and verdicts. A question adds nnlib's implementation of what it asks.
AUTODIFF = ("jax.grad", "jax.value_and_grad", "jax.vjp", "jax.jvp", "jax.jacfwd", "jax.jacrev",
            "jax.hessian", "jax.linearize", "jax.linear_transpose")
GRADER = ("nnlib.grading.specs", "nnlib.grading.core")
CHANCE = 1e-6
"""The largest chance with which a check may call a correct answer wrong. A check that compares
random draws (two epochs' shuffles, the splits of two keys) runs only on cases where a correct
answer's draws coincide with at most this probability; :mod:`nnlib.grading.margins` holds the
training tasks' accuracy floors to the same standard (5 standard deviations)."""
BY_HAND = AUTODIFF + GRADER


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A known wrong implementation.

    Attributes:
      name: a short identifier (``"transposed_dW"``), used in tests.
      message: what the student reads when their output matches this variant.
      outputs: ``outputs(inputs) -> dict`` computing the wrong variant's outputs.
    """

    name: str
    message: str
    outputs: Callable[[Inputs], dict]


def variant(reference: Callable[[Inputs], dict], **changes: Callable[[Inputs], Any]
            ) -> Callable[[Inputs], dict]:
    """A mistake's ``outputs``: the reference's outputs with some of them replaced.

    Example: ``variant(ref, grad=lambda i: -ref(i)["grad"])`` is the reference with the
    gradient's sign flipped (the other outputs stay right, so only the gradient is compared).
    """
    def outputs(inputs: Inputs) -> dict:
        out = dict(reference(inputs))
        out.update({key: f(inputs) for key, f in changes.items()})
        return out
    return outputs


@contextlib.contextmanager
def counting_calls(function: Callable, names: Sequence[str]) -> Iterator[dict[str, int]]:
    """Counts the calls ``function`` makes to the notebook functions ``names`` while inside.

    A student's plain function looks its helpers up in its module's namespace
    (``function.__globals__``, the notebook's); each named helper there is wrapped for the
    duration, so a task that must use the student's own functions can check it did. Yields
    ``name -> number of calls``; the helpers are restored on exit.
    """
    space = getattr(function, "__globals__", {})
    calls = dict.fromkeys(names, 0)
    saved = {name: space.get(name) for name in names}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    for name, fn in saved.items():
        if callable(fn):
            space[name] = counted(name, fn)
    try:
        yield calls
    finally:
        for name, fn in saved.items():
            if callable(fn):
                space[name] = fn


def training_judge(function: str, own: Sequence[str], minimum: float, setting: str
                   ) -> Callable[[Inputs, Outputs], list[str]]:
    """The judge of a training task: ``accuracy`` at least ``minimum`` and every ``own``
    function used (outputs ``used <name>``, from :func:`counting_calls`)."""
    def judge(inputs: Inputs, outputs: Outputs) -> list[str]:
        try:
            accuracy = float(np.asarray(outputs["accuracy"]))
            used = {n: bool(np.asarray(outputs[f"used {n}"])) for n in own}
        except (KeyError, TypeError, ValueError) as e:
            return [f"could not read what {function} returned ({type(e).__name__})"]
        problems = [f"{function} never called your {n}" for n, u in used.items() if not u]
        if not accuracy >= minimum:
            problems.append(f"accuracy {accuracy:.3f}, expected at least {minimum:.2f} with "
                            f"{setting}")
        return problems
    return judge


def accuracy_of(inputs: Inputs, outputs: Outputs | None) -> float | None:
    """The accuracy a training question's outputs show: ``outputs["accuracy"]``, or the
    argmax of ``outputs["scores"]`` (N, K) against the grader-only labels
    ``inputs["_y_test"]`` (N,); None when they show neither."""
    if not outputs:
        return None
    if "accuracy" in outputs:
        return float(np.asarray(outputs["accuracy"], np.float64))
    if "scores" in outputs and "_y_test" in inputs:
        scores = np.asarray(outputs["scores"], np.float64)
        return float(np.mean(np.argmax(scores, axis=1) == inputs["_y_test"]))
    return None


@dataclasses.dataclass(frozen=True)
class Question:
    """One graded or checkable question (see the module docstring).

    Attributes:
      name: the question's name, also the ``grade_id`` of its answer cell.
      functions: names of the student functions ``run`` needs, in the order
        :func:`nnlib.grading.check` takes them.
      make_cases: ``rng -> [(description, inputs), ...]``.
      run: ``(fns, inputs) -> outputs`` (runs in the student's kernel).
      reference: ``inputs -> expected outputs`` (float64), or None when ``judge`` is given.
      points: marks for the question (all cases must pass).
      rtol, atol: tolerances of the test ``|got - want| <= atol + rtol max|want|`` (:func:`close`).
      mistakes: known wrong variants, tried in order.
      judge: ``(inputs, outputs) -> [problem, ...]`` replacing the reference comparison.
      test_cell: ``grade_id`` of the notebook's graded test cell for this question.
      timeout: seconds the autograder allows for all of this question's cases.
      hints: ``(inputs, outputs) -> message or None`` checks tried before ``mistakes``
        (for mistakes recognised by a property, e.g. nan from an overflow).
      forbidden: dotted names the answer may not call (the task says "by hand"): a name
        forbids everything under it. The autograder scores the question 0 when the answer's
        source or its run reaches one (:mod:`nnlib.grading.honesty`).
      accuracy_floor: for a training question, the least accuracy its ``judge`` accepts;
        :mod:`nnlib.grading.margins` measures how far a correct answer stays above it on
        fresh draws (it must be at least 5 standard deviations).
    """

    name: str
    functions: tuple[str, ...]
    make_cases: Callable[[np.random.Generator], list[tuple[str, dict]]]
    run: Callable[[Mapping[str, Callable], Inputs], Outputs]
    reference: Callable[[Inputs], dict] | None = None
    points: float = 0.0
    rtol: float = 1e-5
    atol: float = 1e-7
    mistakes: tuple[Mistake, ...] = ()
    judge: Callable[[Inputs, Outputs], list[str]] | None = None
    test_cell: str | None = None
    timeout: float = 30.0
    hints: tuple[Callable[[Inputs, Outputs], str | None], ...] = ()
    forbidden: tuple[str, ...] = ()
    accuracy_floor: float | None = None


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(x))


def as_numeric(value: Any, key: str) -> tuple[np.ndarray | None, str | None]:
    """Converts an output to a float64/int array, or returns a problem message."""
    try:
        arr = np.asarray(value)
    except Exception as e:  # noqa: BLE001 - any failure is the student's output's fault
        return None, f"`{key}` could not be converted to an array ({type(e).__name__})"
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        return None, f"`{key}` is not a numeric array (got dtype {arr.dtype})"
    return arr, None


def close(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> bool:
    """``|got - want| <= atol + rtol * max|want|`` everywhere; matching inf/nan count as equal.

    The relative part is scaled by the array's largest finite magnitude, so an entry that is
    small by cancellation is not held to a tighter standard than float arithmetic allows.
    """
    if _shape(got) != _shape(want):
        return False
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    finite = np.isfinite(want)
    scale = float(np.max(np.abs(want[finite]))) if finite.any() else 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        same_special = (np.isnan(got) & np.isnan(want)) | (
            np.isinf(got) & np.isinf(want) & (np.sign(got) == np.sign(want)))
        ok = np.abs(got - want) <= atol + rtol * scale
    return bool(np.all(np.where(finite, ok & np.isfinite(got), same_special)))


def _describe_error(got: np.ndarray, want: np.ndarray) -> str:
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if not np.all(np.isfinite(got)) and np.all(np.isfinite(want)):
        bad = int(np.sum(~np.isfinite(got)))
        return f"contains {bad} nan/inf value(s) where finite values are expected"
    err = np.abs(got - want)
    idx = np.unravel_index(int(np.nanargmax(err)), err.shape) if err.size else ()
    where = f" at index {tuple(int(i) for i in idx)}" if err.ndim else ""
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    return (
        f"is off by up to {float(np.nanmax(err)):.3g}{where} "
        f"(largest expected magnitude {scale:.3g})"
    )


def compare_outputs(
    question: Question, outputs: Outputs, expected: Mapping[str, np.ndarray]
) -> list[str]:
    """Problems found comparing ``outputs`` with ``expected`` key by key (empty if right)."""
    problems = []
    for key, want in expected.items():
        if key not in outputs:
            problems.append(f"`{key}` is missing from what your function returned")
            continue
        got, why = as_numeric(outputs[key], key)
        if why:
            problems.append(why)
            continue
        want = np.asarray(want)
        if _shape(got) != _shape(want):
            msg = f"`{key}` has shape {_shape(got)}, expected {_shape(want)}"
            if got.ndim == 2 and _shape(got) == _shape(want)[::-1] and close(
                got.T, want, question.rtol, question.atol
            ):
                msg += f" -- it is the transpose of the right answer (is `{key}` transposed?)"
            elif got.ndim == want.ndim + 1 and close(
                got.sum(axis=0), want, question.rtol, question.atol
            ):
                msg += " -- summed over the batch (axis 0) it would be right"
            problems.append(msg)
            continue
        if not close(got, want, question.rtol, question.atol):
            problems.append(f"`{key}` {_describe_error(got, want)}")
    return problems


def diagnose(question: Question, inputs: Inputs, outputs: Outputs) -> list[str]:
    """Messages of the known mistakes that ``outputs`` show.

    A mistake is recognised when, on every output where its variant differs from the
    reference, the student's output matches the variant (outputs where the variant is right
    are ignored, so two mistakes in one answer are both named).
    """
    expected = question.reference(inputs) if question.reference else None
    found = []
    for mistake in question.mistakes:
        try:
            wrong = mistake.outputs(inputs)
        except Exception:  # noqa: BLE001 - a variant that cannot run matches nothing
            continue
        differing = [k for k, v in wrong.items() if expected is None or not close(
            np.asarray(v), np.asarray(expected[k]), question.rtol, question.atol)]
        if not differing:
            continue
        matched = True
        for key in differing:
            got, why = as_numeric(outputs[key], key) if key in outputs else (None, "missing")
            if why is not None or not close(got, np.asarray(wrong[key]), question.rtol,
                                            question.atol):
                matched = False
                break
        if matched and mistake.message not in found:
            found.append(mistake.message)
    return found


def evaluate_case(
    question: Question, inputs: Inputs, outputs: Outputs | None, error: str | None
) -> list[str]:
    """Plain-language problems with one case (an empty list means the case passed).

    Args:
      question: the question.
      inputs: the case's inputs.
      outputs: what the student's functions returned (None if they raised).
      error: ``"ExceptionType: message"`` when they raised, else None.
    """
    if error is not None:
        if error.startswith("NotImplementedError"):
            return [NOT_IMPLEMENTED]
        return [f"raised {error}"]
    outputs = outputs or {}
    if question.judge is not None:
        problems = question.judge(inputs, outputs)
    else:
        problems = compare_outputs(question, outputs, question.reference(inputs))
    if problems:
        hints = [h for h in (f(inputs, outputs) for f in question.hints) if h]
        hints = hints or diagnose(question, inputs, outputs)
        problems.extend(f"{LIKELY}{h}" for h in hints)
    return problems


def run_case(
    question: Question, fns: Mapping[str, Callable], inputs: Inputs
) -> tuple[dict | None, str | None]:
    """Calls ``question.run``; returns ``(outputs, None)`` or ``(None, "Type: message")``."""
    try:
        out = question.run(fns, inputs)
    except Exception as e:  # noqa: BLE001 - report whatever the student's code raised
        text = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
        return None, f"{type(e).__name__}: {text}" if text else type(e).__name__
    if not isinstance(out, Mapping):
        return None, "TypeError: the question's runner did not return a dict"
    return dict(out), None


def summarize(question: Question, results: Sequence[tuple[str, list[str]]]) -> tuple[bool, str]:
    """``(passed, text)`` for a question given ``[(case description, problems), ...]``."""
    failed = [(d, p) for d, p in results if p]
    if not failed:
        return True, f"{question.name}: all {len(results)} checks passed."
    if all(p == [NOT_IMPLEMENTED] for _, p in failed):
        return False, f"{question.name}: not implemented yet."
    lines = [f"{question.name}: {len(failed)} of {len(results)} checks failed."]
    hints: list[str] = []  # a likely mistake is said once, after the cases
    for desc, problems in failed[:3]:
        lines.append(f"  - on {desc}:")
        for p in problems:
            if p.startswith(LIKELY):
                hints += [] if p in hints else [p]
            else:
                lines.append(f"      {p}")
    if len(failed) > 3:
        lines.append(f"  ... and {len(failed) - 3} more failing case(s).")
    lines.extend(f"  {h}" for h in hints)
    return False, "\n".join(lines)
