"""Tests for nnlib.layers: the table-driven checks of every layer, then activations, Dense,
Dropout, BatchNorm, Sequential (Conv2D, MaxPool2D and Flatten: test_conv.py)."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from layer_checks import F64, check_backward, normal, own_docstring
from layer_table import LAYER_CLASSES, LAYERS, build, case_id, mlp, random_batchnorm

from nnlib import layers as L

KEY = jax.random.key(0)
floats = st.floats(-30.0, 30.0, allow_nan=False)


# ------------------------------------------------------- every layer in layer_table.LAYERS
def test_the_table_has_every_layer_nnlib_exports():
    exported = {getattr(L, name) for name in L.__all__}
    layer_classes = {c for c in exported if isinstance(c, type) and issubclass(c, L.Layer)}
    missing = layer_classes - {L.Layer} - set(LAYER_CLASSES)
    names = sorted(cls.__name__ for cls in missing)
    assert not missing, f"add a row to tests/layer_table.py for {names}"
    assert len({case.id for case in LAYERS}) == len(LAYERS), "row ids must be unique"


@pytest.mark.parametrize("case", LAYERS, ids=case_id)
def test_backward_matches_jax_vjp(case):
    layer, params, state, x, out_shape = build(case, F64)
    assert out_shape == case.out_shape
    assert jax.tree.map(lambda a: a.shape, params) == case.param_shapes
    y = jax.eval_shape(lambda p, x: layer.apply(p, x, train=case.train, key=case.prng_key(),
                                                state=state), params, x)
    assert y.shape == (x.shape[0], *case.out_shape)
    check_backward(layer, params, x, train=case.train, key=case.prng_key(), state=state)


@pytest.mark.parametrize("dtype", [jnp.float32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", LAYERS, ids=case_id)
def test_params_outputs_and_gradients_keep_the_dtype(case, dtype):
    layer = case.make()
    leaves = jax.tree.leaves(layer.init(KEY, case.x_shape[1:], dtype=dtype)[0])
    leaves += jax.tree.leaves(layer.init_state(case.x_shape[1:], dtype=dtype))
    assert all(leaf.dtype == dtype for leaf in leaves), [leaf.dtype for leaf in leaves]
    _, params, state, x, _ = build(case, dtype)
    y, cache = layer.forward(params, x, train=case.train, key=case.prng_key(), state=state)
    dparams, dx = layer.backward(params, cache, jnp.ones_like(y))
    new_state = L.updated_state(cache)
    for what, tree in [("y", y), ("dparams", dparams), ("dx", dx), ("state", new_state)]:
        got = {str(leaf.dtype) for leaf in jax.tree.leaves(tree)}
        assert got <= {jnp.dtype(dtype).name}, f"{what}: {got} from {jnp.dtype(dtype).name} inputs"


@pytest.mark.parametrize("case", LAYERS, ids=case_id)
def test_forward_and_backward_trace_once(case):
    layer, params, state, x, _ = build(case, jnp.float32)
    traces = []

    @jax.jit
    def step(params, x, key, state):
        traces.append(1)  # runs only while tracing
        y, cache = layer.forward(params, x, train=case.train, key=key, state=state)
        return layer.backward(params, cache, jnp.ones_like(y)), L.updated_state(cache)

    _, state = step(params, x, case.prng_key(), state)
    _, state = step(params, x + 1, case.prng_key(1), state)  # new values and state, same shapes
    assert len(traces) == 1


@pytest.mark.parametrize("case", LAYERS, ids=case_id)
def test_repr_evaluates_back_to_the_same_hyperparameters(case):
    layer = case.make()
    text = repr(layer)
    assert text.startswith(f"{type(layer).__name__}(")
    again = eval(text, dict(vars(L)))  # noqa: S307 (our own repr)
    assert type(again) is type(layer) and repr(again) == text

    def shown(lay):
        return {name: repr(value) for name, value in lay.hyperparameters().items()}

    assert shown(again) == shown(layer)


@pytest.mark.parametrize("cls", LAYER_CLASSES, ids=lambda cls: cls.__name__)
def test_every_layer_method_has_a_docstring_with_shapes(cls):
    # Layer.__init_subclass__ copies the contract's docstring (which has shapes) onto a method
    # without one, so help(Dense.forward) always shows something; the layer's own is checked.
    for name in ("init", "forward", "backward"):
        doc = own_docstring(cls, name)
        assert doc, f"{cls.__name__}.{name} has no docstring of its own"
        assert any(s in doc for s in ("shape", "(B", "(N", "(...")), (name, doc)


def test_own_docstring_sees_through_the_copied_contract():
    class Bare(L.Layer):  # no docstrings: __init_subclass__ gives them the contract's
        def forward(self, params, x, *, train=False, key=None, state=None):
            return x, {}

    class BareDense(L.Dense):  # gets Dense.forward's docstring copied
        def forward(self, params, x, *, train=False, key=None, state=None):
            return super().forward(params, x)

    assert "(B, *in_shape)" in Bare.forward.__doc__  # what help() shows
    assert BareDense.forward.__doc__ == L.Dense.forward.__doc__
    assert own_docstring(Bare, "forward") == own_docstring(Bare, "backward") == ""
    assert own_docstring(BareDense, "forward") == ""
    assert "out_shape = (units,)" in own_docstring(BareDense, "init")  # Dense's, inherited


# --------------------------------------------------------------------------- activations
@pytest.mark.parametrize("fn, grad_fn", [
    (L.sigmoid, L.sigmoid_grad), (L.tanh, L.tanh_grad), (L.relu, L.relu_grad),
    (L.leaky_relu, L.leaky_relu_grad),
])
def test_functional_grads_match_jax(fn, grad_fn):
    x = jnp.concatenate([normal(0, (50,)) * 4, jnp.array([0.0, -0.0, 1e-3, -1e-3])])
    want = jax.vmap(jax.grad(fn))(x)
    np.testing.assert_allclose(grad_fn(x), want, rtol=1e-12, atol=1e-15)


def test_activations_stable_at_extremes():
    x = jnp.array([-1000.0, 1000.0], F64)
    np.testing.assert_allclose(L.sigmoid(x), [0.0, 1.0], atol=1e-300)
    assert np.all(np.isfinite(jax.vmap(jax.grad(L.sigmoid))(x)))
    s = L.softmax(jnp.array([[1000.0, 1000.0, -1000.0]], F64))
    np.testing.assert_allclose(s, [[0.5, 0.5, 0.0]], atol=1e-12)
    np.testing.assert_allclose(L.log_softmax(jnp.array([[1000.0, 0.0]], F64)), [[0.0, -1000.0]])


def test_nan_propagates_through_relu_and_leaky_relu():
    x = jnp.array([jnp.nan, -1.0, 0.0, 2.0], F64)
    for fn, grad_fn in [(L.relu, L.relu_grad), (L.leaky_relu, L.leaky_relu_grad)]:
        y = fn(x)
        assert np.isnan(float(y[0])), fn.__name__  # never a silent 0
        assert not np.any(np.isnan(np.asarray(y[1:])))
        np.testing.assert_array_equal(grad_fn(x), jax.vmap(jax.grad(fn))(x))
    np.testing.assert_array_equal(L.relu_grad(x), [1.0, 0.0, 0.0, 1.0])  # 0 at the kink
    for layer in (L.ReLU(), L.LeakyReLU(0.1)):
        y, cache = layer.forward({}, x[None])
        assert np.isnan(float(y[0, 0])), repr(layer)
        _, dx = layer.backward({}, cache, jnp.ones_like(y))
        _, vjp = jax.vjp(lambda v, layer=layer: layer.apply({}, v), x[None])
        np.testing.assert_array_equal(dx, vjp(jnp.ones_like(y))[0])


def test_log_softmax_and_softmax_handle_minus_inf():
    x = jnp.array([[0.0, -jnp.inf, 1.0], [-jnp.inf, -jnp.inf, -jnp.inf]], F64)
    logp = L.log_softmax(x)  # row 0: a masked class gets probability 0
    np.testing.assert_allclose(logp[0], [-np.log1p(np.e), -np.inf, 1.0 - np.log1p(np.e)],
                               rtol=1e-12)
    lse = L.logsumexp(x)
    assert float(lse[0]) == pytest.approx(np.log1p(np.e), rel=1e-12)
    assert float(lse[1]) == -np.inf  # an all-masked row: log 0, not -inf - (-inf) = nan
    np.testing.assert_allclose(L.softmax(x)[0], [1 / (1 + np.e), 0.0, np.e / (1 + np.e)],
                               rtol=1e-12)
    from nnlib import losses
    assert losses.log_softmax is L.log_softmax and losses.logsumexp is L.logsumexp


@settings(max_examples=60, deadline=None)
@given(floats)
def test_sigmoid_bounded_and_symmetric(x):
    s, s_neg = float(L.sigmoid(jnp.float64(x))), float(L.sigmoid(jnp.float64(-x)))
    assert 0.0 < s < 1.0
    assert abs(s_neg - (1.0 - s)) <= 1e-15


@settings(max_examples=40, deadline=None)
@given(st.lists(floats, min_size=6, max_size=6), st.floats(-1e3, 1e3, allow_nan=False))
def test_softmax_rows_sum_to_one_and_shift_invariant(row, shift):
    x = jnp.array([row, row[::-1]], F64)  # fixed shape: one compilation for all examples
    s = L.softmax(x)
    np.testing.assert_allclose(jnp.sum(s, axis=-1), 1.0, rtol=1e-12)
    assert bool(jnp.all(s >= 0))
    np.testing.assert_allclose(L.softmax(x + shift), s, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.lists(floats, min_size=8, max_size=8))
def test_relu_idempotent_and_nonnegative(values):
    x = jnp.array(values, F64)
    np.testing.assert_array_equal(L.relu(L.relu(x)), L.relu(x))
    assert bool(jnp.all(L.relu(x) >= 0))


def test_get_activation():
    assert isinstance(L.get_activation("ReLU"), L.ReLU)
    assert isinstance(L.get_activation(None), L.Identity)
    assert isinstance(L.get_activation("linear"), L.Identity)
    custom = L.LeakyReLU(0.3)
    assert L.get_activation(custom) is custom
    with pytest.raises(ValueError, match=r"unknown activation 'rleu'.*leaky_relu, linear, relu"):
        L.get_activation("rleu")
    with pytest.raises(ValueError, match="valid names"):
        L.Dense(3, activation="swishy")
    with pytest.raises(TypeError, match="activation"):
        L.get_activation(3)


# --------------------------------------------------------------------------------- Dense
def test_dense_init_and_forward_values():
    layer = L.Dense(3, use_bias=False, kernel_init="ones")
    params, _ = layer.init(KEY, (2,), dtype=F64)
    assert set(params) == {"W"} and params["W"].shape == (2, 3)
    y = layer.apply(params, jnp.array([[1.0, 2.0]], F64))
    np.testing.assert_allclose(y, [[3.0, 3.0, 3.0]])  # backward: row Dense-no-bias-ones
    p32, _ = L.Dense(3).init(KEY, (2,))
    assert p32["W"].dtype == jnp.float32 and p32["b"].dtype == jnp.float32
    np.testing.assert_array_equal(p32["b"], 0.0)
    # glorot_uniform limit sqrt(6 / (fan_in + fan_out))
    W = L.Dense(300).init(KEY, (200,))[0]["W"]
    assert float(jnp.max(jnp.abs(W))) <= np.sqrt(6 / 500) + 1e-7
    with pytest.raises(ValueError, match="valid names"):
        L.Dense(3, kernel_init="glorot_unifrom").init(KEY, (2,))


def test_dense_errors():
    layer = L.Dense(3)
    params, _ = layer.init(KEY, (4,), dtype=F64)
    with pytest.raises(ValueError, match=r"Flatten\(\)"):
        layer.apply(params, jnp.ones((2, 2, 2)))
    with pytest.raises(ValueError, match=r"x has 5 features.*in_features=4"):
        layer.apply(params, jnp.ones((2, 5)))
    with pytest.raises(TypeError, match="floating-point dtype, got int"):
        layer.apply(params, jnp.ones((2, 4), jnp.int32))
    with pytest.raises(ValueError, match=r"in_shape must have 1 entries.*Flatten"):
        layer.init(KEY, (4, 4, 1))
    with pytest.raises(ValueError, match="units must be positive"):
        L.Dense(0)
    with pytest.raises(TypeError, match="units must be an int"):
        L.Dense(2.5)
    with pytest.raises(TypeError, match="Dense: units must be an int"):
        L.Dense("4")


def test_repr_shows_hyperparameters():
    assert repr(L.Dense(3)) == "Dense(units=3)"
    assert repr(L.Dense(3, activation="relu")) == "Dense(units=3, activation='relu')"
    assert repr(L.Dropout(0.25)) == "Dropout(rate=0.25)"
    assert repr(L.BatchNorm(momentum=0.99)) == "BatchNorm(momentum=0.99)"
    assert repr(L.Conv2D(8, 3, padding="same")) == "Conv2D(filters=8, kernel_size=3, padding='same')"
    drop = L.Dropout(0.25)
    drop.rate = 0.5  # a changed hyperparameter shows (the jit cache keys on it)
    assert repr(drop) == "Dropout(rate=0.5)" and drop.hyperparameters() == {"rate": 0.5}
    assert L.Dense(3).hyperparameters() == {"units": 3, "activation": None, "use_bias": True,
                                            "kernel_init": "glorot_uniform", "bias_init": "zeros"}


def test_changed_hyperparameters_take_effect():
    x = normal(1, (2, 4))
    dense = L.Dense(3, activation="relu")
    params, _ = dense.init(KEY, (4,), dtype=F64)
    dense.activation = "tanh"
    np.testing.assert_allclose(dense.apply(params, x), jnp.tanh(x @ params["W"] + params["b"]),
                               rtol=1e-12)


# ------------------------------------------------------------------------------- Dropout
def test_dropout_backward_with_fixed_key():
    layer = L.Dropout(0.4)
    x = normal(4, (6, 10))
    _, dx = check_backward(layer, {}, x, train=True, key=jax.random.key(7))
    y = layer.apply({}, x, train=True, key=jax.random.key(7))
    # the same units are dropped forward and backward, the rest scaled by 1 / (1 - rate)
    np.testing.assert_array_equal(y == 0, dx == 0)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.6, rtol=1e-14)


def test_dropout_fraction_and_mean():
    layer = L.Dropout(0.3)
    x = jnp.ones((100_000,), F64)
    y = layer.apply({}, x, train=True, key=jax.random.key(1))
    assert abs(float(jnp.mean(y == 0)) - 0.3) < 0.01
    assert abs(float(jnp.mean(y)) - 1.0) < 0.02
    y2 = layer.apply({}, x, train=True, key=jax.random.key(2))
    assert not bool(jnp.all(y == y2)), "different keys must give different masks"


def test_dropout_identity_modes_and_errors():
    x = normal(5, (3, 4))
    np.testing.assert_array_equal(L.Dropout(0.5).apply({}, x, train=False), x)
    np.testing.assert_array_equal(L.Dropout(0.0).apply({}, x, train=True), x)  # no key needed
    assert L.Dropout(0.5).needs_key and not L.Dropout(0.0).needs_key
    with pytest.raises(ValueError, match="needs a PRNG key"):
        L.Dropout(0.5).apply({}, x, train=True)
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        L.Dropout(0.5).apply({}, x, train=True, key=3)
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"rate must be in \[0.0, 1.0\)"):
            L.Dropout(bad)
    with pytest.raises(TypeError, match="floating-point"):
        L.Dropout(0.5).apply({}, jnp.ones((2, 2), jnp.int32), train=True, key=KEY)


# ----------------------------------------------------------------------------- BatchNorm
def _bn(shape):
    layer = L.BatchNorm()
    params, _ = layer.init(KEY, shape[1:], dtype=F64)
    return (layer, *random_batchnorm(params, layer.init_state(shape[1:], dtype=F64)))


@pytest.mark.parametrize("shape", [(64, 3), (4, 5, 5, 3)])
def test_batchnorm_train_normalises_and_updates_running_stats(shape):
    layer = L.BatchNorm(momentum=0.8)
    params, _ = layer.init(KEY, shape[1:], dtype=F64)
    state = layer.init_state(shape[1:], dtype=F64)
    x = normal(13, shape) * jnp.array([1.0, 5.0, 0.2]) + jnp.array([3.0, -2.0, 0.5])
    y, cache = layer.forward(params, x, train=True, state=state)
    axes = tuple(range(len(shape) - 1))
    np.testing.assert_allclose(jnp.mean(y, axis=axes), 0.0, atol=1e-12)
    np.testing.assert_allclose(jnp.var(y, axis=axes), 1.0, rtol=1e-3)  # eps makes it < 1
    m = x.size // 3
    new = L.updated_state(cache)
    np.testing.assert_allclose(new["mean"], 0.2 * jnp.mean(x, axis=axes), rtol=1e-12)
    np.testing.assert_allclose(new["var"], 0.8 + 0.2 * jnp.var(x, axis=axes) * m / (m - 1), rtol=1e-12)


def test_batchnorm_eval_uses_running_stats():
    layer, params, state = _bn((10, 3))
    x = normal(14, (10, 3))
    y, cache = layer.forward(params, x, train=False, state=state)
    want = params["gamma"] * (x - state["mean"]) / jnp.sqrt(state["var"] + 1e-5) + params["beta"]
    np.testing.assert_allclose(y, want, rtol=1e-12)
    assert L.updated_state(cache) is state
    # a single example works in eval mode and does not depend on the rest of the batch
    np.testing.assert_allclose(layer.apply(params, x[:1], state=state), y[:1], rtol=1e-12)


def test_batchnorm_errors():
    layer, params, state = _bn((4, 3))
    with pytest.raises(ValueError, match="init_state"):
        layer.apply(params, normal(0, (4, 3)), train=True)
    with pytest.raises(ValueError, match=r"x has 2 features.*gamma has shape \(3,\)"):
        layer.apply(params, normal(0, (4, 2)), state=state)
    with pytest.raises(ValueError, match="momentum must be in"):
        L.BatchNorm(momentum=1.0)
    with pytest.raises(ValueError, match="eps must be positive"):
        L.BatchNorm(eps=0.0)
    assert L.Dense(2).init_state((3,)) == {}


# ---------------------------------------------------------------------------- Sequential
def test_sequential_init_and_updated_state():  # backward: row Sequential-mlp
    model = mlp()
    params, out_shape = model.init(KEY, (5,), dtype=F64)
    state = model.init_state((5,), dtype=F64)
    assert out_shape == (3,) and len(params) == len(state) == 7
    x = normal(15, (9, 5))
    _, cache = model.forward(params, x, train=True, key=jax.random.key(3), state=state)
    new_state = L.updated_state(cache)
    assert new_state[0] == {} and not np.allclose(new_state[1]["mean"], 0.0)


def test_sequential_keys():
    model = L.Sequential([L.Dropout(0.5), L.Dropout(0.5)])
    params, _ = model.init(KEY, (1000,))
    x = jnp.ones((1, 1000), F64)
    _, cache = model.forward(params, x, train=True, key=jax.random.key(4))
    m1, m2 = cache["caches"][0]["mask"], cache["caches"][1]["mask"]
    assert not bool(jnp.all(m1 == m2)), "each Dropout must get its own subkey"
    assert model.needs_key and not L.Sequential([L.Dense(2)]).needs_key
    with pytest.raises(ValueError, match="needs a PRNG key"):
        model.apply(params, x, train=True)
    np.testing.assert_array_equal(model.apply(params, x), x)  # eval needs no key
    with pytest.raises(ValueError, match="one entry per layer"):
        model.apply(params[:1], x)
    with pytest.raises(ValueError, match="one entry per layer"):
        model.apply(params, x, state=[{}])
    with pytest.raises(TypeError, match=r"layers\[1\] must be a Layer"):
        L.Sequential([L.Dense(2), "relu"])


def test_sequential_build_summary_and_nesting():
    inner = L.Sequential([L.Dense(4, activation="relu"), L.BatchNorm()])
    model = L.Sequential([inner]).add(L.Dense(2))
    with pytest.raises(ValueError, match="build"):
        model.summary()
    model.build(KEY, (3,))
    assert len(model.params) == 2 and model.state[0][1]["var"].shape == (4,)
    text = model.summary()
    assert "(None, 2)" in text and "Total params: 34" in text  # 16 + 8 + 10
    assert repr(model).startswith("Sequential([\n    Sequential([")


def test_sequential_jit_does_not_recompile():
    model = mlp()
    params, _ = model.init(KEY, (5,))
    state = model.init_state((5,))
    traces = []

    @jax.jit
    def step(params, state, x, key):
        traces.append(1)  # runs only while tracing
        y, cache = model.forward(params, x, train=True, key=key, state=state)
        return y, L.updated_state(cache)

    x = jnp.ones((4, 5), jnp.float32)
    _, state = step(params, state, x, jax.random.key(1))
    y2, state = step(params, state, x + 1, jax.random.key(2))
    assert len(traces) == 1
    assert y2.shape == (4, 3) and state[1]["mean"].dtype == jnp.float32
