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


def _lax_conv(x, W, strides, padding="VALID"):
    """JAX's own convolution (NHWC, HWIO), the reference for nnlib's."""
    return jax.lax.conv_general_dilated(x, W, strides, padding, precision="highest",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


CONV_ROWS = [case for case in LAYERS if isinstance(case.make(), L.Conv2D)]


@pytest.mark.parametrize("case", CONV_ROWS, ids=case_id)
def test_conv2d_forward_matches_lax(case):  # backward: the same rows in test_layers.py
    layer, params, _, x, got_shape = build(case, F64)  # x (2, *in_shape), a random bias
    in_shape = x.shape[1:]
    assert got_shape == case.out_shape
    assert params["W"].shape == (*layer._k, in_shape[-1], layer.filters)
    y = layer.apply(params, x)
    assert y.shape == (2, *case.out_shape)
    ref = _lax_conv(x, params["W"], layer._s, layer.padding.upper())
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


# ---- nnlib.layers.kernels: the fast forms the layers' forward passes run. Each is checked in
# float64 against jax.lax (forward) and against jax's own derivatives of the lax/readable
# forms (the custom VJPs), so a wrong patch order, stride, crop or tie rule fails here.

KERNEL_CASES = [  # (x shape (N, H, W, C), kernel (kh, kw), O, strides)
    ((2, 7, 6, 3), (3, 3), 4, (1, 1)),
    ((2, 9, 8, 2), (3, 3), 3, (2, 2)),
    ((1, 8, 9, 1), (2, 3), 2, (3, 1)),
    ((2, 11, 10, 2), (5, 5), 3, (2, 3)),
    ((3, 4, 7, 3), (1, 5), 2, (1, 2)),
    ((2, 5, 5, 4), (1, 1), 3, (1, 1)),
    ((1, 6, 6, 2), (6, 6), 2, (1, 1)),  # one output position
]


@pytest.mark.parametrize("shape,kernel,out,strides", KERNEL_CASES)
def test_kernels_conv2d_matches_lax_and_its_gradient(shape, kernel, out, strides):
    from nnlib.layers import kernels

    x = normal(1, shape)
    W = normal(2, (*kernel, shape[-1], out))

    def ref(x, W):
        return _lax_conv(x, W, strides)

    y = jax.jit(kernels.conv2d, static_argnums=2)(x, W, strides)
    want = ref(x, W)
    assert y.shape == want.shape
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    dy = normal(3, want.shape)
    got_dx, got_dW = jax.vjp(lambda x, W: kernels.conv2d(x, W, strides), x, W)[1](dy)
    want_dx, want_dW = jax.vjp(ref, x, W)[1](dy)
    np.testing.assert_allclose(got_dx, want_dx, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(got_dW, want_dW, rtol=1e-11, atol=1e-11)


def test_kernels_conv2d_second_derivatives():
    """A Hessian-vector product through the conv (the custom VJP's backward is itself
    differentiable) equals the one through jax.lax's convolution."""
    from nnlib.layers import kernels

    x, W, V = normal(1, (2, 8, 7, 2)), normal(2, (3, 2, 2, 3)), normal(3, (3, 2, 2, 3))

    def loss(conv):
        return lambda W: jnp.sum(jnp.tanh(conv(x, W)) ** 2)

    def ref(x, W):
        return _lax_conv(x, W, (2, 1))

    fast = jax.jvp(jax.grad(loss(lambda x, W: kernels.conv2d(x, W, (2, 1)))), (W,), (V,))[1]
    want = jax.jvp(jax.grad(loss(ref)), (W,), (V,))[1]
    np.testing.assert_allclose(fast, want, rtol=1e-10, atol=1e-10)


POOL_CASES = [  # (x shape, pool)
    ((2, 4, 6, 2), (2, 2)),
    ((2, 5, 7, 3), (2, 2)),   # a row and a column past the last whole window
    ((1, 9, 8, 2), (3, 3)),
    ((2, 6, 7, 1), (2, 3)),
    ((1, 4, 4, 2), (4, 4)),   # one window
    ((2, 3, 5, 2), (1, 1)),
]


def _readable_maxpool(x, pool):  # the stacked-offsets form of MaxPool2D, for jax.grad
    (ph, pw), (_, h, w, _) = pool, x.shape
    ho, wo = h // ph, w // pw
    return jnp.max(jnp.stack([x[:, i: i + ph * (ho - 1) + 1: ph, j: j + pw * (wo - 1) + 1: pw]
                              for i in range(ph) for j in range(pw)], -1), -1)


@pytest.mark.parametrize("rounded", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("shape,pool", POOL_CASES)
def test_kernels_maxpool_matches_reduce_window_and_splits_ties(shape, pool, rounded):
    from nnlib.layers import kernels

    x = normal(4, shape)
    if rounded:  # integers in a small range: most windows have tied maxima
        x = jnp.round(x)
    y = jax.jit(kernels.maxpool2d, static_argnums=1)(x, pool)
    want = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, *pool, 1), (1, *pool, 1), "VALID")
    np.testing.assert_array_equal(y, want)
    dy = normal(5, want.shape)
    got = jax.vjp(lambda x: kernels.maxpool2d(x, pool), x)[1](dy)[0]
    ref = jax.vjp(lambda x: _readable_maxpool(x, pool), x)[1](dy)[0]
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    # each window's gradient sums to its dy: split among ties, never copied to each
    sums = jax.lax.reduce_window(got, 0.0, jax.lax.add, (1, *pool, 1), (1, *pool, 1), "VALID")
    np.testing.assert_allclose(sums, dy, rtol=1e-12, atol=1e-12)
    ho, wo = want.shape[1:3]
    got = np.asarray(got)  # rows and columns outside every window get no gradient
    assert not np.any(got[:, ho * pool[0]:]) and not np.any(got[:, :, wo * pool[1]:])


def test_maxpool_layer_uses_the_fast_form_only_for_tiling_windows():
    from nnlib.layers import kernels

    assert kernels.tiles((2, 2), (2, 2)) and kernels.tiles((2, 3), (2, 3))
    assert not kernels.tiles((3, 3), (2, 2)) and not kernels.tiles((2, 2), (1, 1))
    x = normal(6, (2, 7, 7, 2))
    overlapping = L.MaxPool2D(3, 2)  # windows overlap: the readable form
    want = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, 2, 2, 1), "VALID")
    np.testing.assert_array_equal(overlapping.apply({}, x), want)


def test_kernels_name_bad_input():
    from nnlib.layers import kernels

    x, W = jnp.ones((2, 5, 5, 3)), jnp.ones((3, 3, 3, 4))
    with pytest.raises(ValueError, match=r"expected xp \(N, H, W, C\).*\(5, 5, 3\)"):
        kernels.conv2d(x[0], W, (1, 1))
    with pytest.raises(ValueError, match="xp has 3 channels but W expects 2"):
        kernels.conv2d(x, W[:, :, :2], (1, 1))
    with pytest.raises(ValueError, match=r"kernel \(6, 3\) is larger than the input \(5, 5\)"):
        kernels.conv2d(x, jnp.ones((6, 3, 3, 4)), (1, 1))
    with pytest.raises(ValueError, match="conv2d: strides must be positive, got 0"):
        kernels.conv2d(x, W, (0, 1))
    with pytest.raises(TypeError, match="conv2d: strides must be an int or a pair"):
        kernels.conv2d(x, W, (1, 1, 1))
    with pytest.raises(ValueError, match=r"maxpool2d: expected x \(N, H, W, C\)"):
        kernels.maxpool2d(x[0], (2, 2))
    with pytest.raises(ValueError, match=r"the pool \(6, 2\) is larger than the image \(5, 5\)"):
        kernels.maxpool2d(x, (6, 2))
