"""Synthetic datasets for the lessons: regression lines and 2-D classification toys.

Every generator draws with ``jax.random`` from an explicit keyword-only ``key`` (the same
key gives the same data, bit for bit, whether or not ``jax_enable_x64`` is on) and returns
host NumPy arrays: ``float32`` features and ``int32`` labels (``float32`` targets for
regression). Classification sets are *exactly* balanced (class sizes differ by at most one)
and come shuffled, so unshuffled mini-batches still mix the classes.
"""

from __future__ import annotations

import math
import numbers
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nnlib.validation import integer, non_negative, require_key

__all__ = ["make_circles", "make_moons", "make_regression", "make_spirals", "make_xor"]


# Each generator's maths runs as one jitted function with the sizes static: a new
# ``n_samples`` costs one compilation (a fraction of a second) instead of one per operation.
# That function stands just before the public one, which checks the arguments and moves
# the result to the host.


def _balanced_labels(key: jax.Array, n_samples: int, n_classes: int) -> jax.Array:
    """Shuffled int32 labels, class ``k`` appearing ``n // K`` times (+1 for ``k < n % K``)."""
    sizes = [n_samples // n_classes + (k < n_samples % n_classes) for k in range(n_classes)]
    ordered = np.repeat(np.arange(n_classes, dtype=np.int32), sizes)
    return jax.random.permutation(key, jnp.asarray(ordered))


def _host(x: Any, dtype: Any) -> np.ndarray:
    """Moves a JAX array to the host as a NumPy array of ``dtype`` (same shape)."""
    return np.asarray(x).astype(dtype, copy=False)


def _checked(
    who: str, key: Any, n_samples: Any, noise: Any, n_classes: Any = 2
) -> tuple[jax.Array, int, int, float]:
    """Checks the arguments every classification set takes, in this order, for ``who``.

    Returns:
      ``(key, n, k, noise)``: the PRNG key, ``k = n_classes >= 2``, ``n = n_samples >= k``
      and the noise level as a float ``>= 0``.
    """
    key = require_key(key, who)
    k = integer(n_classes, "n_classes", minimum=2)
    return key, integer(n_samples, "n_samples", minimum=k), k, non_negative(noise, "noise")


def _on_host(x: jax.Array, labels: jax.Array) -> tuple[np.ndarray, np.ndarray]:
    """A classification set moved to the host: float32 points ``(n, 2)``, int32 labels ``(n,)``."""
    return _host(x, np.float32), _host(labels, np.int32)


def _gaussian(key: jax.Array, shape: tuple[int, ...], scale: float) -> jax.Array:
    return scale * jax.random.normal(key, shape, jnp.float32)


@partial(jax.jit, static_argnames="n")
def _regression(k_x, k_eps, w, bias, noise, *, n):
    x = jax.random.uniform(k_x, (n, w.shape[0]), jnp.float32, -1.0, 1.0)
    return x, x @ w + bias.astype(jnp.float32) + _gaussian(k_eps, (n, 1), noise)


def make_regression(
    n_samples: int,
    *,
    key: jax.Array,
    n_features: int = 1,
    noise: float = 0.1,
    weights: Any = None,
    bias: float = 0.0,
    return_coef: bool = False,
):
    """A noisy linear regression problem ``y = x w + b + noise * eps``.

    The inputs are uniform, ``x_ij ~ U(-1, 1)``, and ``eps ~ N(0, 1)`` independently per
    sample, so the least-squares fit recovers ``w`` and ``b`` up to noise of order
    ``noise / sqrt(n_samples)``.

    Args:
      n_samples: number of samples ``n >= 1``.
      key: a PRNG key (``jax.random.key(seed)``).
      n_features: number of input features ``d >= 1``.
      noise: standard deviation of the Gaussian noise added to ``y`` (``>= 0``).
      weights: the true weights: a number (the same slope for every feature), or an array of
        shape ``(d,)`` or ``(d, 1)``. ``None`` draws them from ``N(0, 1)`` with ``key``.
      bias: the true intercept ``b``.
      return_coef: also return the true ``(weights, bias)``.

    Returns:
      ``(x, y)`` with ``x`` of shape ``(n, d)`` and ``y`` of shape ``(n, 1)``, both float32;
      with ``return_coef=True``, ``(x, y, w, b)`` where ``w`` has shape ``(d, 1)`` (the
      layout of a ``Dense(1)`` kernel) and ``b`` is a float.

    Raises:
      TypeError: non-integer ``n_samples``/``n_features`` or a non-numeric ``weights``.
      ValueError: a missing key, non-positive sizes, negative noise, or ``weights`` of the
        wrong shape.

    Example:
      >>> x, y, w, b = make_regression(100, key=jax.random.key(0), weights=2.0, bias=1.0,
      ...                              return_coef=True)
      >>> x.shape, y.shape, w.ravel().tolist(), b
      ((100, 1), (100, 1), [2.0], 1.0)
    """
    key = require_key(key, "make_regression")
    n = integer(n_samples, "n_samples", minimum=1)
    d = integer(n_features, "n_features", minimum=1)
    noise = non_negative(noise, "noise")
    if isinstance(bias, bool) or not isinstance(bias, numbers.Real):
        raise TypeError(f"bias must be a real number, got {type(bias).__name__}")
    k_x, k_w, k_eps = jax.random.split(key, 3)
    if weights is None:
        w = np.asarray(jax.random.normal(k_w, (d, 1), jnp.float32))
    else:
        w = np.asarray(weights)
        if not (np.issubdtype(w.dtype, np.number) and not np.issubdtype(w.dtype, np.complexfloating)):
            raise TypeError(f"weights must be real numbers, got dtype {w.dtype}")
        if w.ndim == 0:
            w = np.full((d, 1), w)
        elif w.shape in ((d,), (d, 1)):
            w = w.reshape(d, 1)
        else:
            raise ValueError(
                f"weights must be a number or have shape ({d},) or ({d}, 1) for n_features={d}, "
                f"got shape {w.shape}"
            )
    w = w.astype(np.float32)
    x, y = _regression(k_x, k_eps, w, np.float32(bias), np.float32(noise), n=n)
    x, y = _host(x, np.float32), _host(y, np.float32)
    return (x, y, w, float(bias)) if return_coef else (x, y)


@partial(jax.jit, static_argnames="n")
def _moons(key, noise, *, n):
    k_lab, k_t, k_eps = jax.random.split(key, 3)
    labels = _balanced_labels(k_lab, n, 2)
    t = math.pi * jax.random.uniform(k_t, (n,), jnp.float32)
    upper = jnp.stack([jnp.cos(t), jnp.sin(t)], axis=1)
    lower = jnp.stack([1.0 - jnp.cos(t), 0.5 - jnp.sin(t)], axis=1)
    x = jnp.where(labels[:, None] == 0, upper, lower) + _gaussian(k_eps, (n, 2), noise)
    return x, labels


def make_moons(n_samples: int, *, key: jax.Array, noise: float = 0.1):
    """Two interleaving half circles ("moons"), a classic non-linearly separable set.

    Class 0 lies on the upper unit half circle ``(cos t, sin t)``, class 1 on the lower one
    shifted right and up, ``(1 - cos t, 1/2 - sin t)``, with ``t ~ U(0, pi)``; each point
    then gets isotropic Gaussian noise of standard deviation ``noise``.

    Args:
      n_samples: total number of points ``n >= 2`` (class 0 gets ``ceil(n/2)``).
      key: a PRNG key.
      noise: standard deviation of the Gaussian noise (``>= 0``).

    Returns:
      ``(x, y)``: float32 points of shape ``(n, 2)`` and int32 labels in ``{0, 1}`` of shape
      ``(n,)``, shuffled.

    Raises:
      TypeError, ValueError: a missing key, ``n_samples < 2`` or negative ``noise``.
    """
    key, n, _, noise = _checked("make_moons", key, n_samples, noise)
    return _on_host(*_moons(key, np.float32(noise), n=n))


@partial(jax.jit, static_argnames="n")
def _circles(key, noise, factor, *, n):
    k_lab, k_t, k_eps = jax.random.split(key, 3)
    labels = _balanced_labels(k_lab, n, 2)
    theta = 2.0 * math.pi * jax.random.uniform(k_t, (n,), jnp.float32)
    radius = jnp.where(labels == 0, jnp.float32(1.0), factor)
    x = radius[:, None] * jnp.stack([jnp.cos(theta), jnp.sin(theta)], axis=1)
    return x + _gaussian(k_eps, (n, 2), noise), labels


def make_circles(n_samples: int, *, key: jax.Array, noise: float = 0.05, factor: float = 0.5):
    """Two concentric circles: class 0 on the unit circle, class 1 on radius ``factor``.

    Angles are uniform on ``[0, 2 pi)``; each point gets Gaussian noise of standard deviation
    ``noise``. No straight line separates the classes, but the radius ``||x||`` does.

    Args:
      n_samples: total number of points ``n >= 2`` (class 0 gets ``ceil(n/2)``).
      key: a PRNG key.
      noise: standard deviation of the Gaussian noise (``>= 0``).
      factor: radius of the inner circle, in ``(0, 1)``.

    Returns:
      ``(x, y)``: float32 points ``(n, 2)`` and int32 labels in ``{0, 1}`` of shape ``(n,)``.

    Raises:
      TypeError, ValueError: a missing key, ``n_samples < 2``, negative ``noise`` or
        ``factor`` outside ``(0, 1)``.
    """
    key, n, _, noise = _checked("make_circles", key, n_samples, noise)
    factor = non_negative(factor, "factor")
    if not 0.0 < factor < 1.0:
        raise ValueError(f"factor (inner radius) must be in (0, 1), got {factor}")
    return _on_host(*_circles(key, np.float32(noise), np.float32(factor), n=n))


@partial(jax.jit, static_argnames=("n", "k_classes"))
def _spirals(key, noise, *, n, k_classes):
    k_lab, k_r, k_eps = jax.random.split(key, 3)
    labels = _balanced_labels(k_lab, n, k_classes)
    r = jax.random.uniform(k_r, (n,), jnp.float32)
    theta = (2.0 * math.pi / k_classes) * labels.astype(jnp.float32) + 4.0 * r
    theta = theta + _gaussian(k_eps, (n,), noise)
    return r[:, None] * jnp.stack([jnp.cos(theta), jnp.sin(theta)], axis=1), labels


def make_spirals(n_samples: int, *, key: jax.Array, n_classes: int = 3, noise: float = 0.2):
    """Interleaved spiral arms, one per class (the CS231n "spiral" toy problem).

    A point of class ``k`` has radius ``r ~ U(0, 1)`` and angle
    ``theta = 2 pi k / K + 4 r + noise * eps`` with ``eps ~ N(0, 1)`` (the noise bends the
    angle, not the radius), so each arm turns by 4 radians from the centre to the rim:
    ``x = r (cos theta, sin theta)``.

    Args:
      n_samples: total number of points ``n >= n_classes``; class sizes differ by at most 1.
      key: a PRNG key.
      n_classes: number of arms ``K >= 2``.
      noise: standard deviation of the angular noise in radians (``>= 0``).

    Returns:
      ``(x, y)``: float32 points ``(n, 2)`` inside the unit disc and int32 labels in
      ``{0, ..., K-1}`` of shape ``(n,)``.

    Raises:
      TypeError, ValueError: a missing key, ``n_classes < 2``, ``n_samples < n_classes`` or
        negative ``noise``.

    References:
      Karpathy, CS231n "Putting it together: minimal neural network case study" (2016).
    """
    key, n, k_classes, noise = _checked("make_spirals", key, n_samples, noise, n_classes)
    return _on_host(*_spirals(key, np.float32(noise), n=n, k_classes=k_classes))


@partial(jax.jit, static_argnames="n")
def _xor(key, noise, *, n):
    k_lab, k_mag, k_sign, k_eps = jax.random.split(key, 4)
    labels = _balanced_labels(k_lab, n, 2)
    magnitude = jax.random.uniform(k_mag, (n, 2), jnp.float32)  # |x_1|, |x_2| in [0, 1)
    sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, (n,)), 1.0, -1.0)
    # class 0: quadrants (+,+) and (-,-); class 1: (+,-) and (-,+).
    second = jnp.where(labels == 0, 1.0, -1.0)
    x = sign[:, None] * jnp.stack([magnitude[:, 0], second * magnitude[:, 1]], axis=1)
    return x + _gaussian(k_eps, (n, 2), noise), labels


def make_xor(n_samples: int, *, key: jax.Array, noise: float = 0.1):
    """The XOR problem: the label is 1 when the two coordinates have opposite signs.

    Clean points are uniform on the square ``[-1, 1]^2``, labelled
    ``y = [x_1 > 0] xor [x_2 > 0]``; then Gaussian noise of standard deviation ``noise`` is
    added to ``x`` (so points near the axes may cross into the other class's quadrant).
    A single linear unit cannot fit it (Minsky & Papert, 1969); one hidden layer can.

    Args:
      n_samples: total number of points ``n >= 2`` (class 0 gets ``ceil(n/2)``).
      key: a PRNG key.
      noise: standard deviation of the Gaussian noise (``>= 0``).

    Returns:
      ``(x, y)``: float32 points ``(n, 2)`` and int32 labels in ``{0, 1}`` of shape ``(n,)``.

    Raises:
      TypeError, ValueError: a missing key, ``n_samples < 2`` or negative ``noise``.
    """
    key, n, _, noise = _checked("make_xor", key, n_samples, noise)
    return _on_host(*_xor(key, np.float32(noise), n=n))
