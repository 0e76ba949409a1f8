"""The gradient_descent assignment's checkers (and lesson 02's): right answers pass, correct
answers written differently pass, and every catalogued mistake gets its diagnosis."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from checks import fails_with, passes_on_seeds
from nnlib.grading import check, specs




# ------------------------------------------------------------------ right answers
def linear_mse(X, y, w, b):
    return np.mean((X @ w + b - y) ** 2)


def linear_mse_gradient(X, y, w, b):
    r = X @ w + b - y
    return 2 * X.T @ r / len(y), 2 * r.mean()


def gradient_descent(grad, w, b, learning_rate, steps):
    for _ in range(steps):
        dw, db = grad(w, b)
        w, b = w - learning_rate * dw, b - learning_rate * db
    return w, b


def minibatch_sgd(grad, X, y, w, b, learning_rate, epochs, batch_size, key):
    n = len(y)
    for _ in range(epochs):
        key, sub = jax.random.split(key)
        order = np.asarray(jax.random.permutation(sub, n))
        for start in range(0, n, batch_size):
            rows = order[start:start + batch_size]
            dw, db = grad(X[rows], y[rows], w, b)
            w, b = w - learning_rate * dw, b - learning_rate * db
    return w, b


def learning_rate_sweep(X, y, learning_rates, steps):
    out = []
    for lr in learning_rates:
        w, b = gradient_descent(lambda w, b: linear_mse_gradient(X, y, w, b),
                                np.zeros(X.shape[1]), 0.0, lr, steps)
        out.append(linear_mse(X, y, w, b))
    return out


def max_stable_learning_rate(X):
    A = np.hstack([X, np.ones((len(X), 1))])
    return 2 / np.linalg.eigvalsh(2 * A.T @ A / len(X)).max()


def least_squares(X, y):
    A = np.hstack([X, np.ones((len(X), 1))])
    sol = np.linalg.lstsq(A, y, rcond=None)[0]
    return sol[:-1], sol[-1]


def minibatches(n, batch_size, key):
    order = jax.random.permutation(key, n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


RIGHT = {"linear_mse": (linear_mse, linear_mse_gradient), "gradient_descent": (gradient_descent,),
         "minibatch_sgd": (minibatch_sgd,), "learning_rate_sweep": (learning_rate_sweep,),
         "max_stable_learning_rate": (max_stable_learning_rate,), "least_squares": (least_squares,),
         "minibatches": (minibatches,)}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_answers_pass(name):
    passes_on_seeds(name, RIGHT[name], (0, 7))


def test_the_assignment_lists_its_questions_and_manual_part():
    mod = specs.assignment("gradient_descent")
    assert [q.name for q in mod.QUESTIONS] == ["linear_mse", "gradient_descent", "minibatch_sgd",
                                                "learning_rate_sweep", "max_stable_learning_rate",
                                                "least_squares"]
    assert sum(q.points for q in mod.QUESTIONS) == 17 and mod.MANUAL == {"compare_variants": 3}
    assert "minibatches" in specs.all_questions()


def test_correct_answers_written_differently_pass():
    def mse_jnp(X, y, w, b):
        return jnp.mean(jnp.square(jnp.asarray(X) @ w + b - y))

    def grad_loops(X, y, w, b):
        n, d = X.shape
        dw, db = np.zeros(d), 0.0
        for k in range(n):
            r = X[k] @ w + b - y[k]
            dw += 2 * r * X[k] / n
            db += 2 * r / n
        return dw, db

    assert check("linear_mse", mse_jnp, grad_loops, verbose=False)

    def gd_while(grad, w, b, learning_rate, steps):
        k = 0
        while k < steps:
            g = grad(w, b)
            w = w - learning_rate * g[0]
            b -= learning_rate * g[1]
            k += 1
        return w, b

    assert check("gradient_descent", gd_while, verbose=False)

    def sgd_split_batches(grad, X, y, w, b, learning_rate, epochs, batch_size, key):
        X, y = jnp.asarray(X), jnp.asarray(y)      # float32 copies are recognised too
        for k in jax.random.split(key, epochs):
            order = jax.random.permutation(k, len(y))
            for rows in jnp.array_split(order, -(-len(y) // batch_size)):
                dw, db = grad(X[rows], y[rows], w, b)
                w, b = w - learning_rate * dw, b - learning_rate * db
        return w, b

    # array_split makes equal-ish batches, which is NOT the convention when batch_size does
    # not divide N, so only the divisible cases pass; the checker says why the others fail.
    res = check("minibatch_sgd", sgd_split_batches, verbose=False)
    assert not res.passed and "batches of sizes" in res.report

    def stable_svd(X):
        A = np.c_[X, np.ones(len(X))]
        return len(X) / np.linalg.svd(A, compute_uv=False)[0] ** 2

    assert check("max_stable_learning_rate", stable_svd, verbose=False)

    def lsq_normal_equations(X, y):
        A = np.c_[X, np.ones(len(X))]
        sol = np.linalg.solve(A.T @ A, A.T @ y)
        return sol[:-1], sol[-1]

    assert check("least_squares", lsq_normal_equations, verbose=False)


# ------------------------------------------------------------------ the catalogue, one by one
@pytest.mark.parametrize("grad, expect", [
    (lambda X, y, w, b: tuple(g / 2 for g in linear_mse_gradient(X, y, w, b)), "half the right one"),
    (lambda X, y, w, b: tuple(g * len(y) for g in linear_mse_gradient(X, y, w, b)), "N times too large"),
    (lambda X, y, w, b: tuple(-g for g in linear_mse_gradient(X, y, w, b)), "sign error"),
    (lambda X, y, w, b: (2 * X @ (X @ w + b - y) / len(y), linear_mse_gradient(X, y, w, b)[1]),
     "X transposed"),
])
def test_gradient_mistakes(grad, expect):
    fails_with("linear_mse", linear_mse, grad, expect=expect)


@pytest.mark.parametrize("loss, expect", [
    (lambda X, y, w, b: np.sum((X @ w + b - y) ** 2), "the loss is a sum"),
    (lambda X, y, w, b: np.sqrt(np.mean((X @ w + b - y) ** 2)), "without a square root"),
])
def test_loss_mistakes(loss, expect):
    fails_with("linear_mse", loss, linear_mse_gradient, expect=expect)


def _gd(sign=1.0, lr_power=1, extra=0, move_b=True, frozen=False):
    def gd(grad, w, b, learning_rate, steps):
        g = None
        for _ in range(steps + extra):
            if g is None or not frozen:
                g = grad(w, b)
            w = w - sign * learning_rate**lr_power * g[0]
            b = b - sign * learning_rate**lr_power * g[1] if move_b else b
        return w, b
    return gd


@pytest.mark.parametrize("fn, expect", [
    (_gd(sign=-1.0), "sign error in the update"),
    (_gd(lr_power=2), "applied twice"),
    (_gd(extra=1), "one step too many"),
    (_gd(extra=-1), "one step too few"),
    (_gd(move_b=False), "never updated"),
    (_gd(frozen=True), "computed once and reused"),
])
def test_gradient_descent_mistakes(fn, expect):
    fails_with("gradient_descent", fn, expect=expect)


def _sgd(shuffle="each", drop_last=False, replace=False, sign=1.0, lr_power=1, epochs_delta=0,
         return_first=False):
    def sgd(grad, X, y, w, b, learning_rate, epochs, batch_size, key):
        n = len(y)
        w0, b0 = w, b
        fixed = np.asarray(jax.random.permutation(key, n))
        for _ in range(epochs + epochs_delta):
            key, sub = jax.random.split(key)
            if replace:
                order = np.asarray(jax.random.randint(sub, (n,), 0, n))
            elif shuffle == "each":
                order = np.asarray(jax.random.permutation(sub, n))
            elif shuffle == "once":
                order = fixed
            else:
                order = np.arange(n)
            stop = n - n % batch_size if drop_last else n
            for start in range(0, stop, batch_size):
                rows = order[start:start + batch_size]
                w0, b0 = w, b
                dw, db = grad(X[rows], y[rows], w, b)
                step = sign * learning_rate**lr_power
                w, b = w - step * dw, b - step * db
        return (w0, b0) if return_first else (w, b)
    return sgd


@pytest.mark.parametrize("fn, expect", [
    (_sgd(shuffle="never"), "never shuffled"),
    (_sgd(shuffle="once"), "same order in every epoch"),
    (_sgd(drop_last=True), "smaller batch of each epoch is dropped"),
    (_sgd(replace=True), "exactly once"),
    (_sgd(sign=-1.0), "sign error in the update"),
    (_sgd(lr_power=2), "applied twice"),
    (_sgd(epochs_delta=1), "expected epochs="),
    (_sgd(return_first=True), "not those after the last update"),
])
def test_minibatch_sgd_mistakes(fn, expect):
    fails_with("minibatch_sgd", fn, expect=expect)


def _stable(bias=True, factor=2.0, use_min=False, mean=True, numerator=2.0):
    def f(X):
        A = np.hstack([X, np.ones((len(X), 1))]) if bias else X
        ev = np.linalg.eigvalsh(factor * A.T @ A / (len(X) if mean else 1))
        return numerator / (ev.min() if use_min else ev.max())
    return f


@pytest.mark.parametrize("fn, expect", [
    (_stable(bias=False), "column of ones"),
    (_stable(factor=1.0), "factor 2 is missing"),
    (_stable(numerator=1.0), "not 1 / lambda_max"),
    (_stable(use_min=True), "LARGEST eigenvalue"),
    (_stable(mean=False), "carries the factor 1/N"),
])
def test_stability_limit_mistakes(fn, expect):
    fails_with("max_stable_learning_rate", fn, expect=expect)


def test_least_squares_without_intercept_is_named():
    fails_with("least_squares", lambda X, y: (np.linalg.lstsq(X, y, rcond=None)[0], 0.0),
                expect="through the origin")


def test_a_sweep_with_a_wrong_gradient_fails_on_the_losses():
    def sweep(X, y, learning_rates, steps):
        grad = lambda w, b: tuple(g / 2 for g in linear_mse_gradient(X, y, w, b))  # noqa: E731
        return [linear_mse(X, y, *gradient_descent(grad, np.zeros(X.shape[1]), 0.0, lr, steps))
                for lr in learning_rates]
    fails_with("learning_rate_sweep", sweep, expect="final loss at learning_rate=")


@pytest.mark.parametrize("fn, expect", [
    (lambda n, bs, key: [np.arange(n)[i:i + bs] for i in range(0, n, bs)], "not shuffled"),
    (lambda n, bs, key: [jax.random.permutation(key, n)[i:i + bs] for i in range(0, n - n % bs, bs)],
     "smaller batch is dropped"),
    (lambda n, bs, key: [jax.random.randint(key, (n,), 0, n)[i:i + bs] for i in range(0, n, bs)],
     "exactly once"),
    (lambda n, bs, key: [jax.random.permutation(jax.random.key(0), n)[i:i + bs]
                         for i in range(0, n, bs)], "must come from the key"),
])
def test_minibatches_mistakes(fn, expect):
    fails_with("minibatches", fn, expect=expect)


def test_own_wrong_implementations_beyond_the_catalogue_all_fail():
    """Wrong answers nobody catalogued: each must fail (named or not)."""
    wrong = [
        ("linear_mse", linear_mse, lambda X, y, w, b: (2 * X.T @ (X @ w - y) / len(y), 0.0)),  # b ignored
        ("gradient_descent", lambda g, w, b, lr, s: (w, b)),                               # no-op
        ("minibatch_sgd", _sgd(epochs_delta=-1)),                                         # epochs - 1
        ("max_stable_learning_rate", lambda X: 2 / np.linalg.eigvalsh(X.T @ X).max()),    # three slips
        ("least_squares", lambda X, y: (np.linalg.pinv(X) @ y, np.mean(y))),              # b by mean
    ]
    for name, *fns in wrong:
        assert not check(name, *fns, verbose=False).passed, name
