"""Tests for nnlib.gradcheck: central differences in float64, reports that name the bad entry."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnlib import gradcheck, losses


def _mlp_params():
    rng = np.random.default_rng(0)
    return [
        {"W": rng.standard_normal((3, 4)) * 0.5, "b": rng.standard_normal(4) * 0.1},
        {"W": rng.standard_normal((4, 2)) * 0.5, "b": rng.standard_normal(2) * 0.1},
    ]


X = np.random.default_rng(1).standard_normal((5, 3))
Y = np.array([0, 1, 1, 0, 1])


@jax.jit
def mlp_loss(params, x, y):
    h = jnp.tanh(x @ params[0]["W"] + params[0]["b"])
    z = h @ params[1]["W"] + params[1]["b"]
    return losses.softmax_cross_entropy_with_integer_labels(z, y)


def mlp_manual_grad(params, x, y):
    """A hand-written backward pass, as a student would write it."""
    h = jnp.tanh(x @ params[0]["W"] + params[0]["b"])
    z = h @ params[1]["W"] + params[1]["b"]
    dz = losses.softmax_cross_entropy_with_integer_labels_grad(z, y)
    dh = dz @ params[1]["W"].T
    da = dh * (1.0 - h**2)
    return [
        {"W": x.T @ da, "b": da.sum(0)},
        {"W": h.T @ dz, "b": dz.sum(0)},
    ]


def test_numerical_grad_matches_closed_form():
    w = {"a": np.array([0.3, -1.2, 2.0]), "c": np.array(0.7)}
    g = gradcheck.numerical_grad(lambda p: jnp.sum(p["a"] ** 3) + jnp.sin(p["c"]), w)
    np.testing.assert_allclose(g["a"], 3 * w["a"] ** 2, rtol=1e-8)
    np.testing.assert_allclose(g["c"], np.cos(0.7), rtol=1e-8)
    assert g["a"].dtype == np.float64


def test_float64_even_when_x64_is_off():
    seen = []

    def f(p, x):
        seen.append((p.dtype, x.dtype))
        return jnp.sum(jnp.sin(p * x))

    p, x = np.array([0.1, 0.2], np.float32), np.array([1.0, 3.0], np.float32)
    with jax.enable_x64(False):
        g = gradcheck.numerical_grad(f, p, x)
        report = gradcheck.check_grads(f, p, x)
        assert not jax.config.jax_enable_x64  # restored afterwards
    assert set(seen) == {(np.dtype("float64"), np.dtype("float64"))}
    # float32 central differences would be off by ~1e-2 here; float64 gets ~1e-10
    np.testing.assert_allclose(g, np.cos(p.astype(np.float64) * x) * x, rtol=1e-8)
    assert report.passed and report.max_rel_error < 1e-8


def test_passes_for_jax_grad_of_small_mlp():
    report = gradcheck.check_grads(mlp_loss, _mlp_params(), X, Y)
    assert isinstance(report, gradcheck.GradCheckReport)
    assert report.passed and report.max_rel_error < 1e-7
    assert set(report.per_parameter) == {
        "params[0]['W']",
        "params[0]['b']",
        "params[1]['W']",
        "params[1]['b']",
    }
    assert "PASSED" in str(report)


def test_passes_for_correct_hand_written_grad():
    report = gradcheck.assert_grads_close(mlp_loss, _mlp_params(), X, Y, analytic=mlp_manual_grad)
    assert report.passed


def test_names_the_wrong_parameter_and_index():
    def wrong(params, x, y):
        g = jax.grad(mlp_loss)(params, x, y)
        g[1]["W"] = g[1]["W"].at[2, 1].add(0.05)
        return g

    report = gradcheck.check_grads(mlp_loss, _mlp_params(), X, Y, analytic=wrong)
    assert not report.passed
    assert report.worst_path == "params[1]['W']"
    assert report.worst_index == (2, 1)
    exact = float(jax.grad(mlp_loss)(_mlp_params(), X, Y)[1]["W"][2, 1])
    assert report.numeric == pytest.approx(exact, rel=1e-7)
    assert report.analytic == pytest.approx(exact + 0.05, rel=1e-7)
    assert report.per_parameter["params[0]['W']"] < 1e-7  # the others are still right
    with pytest.raises(AssertionError, match=r"FAILED.*\n.*params\[1\]\['W'\]\[2, 1\]"):
        gradcheck.assert_grads_close(mlp_loss, _mlp_params(), X, Y, analytic=wrong)


def test_missing_bias_gradient_is_caught():
    def no_bias(params, x, y):
        g = mlp_manual_grad(params, x, y)
        g[0]["b"] = jnp.zeros_like(g[0]["b"])
        return g

    report = gradcheck.check_grads(mlp_loss, _mlp_params(), X, Y, analytic=no_bias)
    assert not report.passed and report.worst_path == "params[0]['b']"
    assert report.max_rel_error == pytest.approx(1.0)  # |0 - n| / |n|


def test_parameter_with_zero_gradient_passes():
    params = {"used": np.array([1.0, 2.0]), "unused": np.array([3.0])}
    report = gradcheck.check_grads(lambda p: jnp.sum(jnp.exp(p["used"])), params)
    assert report.passed
    assert report.per_parameter["params['unused']"] < 1e-6


def test_nan_gradient_fails():
    report = gradcheck.check_grads(
        lambda p: jnp.sum(p**2), np.array([1.0, 2.0]), analytic=lambda p: jnp.array([2.0, jnp.nan])
    )
    assert not report.passed and report.max_rel_error == np.inf
    assert report.worst_path == "params" and report.worst_index == (1,)


def test_loose_rtol_accepts_small_errors():
    f = lambda p: jnp.sum(p**2)
    slightly_off = lambda p: 2.0 * p * (1 + 1e-4)
    p = np.array([1.0, -2.0])
    assert not gradcheck.check_grads(f, p, analytic=slightly_off).passed
    assert gradcheck.check_grads(f, p, analytic=slightly_off, rtol=1e-3).passed


def test_bad_inputs():
    f = lambda p: jnp.sum(p["w"] ** 2)
    p = {"w": np.array([1.0, 2.0])}
    with pytest.raises(ValueError, match="structure of params"):
        gradcheck.check_grads(f, p, analytic=lambda p: [p["w"]])
    with pytest.raises(ValueError, match=r"params\['w'\] must have shape \(2,\), got \(3,\)"):
        gradcheck.check_grads(f, p, analytic=lambda p: {"w": jnp.zeros(3)})
    with pytest.raises(TypeError, match=r"params\['w'\] must be a floating-point"):
        gradcheck.numerical_grad(f, {"w": np.array([1, 2])})
    with pytest.raises(ValueError, match="f must return a scalar"):
        gradcheck.numerical_grad(lambda p: p["w"] ** 2, p)
