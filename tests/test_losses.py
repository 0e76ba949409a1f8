"""Tests for nnlib.losses: closed forms, hand-written grads vs jax.grad, stability, lookup."""

import functools
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nnlib import losses as L

F64 = jnp.float64


def _data(kind, shape=(5, 4), seed=0):
    """(y_pred, y_true) in float64 for each kind of loss (NumPy RNG: no JAX compiles here)."""
    rng = np.random.default_rng(seed)
    z = 2.0 * rng.standard_normal(shape)
    softmax = lambda a: (
        np.exp(a - a.max(-1, keepdims=True))
        / np.exp(a - a.max(-1, keepdims=True)).sum(-1, keepdims=True)
    )
    labels = rng.integers(0, shape[-1], shape[:-1])
    onehot = np.eye(shape[-1])[labels]
    pairs = {
        "regression": (z, rng.standard_normal(shape)),
        "binary_prob": (1.0 / (1.0 + np.exp(-z)), (rng.random(shape) < 0.5).astype(np.float64)),
        "binary_logits": (z, rng.random(shape)),  # soft targets too
        "softmax_soft": (z, softmax(rng.standard_normal(shape))),
        "softmax_onehot": (z, onehot),
        "softmax_int": (z, labels),
        "cat_prob": (softmax(z), onehot),
        "sparse_prob": (softmax(z), labels),
    }
    return tuple(jnp.asarray(a) for a in pairs[kind])


CASES = [
    (L.mse, L.mse_grad, "regression"),
    (L.mae, L.mae_grad, "regression"),
    (L.huber, L.huber_grad, "regression"),
    (
        functools.partial(L.huber, delta=0.3),
        functools.partial(L.huber_grad, delta=0.3),
        "regression",
    ),
    (L.binary_cross_entropy, L.binary_cross_entropy_grad, "binary_prob"),
    (L.sigmoid_binary_cross_entropy, L.sigmoid_binary_cross_entropy_grad, "binary_logits"),
    (L.softmax_cross_entropy, L.softmax_cross_entropy_grad, "softmax_onehot"),
    (L.softmax_cross_entropy, L.softmax_cross_entropy_grad, "softmax_soft"),
    (
        L.softmax_cross_entropy_with_integer_labels,
        L.softmax_cross_entropy_with_integer_labels_grad,
        "softmax_int",
    ),
    (L.categorical_cross_entropy, L.categorical_cross_entropy_grad, "cat_prob"),
    (L.sparse_categorical_cross_entropy, L.sparse_categorical_cross_entropy_grad, "sparse_prob"),
]


def _id(case):
    fn, _, kind = case
    return f"{getattr(fn, '__name__', 'huber_delta')}-{kind}"


# --------------------------------------------------------------------------- closed forms
def test_mse_closed_form():
    # (1/N) sum (yhat - y)^2 = (1 + 4 + 0 + 9) / 4
    assert float(
        L.mse(jnp.array([1.0, 2.0, 3.0, 4.0]), jnp.array([0.0, 0.0, 3.0, 7.0]))
    ) == pytest.approx(3.5)


def test_mae_closed_form():
    assert float(L.mae(jnp.array([[1.0, -2.0], [0.5, 0.0]]), jnp.zeros((2, 2)))) == pytest.approx(
        0.875
    )


def test_huber_closed_form():
    # r = 0.5 (quadratic: 0.125), r = 3 (linear: 1 * (3 - 0.5) = 2.5);
    # delta = 2: r = 3 -> 2 * (3 - 1) = 4
    yp, yt = jnp.array([0.5, 3.0]), jnp.zeros(2)
    assert float(L.huber(yp, yt)) == pytest.approx((0.125 + 2.5) / 2)
    assert float(L.huber(yp, yt, delta=2.0)) == pytest.approx((0.125 + 4.0) / 2)


def test_huber_matches_mse_half_for_small_residuals():
    yp, yt = _data("regression")
    assert float(L.huber(yp, yt, delta=100.0)) == pytest.approx(
        0.5 * float(L.mse(yp, yt)), rel=1e-12
    )


def test_binary_cross_entropy_closed_form():
    p, y = jnp.array([0.9, 0.2]), jnp.array([1.0, 0.0])
    assert float(L.binary_cross_entropy(p, y)) == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2)


def test_binary_cross_entropy_clips_zero_and_one():
    # p = 0 with y = 1 would be -log(0) = inf; clipped to -log(1e-7)
    loss = L.binary_cross_entropy(jnp.array([0.0, 1.0], F64), jnp.array([1.0, 0.0], F64))
    assert float(loss) == pytest.approx(-np.log(1e-7), rel=1e-6)
    assert np.all(
        np.isfinite(L.binary_cross_entropy_grad(jnp.array([0.0, 1.0]), jnp.array([1.0, 0.0])))
    )


def test_sigmoid_bce_matches_probability_form():
    z, y = _data("binary_logits")
    np.testing.assert_allclose(
        L.sigmoid_binary_cross_entropy(z, y),
        L.binary_cross_entropy(jax.nn.sigmoid(z), y),
        rtol=1e-9,
    )


def test_softmax_cross_entropy_closed_form():
    z = jnp.array([[0.0, np.log(3.0)]])  # softmax = [1/4, 3/4]
    assert float(L.softmax_cross_entropy(z, jnp.array([[0.0, 1.0]]))) == pytest.approx(
        -np.log(0.75)
    )
    assert float(L.softmax_cross_entropy_with_integer_labels(z, jnp.array([0]))) == pytest.approx(
        np.log(4.0)
    )


def test_categorical_matches_softmax_cross_entropy():
    z, y = _data("softmax_onehot")
    np.testing.assert_allclose(
        L.categorical_cross_entropy(jax.nn.softmax(z), y), L.softmax_cross_entropy(z, y), rtol=1e-9
    )
    labels = jnp.argmax(y, axis=-1)
    np.testing.assert_allclose(
        L.sparse_categorical_cross_entropy(jax.nn.softmax(z), labels),
        L.softmax_cross_entropy(z, y),
        rtol=1e-9,
    )


def test_integer_and_one_hot_agree():
    z, labels = _data("softmax_int", shape=(3, 6, 7))
    onehot = jax.nn.one_hot(labels, 7, dtype=F64)
    np.testing.assert_allclose(
        L.softmax_cross_entropy_with_integer_labels(z, labels),
        L.softmax_cross_entropy(z, onehot),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        L.softmax_cross_entropy_with_integer_labels_grad(z, labels),
        L.softmax_cross_entropy_grad(z, onehot),
        rtol=1e-12,
        atol=1e-15,
    )


def test_mean_is_over_examples_not_classes():
    z = jnp.zeros((4, 10))  # uniform softmax: loss log(10) per example
    y = jax.nn.one_hot(jnp.arange(4), 10)
    assert float(L.softmax_cross_entropy(z, y)) == pytest.approx(np.log(10.0), rel=1e-6)


def test_logsumexp_and_log_softmax():
    x = jnp.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, -1000.0]], F64)
    np.testing.assert_allclose(
        L.logsumexp(x), [np.log(np.exp([1, 2, 3]).sum()), 1000 + np.log(2.0)], rtol=1e-12
    )
    assert L.logsumexp(x, keepdims=True).shape == (2, 1)
    np.testing.assert_allclose(jnp.exp(L.log_softmax(x)).sum(-1), [1.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(
        jax.grad(lambda v: L.logsumexp(v))(x[0]), jax.nn.softmax(x[0]), rtol=1e-12
    )



def test_losses_share_the_numerics_without_importing_the_layers():
    """softmax/log_softmax/logsumexp live in nnlib.numerics, below both losses and layers."""
    from nnlib import numerics

    assert L.log_softmax is numerics.log_softmax and L.logsumexp is numerics.logsumexp
    code = "import sys, nnlib.losses; print(sorted(m for m in sys.modules if 'nnlib.layers' in m))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]", f"importing nnlib.losses imported {run.stdout.strip()}"

# ------------------------------------------------------------- gradients against jax.grad
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_hand_written_grad_matches_jax_grad(case):
    fn, grad, kind = case
    y_pred, y_true = _data(kind)
    expected = jax.grad(fn)(y_pred, y_true)
    got = grad(y_pred, y_true)
    assert got.shape == y_pred.shape and got.dtype == F64
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14)


def test_mae_grad_at_tie_is_zero():
    assert float(L.mae_grad(jnp.array([1.0, 2.0]), jnp.array([1.0, 0.0]))[0]) == 0.0


@pytest.mark.parametrize("case", CASES[:8], ids=_id)
def test_grads_work_under_jit(case):
    fn, grad, kind = case
    y_pred, y_true = _data(kind, seed=1)
    np.testing.assert_allclose(
        jax.jit(grad)(y_pred, y_true), jax.grad(fn)(y_pred, y_true), rtol=1e-10, atol=1e-14
    )


# ---------------------------------------------------------------- extreme-logit stability
@pytest.mark.parametrize("dtype", [jnp.float32, F64])
def test_softmax_ce_at_huge_logits(dtype):
    z = jnp.array([[1e4, -1e4], [1e4, -1e4]], dtype)
    right, wrong = jnp.array([0]), jnp.array([1])
    assert float(L.softmax_cross_entropy_with_integer_labels(z[:1], right)) == pytest.approx(
        0.0, abs=1e-6
    )
    assert float(L.softmax_cross_entropy_with_integer_labels(z[:1], wrong)) == pytest.approx(
        2e4, rel=1e-6
    )
    assert float(L.softmax_cross_entropy(z[:1], jnp.array([[0.0, 1.0]], dtype))) == pytest.approx(
        2e4, rel=1e-6
    )
    g = L.softmax_cross_entropy_with_integer_labels_grad(z, jnp.array([0, 1]))
    np.testing.assert_allclose(g, [[0.0, 0.0], [0.5, -0.5]], atol=1e-6)
    for grad_fn in (jax.grad(L.softmax_cross_entropy), L.softmax_cross_entropy_grad):
        assert np.all(np.isfinite(grad_fn(z, jnp.array([[1.0, 0.0], [0.0, 1.0]], dtype))))


@pytest.mark.parametrize("dtype", [jnp.float32, F64])
def test_sigmoid_bce_at_huge_logits(dtype):
    z = jnp.array([1e4, -1e4], dtype)
    assert float(L.sigmoid_binary_cross_entropy(z, jnp.array([1.0, 0.0], dtype))) == pytest.approx(
        0.0, abs=1e-6
    )
    assert float(L.sigmoid_binary_cross_entropy(z, jnp.array([0.0, 1.0], dtype))) == pytest.approx(
        1e4, rel=1e-6
    )
    for grad_fn in (jax.grad(L.sigmoid_binary_cross_entropy), L.sigmoid_binary_cross_entropy_grad):
        g = grad_fn(z, jnp.array([0.0, 1.0], dtype))
        np.testing.assert_allclose(g, [0.5, -0.5], atol=1e-6)  # (sigmoid(z) - y) / N


# --------------------------------------------------------------------- properties (hypothesis)
_floats = st.floats(-50.0, 50.0, allow_nan=False, width=64)
_probs = st.floats(0.0, 1.0, width=64)
_logits = hnp.arrays(np.float64, (3, 4), elements=_floats)
_targets = hnp.arrays(np.float64, (3, 4), elements=_probs)


@settings(max_examples=40, deadline=None)
@given(_logits, _logits, _targets)
def test_losses_are_non_negative(a, b, t):
    for fn in (L.mse, L.mae, L.huber):
        assert float(fn(a, b)) >= 0.0
    assert float(L.binary_cross_entropy(t, (t > 0.5).astype(np.float64))) >= 0.0
    assert float(L.sigmoid_binary_cross_entropy(a, t)) >= 0.0
    soft = t / np.maximum(t.sum(-1, keepdims=True), 1e-3)
    assert float(L.softmax_cross_entropy(a, soft)) >= 0.0
    assert float(L.categorical_cross_entropy(jax.nn.softmax(a), soft)) >= 0.0


@settings(max_examples=40, deadline=None)
@given(
    _logits, st.floats(-1e3, 1e3, width=64), hnp.arrays(np.int64, (3,), elements=st.integers(0, 3))
)
def test_cross_entropy_invariant_to_logit_shift(z, c, labels):
    onehot = jax.nn.one_hot(labels, 4, dtype=F64)
    np.testing.assert_allclose(
        L.softmax_cross_entropy(z + c, onehot),
        L.softmax_cross_entropy(z, onehot),
        rtol=1e-9,
        atol=1e-9,
    )
    np.testing.assert_allclose(
        L.softmax_cross_entropy_with_integer_labels(z + c, labels),
        L.softmax_cross_entropy_with_integer_labels(z, labels),
        rtol=1e-9,
        atol=1e-9,
    )


# ------------------------------------------------------------------------------ validation
def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"y_pred and y_true.*\(4, 3\) and \(4, 1\)"):
        L.mse(jnp.zeros((4, 3)), jnp.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 1\)"):
        L.softmax_cross_entropy_with_integer_labels(jnp.zeros((4, 3)), jnp.zeros((4, 1), jnp.int32))


def test_integer_predictions_are_type_error():
    with pytest.raises(TypeError, match="y_pred must have a floating-point dtype"):
        L.mse(jnp.array([1, 2]), jnp.array([1.0, 2.0]))


def test_integer_targets_are_accepted_for_binary_losses():
    p = jnp.array([0.9, 0.2])
    assert float(L.binary_cross_entropy(p, jnp.array([1, 0]))) == pytest.approx(
        float(L.binary_cross_entropy(p, jnp.array([1.0, 0.0])))
    )


def test_integer_label_validation():
    z = jnp.zeros((2, 3))
    with pytest.raises(TypeError, match="integer class labels"):
        L.softmax_cross_entropy_with_integer_labels(z, jnp.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"\[0, 3\).*3 classes.*from 0 to 3"):
        L.softmax_cross_entropy_with_integer_labels(z, jnp.array([0, 3]))
    with pytest.raises(ValueError, match="from -1"):
        L.sparse_categorical_cross_entropy_grad(jax.nn.softmax(z), jnp.array([-1, 0]))


def test_out_of_range_label_under_jit_is_nan():
    loss = jax.jit(L.softmax_cross_entropy_with_integer_labels)(
        jnp.zeros((2, 3)), jnp.array([0, -1])
    )
    assert np.isnan(float(loss))


def test_bad_delta():
    with pytest.raises(ValueError, match="delta must be positive"):
        L.huber(jnp.zeros(2), jnp.zeros(2), delta=0.0)
    with pytest.raises(ValueError, match="delta must be positive"):
        L.huber_grad(jnp.zeros(2), jnp.zeros(2), delta=-1.0)
    with pytest.raises(TypeError, match="delta must be a real number"):
        L.huber(jnp.zeros(2), jnp.zeros(2), delta="1")


def test_huber_with_a_traced_delta_under_jit():
    r = jnp.array([0.5, -2.0, 3.0], F64)
    zero = jnp.zeros(3, F64)
    for delta in (1.0, 2.5):
        d = jnp.asarray(delta, F64)
        np.testing.assert_allclose(jax.jit(L.huber)(r, zero, d), L.huber(r, zero, delta),
                                   rtol=1e-12)
        np.testing.assert_allclose(jax.jit(L.huber_grad)(r, zero, d),
                                   L.huber_grad(r, zero, delta), rtol=1e-12)
    # differentiable in delta too: d/d delta of delta (|r| - delta / 2) is |r| - delta
    g = jax.grad(lambda d: L.huber(r, zero, d))(jnp.asarray(1.0, F64))
    assert float(g) == pytest.approx((0.0 + 1.0 + 2.0) / 3, rel=1e-12)


# ---------------------------------------------------------------------------------- lookup
@pytest.mark.parametrize(
    "name, fn, from_logits",
    [
        ("mse", L.mse, False),
        ("mean_squared_error", L.mse, False),
        ("mae", L.mae, False),
        ("Mean_Absolute_Error", L.mae, False),
        ("huber", L.huber, False),
        ("binary_crossentropy", L.binary_cross_entropy, False),
        ("categorical_crossentropy", L.categorical_cross_entropy, False),
        ("sparse_categorical_crossentropy", L.sparse_categorical_cross_entropy, False),
        ("softmax_cross_entropy", L.softmax_cross_entropy, True),
        ("sigmoid_binary_cross_entropy", L.sigmoid_binary_cross_entropy, True),
        (
            "softmax_cross_entropy_with_integer_labels",
            L.softmax_cross_entropy_with_integer_labels,
            True,
        ),
    ],
)
def test_get(name, fn, from_logits):
    loss = L.get(name)
    assert isinstance(loss, L.Loss)
    assert loss.fn is fn and loss.from_logits is from_logits
    assert loss.grad is getattr(L, fn.__name__ + "_grad")


@pytest.mark.parametrize(
    "name, twin",
    [
        ("binary_crossentropy", L.sigmoid_binary_cross_entropy),
        ("categorical_crossentropy", L.softmax_cross_entropy),
        ("sparse_categorical_crossentropy", L.softmax_cross_entropy_with_integer_labels),
    ],
)
def test_get_from_logits_like_keras(name, twin):
    assert L.get(name, from_logits=True).fn is twin
    assert L.get(twin.__name__, from_logits=False) == L.get(name)
    assert L.get(name, from_logits=False) == L.get(name)


def test_get_errors_and_passthrough():
    with pytest.raises(
        ValueError, match="unknown loss 'crossentropy'.*mse.*sparse_categorical_crossentropy"
    ):
        L.get("crossentropy")
    with pytest.raises(ValueError, match="no from_logits=True form"):
        L.get("mse", from_logits=True)
    loss = L.get("mse")
    assert L.get(loss) is loss
    custom = L.get(lambda yp, yt: jnp.sum(yp))
    assert custom.grad is None and custom.from_logits is False


def test_jax_grad_of_the_logits_bce_is_right_at_exactly_zero_logits():
    """Zero-initialised output weights give z = 0, where max(z, 0) and |z| both have kinks."""
    z, t = jnp.zeros(3), jnp.array([0.0, 1.0, 0.75])
    np.testing.assert_allclose(jax.grad(L.sigmoid_binary_cross_entropy)(z, t),
                               L.sigmoid_binary_cross_entropy_grad(z, t), atol=1e-7)
