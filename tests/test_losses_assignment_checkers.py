"""The losses assignment's checkers: right answers pass, other correct forms pass, and every
catalogued mistake gets its diagnosis."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from scipy.special import expit, log_expit, logsumexp

from checks import fails_with, passes_on_seeds
from nnlib.grading import check, specs




# ------------------------------------------------------------------ right answers
def mse_loss_and_grad(pred, target):
    r = pred - target
    return np.mean(r**2), 2 * r / r.size


def bce_loss_and_grad(logits, labels):
    z, t = logits, labels
    return np.mean(np.logaddexp(0, z) - z * t), (expit(z) - t) / z.size


def softmax_ce_loss_and_grad(logits, labels):
    logp = logits - logsumexp(logits, axis=1, keepdims=True)
    n = len(logits)
    onehot = np.eye(logits.shape[1])[labels]
    return -np.mean(logp[np.arange(n), labels]), (np.exp(logp) - onehot) / n


def weighted_bce_loss_and_grad(logits, labels, pos_weight):
    z, t, w = logits, labels, pos_weight
    loss = np.mean(-w * t * log_expit(z) - (1 - t) * log_expit(-z))
    p = expit(z)
    return loss, (w * t * (p - 1) + (1 - t) * p) / z.size


def train_logistic(X, y, loss, *, learning_rate, steps, w0=None, b0=0.0):
    w = np.zeros(X.shape[1]) if w0 is None else np.asarray(w0, float)
    b, losses = b0, []
    for _ in range(steps):
        z = X @ w + b
        if loss == "bce":
            value, dz = bce_loss_and_grad(z, y)
        else:
            p = expit(z)
            value, dp = mse_loss_and_grad(p, y)
            dz = dp * p * (1 - p)
        losses.append(value)
        w, b = w - learning_rate * X.T @ dz, b - learning_rate * dz.sum()
    return w, b, losses


RIGHT = {"mse_loss_and_grad": mse_loss_and_grad, "bce_loss_and_grad": bce_loss_and_grad,
         "softmax_ce_loss_and_grad": softmax_ce_loss_and_grad,
         "weighted_bce_loss_and_grad": weighted_bce_loss_and_grad, "train_logistic": train_logistic}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_answers_pass(name):
    passes_on_seeds(name, (RIGHT[name],), (0, 11))


def test_the_assignment_lists_its_questions():
    mod = specs.assignment("losses")
    assert [q.name for q in mod.QUESTIONS] == list(RIGHT)
    assert sum(q.points for q in mod.QUESTIONS) == 14 and mod.MANUAL == {"mse_vs_cross_entropy": 3}
    assert {"logsumexp", "bce_with_logits", "categorical_cross_entropy"} <= set(specs.all_questions())


def test_other_correct_forms_pass():
    import jax.numpy as jnp

    def bce_jnp(z, t):       # JAX, max/abs form, float64 inputs
        z = jnp.asarray(z)
        loss = jnp.mean(jnp.maximum(z, 0) - z * t + jnp.log1p(jnp.exp(-jnp.abs(z))))
        return loss, (jax.nn.sigmoid(z) - t) / z.size

    assert check("bce_loss_and_grad", bce_jnp, verbose=False)

    def sce_loops(logits, labels):
        n, k = logits.shape
        loss, grad = 0.0, np.zeros((n, k))
        for i in range(n):
            m = logits[i].max()
            e = np.exp(logits[i] - m)
            loss += -(logits[i, labels[i]] - m - np.log(e.sum())) / n
            grad[i] = e / e.sum() / n
            grad[i, labels[i]] -= 1 / n
        return loss, grad

    assert check("softmax_ce_loss_and_grad", sce_loops, verbose=False)


# ------------------------------------------------------------------ the catalogue
@pytest.mark.parametrize("fn, expect", [
    (lambda p, t: (np.sum((p - t) ** 2), 2 * (p - t) / (p - t).size), "SUM of the squared errors"),
    (lambda p, t: (np.mean((p - t) ** 2), 2 * (p - t)), "missing the 1/(number of entries)"),
    (lambda p, t: (np.mean((p - t) ** 2), (p - t) / (p - t).size), "factor 2 is missing"),
    (lambda p, t: (np.mean((p - t) ** 2), 2 * (t - p) / (p - t).size), "sign error"),
    (lambda p, t: (np.sum((p - t) ** 2) / len(p), 2 * (p - t) / len(p)), "number of examples N only"),
])
def test_mse_mistakes(fn, expect):
    fails_with("mse_loss_and_grad", fn, expect=expect)


def _bce(loss=None, grad=None):
    return lambda z, t: (loss(z, t) if loss else bce_loss_and_grad(z, t)[0],
                         grad(z, t) if grad else bce_loss_and_grad(z, t)[1])


@pytest.mark.parametrize("fn, expect", [
    (_bce(loss=lambda z, t: -np.mean(t * np.log(expit(z)) + (1 - t) * np.log(1 - expit(z)))),
     "inf or nan on logits near +-1000"),
    (_bce(loss=lambda z, t: -np.mean(t * np.log(np.clip(expit(z), 1e-7, 1 - 1e-7))
                                    + (1 - t) * np.log(np.clip(1 - expit(z), 1e-7, 1 - 1e-7)))),
     "clipped to [1e-07"),
    (_bce(loss=lambda z, t: np.sum(np.logaddexp(0, z) - z * t)), "SUM over the batch"),
    (_bce(grad=lambda z, t: expit(z) - t), "missing the 1/N"),
    (_bce(grad=lambda z, t: (t - expit(z)) / z.size), "sign error"),
    (_bce(grad=lambda z, t: 2 * (expit(z) - t) * expit(z) * (1 - expit(z)) / z.size), "MSE's on a sigmoid"),
])
def test_bce_mistakes(fn, expect):
    with np.errstate(all="ignore"):
        fails_with("bce_loss_and_grad", fn, expect=expect)


def _sce(loss=None, grad=None):
    return lambda z, y: (loss(z, y) if loss else softmax_ce_loss_and_grad(z, y)[0],
                         grad(z, y) if grad else softmax_ce_loss_and_grad(z, y)[1])


def _p(z):
    return np.exp(z - logsumexp(z, axis=1, keepdims=True))


@pytest.mark.parametrize("fn, expect", [
    (_sce(loss=lambda z, y: -np.mean(np.log((np.exp(z) / np.exp(z).sum(1, keepdims=True))[np.arange(len(y)), y]))),
     "inf or nan on logits near +-1000"),
    (_sce(loss=lambda z, y: -np.sum(np.log(_p(z))[np.arange(len(y)), y])), "SUM over the batch"),
    (_sce(loss=lambda z, y: -np.mean(np.log(_p(z))[:, y])), "EVERY row"),
    (_sce(grad=lambda z, y: _p(z) - np.eye(z.shape[1])[y]), "missing the 1/N"),
    (_sce(grad=lambda z, y: _p(z) / len(y)), "subtract the one-hot labels"),
    (_sce(grad=lambda z, y: (_p(z) - y[:, None]) / len(y)), "subtracted as numbers"),
    (_sce(grad=lambda z, y: (np.eye(z.shape[1])[y] - _p(z)) / len(y)), "sign error"),
])
def test_softmax_ce_mistakes(fn, expect):
    with np.errstate(all="ignore"):
        fails_with("softmax_ce_loss_and_grad", fn, expect=expect)


def _wbce(wp=True, wn=False, unweighted_grad=False, loss_sum=False):
    def f(z, t, w):
        a, c = (w if wp else 1.0), (w if wn else 1.0)
        loss = -a * t * log_expit(z) - c * (1 - t) * log_expit(-z)
        p = expit(z)
        grad = (p - t) / z.size if unweighted_grad else (a * t * (p - 1) + c * (1 - t) * p) / z.size
        return (np.sum(loss) if loss_sum else np.mean(loss)), grad
    return f


@pytest.mark.parametrize("fn, expect", [
    (_wbce(unweighted_grad=True), "unweighted gradient"),
    (_wbce(wn=True), "multiplies both terms"),
    (_wbce(wp=False, wn=True), "went on the negative"),
    (_wbce(loss_sum=True), "SUM over the batch"),
    (lambda z, t, w: (-np.mean(w * t * np.log(expit(z)) + (1 - t) * np.log(1 - expit(z))),
                      _wbce()(z, t, w)[1]), "softplus"),
])
def test_weighted_bce_mistakes(fn, expect):
    with np.errstate(all="ignore"):
        fails_with("weighted_bce_loss_and_grad", fn, expect=expect)


def _train(slope=True, sign=1.0, after=False, extra_mean=False):
    def f(X, y, loss, *, learning_rate, steps, w0=None, b0=0.0):
        w = np.zeros(X.shape[1]) if w0 is None else np.asarray(w0, float)
        b, losses = b0, []

        def lg(w, b):
            z = X @ w + b
            if loss == "bce":
                return bce_loss_and_grad(z, y)
            p = expit(z)
            value, dp = mse_loss_and_grad(p, y)
            return value, dp * (p * (1 - p) if slope else 1.0)

        for _ in range(steps):
            value, dz = lg(w, b)
            dz = dz / len(y) if extra_mean else dz
            w, b = w - sign * learning_rate * X.T @ dz, b - sign * learning_rate * dz.sum()
            losses.append(lg(w, b)[0] if after else value)
        return w, b, losses
    return f


@pytest.mark.parametrize("fn, expect", [
    (_train(slope=False), "carries the sigmoid's slope"),
    (_train(sign=-1.0), "sign error in the update"),
    (_train(after=True), "BEFORE the step"),
    (_train(extra_mean=True), "divided by N again"),
])
def test_train_logistic_mistakes(fn, expect):
    fails_with("train_logistic", fn, expect=expect)


def test_own_wrong_implementations_beyond_the_catalogue_all_fail():
    wrong = [
        ("mse_loss_and_grad", lambda p, t: (np.mean(np.abs(p - t)), np.sign(p - t) / p.size)),   # MAE
        ("bce_loss_and_grad", lambda z, t: (np.mean(np.logaddexp(0, z) - z * t), (expit(z) - t) / (z.size + 1))),
        ("softmax_ce_loss_and_grad", lambda z, y: softmax_ce_loss_and_grad(z, (y + 1) % z.shape[1])),
        ("weighted_bce_loss_and_grad", lambda z, t, w: _wbce()(z, t, w + 1)),
        ("train_logistic", lambda X, y, loss, **kw: train_logistic(X, y, "bce", **kw)),  # ignores `loss`
    ]
    for name, fn in wrong:
        with np.errstate(all="ignore"):
            assert not check(name, fn, verbose=False).passed, name
