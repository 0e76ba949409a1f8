"""Tests for nnlib.data: synthetic sets, bundled datasets, one-hot, standardize, splits, batches."""

import math
import random

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlib import data

KEY = jax.random.key(0)
N = 301  # one size for most tests: each new size costs one jit compilation
CLASSIFIERS = [data.make_moons, data.make_circles, data.make_spirals, data.make_xor]


# ----------------------------------------------------------------------------- synthetic


@pytest.mark.parametrize("make", CLASSIFIERS)
def test_classification_sets_shapes_dtypes_balance(make):
    x, y = make(N, key=KEY)
    k = 3 if make is data.make_spirals else 2
    assert x.shape == (N, 2) and x.dtype == np.float32 and isinstance(x, np.ndarray)
    assert y.shape == (N,) and y.dtype == np.int32
    counts = np.bincount(y, minlength=k)
    assert len(counts) == k and counts.max() - counts.min() <= 1  # exactly balanced
    assert np.all(np.isfinite(x))
    # shuffled: the first rows are not all one class
    assert len(set(y[:20].tolist())) > 1


@pytest.mark.parametrize("make", CLASSIFIERS)
def test_classification_sets_deterministic_per_key(make):
    x1, y1 = make(N, key=jax.random.key(3))
    x2, y2 = make(N, key=jax.random.key(3))
    x3, _ = make(N, key=jax.random.key(4))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(x1, x3)


@pytest.mark.parametrize("make", CLASSIFIERS)
def test_classification_sets_reject_bad_arguments(make):
    with pytest.raises(ValueError, match="PRNG key"):
        make(10, key=None)
    with pytest.raises(TypeError, match="key"):
        make(10, key=0)
    with pytest.raises(ValueError, match="n_samples"):
        make(1, key=KEY)
    with pytest.raises(TypeError, match="n_samples"):
        make(10.0, key=KEY)
    with pytest.raises(TypeError, match="n_samples"):
        make(True, key=KEY)
    with pytest.raises(ValueError, match="noise"):
        make(10, key=KEY, noise=-0.1)
    with pytest.raises(ValueError, match="noise"):
        make(10, key=KEY, noise=float("nan"))


def test_moons_without_noise_lie_on_the_two_half_circles():
    x, y = data.make_moons(N, key=KEY, noise=0.0)
    upper, lower = x[y == 0], x[y == 1]
    np.testing.assert_allclose(np.linalg.norm(upper, axis=1), 1.0, atol=1e-5)
    assert upper[:, 1].min() >= -1e-6
    np.testing.assert_allclose(np.linalg.norm(lower - [1.0, 0.5], axis=1), 1.0, atol=1e-5)
    assert lower[:, 1].max() <= 0.5 + 1e-6


def test_circles_without_noise_have_radii_one_and_factor():
    x, y = data.make_circles(N, key=KEY, noise=0.0, factor=0.3)
    r = np.linalg.norm(x, axis=1)
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-5)
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-5)
    for factor in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="factor"):
            data.make_circles(10, key=KEY, factor=factor)


def test_spirals_follow_their_arm_and_n_classes():
    k = 5
    x, y = data.make_spirals(N, key=KEY, n_classes=k, noise=0.0)
    assert set(np.unique(y).tolist()) == set(range(k))
    r = np.linalg.norm(x, axis=1)
    assert r.max() < 1.0
    angle = np.arctan2(x[:, 1], x[:, 0])
    expected = 2 * np.pi * y / k + 4 * r
    diff = np.angle(np.exp(1j * (angle - expected)))  # wrapped to (-pi, pi]
    assert np.abs(diff[r > 1e-3]).max() < 1e-3
    with pytest.raises(ValueError, match="n_classes"):
        data.make_spirals(10, key=KEY, n_classes=1)
    with pytest.raises(ValueError, match="n_samples"):
        data.make_spirals(2, key=KEY, n_classes=3)


def test_xor_without_noise_labels_by_sign_product():
    x, y = data.make_xor(N, key=KEY, noise=0.0)
    assert np.abs(x).max() <= 1.0
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] < 0).astype(np.int32))
    # all four quadrants are used
    quadrants = {(a, b) for a, b in zip(x[:, 0] > 0, x[:, 1] > 0)}
    assert len(quadrants) == 4


def test_regression_noise_free_is_exactly_linear_with_given_coefficients():
    x, y, w, b = data.make_regression(N, key=KEY, n_features=3, noise=0.0,
                                      weights=[1.0, -2.0, 0.5], bias=0.25, return_coef=True)
    assert x.shape == (N, 3) and y.shape == (N, 1) and w.shape == (3, 1)
    assert x.dtype == y.dtype == w.dtype == np.float32 and b == 0.25
    assert -1.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_allclose(y, x @ w + b, rtol=1e-6, atol=1e-6)


def test_regression_least_squares_recovers_default_weights():
    x, y, w, b = data.make_regression(4000, key=KEY, n_features=2, noise=0.1, bias=-1.0,
                                      return_coef=True)
    x1, y1 = data.make_regression(4000, key=KEY, n_features=2, noise=0.1, bias=-1.0)
    np.testing.assert_array_equal(x, x1)
    np.testing.assert_array_equal(y, y1)
    design = np.hstack([x, np.ones((len(x), 1), np.float32)]).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)
    np.testing.assert_allclose(coef[:2], w, atol=0.02)
    assert abs(coef[2, 0] - b) < 0.02
    resid = y[:, 0] - (x @ w[:, 0] + b)
    assert abs(resid.std() - 0.1) < 0.01


def test_regression_scalar_weights_and_errors():
    _, _, w, _ = data.make_regression(5, key=KEY, n_features=4, weights=2.0, return_coef=True)
    np.testing.assert_array_equal(w, np.full((4, 1), 2.0, np.float32))
    with pytest.raises(ValueError, match=r"weights must .*shape \(3,\)"):
        data.make_regression(5, key=KEY, n_features=3, weights=[1.0, 2.0])
    with pytest.raises(TypeError, match="weights"):
        data.make_regression(5, key=KEY, weights=["a"])
    with pytest.raises(ValueError, match="n_features"):
        data.make_regression(5, key=KEY, n_features=0)
    with pytest.raises(TypeError, match="bias"):
        data.make_regression(5, key=KEY, bias="1")
    with pytest.raises(ValueError, match="PRNG key"):
        data.make_regression(5, key=None)


# ----------------------------------------------------------------------------- bundled sets


def test_load_digits_flat_and_images():
    x, y = data.load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int32
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.bincount(y).min() > 170 and set(y.tolist()) == set(range(10))
    xi, yi = data.load_digits(images=True)
    assert xi.shape == (1797, 8, 8, 1)
    np.testing.assert_array_equal(xi.reshape(1797, 64), x)
    np.testing.assert_array_equal(yi, y)


def test_load_mnist1d_generates_small_set_and_keeps_global_rng():
    np.random.seed(123)
    random.seed(123)
    (xt, yt), (xs, ys) = data.load_mnist1d(n_samples=200, seed=1)
    assert np.random.rand() == np.random.RandomState(123).rand()  # global state untouched
    assert random.random() == random.Random(123).random()
    assert xt.shape == (160, 40) and xs.shape == (40, 40)
    assert xt.dtype == xs.dtype == np.float32 and yt.dtype == ys.dtype == np.int32
    labels = np.concatenate([yt, ys])
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 20))
    (xt2, _), _ = data.load_mnist1d(n_samples=200, seed=1)
    (xt3, _), _ = data.load_mnist1d(n_samples=200, seed=2)
    np.testing.assert_array_equal(xt, xt2)
    assert not np.allclose(xt, xt3)
    _, (xs4, _) = data.load_mnist1d(n_samples=200, seed=1, test_fraction=0.5)
    assert xs4.shape == (100, 40)


def test_load_mnist1d_rejects_bad_arguments():
    with pytest.raises(ValueError, match="multiple of 10"):
        data.load_mnist1d(n_samples=15)
    with pytest.raises(ValueError, match="n_samples"):
        data.load_mnist1d(n_samples=0)
    with pytest.raises(ValueError, match="test_fraction"):
        data.load_mnist1d(n_samples=100, test_fraction=1.0)
    with pytest.raises(TypeError, match="seed"):
        data.load_mnist1d(n_samples=100, seed=1.5)


def test_sample_image_color_and_gray():
    img = data.sample_image()
    assert img.shape == (427, 640, 3) and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0 and img.max() > 0.9
    gray = data.sample_image("flower", gray=True)
    assert gray.shape == (427, 640, 1) and gray.dtype == np.float32
    color = data.sample_image("flower.jpg")
    np.testing.assert_allclose(gray[..., 0], color @ np.array([0.299, 0.587, 0.114]), atol=1e-5)
    with pytest.raises(ValueError, match="valid names are: china, china.jpg, flower, flower.jpg"):
        data.sample_image("cat.png")


# ----------------------------------------------------------------------------- one_hot, standardize


def test_one_hot_values_and_shapes():
    out = data.one_hot(np.array([[0, 2], [1, 1]], np.int32), 3)
    assert out.shape == (2, 2, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out.argmax(-1), [[0, 2], [1, 1]])
    np.testing.assert_array_equal(out.sum(-1), 1.0)
    with pytest.raises(TypeError, match="integer dtype"):
        data.one_hot(np.array([0.0, 1.0]), 2)
    with pytest.raises(TypeError, match="integer dtype"):
        data.one_hot(np.array([True]), 2)
    with pytest.raises(ValueError, match=r"\[0, 3\).*got 3"):
        data.one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="got -1"):
        data.one_hot(np.array([-1]), 3)
    with pytest.raises(ValueError, match="n_classes"):
        data.one_hot(np.array([0]), 0)


def test_standardize_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    x_tr = rng.normal(3.0, 2.0, (500, 4)).astype(np.float32)
    x_tr[:, 3] = 7.0  # a constant feature
    x_te = rng.normal(0.0, 1.0, (50, 4)).astype(np.float32)
    z_tr, z_te, stats = data.standardize(x_tr, x_te)
    assert z_tr.dtype == z_te.dtype == np.float32 and stats.mean.shape == (4,)
    np.testing.assert_allclose(z_tr[:, :3].mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z_tr[:, :3].std(0), 1.0, atol=1e-4)
    np.testing.assert_array_equal(z_tr[:, 3], 0.0)  # centred, not divided by zero
    assert stats.std[3] == 1.0
    np.testing.assert_allclose(z_te, (x_te - x_tr.mean(0)) / stats.std, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(z_te * stats.std + stats.mean, x_te, atol=1e-5)
    z_only, _ = data.standardize(x_tr)
    np.testing.assert_array_equal(z_only, z_tr)


def test_standardize_per_channel_and_errors():
    x = np.random.default_rng(1).uniform(size=(6, 4, 4, 3)).astype(np.float32)
    z, stats = data.standardize(x, axis=(0, 1, 2))
    assert stats.mean.shape == (1, 1, 3)
    np.testing.assert_allclose(z.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    with pytest.raises(TypeError, match="floating"):
        data.standardize(np.arange(6).reshape(3, 2))
    with pytest.raises(ValueError, match=r"others\[0\].*\(m, 3\)"):
        data.standardize(np.ones((4, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="axis must include"):
        data.standardize(np.ones((4, 3)), axis=1)
    with pytest.raises(ValueError, match="at least one sample"):
        data.standardize(np.ones((0, 3)))


# ----------------------------------------------------------------------------- splits and batches


def test_split_partitions_exactly_and_keeps_pairs():
    x = np.arange(100, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    y = np.arange(100, dtype=np.int32)
    (xtr, ytr), (xv, yv), (xte, yte) = data.train_val_test_split(x, y, key=KEY)
    assert (len(ytr), len(yv), len(yte)) == (70, 10, 20)
    np.testing.assert_array_equal(np.sort(np.concatenate([ytr, yv, yte])), y)  # a partition
    for xs, ys in ((xtr, ytr), (xv, yv), (xte, yte)):
        np.testing.assert_array_equal(xs[:, 0], ys.astype(np.float32))
    assert not np.array_equal(ytr, np.sort(ytr))  # shuffled
    again = data.train_val_test_split(x, y, key=KEY)
    np.testing.assert_array_equal(again[0][1], ytr)
    other = data.train_val_test_split(x, y, key=jax.random.key(1))
    assert not np.array_equal(other[0][1], ytr)
    (_, ytr0), (xv0, yv0), (_, yte0) = data.train_val_test_split(x, y, key=KEY, val_fraction=0.0,
                                                                 test_fraction=0.25)
    assert (len(ytr0), len(yv0), len(yte0)) == (75, 0, 25) and xv0.shape == (0, 3)


def test_split_rejects_bad_arguments():
    x, y = np.zeros((10, 2), np.float32), np.zeros(10, np.int32)
    with pytest.raises(ValueError, match="PRNG key"):
        data.train_val_test_split(x, y, key=None)
    with pytest.raises(ValueError, match="val_fraction"):
        data.train_val_test_split(x, y, key=KEY, val_fraction=1.0)
    with pytest.raises(ValueError, match="test_fraction"):
        data.train_val_test_split(x, y, key=KEY, test_fraction=-0.1)
    with pytest.raises(ValueError, match="no training samples"):
        data.train_val_test_split(x, y, key=KEY, val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="same number of samples"):
        data.train_val_test_split(x, y[:9], key=KEY)


def test_batches_cover_each_sample_once_with_partial_last_batch():
    x = np.arange(10, dtype=np.float32)[:, None]
    y = np.arange(10, dtype=np.int32)
    got = list(data.batches(x, y, 3, key=KEY))
    assert [len(yb) for _, yb in got] == [3, 3, 3, 1]
    seen = np.concatenate([yb for _, yb in got])
    np.testing.assert_array_equal(np.sort(seen), y)
    for xb, yb in got:
        np.testing.assert_array_equal(xb[:, 0], yb)
    assert not np.array_equal(seen, y)
    dropped = list(data.batches(x, y, 3, key=KEY, drop_remainder=True))
    assert [len(yb) for _, yb in dropped] == [3, 3, 3]
    assert len(set(np.concatenate([yb for _, yb in dropped]).tolist())) == 9
    ordered = list(data.batches(x, y, 4, shuffle=False))
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in ordered]), y)
    assert [len(yb) for _, yb in ordered] == [4, 4, 2]


def test_batches_shuffle_is_deterministic_per_key_and_differs_across_keys():
    x, y = np.zeros((50, 1), np.float32), np.arange(50, dtype=np.int32)

    def order(key):
        return np.concatenate([yb for _, yb in data.batches(x, y, 8, key=key)])

    np.testing.assert_array_equal(order(jax.random.key(5)), order(jax.random.key(5)))
    assert not np.array_equal(order(jax.random.key(5)), order(jax.random.key(6)))


def test_batches_errors_are_raised_at_call_time():
    x, y = np.zeros((5, 2), np.float32), np.zeros(5, np.int32)
    with pytest.raises(ValueError, match="needs a PRNG key.*shuffle=False"):
        data.batches(x, y, 2)
    with pytest.raises(ValueError, match="batch_size"):
        data.batches(x, y, 0, key=KEY)
    with pytest.raises(ValueError, match="same number of samples"):
        data.batches(x, y[:4], 2, key=KEY)
    with pytest.raises(TypeError, match="key"):
        data.batches(x, y, 2, key=42)


def test_num_batches_values_and_errors():
    assert data.num_batches(10, 3) == 4 and data.num_batches(10, 3, True) == 3
    assert data.num_batches(9, 3) == 3 and data.num_batches(0, 3) == 0
    assert data.num_batches(2, 5) == 1 and data.num_batches(2, 5, True) == 0
    with pytest.raises(ValueError, match="batch_size"):
        data.num_batches(10, 0)
    with pytest.raises(ValueError, match="n must"):
        data.num_batches(-1, 2)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 40), b=st.integers(1, 12), drop=st.booleans())
def test_batches_property_sizes_match_num_batches(n, b, drop):
    x, y = np.arange(n, dtype=np.float32), np.arange(n, dtype=np.int32)
    sizes = [len(yb) for _, yb in data.batches(x, y, b, shuffle=False, drop_remainder=drop)]
    assert len(sizes) == data.num_batches(n, b, drop)
    assert sum(sizes) == (n // b * b if drop else n)
    assert all(s == b for s in sizes[:-1])
    if sizes:
        assert sizes[-1] == (b if drop or n % b == 0 else n % b)
    assert math.ceil(n / b) >= len(sizes)
