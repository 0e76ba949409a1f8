r"""Numerically stable softmax, log-softmax and log-sum-exp.

One implementation for everything that normalises scores over a class axis: the ``Softmax``
activation (:mod:`nnlib.layers.activations`) and the cross-entropy losses
(:mod:`nnlib.losses`) both take these functions from here, and both re-export them
(``nnlib.layers.softmax``, ``nnlib.losses.log_softmax``, ...). This module sits below both
and imports neither.

All three subtract the maximum :math:`m = \max_k x_k` before exponentiating, which changes
nothing mathematically but keeps every exponential :math:`\le e^0 = 1`::

    logsumexp(x)      = m + log sum_k exp(x_k - m)            (x's shape without ``axis``)
    log_softmax(x)_k  = x_k - logsumexp(x)                    (x's shape)
    softmax(x)_k      = exp(log_softmax(x)_k)                 (x's shape; sums to 1 over ``axis``)

References:
  Bridle, J. S. (1990). Probabilistic interpretation of feedforward classification network
  outputs, with relationships to statistical pattern recognition (softmax).
  Goodfellow, I., Bengio, Y. and Courville, A. (2016). Deep Learning, section 4.1
  (overflow and underflow; the stabilised softmax).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nnlib import validation

__all__ = ["log_softmax", "logsumexp", "softmax"]


def logsumexp(x: jax.Array, axis: int = -1, keepdims: bool = False) -> jax.Array:
    r"""Stable :math:`\log \sum_k e^{x_k}` along ``axis``.

    Computed as :math:`m + \log \sum_k e^{x_k - m}` with :math:`m = \max_k x_k`, so no
    exponential overflows (the largest term is :math:`e^0 = 1`). A non-finite ``m`` (a row
    of ``-inf``, or an ``inf``) is replaced by 0, so a row of ``-inf`` gives ``-inf`` rather
    than ``-inf - (-inf) = nan``; ``-inf`` entries of other rows (masked classes) simply
    contribute ``e^{-inf} = 0``. Its gradient is :math:`\mathrm{softmax}(x)`.

    Args:
      x: float array of any shape.
      axis: the axis to reduce.
      keepdims: keep the reduced axis with size 1.

    Returns:
      ``x``'s shape without ``axis`` (or with size 1 there if ``keepdims``).

    Raises:
      TypeError: for an integer or boolean ``x``.
    """
    x = validation.float_array(x, "x")
    m = jnp.max(x, axis=axis, keepdims=True)
    m = jax.lax.stop_gradient(jnp.where(jnp.isfinite(m), m, 0.0))
    out = m + jnp.log(jnp.sum(jnp.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else jnp.squeeze(out, axis=axis)


def log_softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    r"""Stable :math:`\log \mathrm{softmax}(x)_k = x_k - \mathrm{logsumexp}(x)`.

    Shape: same as ``x``; the classes lie along ``axis``. A ``-inf`` entry gives ``-inf``
    (probability 0) and leaves the other entries finite. See :func:`logsumexp`.
    """
    x = validation.float_array(x, "x")
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    """Softmax over ``axis``: ``exp(x_i - m) / sum_j exp(x_j - m)`` with ``m = max_j x_j``.

    Subtracting the maximum changes nothing mathematically but keeps ``exp`` from
    overflowing; computed as ``exp(log_softmax(x))``. Shape: same as ``x``; entries along
    ``axis`` are non-negative and sum to 1 (a ``-inf`` entry gets probability 0).
    """
    return jnp.exp(log_softmax(x, axis=axis))
