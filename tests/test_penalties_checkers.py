"""Lesson 06's checkers: the L2 and L1 penalties with their gradients, and early stopping.

Right answers pass on two seeds in several forms (JAX, NumPy loops, ``jax.tree.map``, the
library's own penalties, ``jax.grad`` with the subgradient fixed at 0, the stopping rule
vectorised or recomputed from slices); every catalogued mistake, written the way a student
would write it, gets its diagnosis; and wrong answers the catalogue does not list fail (the
last test counts how many of them are also named).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from checks import fails_with, passes_on_seeds
from nnlib import optim
from nnlib.grading import check, specs

NAMES = ("l2_penalty_and_grad", "l1_penalty_and_grad", "early_stopping")


def test_the_questions_are_registered_as_lesson_checkers():
    questions = specs.all_questions()
    for name in NAMES:
        q = questions[name]
        assert q.points == 0 and len(q.mistakes) >= 8, name


def test_every_catalogued_mistake_moves_some_case_beyond_the_tolerance():
    from nnlib.grading.core import compare_outputs

    for name in NAMES:
        q = specs.question(name)
        for seed in (0, 7):
            cases = q.make_cases(np.random.default_rng(seed))
            for m in q.mistakes:
                moved = [bool(compare_outputs(q, m.outputs(i), q.reference(i))) for _, i in cases]
                assert any(moved), f"{name}: {m.name} is invisible on seed {seed}"


# --------------------------------------------------------------------------- L2
def l2_jax(params, lam):
    penalty = sum(0.5 * lam * jnp.sum(layer["W"] ** 2) for layer in params)
    return penalty, [{"W": lam * layer["W"], "b": jnp.zeros_like(layer["b"])} for layer in params]


def l2_numpy_loops(params, lam):
    penalty, grads = 0.0, []
    for layer in params:
        w = np.asarray(layer["W"])
        for value in w.ravel():
            penalty += 0.5 * lam * value * value
        grads.append({"W": lam * w, "b": np.zeros(np.shape(layer["b"]))})
    return penalty, grads


def l2_library_and_grad(params, lam):
    """nnlib's penalty on the weights only, its gradient from jax.grad."""
    weights = [layer["W"] for layer in params]
    penalty, dw = jax.value_and_grad(lambda ws: optim.l2_penalty(ws, lam))(weights)
    return penalty, [{"W": g, "b": jnp.zeros_like(layer["b"])} for g, layer in zip(dw, params)]


def l2_tree_map(params, lam):
    grads = [{"W": lam * p["W"], "b": 0.0 * p["b"]} for p in params]
    sq = jax.tree.map(lambda p: jnp.sum(p["W"] ** 2), params, is_leaf=lambda p: "W" in p)
    return lam / 2 * sum(sq), grads


@pytest.mark.parametrize("fn", [l2_jax, l2_numpy_loops, l2_library_and_grad, l2_tree_map])
def test_l2_right_answers_pass(fn):
    passes_on_seeds("l2_penalty_and_grad", (fn,))


def _l2(pen, dw, db=lambda lam, b: jnp.zeros_like(b)):
    def fn(params, lam):
        return (pen(params, lam),
                [{"W": dw(lam, p["W"]), "b": db(lam, p["b"])} for p in params])
    return fn


def _sum_sq(params, key="W"):
    return sum(jnp.sum(p[key] ** 2) for p in params)


def test_l2_mistakes_are_named():
    def all_leaves(params, lam):
        penalty = 0.5 * lam * sum(jnp.sum(leaf ** 2) for leaf in jax.tree.leaves(params))
        return penalty, jax.tree.map(lambda leaf: lam * leaf, params)

    def mean_all(params, lam):
        w = jnp.concatenate([p["W"].ravel() for p in params])
        return 0.5 * lam * jnp.mean(w ** 2), [{"W": lam * p["W"] / w.size,
                                                "b": jnp.zeros_like(p["b"])} for p in params]

    def mean_each(params, lam):
        return (0.5 * lam * sum(jnp.mean(p["W"] ** 2) for p in params),
                [{"W": lam * p["W"] / p["W"].size, "b": jnp.zeros_like(p["b"])} for p in params])

    half = lambda params, lam: 0.5 * lam * _sum_sq(params)  # noqa: E731
    fails_with("l2_penalty_and_grad", _l2(lambda p, lam: lam * _sum_sq(p), lambda lam, w: 2 * lam * w),
               expect="the convention lam * sum(W**2)")
    fails_with("l2_penalty_and_grad", all_leaves, expect="the biases are penalised too")
    fails_with("l2_penalty_and_grad", mean_all, expect="MEAN over the weights")
    fails_with("l2_penalty_and_grad", mean_each, expect="each layer's squares are averaged")
    fails_with("l2_penalty_and_grad", _l2(half, lambda lam, w: lam * w / 2),
               expect="a factor 2 is missing")
    fails_with("l2_penalty_and_grad", _l2(half, lambda lam, w: 2 * lam * w),
               expect="the 2 from the square cancels")
    fails_with("l2_penalty_and_grad", _l2(lambda p, lam: lam * _sum_sq(p), lambda lam, w: lam * w),
               expect="the 1/2 is missing")
    fails_with("l2_penalty_and_grad",
               _l2(lambda p, lam: 0.5 * lam * sum(jnp.linalg.norm(q["W"]) for q in p),
                   lambda lam, w: lam * w), expect="not its square")
    fails_with("l2_penalty_and_grad", _l2(half, lambda lam, w: -lam * w),
               expect="the wrong sign")
    fails_with("l2_penalty_and_grad", _l2(half, lambda lam, w: w), expect="the gradient is W itself")


def test_l2_report_names_the_output_and_the_case():
    result = check("l2_penalty_and_grad", _l2(lambda p, lam: 0.5 * lam * _sum_sq(p),
                                              lambda lam, w: lam * w, lambda lam, b: lam * b),
                   verbose=False)
    assert not result.passed
    assert "`grad_b0`" in result.report and "on two layers (3, 5) and (5, 2)" in result.report


def test_l2_stub_is_not_implemented_yet():
    def stub(params, lam):
        raise NotImplementedError("write l2_penalty_and_grad")

    assert check("l2_penalty_and_grad", stub, verbose=False).report.endswith("not implemented yet.")


# --------------------------------------------------------------------------- L1
def l1_jax(params, lam):
    penalty = sum(lam * jnp.sum(jnp.abs(layer["W"])) for layer in params)
    return penalty, [{"W": lam * jnp.sign(layer["W"]), "b": jnp.zeros_like(layer["b"])}
                     for layer in params]


def l1_numpy_where(params, lam):
    grads = [{"W": lam * np.where(p["W"] > 0, 1.0, np.where(p["W"] < 0, -1.0, 0.0)),
              "b": np.zeros_like(p["b"])} for p in params]
    return lam * sum(np.abs(p["W"]).sum() for p in params), grads


def l1_grad_then_fix_zero(params, lam):
    """jax.grad of the library's penalty, with the subgradient at exactly 0 set to 0."""
    weights = [layer["W"] for layer in params]
    penalty, dw = jax.value_and_grad(lambda ws: optim.l1_penalty(ws, lam))(weights)
    return penalty, [{"W": jnp.where(w == 0, 0.0, g), "b": jnp.zeros_like(layer["b"])}
                     for w, g, layer in zip(weights, dw, params)]


@pytest.mark.parametrize("fn", [l1_jax, l1_numpy_where, l1_grad_then_fix_zero])
def test_l1_right_answers_pass(fn):
    passes_on_seeds("l1_penalty_and_grad", (fn,))


def _abs_sum(params, key="W"):
    return sum(jnp.sum(jnp.abs(p[key])) for p in params)


def test_l1_mistakes_are_named():
    pen = lambda params, lam: lam * _abs_sum(params)  # noqa: E731

    def jax_grad_of_abs(params, lam):
        weights = [p["W"] for p in params]
        dw = jax.grad(lambda ws: lam * sum(jnp.sum(jnp.abs(w)) for w in ws))(weights)
        return pen(params, lam), [{"W": g, "b": jnp.zeros_like(p["b"])} for g, p in zip(dw, params)]

    def all_leaves(params, lam):
        return (lam * sum(jnp.sum(jnp.abs(v)) for v in jax.tree.leaves(params)),
                jax.tree.map(lambda v: lam * jnp.sign(v), params))

    def mean_all(params, lam):
        n = sum(p["W"].size for p in params)
        return pen(params, lam) / n, [{"W": lam * jnp.sign(p["W"]) / n,
                                       "b": jnp.zeros_like(p["b"])} for p in params]

    sign_at_zero = "the gradient must be 0 (the subgradient sign(0) = 0"
    fails_with("l1_penalty_and_grad", _l2(pen, lambda lam, w: lam * jnp.where(w >= 0, 1.0, -1.0)),
               expect=sign_at_zero)
    fails_with("l1_penalty_and_grad", jax_grad_of_abs, expect=sign_at_zero)
    fails_with("l1_penalty_and_grad", _l2(pen, lambda lam, w: lam * jnp.where(w > 0, 1.0, -1.0)),
               expect=sign_at_zero)
    fails_with("l1_penalty_and_grad", _l2(pen, lambda lam, w: lam * w / jnp.abs(w)),
               expect="divides 0 by 0")
    fails_with("l1_penalty_and_grad", all_leaves, expect="the biases are penalised too")
    fails_with("l1_penalty_and_grad", mean_all, expect="MEAN over the weights")
    fails_with("l1_penalty_and_grad", _l2(lambda p, lam: lam / 2 * _abs_sum(p),
                                          lambda lam, w: lam / 2 * jnp.sign(w)),
               expect="the 1/2 belongs to the L2")
    fails_with("l1_penalty_and_grad", _l2(pen, lambda lam, w: lam * w),
               expect="the L2 penalty's")
    fails_with("l1_penalty_and_grad", _l2(pen, lambda lam, w: -lam * jnp.sign(w)),
               expect="the wrong sign")
    fails_with("l1_penalty_and_grad", _l2(lambda p, lam: lam * _sum_sq(p),
                                          lambda lam, w: lam * jnp.sign(w)),
               expect="uses W**2")


# --------------------------------------------------------------------------- early stopping
def stopping_loop(history, patience):
    best, best_epoch, wait = float("inf"), 0, 0
    for epoch, value in enumerate(history["val_loss"]):
        if value < best:
            best, best_epoch, wait = value, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, best_epoch
    return len(history["val_loss"]) - 1, best_epoch


def stopping_numpy(history, patience):
    """Vectorised: the running minimum; stop where the epochs since it reach patience."""
    v = np.asarray(history["val_loss"])
    running = np.minimum.accumulate(v)
    improved = np.r_[True, v[1:] < running[:-1]]
    last = np.maximum.accumulate(np.where(improved, np.arange(len(v)), 0))
    hit = np.flatnonzero(np.arange(len(v)) - last >= patience)
    stop = int(hit[0]) if hit.size else len(v) - 1
    return stop, int(last[stop])


def stopping_slices(history, patience):
    """The epochs since the first minimum so far, recomputed at every epoch."""
    v = list(history["val_loss"])
    for epoch in range(len(v)):
        best_epoch = int(np.argmin(v[:epoch + 1]))
        if epoch - best_epoch >= patience:
            return epoch, best_epoch
    return len(v) - 1, int(np.argmin(v))


@pytest.mark.parametrize("fn", [stopping_loop, stopping_numpy, stopping_slices])
def test_early_stopping_right_answers_pass(fn):
    passes_on_seeds("early_stopping", (fn,))


def _rule(*, key="val_loss", strict=True, reset=True, late=0, previous=False, last=False,
          base=0, whole=False, stop=True, factor=1.0):
    def fn(history, patience):
        v = history[key]
        best, best_epoch, wait = float("inf"), 0, 0
        for epoch, value in enumerate(v):
            if previous:
                better = epoch == 0 or value < v[epoch - 1]
            else:
                better = value < factor * best if strict else value <= best
            if value < best if previous else better:
                best, best_epoch = value, epoch
            if better:
                wait = 0 if reset else wait
            else:
                wait += 1
                if stop and wait >= patience + late:
                    end = epoch
                    break
        else:
            end = len(v) - 1
        if whole:
            best_epoch = int(np.argmin(v))
        return end + base, (end if last else best_epoch) + base
    return fn


def test_early_stopping_mistakes_are_named():
    fails_with("early_stopping", _rule(key="loss"), expect="watches the TRAINING loss")
    fails_with("early_stopping", _rule(last=True), expect="the epoch where training stopped")
    fails_with("early_stopping", _rule(late=1), expect="stops one epoch late")
    fails_with("early_stopping", _rule(late=-1), expect="stops one epoch early")
    fails_with("early_stopping", _rule(strict=False), expect="EQUAL to the best")
    fails_with("early_stopping", _rule(reset=False), expect="is not reset to 0")
    fails_with("early_stopping", _rule(previous=True), expect="the PREVIOUS epoch")
    fails_with("early_stopping", _rule(base=1), expect="counted from 1")
    fails_with("early_stopping", _rule(whole=True), expect="the minimum of the WHOLE list")
    fails_with("early_stopping", _rule(stop=False, whole=True), expect="never stops")


def test_early_stopping_returns_a_pair():
    result = check("early_stopping", lambda history, patience: 3, verbose=False)
    assert not result.passed and "a pair (stop_epoch, best_epoch)" in result.report


# ------------------------------------------------- wrong answers the catalogue does not list
def _extra_wrong_answers():
    def l2_first_layer_only(params, lam):  # `return` inside the loop
        for layer in params:
            return (0.5 * lam * jnp.sum(layer["W"] ** 2),
                    [{"W": lam * p["W"], "b": jnp.zeros_like(p["b"])} for p in params])

    def l2_transposed_grad(params, lam):
        return (0.5 * lam * _sum_sq(params),
                [{"W": lam * p["W"].T, "b": jnp.zeros_like(p["b"])} for p in params])

    def l1_lam_squared(params, lam):  # lam applied twice
        return (lam * _abs_sum(params),
                [{"W": lam * lam * jnp.sign(p["W"]), "b": jnp.zeros_like(p["b"])} for p in params])

    def l1_soft_threshold_as_grad(params, lam):  # returns the proximal step, not a gradient
        return (lam * _abs_sum(params),
                [{"W": jnp.sign(p["W"]) * jnp.maximum(jnp.abs(p["W"]) - lam, 0.0),
                  "b": jnp.zeros_like(p["b"])} for p in params])

    def stop_swapped(history, patience):  # (best_epoch, stop_epoch)
        stop, best = stopping_loop(history, patience)
        return best, stop

    stop_relative_delta = _rule(factor=0.99)  # needs a 1% improvement to count
    stop_relative_delta.__name__ = "stop_relative_delta"

    return [("l2_penalty_and_grad", l2_first_layer_only),
            ("l2_penalty_and_grad", l2_transposed_grad),
            ("l1_penalty_and_grad", l1_lam_squared),
            ("l1_penalty_and_grad", l1_soft_threshold_as_grad),
            ("early_stopping", stop_swapped),
            ("early_stopping", stop_relative_delta)]


EXTRA = _extra_wrong_answers()


@pytest.mark.parametrize("name,fn", EXTRA, ids=[f.__name__ for _, f in EXTRA])
def test_wrong_answers_outside_the_catalogue_fail(name, fn):
    result = check(name, fn, verbose=False)
    assert not result.passed, result.report


def test_how_many_uncatalogued_wrong_answers_are_named():
    """Reported, not required: how many of the extra wrong answers get a 'Likely mistake'."""
    named = [("Likely mistake" in check(name, fn, verbose=False).report) for name, fn in EXTRA]
    print(f"{sum(named)} of {len(EXTRA)} uncatalogued wrong answers are named")
    assert len(named) == 6
