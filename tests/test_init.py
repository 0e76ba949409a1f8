"""Tests for nnlib.init: fans, variances, shapes, dtypes, keys, name lookup."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnlib import init

RANDOM = ["normal", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal"]
ALL = ["zeros", "ones"] + RANDOM


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((), (1, 1)),
        ((7,), (7, 7)),
        ((784, 128), (784, 128)),
        ((3, 3, 16, 32), (9 * 16, 9 * 32)),
        ((5, 2, 4), (5 * 2, 5 * 4)),
    ],
)
def test_fans(shape, expected):
    assert init.fans(shape) == expected


# (name, variance as a function of (fan_in, fan_out))
VARIANCES = [
    ("glorot_uniform", lambda i, o: 2.0 / (i + o)),
    ("glorot_normal", lambda i, o: 2.0 / (i + o)),
    ("he_uniform", lambda i, o: 2.0 / i),
    ("he_normal", lambda i, o: 2.0 / i),
    ("normal", lambda i, o: 0.01**2),
]


@pytest.mark.parametrize("name, var_fn", VARIANCES)
@pytest.mark.parametrize("shape", [(400, 300), (3, 3, 40, 60)])
def test_empirical_variance_matches_formula(name, var_fn, shape):
    w = np.asarray(init.get(name)(jax.random.key(0), shape, jnp.float64))
    fan_in, fan_out = init.fans(shape)
    expected = var_fn(fan_in, fan_out)
    # 120k+ samples: the sample variance is within ~1% of the truth; allow 3%.
    np.testing.assert_allclose(w.var(), expected, rtol=0.03)
    assert abs(w.mean()) < 0.02 * np.sqrt(expected)


@pytest.mark.parametrize(
    "name, limit_fn",
    [
        ("glorot_uniform", lambda i, o: np.sqrt(6.0 / (i + o))),
        ("he_uniform", lambda i, o: np.sqrt(6.0 / i)),
    ],
)
def test_uniform_limits(name, limit_fn):
    shape = (200, 100)
    w = np.asarray(init.get(name)(jax.random.key(1), shape))
    limit = limit_fn(*init.fans(shape))
    assert np.all(np.abs(w) <= limit)
    assert np.abs(w).max() > 0.98 * limit  # actually fills the interval


def test_normal_is_not_truncated():
    # a plain normal has ~4.6% of samples beyond 2 standard deviations; truncated has none
    w = np.asarray(init.he_normal(jax.random.key(2), (500, 200)))
    std = np.sqrt(2.0 / 500)
    frac = np.mean(np.abs(w) > 2 * std)
    assert 0.04 < frac < 0.052


def test_normal_stddev_argument():
    w = init.normal(jax.random.key(3), (300, 300), stddev=0.5)
    np.testing.assert_allclose(float(jnp.std(w)), 0.5, rtol=0.02)


@pytest.mark.parametrize("name", ALL)
def test_shape_and_dtype(name):
    for shape, dtype in [((5,), jnp.bfloat16), ((4, 3), jnp.float64), ((3, 3, 2, 8), jnp.float32)]:
        w = init.get(name)(jax.random.key(0), shape, dtype)
        assert w.shape == shape
        assert w.dtype == jnp.dtype(dtype)


@pytest.mark.parametrize("name", ALL)
def test_default_dtype_is_float32(name):
    assert init.get(name)(jax.random.key(0), (3, 2)).dtype == jnp.float32


def test_zeros_and_ones():
    np.testing.assert_array_equal(np.asarray(init.zeros(None, (3, 4))), np.zeros((3, 4)))
    np.testing.assert_array_equal(np.asarray(init.ones(None, (2,))), np.ones((2,)))


@pytest.mark.parametrize("name", RANDOM)
def test_same_key_same_values_different_key_different(name):
    fn = init.get(name)
    a = fn(jax.random.key(0), (20, 10))
    b = fn(jax.random.key(0), (20, 10))
    c = fn(jax.random.key(1), (20, 10))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(c))


def test_legacy_prngkey_accepted():
    w = init.glorot_uniform(jax.random.PRNGKey(0), (4, 3))
    assert w.shape == (4, 3)


@pytest.mark.parametrize("name", RANDOM)
def test_missing_key_is_clear_error(name):
    with pytest.raises(ValueError, match="PRNG key"):
        init.get(name)(None, (3, 3))


def test_integer_dtype_rejected():
    with pytest.raises(TypeError, match="floating-point"):
        init.glorot_uniform(jax.random.key(0), (3, 3), jnp.int32)


def test_bad_shape_rejected():
    with pytest.raises(ValueError, match="non-negative"):
        init.zeros(None, (3, -1))
    with pytest.raises(TypeError, match="tuple of ints"):
        init.zeros(None, (3, 2.5))


@pytest.mark.parametrize(
    "alias, target",
    [
        ("xavier_uniform", "glorot_uniform"),
        ("xavier_normal", "glorot_normal"),
        ("kaiming_uniform", "he_uniform"),
        ("kaiming_normal", "he_normal"),
        ("Glorot_Uniform", "glorot_uniform"),
    ],
)
def test_aliases(alias, target):
    assert init.get(alias) is init.get(target)


def test_get_passes_callables_through():
    fn = lambda key, shape, dtype=jnp.float32: jnp.full(shape, 2.0, dtype)
    assert init.get(fn) is fn


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown initializer 'glorot'") as e:
        init.get("glorot")
    for name in ALL + ["kaiming_normal", "xavier_uniform"]:
        assert name in str(e.value)


def test_get_non_string_is_type_error():
    with pytest.raises(TypeError):
        init.get(3)
