"""Lesson 03's checkers: logsumexp, BCE on logits, cross-entropy with integer labels.

Right answers pass in several forms (NumPy, JAX, loops, ``np.logaddexp``); every catalogued
mistake gets its diagnosis; and some wrong answers the catalogue does not list are shown to
fail (the last test counts how many of them are also named).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnlib import losses
from nnlib.grading import check, specs


def _fails_with(name, *fns, expect):
    result = check(name, *fns, verbose=False)
    assert not result.passed, f"{name}: a wrong answer passed"
    assert expect in result.report, result.report
    return result


def test_the_new_questions_are_registered_with_zero_points():
    for name in ("logsumexp", "bce_with_logits", "categorical_cross_entropy"):
        q = specs.question(name)
        assert q.points == 0 and q.mistakes


# --------------------------------------------------------------------------- logsumexp
def lse_numpy(z):
    m = z.max(axis=-1, keepdims=True)
    return m[..., 0] + np.log(np.exp(z - m).sum(axis=-1))


def lse_loops(z):
    out = np.empty(z.shape[:-1])
    for n, row in enumerate(z):
        m = max(row)
        out[n] = m + np.log(sum(np.exp(v - m) for v in row))
    return out


def lse_logaddexp(z):
    return np.logaddexp.reduce(z, axis=-1)


@pytest.mark.parametrize("fn", [lse_numpy, lse_loops, lse_logaddexp,
                                lambda z: jax.scipy.special.logsumexp(z, axis=-1),
                                lambda z: losses.logsumexp(jnp.asarray(z))])
def test_logsumexp_right_answers_pass(fn):
    result = check("logsumexp", fn, verbose=False)
    assert result.passed, result.report


def test_logsumexp_mistakes_are_named():
    with np.errstate(over="ignore", divide="ignore"):
        _fails_with("logsumexp", lambda z: np.log(np.exp(z).sum(-1)),
                    expect="logsumexp overflowed")
        _fails_with("logsumexp", lambda z: z.max() + np.log(np.exp(z - z.max()).sum(-1)),
                    expect="over the whole array instead of each row")
    _fails_with("logsumexp", lambda z: np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1)),
                expect="subtracted inside the exp but not added back")
    _fails_with("logsumexp", lambda z: z.max(-1), expect="only the max m of each row")
    _fails_with("logsumexp", lambda z: lse_numpy(z) - np.log(z.shape[-1]),
                expect="log of the MEAN of exp(z)")
    _fails_with("logsumexp", lambda z: lse_numpy(z.T), expect="reduced over axis 0")
    _fails_with("logsumexp", lambda z: lse_numpy(z)[..., None], expect="keepdims=True")


# --------------------------------------------------------------------------- BCE on logits
def bce(z, t):
    return np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))


def bce_grad(z, t):
    return (0.5 * (1 + np.tanh(z / 2)) - t) / z.size


def bce_jax(z, t):
    return jnp.mean(jax.nn.softplus(z) - z * t)


def bce_loops(z, t):
    total = 0.0
    for zi, ti in zip(z, t):
        total += np.logaddexp(0.0, zi) - zi * ti
    return total / len(z)


@pytest.mark.parametrize("loss,grad", [
    (bce, bce_grad),
    (bce_jax, lambda z, t: (jax.nn.sigmoid(z) - t) / z.size),
    (bce_loops, bce_grad),
    (losses.sigmoid_binary_cross_entropy, losses.sigmoid_binary_cross_entropy_grad),
    (bce_jax, jax.grad(bce_jax)),
])
def test_bce_right_answers_pass(loss, grad):
    result = check("bce_with_logits", loss, grad, verbose=False)
    assert result.passed, result.report


def naive_bce(z, t):
    p = jax.nn.sigmoid(z)
    return -jnp.mean(t * jnp.log(p) + (1 - t) * jnp.log(1 - p))


def test_bce_mistakes_are_named():
    _fails_with("bce_with_logits", naive_bce, bce_grad, expect="log(p) or log(1 - p) is log(0)")
    _fails_with("bce_with_logits", lambda z, t: jnp.mean(jnp.log(1 + jnp.exp(z)) - z * t),
                bce_grad, expect="log(0) (or exp(z) overflows")
    for eps in (1e-7, 1e-12):
        def clipped(z, t, eps=eps):
            p = jnp.clip(jax.nn.sigmoid(jnp.asarray(z, jnp.float64)), eps, 1 - eps)
            return -jnp.mean(t * jnp.log(p) + (1 - t) * jnp.log(1 - p))
        with jax.enable_x64(True):
            _fails_with("bce_with_logits", clipped, bce_grad, expect=f"clipped to [{eps:g}")
    _fails_with("bce_with_logits", lambda z, t: bce(z, t) * z.size, bce_grad,
                expect="SUM over the batch")
    _fails_with("bce_with_logits", bce, lambda z, t: bce_grad(z, t) * z.size,
                expect="missing the 1/N")
    _fails_with("bce_with_logits", lambda z, t: -bce(z, t), bce_grad, expect="MINUS the mean")
    _fails_with("bce_with_logits", bce, lambda z, t: -bce_grad(z, t), expect="sign error")
    _fails_with("bce_with_logits", lambda z, t: bce(z, 1 - t), bce_grad,
                expect="t and 1 - t are swapped")

    def grad_p(z, t):
        p = 1 / (1 + np.exp(-z))
        return (p - t) / (p * (1 - p)) / z.size

    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        _fails_with("bce_with_logits", bce, grad_p, expect="gradient with respect to the probability")

    def grad_mse(z, t):
        p = 0.5 * (1 + np.tanh(z / 2))
        return 2 * (p - t) * p * (1 - p) / z.size

    _fails_with("bce_with_logits", bce, grad_mse, expect="the MSE's on a sigmoid output")


def test_two_bce_mistakes_in_one_answer_are_both_named():
    r = _fails_with("bce_with_logits", lambda z, t: bce(z, t) * z.size,
                    lambda z, t: -bce_grad(z, t), expect="SUM over the batch")
    assert "sign error" in r.report


# --------------------------------------------------------------------------- integer labels
def cce_numpy(z, labels):
    logp = z - lse_numpy(z)[:, None]
    return -np.mean(logp[np.arange(len(z)), labels])


def cce_loops(z, labels):
    total = 0.0
    for row, c in zip(z, labels):
        total += lse_loops(row[None])[0] - row[c]
    return total / len(z)


def cce_onehot(z, labels):
    y = jax.nn.one_hot(labels, z.shape[-1])
    return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(z), axis=-1))


@pytest.mark.parametrize("fn", [cce_numpy, cce_loops, cce_onehot,
                                losses.softmax_cross_entropy_with_integer_labels])
def test_cce_right_answers_pass(fn):
    result = check("categorical_cross_entropy", fn, verbose=False)
    assert result.passed, result.report


def test_cce_mistakes_are_named():
    def naive(z, labels):
        e = np.exp(z)
        p = e / e.sum(-1, keepdims=True)
        return -np.mean(np.log(p[np.arange(len(z)), labels]))

    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        _fails_with("categorical_cross_entropy", naive, expect="exp overflowed")
    logp = lambda z: z - lse_numpy(z)[:, None]  # noqa: E731
    _fails_with("categorical_cross_entropy", lambda z, c: cce_numpy(z, c) * len(z),
                expect="SUM over the batch")
    _fails_with("categorical_cross_entropy",
                lambda z, c: -np.mean(jax.nn.one_hot(c, z.shape[-1]) * logp(z)),
                expect="divided by N*K")
    _fails_with("categorical_cross_entropy", lambda z, c: -cce_numpy(z, c),
                expect="MINUS the mean log-probability")
    _fails_with("categorical_cross_entropy", lambda z, c: -np.mean(logp(z)[:, c]),
                expect="logp[:, labels] picks every label's column")
    _fails_with("categorical_cross_entropy",
                lambda z, c: -np.mean(np.sum(c[:, None] * logp(z), axis=-1)),
                expect="as if they were one-hot rows")

    def lost_max(z, c):
        m = z.max(-1, keepdims=True)
        lp = z - np.log(np.exp(z - m).sum(-1, keepdims=True))
        return -np.mean(lp[np.arange(len(z)), c])

    _fails_with("categorical_cross_entropy", lost_max, expect="logsumexp lost the row's max")
    with np.errstate(under="ignore", divide="ignore", invalid="ignore"):
        _fails_with("categorical_cross_entropy",
                    lambda z, c: -np.mean((z - lse_numpy(z.T)[None, :])[np.arange(len(z)), c]),
                    expect="normalised over the batch (axis 0)")


# ------------------------------------------------- wrong answers the catalogue does not list
def _extra_wrong_answers():
    def lse_plus_log_k(z):  # an "off by one" in the wrong direction
        return lse_numpy(z) + np.log(z.shape[-1])

    def lse_float16(z):  # half precision: exp(z - m) is fine but the rounding is not
        z16 = np.asarray(z, np.float16)
        m = z16.max(-1, keepdims=True)
        return (m[..., 0] + np.log(np.exp(z16 - m).sum(-1))).astype(np.float16)

    def bce_log_not_log1p_eps(z, t):  # adds 1e-3 inside the logs to "avoid log 0"
        p = 0.5 * (1 + np.tanh(z / 2))
        return -np.mean(t * np.log(p + 1e-3) + (1 - t) * np.log(1 - p + 1e-3))

    def bce_grad_not_averaged_over_t(z, t):  # sigma(z) - t divided by the number of ones
        return (0.5 * (1 + np.tanh(z / 2)) - t) / max(t.sum(), 1)

    def cce_label_off_by_one(z, c):  # labels taken as 1-based
        return cce_numpy(z, (c - 1) % z.shape[-1])

    def cce_max_instead_of_lse(z, c):  # log p approximated by z - max z
        return -np.mean((z - z.max(-1, keepdims=True))[np.arange(len(z)), c])

    return [("logsumexp", (lse_plus_log_k,)),
            ("logsumexp", (lse_float16,)),
            ("bce_with_logits", (bce_log_not_log1p_eps, bce_grad)),
            ("bce_with_logits", (bce, bce_grad_not_averaged_over_t)),
            ("categorical_cross_entropy", (cce_label_off_by_one,)),
            ("categorical_cross_entropy", (cce_max_instead_of_lse,))]


EXTRA = _extra_wrong_answers()


@pytest.mark.parametrize("name,fns", EXTRA, ids=[f.__name__ for _, (*_, f) in EXTRA])
def test_wrong_answers_outside_the_catalogue_fail(name, fns):
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        result = check(name, *fns, verbose=False)
    assert not result.passed, result.report


def test_how_many_uncatalogued_wrong_answers_are_named():
    """Reported, not required: how many of the extra wrong answers get a 'Likely mistake'."""
    named = []
    for name, fns in EXTRA:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            report = check(name, *fns, verbose=False).report
        named.append("Likely mistake" in report)
    print(f"{sum(named)} of {len(EXTRA)} uncatalogued wrong answers are named")
    assert len(named) == 6
