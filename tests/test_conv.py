"""Tests for Conv2D, MaxPool2D and Flatten (NHWC). Their backward passes against jax.vjp,
dtypes, retracing and repr: the rows of tests/layer_table.py, run by test_layers.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_checks import F64, check_backward, normal
from layer_table import LAYERS, build, case_id, small_cnn

from nnlib import layers as L

KEY = jax.random.key(0)


CONV_ROWS = [case for case in LAYERS if isinstance(case.make(), L.Conv2D)]


@pytest.mark.parametrize("case", CONV_ROWS, ids=case_id)
def test_conv2d_forward_matches_lax(case):  # backward: the same rows in test_layers.py
    layer, params, _, x, got_shape = build(case, F64)  # x (2, *in_shape), a random bias
    in_shape = x.shape[1:]
    assert got_shape == case.out_shape
    assert params["W"].shape == (*layer._k, in_shape[-1], layer.filters)
    y = layer.apply(params, x)
    assert y.shape == (2, *case.out_shape)
    ref = jax.lax.conv_general_dilated(
        x, params["W"], layer._s, layer.padding.upper(),
        dimension_numbers=("NHWC", "HWIO", "NHWC"), precision="highest")
    if "b" in params:
        ref = ref + params["b"]
    ref = L.get_activation(layer.activation).apply({}, ref)
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


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


def test_flatten():
    layer = L.Flatten()
    assert layer.init(KEY, (3, 4, 2)) == ({}, (24,))
    x = normal(5, (2, 3, 4, 2))
    y = layer.apply({}, x)
    np.testing.assert_array_equal(y, x.reshape(2, 24))  # backward: row Flatten


def test_small_cnn_shapes_and_state():  # backward: row Sequential-cnn
    model = small_cnn()
    params, out_shape = model.init(KEY, (8, 8, 1), dtype=F64)
    assert out_shape == (5,)
    state = model.init_state((8, 8, 1), dtype=F64)
    assert state[3]["mean"].shape == (4,)


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
