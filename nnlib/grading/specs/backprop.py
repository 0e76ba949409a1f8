"""The graded questions of the ``backprop`` assignment (solutions/backprop/backprop.ipynb).

Conventions the notebook states: ``x`` is ``(N, D)``, a dense layer computes
``y = x @ W + b`` with ``W: (D, M)`` and ``b: (M,)``; the MSE is the mean over all elements,
``L = mean((y_pred - y)^2)``; softmax cross-entropy is the mean over the batch of
``-sum_k y_k log softmax(z)_k``; the one-hidden-layer network is
``scores = relu(x @ W1 + b1) @ W2 + b2`` (Rumelhart, Hinton & Williams 1986).

Every reference below is float64 NumPy written out by hand, so the grader's verdict never
depends on the student's kernel or on the library code the student can call.
"""

from __future__ import annotations

import numpy as np

from nnlib.grading.core import BY_HAND, Mistake, Question

ASSIGNMENT = "backprop"
_sig = lambda z: 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, np.float64)))  # noqa: E731 (stable)


def _neg(fn):
    return lambda i: {k: -v for k, v in fn(i).items()}


# --------------------------------------------------------------------------- dense layer
def _dense_cases(rng: np.random.Generator, with_dy: bool) -> list[tuple[str, dict]]:
    cases = []
    for desc, (n, d, m), scale in [
        ("a batch of 4 with W of shape (3, 5)", (4, 3, 5), 1.0),
        ("a batch of one with W of shape (6, 2)", (1, 6, 2), 1.0),
        ("a square W of shape (4, 4), batch of 3", (3, 4, 4), 1.0),
        ("large values (x ~ 1e3), W of shape (2, 3), batch of 5", (5, 2, 3), 1e3),
    ]:
        c = {"x": scale * rng.normal(size=(n, d)), "W": rng.normal(size=(d, m)),
             "b": rng.normal(size=(m,))}
        if with_dy:
            c["dy"] = rng.normal(size=(n, m))
        cases.append((desc, c))
    return cases


def _dense_fwd_ref(i):
    return {"y": i["x"] @ i["W"] + i["b"]}


def _dense_bwd_ref(i):
    return {"dx": i["dy"] @ i["W"].T, "dW": i["x"].T @ i["dy"], "db": i["dy"].sum(axis=0)}


def _dense_bwd_variant(**changes):
    def out(i):
        r = _dense_bwd_ref(i)
        r.update({k: f(i) for k, f in changes.items()})
        return r
    return out


def _run_dense_forward(fns, i):
    y, _cache = fns["dense_forward"](i["x"], i["W"], i["b"])
    return {"y": y}


def _run_dense_backward(fns, i):
    _, cache = fns["dense_forward"](i["x"], i["W"], i["b"])
    dx, dW, db = fns["dense_backward"](i["dy"], cache)
    return {"dx": dx, "dW": dW, "db": db}


DENSE_FORWARD = Question(
    name="dense_forward", functions=("dense_forward",), points=2, test_cell="test_dense_forward",
    forbidden=(*BY_HAND, "nnlib.layers"),
    make_cases=lambda rng: _dense_cases(rng, False), run=_run_dense_forward,
    reference=_dense_fwd_ref,
    mistakes=(
        Mistake("no_bias", "the bias b is not added: y = x @ W + b",
                lambda i: {"y": i["x"] @ i["W"]}),
        Mistake("transposed_W", "W is used transposed: with W of shape (D, M), y = x @ W",
                lambda i: {"y": i["x"] @ i["W"].T + i["b"]}),
    ),
)

DENSE_BACKWARD = Question(
    name="dense_backward", functions=("dense_forward", "dense_backward"), points=3,
    test_cell="test_dense_backward", forbidden=(*BY_HAND, "nnlib.layers", "nnlib.autodiff"),
    make_cases=lambda rng: _dense_cases(rng, True), run=_run_dense_backward,
    reference=_dense_bwd_ref,
    mistakes=(
        Mistake("transposed_dW", "the weight gradient is transposed: dW = x.T @ dy has W's "
                "shape (D, M)", _dense_bwd_variant(dW=lambda i: i["dy"].T @ i["x"])),
        Mistake("db_not_summed", "the bias gradient is not summed over the batch: "
                "db = dy.sum(axis=0)", _dense_bwd_variant(db=lambda i: i["dy"])),
        Mistake("db_mean", "the bias gradient is averaged over the batch; dy already carries "
                "the loss's 1/N, so db = dy.sum(axis=0)",
                _dense_bwd_variant(db=lambda i: i["dy"].mean(axis=0))),
        Mistake("dW_mean", "the weight gradient is divided by the batch size; dy already "
                "carries the loss's 1/N, so dW = x.T @ dy",
                _dense_bwd_variant(dW=lambda i: i["x"].T @ i["dy"] / len(i["x"]))),
        Mistake("dx_no_transpose", "dx must use W transposed: dx = dy @ W.T",
                _dense_bwd_variant(dx=lambda i: i["dy"] @ i["W"])),
        Mistake("sign", "sign error: every gradient has the wrong sign", _neg(_dense_bwd_ref)),
    ),
)


# --------------------------------------------------------------------------- activations
def activation_cases(rng: np.random.Generator) -> list[tuple[str, dict]]:
    """Cases for an activation's ``forward(z) -> (a, cache)`` and ``backward(da, cache) -> dz``."""
    z = rng.normal(size=(4, 3))
    z[0, 0] = 0.0
    return [
        ("z of shape (4, 3), one entry exactly 0", {"z": z, "da": rng.normal(size=(4, 3))}),
        ("a batch of one, z of shape (1, 7)", {"z": rng.normal(size=(1, 7)),
                                               "da": rng.normal(size=(1, 7))}),
        ("large values (|z| up to 50), shape (2, 5)", {"z": 25 * rng.normal(size=(2, 5)),
                                                       "da": rng.normal(size=(2, 5))}),
    ]


def run_activation(kind):
    """Runs ``{kind}_forward`` then ``{kind}_backward``: outputs ``a`` and ``dz``."""
    def run(fns, i):
        a, cache = fns[f"{kind}_forward"](i["z"])
        return {"a": a, "dz": fns[f"{kind}_backward"](i["da"], cache)}
    return run


def _relu_ref(i):
    return {"a": np.maximum(i["z"], 0.0), "dz": i["da"] * (i["z"] > 0)}


def _sigmoid_ref(i):
    s = _sig(i["z"])
    return {"a": s, "dz": i["da"] * s * (1 - s)}


def _act_variant(ref, dz):
    return lambda i: {"a": ref(i)["a"], "dz": dz(i)}


RELU = Question(
    name="relu", functions=("relu_forward", "relu_backward"), points=2, test_cell="test_relu",
    forbidden=(*BY_HAND, "nnlib.layers", "nnlib.autodiff"),
    make_cases=activation_cases, run=run_activation("relu"), reference=_relu_ref,
    mistakes=(
        Mistake("relu_value_not_derivative", "dz multiplies by the activation relu(z) instead "
                "of its derivative (1 where z > 0, else 0)",
                _act_variant(_relu_ref, lambda i: i["da"] * np.maximum(i["z"], 0))),
        Mistake("relu_at_zero", "your derivative is 1 at z == 0, where this course takes it as "
                "0 (as jax.nn.relu's gradient does): use z > 0, not z >= 0",
                _act_variant(_relu_ref, lambda i: i["da"] * (i["z"] >= 0))),
        Mistake("sign", "sign error in dz", _act_variant(_relu_ref, lambda i: -_relu_ref(i)["dz"])),
    ),
)

SIGMOID = Question(
    name="sigmoid", functions=("sigmoid_forward", "sigmoid_backward"), points=2,
    test_cell="test_sigmoid", make_cases=activation_cases, run=run_activation("sigmoid"),
    forbidden=(*BY_HAND, "nnlib.layers", "nnlib.autodiff"),
    reference=_sigmoid_ref,
    mistakes=(
        Mistake("sigmoid_formula_on_z", "the derivative formula a(1 - a) was applied to the "
                "pre-activation z; it needs the post-activation a = sigmoid(z)",
                _act_variant(_sigmoid_ref, lambda i: i["da"] * i["z"] * (1 - i["z"]))),
        Mistake("sigmoid_derivative_at_a", "the derivative was evaluated at the "
                "post-activation a (sigmoid'(a)); it must be evaluated at the pre-activation z: "
                "sigmoid'(z) = a(1 - a)",
                _act_variant(_sigmoid_ref, lambda i: i["da"] * _sig(_sig(i["z"]))
                             * (1 - _sig(_sig(i["z"]))))),
        Mistake("sigmoid_missing_one_minus", "the factor (1 - a) is missing: "
                "sigmoid'(z) = a(1 - a)",
                _act_variant(_sigmoid_ref, lambda i: i["da"] * _sig(i["z"]))),
        Mistake("sign", "sign error in dz",
                _act_variant(_sigmoid_ref, lambda i: -_sigmoid_ref(i)["dz"])),
    ),
)


# --------------------------------------------------------------------------- losses
def _loss_cases(rng: np.random.Generator, onehot: bool) -> list[tuple[str, dict]]:
    cases = []
    for desc, (n, k), scale in [("a batch of 5 with 3 outputs", (5, 3), 1.0),
                                ("a batch of one with 4 outputs", (1, 4), 1.0),
                                ("large values (~1e3), a batch of 6 with 2 outputs", (6, 2), 1e3)]:
        y = np.eye(k)[rng.integers(0, k, size=n)] if onehot else rng.normal(size=(n, k))
        pred = scale * rng.normal(size=(n, k))
        if scale > 1 and onehot:  # logits near 1000: exp overflows unless the max is removed
            pred = scale + 0.3 * pred
        cases.append((desc, {"pred": pred, "target": y}))
    return cases


def _mse_ref(i):
    d = i["pred"] - i["target"]
    return {"loss": np.mean(d ** 2), "grad": 2 * d / d.size}


def _run_pair(fwd, bwd):
    def run(fns, i):
        return {"loss": fns[fwd](i["pred"], i["target"]), "grad": fns[bwd](i["pred"], i["target"])}
    return run


def _variant(ref, **changes):
    def out(i):
        r = ref(i)
        r.update({k: f(i) for k, f in changes.items()})
        return r
    return out


MSE = Question(
    name="mse", functions=("mse_loss", "mse_backward"), points=2, test_cell="test_mse",
    forbidden=(*BY_HAND, "nnlib.losses", "nnlib.autodiff"),
    make_cases=lambda rng: _loss_cases(rng, False), run=_run_pair("mse_loss", "mse_backward"),
    reference=_mse_ref,
    mistakes=(
        Mistake("missing_1_over_n", "the gradient is missing the 1/N of the mean "
                "(N = number of elements)",
                _variant(_mse_ref, grad=lambda i: 2 * (i["pred"] - i["target"]))),
        Mistake("missing_2", "the factor 2 from d/dy (y - t)^2 is missing",
                _variant(_mse_ref, grad=lambda i: _mse_ref(i)["grad"] / 2)),
        Mistake("batch_only_1_over_n", "the gradient divides by the batch size only; the loss "
                "is the mean over all N*K elements, so divide by the number of elements",
                _variant(_mse_ref, grad=lambda i: 2 * (i["pred"] - i["target"]) / len(i["pred"]))),
        Mistake("sign", "sign error: the gradient is (pred - target), not (target - pred)",
                _variant(_mse_ref, grad=lambda i: -_mse_ref(i)["grad"])),
    ),
)


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _sce_ref(i):
    z, y = i["pred"], i["target"]
    zs = z - z.max(axis=-1, keepdims=True)
    logp = zs - np.log(np.exp(zs).sum(axis=-1, keepdims=True))
    return {"loss": -np.sum(y * logp) / len(z), "grad": (_softmax(z) - y) / len(z)}


def _sce_naive(i):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(i["pred"])
        p = e / e.sum(axis=-1, keepdims=True)
        return {"loss": -np.sum(i["target"] * np.log(p)) / len(p),
                "grad": (p - i["target"]) / len(p)}


def _sce_overflow_hint(i, outputs):
    """Recognises the unstable softmax by its nan/inf on large logits (any float width)."""
    if np.max(np.abs(i["pred"])) < 100:
        return None
    vals = [np.asarray(outputs.get(k), dtype=np.float64) for k in ("loss", "grad")
            if k in outputs and np.asarray(outputs.get(k)).dtype != object]
    if any(not np.all(np.isfinite(v)) for v in vals):
        return ("softmax overflowed on large logits: subtract the row's max logit before exp "
                "(softmax(z) = softmax(z - max z))")
    return None


SOFTMAX_CE = Question(
    name="softmax_cross_entropy",
    functions=("softmax_cross_entropy", "softmax_cross_entropy_backward"), points=3,
    test_cell="test_softmax_cross_entropy",
    forbidden=(*BY_HAND, "nnlib.losses", "nnlib.layers", "nnlib.autodiff"),
    make_cases=lambda rng: _loss_cases(rng, True),
    run=_run_pair("softmax_cross_entropy", "softmax_cross_entropy_backward"),
    reference=_sce_ref, rtol=1e-4, atol=1e-6, hints=(_sce_overflow_hint,),
    mistakes=(
        Mistake("missing_1_over_n", "the gradient is missing the 1/N of the batch mean",
                _variant(_sce_ref, grad=lambda i: _softmax(i["pred"]) - i["target"])),
        Mistake("sign", "sign error: the gradient is softmax(z) - y, not y - softmax(z)",
                _variant(_sce_ref, grad=lambda i: -_sce_ref(i)["grad"])),
        Mistake("softmax_overflow", "softmax overflowed on large logits: subtract the row's max "
                "logit before exp", _sce_naive),
    ),
)

# --------------------------------------------------------------------------- softmax layer
# The derivation task: the notebook gives softmax, not its backward. With p = softmax(z) row by
# row, dp_k/dz_j = p_k (1[j = k] - p_j), so the vector-Jacobian product is
# dz_j = sum_k dp_k p_k (1[j = k] - p_j) = p_j (dp_j - sum_k p_k dp_k).
def _softmax_layer_cases(rng: np.random.Generator) -> list[tuple[str, dict]]:
    cases = []
    for desc, (n, k), scale in [("a batch of 4 with 3 classes", (4, 3), 1.0),
                                ("a batch of one with 5 classes", (1, 5), 1.0),
                                ("large logits (~1e3), a batch of 3 with 4 classes", (3, 4), 1e3)]:
        z = scale * rng.normal(size=(n, k))
        cases.append((desc, {"z": z, "dp": rng.normal(size=(n, k))}))
    return cases


def _softmax_layer_ref(i):
    p = _softmax(i["z"])
    return {"p": p, "dz": p * (i["dp"] - np.sum(p * i["dp"], axis=-1, keepdims=True))}


def _run_softmax_layer(fns, i):
    p, cache = fns["softmax_forward"](i["z"])
    return {"p": p, "dz": fns["softmax_backward"](i["dp"], cache)}


SOFTMAX_LAYER = Question(
    name="softmax_layer", functions=("softmax_forward", "softmax_backward"), points=3,
    test_cell="test_softmax_layer", make_cases=_softmax_layer_cases, run=_run_softmax_layer,
    reference=_softmax_layer_ref, rtol=1e-6, atol=1e-9,
    forbidden=(*BY_HAND, "nnlib.layers", "nnlib.numerics", "nnlib.losses", "nnlib.autodiff"),
    mistakes=(
        Mistake("diagonal_only", "only the diagonal of the Jacobian was used (dz = dp p (1 - p), "
                "as for a sigmoid): every p_k depends on every z_j, so the off-diagonal terms "
                "-p_k p_j add up too", lambda i: {**_softmax_layer_ref(i),
                                                  "dz": i["dp"] * _softmax(i["z"])
                                                  * (1 - _softmax(i["z"]))}),
        Mistake("sum_over_batch", "the sum over the classes was taken over the batch (axis 0): "
                "each row's softmax only mixes that row's classes (axis -1)",
                lambda i: {**_softmax_layer_ref(i), "dz": _softmax(i["z"]) * (
                    i["dp"] - np.sum(_softmax(i["z"]) * i["dp"], axis=0, keepdims=True))}),
        Mistake("missing_p_factor", "the factor p_j in front is missing: dz_j = p_j (dp_j - "
                "sum_k p_k dp_k)", lambda i: {**_softmax_layer_ref(i), "dz": i["dp"] - np.sum(
                    _softmax(i["z"]) * i["dp"], axis=-1, keepdims=True)}),
        Mistake("sign", "sign error in dz", lambda i: {**_softmax_layer_ref(i),
                                                       "dz": -_softmax_layer_ref(i)["dz"]}),
    ),
    hints=(lambda i, o: _sce_overflow_hint({"pred": i["z"]}, {"loss": o.get("p", 0.0)}),),
)


from nnlib.grading.specs.backprop_network import MLP, NUMERICAL_GRADIENT, TRAIN  # noqa: E402

QUESTIONS = (DENSE_FORWARD, DENSE_BACKWARD, RELU, SIGMOID, MSE, SOFTMAX_CE, SOFTMAX_LAYER, MLP,
             NUMERICAL_GRADIENT, TRAIN)
MANUAL = {"why_float64": 2}
"""Manually graded answer cells (grade_id -> points), left for the instructor's rubric."""
