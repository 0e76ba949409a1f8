"""Preparing arrays for training: one-hot labels, standardization, splits and mini-batches.

All functions work on host NumPy arrays (JAX arrays are accepted too) and take randomness
as an explicit keyword-only ``key``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any, NamedTuple

import jax
import numpy as np

from nnlib.validation import integer, require_key

__all__ = ["Stats", "batches", "num_batches", "one_hot", "standardize", "train_val_test_split"]


def one_hot(labels: Any, n_classes: int) -> np.ndarray:
    """Integer class labels to one-hot rows: ``out[..., k] = 1`` if ``labels == k`` else 0.

    Args:
      labels: integer array of any shape ``s`` with values in ``0 .. n_classes - 1``.
      n_classes: the number of classes ``K >= 1``.

    Returns:
      float32 array of shape ``s + (K,)``.

    Raises:
      TypeError: ``labels`` not of an integer dtype (floats and booleans are refused).
      ValueError: a label outside ``[0, K)`` (the message shows the first offender).

    Example:
      >>> one_hot(np.array([0, 2]), 3).tolist()
      [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    labels = np.asarray(labels)
    k = integer(n_classes, "n_classes", minimum=1)
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must have an integer dtype, got {labels.dtype}; "
                        "convert class ids with labels.astype('int32')")
    bad = (labels < 0) | (labels >= k)
    if bad.any():
        first = labels[bad].ravel()[0]
        raise ValueError(f"labels must be in [0, {k}) for n_classes={k}, got {first} "
                         f"({int(bad.sum())} labels out of range)")
    return (labels[..., None] == np.arange(k)).astype(np.float32)


class Stats(NamedTuple):
    """Per-feature statistics from :func:`standardize`; ``x = z * std + mean`` undoes it."""

    mean: np.ndarray
    std: np.ndarray


def standardize(x_train: Any, *others: Any, axis: int | tuple[int, ...] = 0, eps: float = 1e-8):
    """Shifts and scales features to zero mean and unit variance, using training statistics only.

    ``z = (x - mean) / std`` with ``mean`` and ``std`` (population standard deviation)
    computed on ``x_train`` over ``axis``, and applied unchanged to every array in
    ``others`` (validation and test data must not leak into the statistics). A feature whose
    std is below ``eps`` (constant on the training set) gets ``std = 1``: it is centred, not
    blown up.

    Args:
      x_train: float array ``(n, ...)``.
      *others: float arrays ``(m, ...)`` with the same trailing shape as ``x_train``.
      axis: the axes to average over; must include the sample axis 0. The default 0 gives
        per-feature (per-pixel) statistics; ``(0, 1, 2)`` gives per-channel statistics for
        NHWC images.
      eps: threshold below which a std counts as zero.

    Returns:
      ``(z_train, *z_others, stats)`` where each ``z`` has its input's shape and dtype and
      ``stats`` is a :class:`Stats` ``(mean, std)`` of ``x_train.shape`` with the reduced
      axes set to 1 and the leading axis dropped (``(d,)`` for ``(n, d)`` input), so that it
      broadcasts against a batch.

    Raises:
      TypeError: a non-floating array.
      ValueError: fewer than one sample, ``axis`` without 0, or mismatched trailing shapes.

    Example:
      >>> x_tr, x_te, stats = standardize(x_train, x_test)
    """
    arrays = [np.asarray(a) for a in (x_train, *others)]
    names = ["x_train"] + [f"others[{i}]" for i in range(len(others))]
    for a, name in zip(arrays, names):
        if not np.issubdtype(a.dtype, np.floating):
            raise TypeError(f"{name} must have a floating-point dtype, got {a.dtype}; "
                            f"convert it first, e.g. {name}.astype('float32')")
    x = arrays[0]
    if x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(f"x_train must have at least one sample on axis 0, got shape {x.shape}")
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    axes = tuple(a % x.ndim for a in axes)
    if 0 not in axes:
        raise ValueError(f"axis must include the sample axis 0, got {axis}")
    for a, name in zip(arrays[1:], names[1:]):
        if a.shape[1:] != x.shape[1:]:
            raise ValueError(f"{name} must have shape (m, {', '.join(map(str, x.shape[1:]))}) "
                             f"like x_train {x.shape}, got {a.shape}")
    mean = x.mean(axis=axes, keepdims=True)
    std = x.std(axis=axes, keepdims=True)
    std = np.where(std < eps, 1.0, std).astype(x.dtype)
    out = [((a - mean) / std).astype(a.dtype) for a in arrays]
    return (*out, Stats(mean[0], std[0]))


def _fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def _paired(x: Any, y: Any) -> tuple[Any, Any, int]:
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    if not hasattr(y, "shape"):
        y = np.asarray(y)
    if x.ndim < 1 or y.ndim < 1:
        raise ValueError(f"x and y need a sample axis, got shapes {x.shape} and {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same number of samples (axis 0), got "
                         f"shapes {x.shape} and {y.shape}")
    return x, y, x.shape[0]


def train_val_test_split(x: Any, y: Any, *, key: jax.Array, val_fraction: float = 0.1,
                         test_fraction: float = 0.2):
    """Shuffles the samples and cuts them into train, validation and test sets.

    With ``n`` samples, ``n_test = round(test_fraction * n)`` and
    ``n_val = round(val_fraction * n)`` (Python's ``round``: nearest, ties to even) and the
    rest, ``n_train = n - n_val - n_test``, is the training set. The three sets partition the
    data: every sample lands in exactly one of them. Not stratified.

    Args:
      x: array ``(n, ...)``.
      y: array ``(n, ...)``, the targets matching ``x`` row for row.
      key: a PRNG key for the shuffle.
      val_fraction: fraction for validation, in ``[0, 1)`` (0 gives empty validation arrays).
      test_fraction: fraction for test, in ``[0, 1)``.

    Returns:
      ``((x_train, y_train), (x_val, y_val), (x_test, y_test))``, NumPy arrays of ``x``'s and
      ``y``'s dtypes.

    Raises:
      ValueError: a missing key, mismatched sample counts, fractions outside ``[0, 1)``, or
        fractions that leave no training sample.
    """
    key = require_key(key, "train_val_test_split")
    val_fraction = _fraction(val_fraction, "val_fraction")
    test_fraction = _fraction(test_fraction, "test_fraction")
    x, y, n = _paired(np.asarray(x), np.asarray(y))
    n_val, n_test = round(val_fraction * n), round(test_fraction * n)
    n_train = n - n_val - n_test
    if n_train < 1:
        raise ValueError(f"val_fraction={val_fraction} and test_fraction={test_fraction} leave "
                         f"no training samples out of n={n}")
    perm = np.asarray(jax.random.permutation(key, n))
    cuts = np.split(perm, [n_train, n_train + n_val])
    return tuple((x[idx], y[idx]) for idx in cuts)


def num_batches(n: int, batch_size: int, drop_remainder: bool = False) -> int:
    """Number of mini-batches per epoch: ``floor(n / b)`` if ``drop_remainder`` else ``ceil(n / b)``.

    Raises:
      TypeError, ValueError: ``n`` not an integer ``>= 0`` or ``batch_size`` not ``>= 1``.
    """
    n = integer(n, "n", minimum=0)
    b = integer(batch_size, "batch_size", minimum=1)
    return n // b if drop_remainder else math.ceil(n / b)


def batches(x: Any, y: Any, batch_size: int, *, key: jax.Array | None = None,
            shuffle: bool = True, drop_remainder: bool = False) -> Iterator[tuple[Any, Any]]:
    """Iterates over one epoch of mini-batches ``(xb, yb)``.

    Each sample appears exactly once per epoch (except those in a dropped last partial
    batch). With ``shuffle=True`` the order is ``jax.random.permutation(key, n)``: the same
    key gives the same order, so pass a fresh key each epoch
    (``key, sub = jax.random.split(key)``). With ``shuffle=False`` the order is the input's
    and ``key`` is ignored.

    Args:
      x: array ``(n, ...)`` (NumPy or JAX; batches keep its type).
      y: array ``(n, ...)``.
      batch_size: samples per batch ``b >= 1``.
      key: a PRNG key; required when ``shuffle``.
      shuffle: shuffle the samples first.
      drop_remainder: skip the last batch when it has fewer than ``b`` samples (useful to
        keep shapes static under ``jax.jit``).

    Returns:
      A generator of :func:`num_batches` ``(n, b, drop_remainder)`` pairs ``(xb, yb)`` of
      shapes ``(b, ...)``; the last one has ``n mod b`` rows unless dropped.
      Arguments are checked when ``batches`` is called, not at the first ``next``.

    Raises:
      ValueError: ``shuffle=True`` without a key, mismatched sample counts, bad ``batch_size``.
    """
    x, y, n = _paired(x, y)
    b = integer(batch_size, "batch_size", minimum=1)
    if shuffle:
        if key is None:
            raise ValueError("batches(shuffle=True) needs a PRNG key: pass key=jax.random.key(0) "
                             "(a fresh split each epoch), or shuffle=False for a fixed order")
        order = np.asarray(jax.random.permutation(require_key(key, "batches"), n))
    else:
        order = None
    stop = num_batches(n, b, drop_remainder) * b

    def generate():
        for start in range(0, stop, b):
            end = min(start + b, n)
            if order is None:
                yield x[start:end], y[start:end]
            else:
                idx = order[start:end]
                yield x[idx], y[idx]

    return generate()
