"""Tests for Conv2D, MaxPool2D and Flatten (NHWC)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_checks import F64, check_backward, normal

from nnlib import layers as L

KEY = jax.random.key(0)


@pytest.mark.parametrize("kwargs, in_shape, out_shape", [
    ({"filters": 3, "kernel_size": 3}, (7, 6, 2), (5, 4, 3)),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"},
     (7, 6, 2), (4, 3, 2)),
    ({"filters": 2, "kernel_size": (2, 3), "strides": (2, 1), "padding": "same", "use_bias": False},
     (6, 5, 3), (3, 5, 2)),
])
def test_conv2d_forward_matches_lax_and_backward_matches_vjp(kwargs, in_shape, out_shape):
    layer = L.Conv2D(**kwargs)
    params, got_shape = layer.init(KEY, in_shape, dtype=F64)
    assert got_shape == out_shape
    assert params["W"].shape == (*layer._k, in_shape[-1], kwargs["filters"])
    x = normal(1, (2, *in_shape))
    if "b" in params:
        params["b"] = normal(2, params["b"].shape)
    y = layer.apply(params, x)
    assert y.shape == (2, *out_shape)
    ref = jax.lax.conv_general_dilated(
        x, params["W"], layer._s, kwargs.get("padding", "valid").upper(),
        dimension_numbers=("NHWC", "HWIO", "NHWC"), precision="highest")
    if "b" in params:
        ref = ref + params["b"]
    if kwargs.get("activation") == "relu":
        ref = jnp.maximum(ref, 0.0)
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)
    check_backward(layer, params, x)


def test_maxpool_forward_and_backward_with_ties():
    layer = L.MaxPool2D()
    params, out_shape = layer.init(KEY, (4, 6, 2))
    assert params == {} and out_shape == (2, 3, 2)
    x = jnp.round(normal(3, (2, 4, 6, 2)))  # integers: many windows have tied maxima
    y = layer.apply(params, x)
    ref = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    np.testing.assert_array_equal(y, ref)
    _, dx = check_backward(layer, params, x)
    # the gradient of each window sums to its dy (split among ties, not duplicated)
    assert int(jnp.sum(layer.backward({}, layer.forward({}, x)[1], jnp.ones_like(y))[1] == 0.5)) > 0
    dy = normal(123, y.shape)  # the cotangent check_backward used
    dy_sum = jax.lax.reduce_window(dx, 0.0, jax.lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    np.testing.assert_allclose(dy_sum, dy, rtol=1e-12)


@pytest.mark.parametrize("pool_size, strides, in_shape, out_shape", [
    (3, 2, (7, 5, 1), (3, 2, 1)),        # overlapping windows
    ((2, 1), None, (4, 3, 2), (2, 3, 2)),
])
def test_maxpool_shapes_and_backward(pool_size, strides, in_shape, out_shape):
    layer = L.MaxPool2D(pool_size, strides)
    assert layer.init(KEY, in_shape)[1] == out_shape
    x = jnp.round(normal(4, (2, *in_shape)) * 2)
    assert layer.apply({}, x).shape == (2, *out_shape)
    check_backward(layer, {}, x)


def test_flatten():
    layer = L.Flatten()
    assert layer.init(KEY, (3, 4, 2)) == ({}, (24,))
    x = normal(5, (2, 3, 4, 2))
    y = layer.apply({}, x)
    np.testing.assert_array_equal(y, x.reshape(2, 24))
    check_backward(layer, {}, x)


def test_small_cnn_backward():
    model = L.Sequential([
        L.Conv2D(3, 3, padding="same", activation="relu"), L.MaxPool2D(),
        L.Conv2D(4, 3, strides=2, padding="same", use_bias=False),  # BatchNorm cancels a bias
        L.BatchNorm(), L.ReLU(),
        L.Flatten(), L.Dropout(0.25), L.Dense(5),
    ])
    params, out_shape = model.init(KEY, (8, 8, 1), dtype=F64)
    assert out_shape == (5,)
    state = model.init_state((8, 8, 1), dtype=F64)
    assert state[3]["mean"].shape == (4,)
    check_backward(model, params, normal(6, (3, 8, 8, 1)), train=True,
                   key=jax.random.key(1), state=state)


def test_conv_errors():
    layer = L.Conv2D(2, 3)
    params, _ = layer.init(KEY, (5, 5, 3), dtype=F64)
    with pytest.raises(ValueError, match=r"4 dimensions, got shape \(5, 5, 3\).*NHWC"):
        layer.apply(params, jnp.ones((5, 5, 3)))
    with pytest.raises(ValueError, match=r"x has 1 channels.*C_in=3"):
        layer.apply(params, jnp.ones((1, 5, 5, 1)))
    with pytest.raises(TypeError, match="floating-point dtype, got int"):
        layer.apply(params, jnp.ones((1, 5, 5, 3), jnp.int32))
    with pytest.raises(ValueError, match="smaller than the window"):
        layer.apply(params, jnp.ones((1, 2, 5, 3)))
    with pytest.raises(ValueError, match=r"unknown padding 'full'; valid names are: same, valid"):
        L.Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match=r"in_shape must have 3 entries"):
        layer.init(KEY, (25,))
    with pytest.raises(ValueError, match="kernel_size must be positive"):
        L.Conv2D(2, 0)
    with pytest.raises(TypeError, match="strides must be an int or a pair"):
        L.Conv2D(2, 3, strides=(1, 2, 3))
    with pytest.raises(TypeError, match="Conv2D: filters must be an int"):  # as Dense("4")
        L.Conv2D("4", 3)
    with pytest.raises(ValueError, match="Conv2D: filters must be positive"):
        L.Conv2D(0, 3)
    with pytest.raises(TypeError, match="Flatten: x must have a floating-point dtype"):
        L.Flatten().apply({}, jnp.ones((2, 3), jnp.int32))
    with pytest.raises(ValueError, match=r"MaxPool2D: x must have 4 dimensions"):
        L.MaxPool2D().apply({}, jnp.ones((4, 4)))
    with pytest.raises(ValueError, match="Flatten: x must have a batch axis"):
        L.Flatten().apply({}, jnp.ones((4,)))
