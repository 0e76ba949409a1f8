"""The graded questions of the ``gradient_descent`` assignment, and lesson 02's checker.

Conventions the notebook states: linear regression predicts ``X @ w + b`` for a batch ``X``
of shape ``(N, D)``, ``w: (D,)`` and a scalar ``b``; the loss is the mean squared error
``L(w, b) = 1/N sum_n (x_n . w + b - y_n)^2``. Gradient descent repeats
``w <- w - learning_rate * dL/dw`` (Robbins & Monro 1951 for the stochastic version; Bottou
2010 for mini-batches on large data sets).

* ``linear_mse(X, y, w, b) -> loss`` and ``linear_mse_gradient(X, y, w, b) -> (dw, db)``
* ``gradient_descent(grad, w, b, learning_rate, steps) -> (w, b)``, ``grad(w, b) -> (dw, db)``
* ``minibatch_sgd(grad, X, y, w, b, learning_rate, epochs, batch_size, key) -> (w, b)`` with
  ``grad(Xb, yb, w, b) -> (dw, db)``: every epoch visits the examples in a new random order, in
  batches of ``batch_size`` rows (the last one smaller when ``batch_size`` does not divide N)
* ``learning_rate_sweep(X, y, learning_rates, steps) -> final losses``, from ``w = 0, b = 0``
* ``max_stable_learning_rate(X) -> float``: ``2 / lambda_max`` of the loss's Hessian
  ``(2/N) [X 1]^T [X 1]`` (the derivation the notebook asks for)
* ``least_squares(X, y) -> (w, b)``: the exact minimiser
* lesson 02's ``minibatches(n, batch_size, key) -> list of index arrays``

Every reference is float64 NumPy written out here, so no verdict depends on the student's
kernel or on library code the student can call.
"""

from __future__ import annotations

import math

import numpy as np

from nnlib.grading.core import AUTODIFF, CHANCE, GRADER, Mistake, Question

ASSIGNMENT = "gradient_descent"


def _data(rng, n, d, *, scale=1.0, offset=0.0):
    X = offset + scale * rng.normal(size=(n, d))
    w_true = rng.normal(size=d)
    y = X @ w_true + rng.normal() + 0.1 * rng.normal(size=n)
    return X, y


def _grad_ref(X, y, w, b):
    r = X @ w + b - y
    return 2.0 * X.T @ r / len(y), 2.0 * r.mean()


# --------------------------------------------------------------------------- loss and gradient
def _mse_cases(rng):
    cases = []
    for desc, (n, d), scale in [("X of shape (20, 3)", (20, 3), 1.0),
                                ("a batch of one, X of shape (1, 4)", (1, 4), 1.0),
                                ("a square X of shape (5, 5)", (5, 5), 1.0),
                                ("large values (X ~ 100), X of shape (30, 2)", (30, 2), 100.0)]:
        X, y = _data(rng, n, d, scale=scale)
        cases.append((desc, {"X": X, "y": y, "w": rng.normal(size=d),
                             "b": np.asarray(rng.normal())}))
    return cases


def _run_mse(fns, i):
    dw, db = fns["linear_mse_gradient"](i["X"], i["y"], i["w"], float(i["b"]))
    return {"loss": fns["linear_mse"](i["X"], i["y"], i["w"], float(i["b"])), "dw": dw, "db": db}


def _mse_ref(i, *, grad_scale=1.0, loss_scale=1.0, dw=None):
    r = i["X"] @ i["w"] + i["b"] - i["y"]
    n = len(r)
    out = {"loss": loss_scale * np.mean(r**2), "dw": grad_scale * 2.0 * i["X"].T @ r / n,
           "db": grad_scale * 2.0 * r.mean()}
    if dw is not None:
        out["dw"] = dw(i, r)
    return out


LINEAR_MSE = Question(
    name="linear_mse", functions=("linear_mse", "linear_mse_gradient"), points=3,
    test_cell="test_linear_mse", forbidden=(*AUTODIFF, *GRADER), make_cases=_mse_cases,
    run=_run_mse, reference=_mse_ref,
    mistakes=(
        Mistake("missing_factor_2", "the gradient is half the right one: d(r^2)/dr = 2 r, so "
                "dw = (2/N) X^T r and db = (2/N) sum(r)", lambda i: _mse_ref(i, grad_scale=0.5)),
        Mistake("gradient_sum", "the gradient is N times too large: the loss is a mean, so its "
                "gradient carries the factor 1/N", lambda i: _mse_ref(i, grad_scale=len(i["y"]))),
        Mistake("loss_sum", "the loss is a sum over the examples; the mean squared error divides "
                "by N", lambda i: _mse_ref(i, loss_scale=len(i["y"]))),
        Mistake("sign", "sign error in the gradient: the residual is prediction minus target, "
                "r = X w + b - y", lambda i: _mse_ref(i, grad_scale=-1.0)),
        Mistake("X_not_transposed", "dw must sum r_n x_n over the examples: dw = (2/N) X^T r "
                "(X transposed), not X r",
                lambda i: _mse_ref(i, dw=lambda i, r: 2.0 * i["X"] @ r / len(r))),
        Mistake("rmse", "the loss is the mean of the squared residuals, without a square root",
                lambda i: {**_mse_ref(i), "loss": np.sqrt(_mse_ref(i)["loss"])}),
    ),
)


# --------------------------------------------------------------------------- gradient descent
def _gd_cases(rng):
    cases = []
    for desc, steps, lr in [("the first step (steps=1)", 1, 0.1), ("7 steps", 7, 0.1),
                            ("20 steps with a small learning rate", 20, 0.02)]:
        X, y = _data(rng, 12, 3)
        cases.append((desc, {"X": X, "y": y, "w": rng.normal(size=3), "b": np.asarray(rng.normal()),
                             "lr": np.asarray(lr), "steps": np.asarray(steps)}))
    return cases


def _run_gd(fns, i):
    calls = [0]

    def grad(w, b):
        calls[0] += 1
        return _grad_ref(i["X"], i["y"], np.asarray(w, np.float64), float(np.asarray(b)))

    w, b = fns["gradient_descent"](grad, i["w"].copy(), float(i["b"]), float(i["lr"]),
                                   int(i["steps"]))
    return {"w": w, "b": b, "grad calls": np.asarray(calls[0])}


def _gd_sim(i, *, steps=None, lr_power=1, sign=1.0, move_b=True, frozen_grad=False):
    w, b = i["w"].copy(), float(i["b"])
    lr = float(i["lr"]) ** lr_power
    steps = int(i["steps"]) if steps is None else steps
    g = None
    for _ in range(steps):
        if g is None or not frozen_grad:
            g = _grad_ref(i["X"], i["y"], w, b)
        w, b = w - sign * lr * g[0], (b - sign * lr * g[1]) if move_b else b
    calls = 1 if frozen_grad and steps else steps
    return {"w": w, "b": np.asarray(b), "grad calls": np.asarray(calls)}


GRADIENT_DESCENT = Question(
    name="gradient_descent", functions=("gradient_descent",), points=3,
    test_cell="test_gradient_descent", forbidden=GRADER, make_cases=_gd_cases, run=_run_gd,
    reference=_gd_sim,
    mistakes=(
        Mistake("sign", "sign error in the update: step against the gradient, "
                "w - learning_rate * dw", lambda i: _gd_sim(i, sign=-1.0)),
        Mistake("lr_twice", "the learning rate is applied twice (the step is learning_rate**2 "
                "times the gradient)", lambda i: _gd_sim(i, lr_power=2)),
        Mistake("one_step_too_many", "one step too many: `steps` updates, each with one call "
                "of grad", lambda i: _gd_sim(i, steps=int(i["steps"]) + 1)),
        Mistake("one_step_too_few", "one step too few: `steps` updates, each with one call of "
                "grad", lambda i: _gd_sim(i, steps=int(i["steps"]) - 1)),
        Mistake("b_not_updated", "the bias b is never updated: b - learning_rate * db too",
                lambda i: _gd_sim(i, move_b=False)),
        Mistake("gradient_not_recomputed", "the gradient is computed once and reused; call "
                "grad(w, b) at the current parameters at every step",
                lambda i: _gd_sim(i, frozen_grad=True)),
    ),
)


# --------------------------------------------------------------------------- mini-batch SGD
def _sgd_cases(rng):
    cases = []
    for desc, n, bs, epochs in [("N=10, batch_size=3 (a smaller last batch), 3 epochs", 10, 3, 3),
                                ("N=6, batch_size=1 (plain SGD), 2 epochs", 6, 1, 2),
                                ("N=8, batch_size=8 (batch gradient descent), 2 epochs", 8, 8, 2),
                                ("N=12, batch_size=4, 4 epochs", 12, 4, 4)]:
        X, y = _data(rng, n, 2)
        cases.append((desc, {"X": X, "y": y, "w": rng.normal(size=2), "b": np.asarray(rng.normal()),
                             "lr": np.asarray(0.05), "epochs": np.asarray(epochs),
                             "batch_size": np.asarray(bs),
                             "seed": np.asarray(int(rng.integers(0, 2**31 - 1)))}))
    return cases


def _run_sgd(fns, i):
    import jax

    X, y = i["X"], i["y"]
    bs = int(i["batch_size"])

    def row_of(row):  # the index of X's row closest to ``row`` (float32 copies allowed)
        dist = np.abs(X - row).max(axis=1)
        r = int(dist.argmin())
        return r if dist[r] <= 1e-4 * (1.0 + np.abs(row).max()) else -2

    seen: list[tuple] = []

    def grad(Xb, yb, w, b):
        Xb = np.asarray(Xb, np.float64).reshape(-1, X.shape[1])
        w = np.asarray(w, np.float64)
        b = float(np.asarray(b))
        rows = [row_of(row) for row in Xb]
        g = _grad_ref(Xb, np.asarray(yb, np.float64).reshape(-1), w, b)
        seen.append((rows, w, b, g))
        return g

    w, b = fns["minibatch_sgd"](grad, X, y, i["w"].copy(), float(i["b"]), float(i["lr"]),
                                int(i["epochs"]), bs, jax.random.key(int(i["seed"])))
    k = len(seen)
    width = max([bs] + [len(s[0]) for s in seen])
    rows = np.full((k, width), -1, dtype=np.int64)
    for c, s in enumerate(seen):
        rows[c, :len(s[0])] = s[0]
    D = X.shape[1]
    return {"rows": rows, "w_in": np.array([s[1] for s in seen]).reshape(k, D),
            "b_in": np.array([s[2] for s in seen]), "dw": np.array([s[3][0] for s in seen]).reshape(k, D),
            "db": np.array([s[3][1] for s in seen]), "w": w, "b": b}


def _judge_sgd(i, o):
    n, bs, epochs, lr = len(i["y"]), int(i["batch_size"]), int(i["epochs"]), float(i["lr"])
    try:
        rows = np.asarray(o["rows"], np.int64)
        w_in, b_in = np.asarray(o["w_in"], np.float64), np.asarray(o["b_in"], np.float64)
        dw, db = np.asarray(o["dw"], np.float64), np.asarray(o["db"], np.float64)
        w, b = np.asarray(o["w"], np.float64), float(np.asarray(o["b"], np.float64))
    except (KeyError, TypeError, ValueError) as e:
        return [f"could not read what minibatch_sgd returned ({type(e).__name__})"]
    per_epoch = math.ceil(n / bs)
    calls = len(rows)
    if calls == 0:
        return ["grad was never called"]
    if (rows == -2).any():
        return ["grad received rows that are not rows of X: pass X[batch], y[batch]"]
    sizes = (rows >= 0).sum(axis=1)
    if calls != epochs * per_epoch:
        if n % bs and calls == epochs * (n // bs) and (sizes == bs).all():
            return [f"the last, smaller batch of each epoch is dropped: with N={n} and "
                    f"batch_size={bs} an epoch has {per_epoch} batches, the last of "
                    f"{n - bs * (n // bs)} rows"]
        if calls % per_epoch == 0:
            return [f"ran {calls // per_epoch} epoch(s) of {per_epoch} batches, expected "
                    f"epochs={epochs}"]
        return [f"grad was called {calls} times, expected {epochs} epochs x {per_epoch} "
                f"batches = {epochs * per_epoch}"]
    problems = []
    orders = []
    for e in range(epochs):
        chunk = rows[e * per_epoch:(e + 1) * per_epoch]
        want = [bs] * (n // bs) + ([n % bs] if n % bs else [])
        if list((chunk >= 0).sum(axis=1)) != want:
            problems.append(f"epoch {e + 1} has batches of sizes "
                            f"{list((chunk >= 0).sum(axis=1))}, expected {want}")
            break
        order = chunk[chunk >= 0]
        if sorted(order.tolist()) != list(range(n)):
            problems.append("an epoch must visit every example exactly once (a shuffled "
                            "permutation); examples were repeated or missed, as when drawing "
                            "with replacement")
            break
        orders.append(order)
    # A correct shuffle is the identity in every epoch with chance (1/N!)**epochs and repeats
    # its first epoch's order with chance (1/N!)**(epochs - 1): judged only where negligible.
    perms = math.factorial(n)
    if not problems and bs < n and len(orders) == epochs:
        if perms**epochs >= 1 / CHANCE and all((o_ == np.arange(n)).all() for o_ in orders):
            problems.append("the examples are never shuffled: draw a random permutation of the "
                            "N examples at the start of every epoch")
        elif (epochs > 1 and perms ** (epochs - 1) >= 1 / CHANCE
              and all((o_ == orders[0]).all() for o_ in orders)):
            problems.append("the same order in every epoch: draw a new permutation each epoch "
                            "(split the key, one new key per epoch)")
    nxt_w = np.vstack([w_in[1:], w[None, :]]) if w.shape == w_in.shape[1:] else None
    if nxt_w is None:
        problems.append(f"the returned w has shape {w.shape}, expected {w_in.shape[1:]}")
        return problems
    nxt_b = np.append(b_in[1:], b)
    for name, factor in (("right", lr), ("sign", -lr), ("lr_twice", lr * lr)):
        ok = np.allclose(nxt_w, w_in - factor * dw, rtol=1e-7, atol=1e-9) and np.allclose(
            nxt_b, b_in - factor * db, rtol=1e-7, atol=1e-9)
        if ok:
            if name == "sign":
                problems.append("sign error in the update: w - learning_rate * dw")
            elif name == "lr_twice":
                problems.append("the learning rate is applied twice (the step is "
                                "learning_rate**2 times the gradient)")
            break
    else:
        if np.allclose(nxt_w[:-1], (w_in - lr * dw)[:-1], rtol=1e-7, atol=1e-9):
            problems.append("the parameters returned are not those after the last update")
        else:
            problems.append("each call of grad must see the parameters after the previous "
                            "update, w - learning_rate * dw (and the same for b)")
    return problems


MINIBATCH_SGD = Question(
    name="minibatch_sgd", functions=("minibatch_sgd",), points=4, test_cell="test_minibatch_sgd",
    forbidden=GRADER, make_cases=_sgd_cases, run=_run_sgd, judge=_judge_sgd,
)


# --------------------------------------------------------------------------- learning-rate sweep
_SWEEP_LRS = (0.001, 0.01, 0.05, 0.1, 0.3)


def _sweep_cases(rng):
    out = []
    for desc, n, d, steps in [("X of shape (40, 2), 50 steps", 40, 2, 50),
                              ("X of shape (25, 3), 30 steps", 25, 3, 30)]:
        X, y = _data(rng, n, d)
        out.append((desc, {"X": X, "y": y, "lrs": np.asarray(_SWEEP_LRS), "steps": np.asarray(steps)}))
    return out


def _run_sweep(fns, i):
    losses = np.asarray(fns["learning_rate_sweep"](i["X"], i["y"], [float(v) for v in i["lrs"]],
                                                   int(i["steps"])), np.float64).reshape(-1)
    return {f"final loss at learning_rate={lr}": losses[k] if k < len(losses) else np.nan
            for k, lr in enumerate(_SWEEP_LRS)}


def _sweep_ref(i):
    out = {}
    for lr in _SWEEP_LRS:
        w, b = np.zeros(i["X"].shape[1]), 0.0
        for _ in range(int(i["steps"])):
            dw, db = _grad_ref(i["X"], i["y"], w, b)
            w, b = w - lr * dw, b - lr * db
        out[f"final loss at learning_rate={lr}"] = np.mean((i["X"] @ w + b - i["y"]) ** 2)
    return out


LEARNING_RATE_SWEEP = Question(
    name="learning_rate_sweep", functions=("learning_rate_sweep",), points=2,
    test_cell="test_learning_rate_sweep", forbidden=(*AUTODIFF, *GRADER), make_cases=_sweep_cases,
    run=_run_sweep, reference=_sweep_ref, rtol=1e-6, atol=1e-9,
)


# --------------------------------------------------------------------------- stability limit
def _stable_cases(rng):
    return [("X of shape (50, 2) with features centred at 3", {"X": 3.0 + rng.normal(size=(50, 2))}),
            ("X of shape (10, 1)", {"X": rng.normal(size=(10, 1))}),
            ("X of shape (30, 4) with different feature scales",
             {"X": rng.normal(size=(30, 4)) * np.array([0.5, 1.0, 2.0, 4.0]) + 1.0})]


def _stable_ref(i, *, bias=True, factor=2.0, use_min=False, mean=True, numerator=2.0):
    X = i["X"]
    A = np.hstack([X, np.ones((len(X), 1))]) if bias else X
    H = factor * A.T @ A / (len(X) if mean else 1.0)
    ev = np.linalg.eigvalsh(H)
    return {"learning rate": numerator / (ev.min() if use_min else ev.max())}


MAX_STABLE_LR = Question(
    name="max_stable_learning_rate", functions=("max_stable_learning_rate",), points=3,
    test_cell="test_max_stable_learning_rate", forbidden=(*AUTODIFF, *GRADER),
    make_cases=_stable_cases,
    run=lambda fns, i: {"learning rate": fns["max_stable_learning_rate"](i["X"])},
    reference=_stable_ref, rtol=1e-6,
    mistakes=(
        Mistake("no_bias_column", "the bias is a parameter too: the Hessian is taken over "
                "(w, b), i.e. with a column of ones appended to X",
                lambda i: _stable_ref(i, bias=False)),
        Mistake("hessian_missing_2", "the Hessian of (1/N) sum r^2 is (2/N) A^T A: the factor "
                "2 is missing", lambda i: _stable_ref(i, factor=1.0)),
        Mistake("one_over_lambda", "gradient descent on a quadratic is stable for "
                "learning_rate < 2 / lambda_max, not 1 / lambda_max",
                lambda i: _stable_ref(i, numerator=1.0)),
        Mistake("lambda_min", "the limit comes from the LARGEST eigenvalue of the Hessian (the "
                "steepest direction), not the smallest", lambda i: _stable_ref(i, use_min=True)),
        Mistake("hessian_sum", "the loss is a mean: its Hessian carries the factor 1/N",
                lambda i: _stable_ref(i, mean=False)),
    ),
)


# --------------------------------------------------------------------------- least squares
def _lsq_cases(rng):
    out = []
    for desc, n, d in [("X of shape (30, 2)", 30, 2), ("X of shape (8, 3)", 8, 3),
                       ("X of shape (50, 1)", 50, 1)]:
        X, y = _data(rng, n, d, offset=1.0)
        out.append((desc, {"X": X, "y": y + 2.0}))
    return out


def _lsq_ref(i, *, bias=True):
    X, y = i["X"], i["y"]
    if not bias:
        return {"w": np.linalg.lstsq(X, y, rcond=None)[0], "b": np.asarray(0.0)}
    A = np.hstack([X, np.ones((len(X), 1))])
    sol = np.linalg.lstsq(A, y, rcond=None)[0]
    return {"w": sol[:-1], "b": np.asarray(sol[-1])}


def _run_lsq(fns, i):
    w, b = fns["least_squares"](i["X"], i["y"])
    return {"w": w, "b": b}


LEAST_SQUARES = Question(
    name="least_squares", functions=("least_squares",), points=2, test_cell="test_least_squares",
    forbidden=GRADER, make_cases=_lsq_cases, run=_run_lsq, reference=_lsq_ref, rtol=1e-6,
    mistakes=(Mistake("no_intercept", "the fit goes through the origin: append a column of ones "
                      "to X so that b is fitted too", lambda i: _lsq_ref(i, bias=False)),),
)


# --------------------------------------------------------------------------- lesson 02: batches
def _batch_cases(rng):
    return [(f"n={n}, batch_size={bs}", {"n": np.asarray(n), "batch_size": np.asarray(bs),
                                         "seed": np.asarray(int(rng.integers(0, 2**31 - 1)))})
            for n, bs in [(10, 3), (7, 1), (12, 4), (5, 5)]]


def _run_batches(fns, i):
    import jax

    n, bs = int(i["n"]), int(i["batch_size"])
    out = {}
    for e, key in enumerate(jax.random.split(jax.random.key(int(i["seed"])), 2)):
        batches = list(fns["minibatches"](n, bs, key))
        width = max([bs] + [int(np.size(b)) for b in batches])
        arr = np.full((len(batches), width), -1, dtype=np.int64)
        for k, batch in enumerate(batches):
            flat = np.asarray(batch).reshape(-1).astype(np.int64)
            arr[k, :len(flat)] = flat
        out[f"epoch {e + 1}"] = arr
    return out


def _judge_batches(i, o):
    n, bs = int(i["n"]), int(i["batch_size"])
    want = [bs] * (n // bs) + ([n % bs] if n % bs else [])
    orders = []
    for e in ("epoch 1", "epoch 2"):
        arr = np.asarray(o.get(e, np.zeros((0, 0))), np.int64)
        sizes = list((arr >= 0).sum(axis=1)) if arr.ndim == 2 else []
        if sizes != want:
            if n % bs and sizes == [bs] * (n // bs):
                return [f"the last, smaller batch is dropped: {n} examples in batches of {bs} "
                        f"make {len(want)} batches, the last of {n % bs}"]
            return [f"batch sizes {sizes}, expected {want}"]
        order = arr[arr >= 0]
        if sorted(order.tolist()) != list(range(n)):
            return ["every index 0..n-1 must appear exactly once per epoch (a permutation, "
                    "not draws with replacement)"]
        orders.append(order)
    # a correct shuffle gives the identity twice with chance (1/n!)**2 and two keys the same
    # order with chance 1/n!: each is judged only where that is negligible
    perms = math.factorial(n)
    if (bs < n and perms**2 >= 1 / CHANCE
            and all((o_ == np.arange(n)).all() for o_ in orders)):
        return ["the indices are not shuffled: use jax.random.permutation(key, n)"]
    if bs < n and perms >= 1 / CHANCE and (orders[0] == orders[1]).all():
        return ["two different keys gave the same order: the permutation must come from the key"]
    return []


MINIBATCHES = Question(name="minibatches", functions=("minibatches",), make_cases=_batch_cases,
                       run=_run_batches, judge=_judge_batches)


QUESTIONS = (LINEAR_MSE, GRADIENT_DESCENT, MINIBATCH_SGD, LEARNING_RATE_SWEEP, MAX_STABLE_LR,
             LEAST_SQUARES)
LESSON_QUESTIONS = (MINIBATCHES,)
MANUAL = {"compare_variants": 3}
"""Manually graded answer cells (grade_id -> points), left for the instructor's rubric."""
