"""Tests for nnlib.autodiff: hand-written backward passes driving jax.grad."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_checks import F64, assert_tree_close, normal

from nnlib import autodiff
from nnlib import layers as L

KEY = jax.random.key(0)


def test_custom_vjp_uses_the_given_backward():
    layer = L.Dense(3, activation="tanh")
    params, _ = layer.init(KEY, (4,), dtype=F64)
    x = normal(1, (5, 4))
    f = autodiff.custom_vjp(layer.forward, layer.backward)
    np.testing.assert_allclose(f(params, x), layer.apply(params, x), rtol=1e-14)
    loss = lambda fn: lambda p, x: jnp.sum(fn(p, x) ** 2)
    got = jax.grad(loss(f), argnums=(0, 1))(params, x)
    want = jax.grad(loss(layer.apply), argnums=(0, 1))(params, x)
    assert_tree_close(got, want, 1e-10, "grads")

    # a deliberately doubled backward shows up in jax.grad: it is really the one used
    def doubled(params, cache, dy):
        dp, dx = layer.backward(params, cache, dy)
        return jax.tree.map(lambda a: 2 * a, dp), 2 * dx

    g2 = jax.grad(loss(autodiff.custom_vjp(layer.forward, doubled)))(params, x)
    np.testing.assert_allclose(g2["W"], 2 * want[0]["W"], rtol=1e-10)
    with pytest.raises(TypeError, match="callables"):
        autodiff.custom_vjp(layer.forward, None)


def _grads_agree(model, in_shape, x, y, *, train, key=None):
    params, _ = model.init(KEY, in_shape, dtype=F64)
    state = model.init_state(in_shape, dtype=F64)
    f = autodiff.manual(model, train=train)

    def loss_manual(p, x):
        out, new_state = f(p, x, key=key, state=state)
        return jnp.mean((out - y) ** 2), new_state

    def loss_jax(p, x):
        return jnp.mean((model.apply(p, x, train=train, key=key, state=state) - y) ** 2)

    (l1, new_state), g1 = jax.jit(jax.value_and_grad(loss_manual, argnums=(0, 1), has_aux=True))(params, x)
    l2, g2 = jax.jit(jax.value_and_grad(loss_jax, argnums=(0, 1)))(params, x)
    np.testing.assert_allclose(l1, l2, rtol=1e-12)
    assert_tree_close(g1, g2, 1e-10, "grads")
    want_state = jax.jit(lambda p, x: L.updated_state(
        model.forward(p, x, train=train, key=key, state=state)[1]))(params, x)
    assert_tree_close(new_state, want_state, 1e-12, "new_state")
    return new_state


def test_manual_mlp_matches_jax_grad():
    model = L.Sequential([L.Dense(16, activation="relu"), L.Dropout(0.2),
                          L.Dense(8, activation="sigmoid"), L.Dense(3, activation="softmax")])
    x, y = normal(2, (10, 6)), normal(3, (10, 3))
    _grads_agree(model, (6,), x, y, train=True, key=jax.random.key(5))
    _grads_agree(model, (6,), x, y, train=False)


def test_manual_small_cnn_matches_jax_grad():
    model = L.Sequential([
        L.Conv2D(4, 3, padding="same", activation="relu"), L.BatchNorm(), L.MaxPool2D(),
        L.Conv2D(4, 3, strides=2, activation="tanh"), L.Flatten(), L.Dense(2),
    ])
    x, y = normal(4, (3, 8, 8, 2)), normal(5, (3, 2))
    new_state = _grads_agree(model, (8, 8, 2), x, y, train=True)
    assert not np.allclose(new_state[1]["mean"], 0.0), "train mode must move the running mean"


def test_manual_plugs_in_a_students_layer():
    class MyDense(L.Layer):  # a student's own layer with its own backward
        def init(self, key, in_shape, *, dtype=jnp.float32):
            return {"W": jax.random.normal(key, (in_shape[0], 2), dtype)}, (2,)

        def forward(self, params, x, *, train=False, key=None, state=None):
            return x @ params["W"], {"x": x}

        def backward(self, params, cache, dy):
            return {"W": cache["x"].T @ dy}, dy @ params["W"].T

    layer = MyDense()
    params, _ = layer.init(KEY, (3,), dtype=F64)
    x = normal(6, (4, 3))
    f = autodiff.manual(layer)
    _, state = f(params, x)
    assert state == {}
    g = jax.grad(lambda p: jnp.sum(f(p, x)[0] ** 3))(params)
    want = jax.grad(lambda p: jnp.sum((x @ p["W"]) ** 3))(params)
    assert_tree_close(g, want, 1e-10, "grads")
    with pytest.raises(TypeError, match="forward and backward"):
        autodiff.manual(object())
    with pytest.raises(ValueError, match="needs a PRNG key"):
        autodiff.manual(L.Dropout(0.5), train=True)({}, x)
