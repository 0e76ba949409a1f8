"""``backprop`` questions on the whole network: MLP forward/backward, gradient check, training.

The network is ``z1 = x @ W1 + b1``, ``h = relu(z1)``, ``scores = h @ W2 + b2`` with
``W1: (D, H)``, ``W2: (H, K)``; backpropagation (Rumelhart, Hinton & Williams 1986) gives
``dW2 = h.T @ ds``, ``db2 = sum_n ds``, ``dz1 = (ds @ W2.T) * [z1 > 0]``, ``dW1 = x.T @ dz1``,
``db1 = sum_n dz1``, ``dx = dz1 @ W1.T``.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from nnlib.grading.core import BY_HAND, GRADER, Mistake, Question, accuracy_of, counting_calls

MIN_ACCURACY = 0.9
KEYS = ("W1", "b1", "W2", "b2")


# --------------------------------------------------------------------------- forward/backward
def _mlp_cases(rng: np.random.Generator) -> list[tuple[str, dict]]:
    cases = []
    for desc, (n, d, h, k) in [("a batch of 4, D=3, H=5, K=2", (4, 3, 5, 2)),
                               ("a batch of one, D=2, H=3, K=4", (1, 2, 3, 4)),
                               ("square weights D=H=K=4, a batch of 3", (3, 4, 4, 4))]:
        cases.append((desc, {"x": rng.normal(size=(n, d)), "W1": rng.normal(size=(d, h)),
                             "b1": rng.normal(size=(h,)), "W2": rng.normal(size=(h, k)),
                             "b2": rng.normal(size=(k,)), "dscores": rng.normal(size=(n, k))}))
    return cases


def _mlp_ref(i, *, relu_grad=True, sign=1.0, transpose=False, dw2_from_z1=False):
    z1 = i["x"] @ i["W1"] + i["b1"]
    h = np.maximum(z1, 0.0)
    s = h @ i["W2"] + i["b2"]
    ds = i["dscores"]
    dh = ds @ i["W2"].T
    dz1 = dh * (z1 > 0) if relu_grad else dh
    dW2 = (z1 if dw2_from_z1 else h).T @ ds
    dW1 = i["x"].T @ dz1
    if transpose:
        dW1, dW2 = dW1.T, dW2.T
    grads = {"dW1": dW1, "db1": dz1.sum(0), "dW2": dW2, "db2": ds.sum(0), "dx": dz1 @ i["W1"].T}
    return {"scores": s, **{k: sign * v for k, v in grads.items()}}


def _run_mlp(fns, i):
    params = {k: i[k] for k in KEYS}
    scores, cache = fns["mlp_forward"](params, i["x"])
    result = fns["mlp_backward"](params, cache, i["dscores"])
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], Mapping)):
        raise TypeError("mlp_backward must return (grads, dx) with grads a dict with keys "
                        "'W1', 'b1', 'W2', 'b2'")
    grads, dx = result
    missing = [k for k in KEYS if k not in grads]
    if missing:
        raise KeyError(f"grads is missing {missing}")
    return {"scores": scores, "dx": dx, **{"d" + k: grads[k] for k in KEYS}}


MLP = Question(
    name="mlp", functions=("mlp_forward", "mlp_backward"), points=4, test_cell="test_mlp",
    forbidden=(*BY_HAND, "nnlib.layers", "nnlib.autodiff", "nnlib.losses"),
    make_cases=_mlp_cases, run=_run_mlp, reference=_mlp_ref,
    mistakes=(
        Mistake("no_relu_derivative", "the gradient does not go through the ReLU: "
                "dz1 = (dscores @ W2.T) * (z1 > 0)", lambda i: _mlp_ref(i, relu_grad=False)),
        Mistake("dW2_from_z1", "dW2 uses the pre-activation z1; it needs the hidden "
                "activation h = relu(z1): dW2 = h.T @ dscores",
                lambda i: _mlp_ref(i, dw2_from_z1=True)),
        Mistake("transposed_dW", "the weight gradients are transposed: dW has W's shape",
                lambda i: _mlp_ref(i, transpose=True)),
        Mistake("sign", "sign error: every gradient has the wrong sign",
                lambda i: {**_mlp_ref(i, sign=-1.0), "scores": _mlp_ref(i)["scores"]}),
    ),
)


# --------------------------------------------------------------------------- gradient check
def _f(i, x):
    x = np.asarray(x, dtype=np.float64)
    xf = x.ravel()
    return float(np.sum(np.sin(i["A"] * x)) + 0.5 * xf @ i["M"] @ xf)


def _grad_cases(rng: np.random.Generator) -> list[tuple[str, dict]]:
    cases = []
    for desc, shape in [("x of shape (3, 4)", (3, 4)), ("x of shape (5,)", (5,)),
                        ("x of shape (1, 1)", (1, 1))]:
        n = int(np.prod(shape))
        m = rng.normal(size=(n, n))
        cases.append((desc, {"x": rng.normal(size=shape), "A": rng.uniform(0.5, 2, size=shape),
                             "M": (m + m.T) / 2}))
    return cases


def _grad_ref(i):
    x = i["x"]
    return {"grad": i["A"] * np.cos(i["A"] * x) + (i["M"] @ x.ravel()).reshape(x.shape)}


def _fd(i, *, central=True, denom=2.0, eps=1e-6):
    x = np.array(i["x"], dtype=np.float64)
    g = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        old = x[j]
        x[j] = old + eps
        fp = _f(i, x)
        x[j] = old - eps if central else old
        fm = _f(i, x)
        x[j] = old
        g[j] = (fp - fm) / (denom * eps if central else eps)
    return {"grad": g}


def _run_grad(fns, i):
    return {"grad": fns["numerical_gradient"](lambda x: _f(i, x), np.array(i["x"]), eps=1e-6)}


def _float32_hint(i, outputs):
    if np.asarray(outputs.get("grad", 0.0)).dtype == np.float32:
        return "the result is float32: do the finite differences in float64 (eps=1e-6 is " \
               "below float32's resolution)"
    return None


NUMERICAL_GRADIENT = Question(
    name="numerical_gradient", functions=("numerical_gradient",), points=3,
    test_cell="test_numerical_gradient", make_cases=_grad_cases, run=_run_grad,
    forbidden=(*BY_HAND, "nnlib.gradcheck"),
    reference=_grad_ref, rtol=1e-7, atol=1e-8, hints=(_float32_hint,),
    mistakes=(
        Mistake("forward_difference", "this is a forward difference (f(x+eps) - f(x))/eps, "
                "accurate only to O(eps); use the central difference "
                "(f(x+eps) - f(x-eps)) / (2 eps)", lambda i: _fd(i, central=False)),
        Mistake("missing_2", "the central difference must be divided by 2*eps, not eps",
                lambda i: _fd(i, denom=1.0)),
    ),
)


# --------------------------------------------------------------------------- training
def make_moons(rng: np.random.Generator, n: int, noise: float = 0.1):
    """Two interleaving half circles (the grader's own copy, independent of nnlib.data)."""
    y = rng.permutation(np.arange(n) % 2)
    t = rng.uniform(0, np.pi, size=n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    x = np.where(y[:, None] == 0, upper, lower) + noise * rng.normal(size=(n, 2))
    return x, y.astype(np.int64)


def _train_cases(rng: np.random.Generator) -> list[tuple[str, dict]]:
    x, y = make_moons(rng, 600)
    return [("the moons data (400 training points, 200 held-out test points)",
             {"x_train": x[:400], "y_train": y[:400], "x_test": x[400:], "_y_test": y[400:],
              "seed": np.asarray(int(rng.integers(0, 2**31 - 1)))})]


OWN_GRADIENTS = ("mlp_backward", "softmax_cross_entropy_backward")


def _run_train(fns, i):
    """Trains, then scores the test points; also counts the calls of the student's backward
    functions (``used_<name>``), which training "with your own gradients" must make."""
    import jax  # imported here: only the student's kernel (or check()) trains

    train = fns["train_mlp"]
    with counting_calls(train, OWN_GRADIENTS) as calls:
        params = train(i["x_train"], i["y_train"], key=jax.random.key(int(i["seed"])))
    scores, _ = fns["mlp_forward"](params, i["x_test"])
    return {"scores": scores, **{f"used_{n}": np.asarray(calls[n] > 0) for n in OWN_GRADIENTS}}


def _judge_train(i, outputs):
    scores = np.asarray(outputs.get("scores", np.zeros(0)))
    n = len(i["x_test"])
    if scores.dtype == object or scores.shape != (n, 2):
        return [f"`scores` on the test points has shape {scores.shape}, expected ({n}, 2)"]
    if not np.all(np.isfinite(scores)):
        return ["the trained network's scores contain nan/inf (learning rate too large?)"]
    problems = []
    unused = [n for n in OWN_GRADIENTS if not bool(np.asarray(outputs.get(f"used_{n}", False)))]
    if unused:
        problems.append(f"train_mlp never called your {' or '.join(unused)}: training with your "
                        "own gradients means jax.grad gets every gradient from your backward "
                        "functions (nnlib.autodiff.custom_vjp for the network and for the loss)")
    acc = accuracy_of(i, outputs)
    if acc < MIN_ACCURACY:
        problems.append(f"held-out accuracy {acc:.2f} is below the required {MIN_ACCURACY:.2f}")
    return problems


TRAIN = Question(
    name="train", functions=("train_mlp", "mlp_forward"), points=3, test_cell="test_train",
    make_cases=_train_cases, run=_run_train, judge=_judge_train, timeout=90.0,
    accuracy_floor=MIN_ACCURACY,
    # jax.grad is allowed: the task differentiates through the student's own backward pass
    # (nnlib.autodiff.custom_vjp); nnlib's layers, losses and training loop are not.
    forbidden=(*GRADER, "nnlib.layers", "nnlib.losses", "nnlib.train"),
)
