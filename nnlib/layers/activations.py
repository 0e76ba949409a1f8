"""Activation functions: functional forms, their derivatives, and layer classes.

Functional forms (elementwise unless noted, any shape, same shape out)::

    sigmoid(x)    = 1 / (1 + exp(-x))            sigmoid_grad(x)    = s (1 - s)
    tanh(x)       = (e^x - e^-x) / (e^x + e^-x)  tanh_grad(x)       = 1 - tanh(x)^2
    relu(x)       = max(x, 0)                    relu_grad(x)       = [x > 0]
    leaky_relu(x) = x if x >= 0 else a x         leaky_relu_grad(x) = 1 if x >= 0 else a
    softmax(x)_i  = exp(x_i) / sum_j exp(x_j)    (over the last axis)

The derivative at the kink of ReLU is taken as 0 (what ``jax.grad`` of ``relu`` gives).
A NaN input gives a NaN output (never a silent 0), so a training loop sees the NaN.

References:
  Nair, V. and Hinton, G. E. (2010). Rectified linear units improve restricted Boltzmann
  machines. ICML.
  Maas, A. L., Hannun, A. Y. and Ng, A. Y. (2013). Rectifier nonlinearities improve neural
  network acoustic models. ICML workshop (leaky ReLU).
  Bridle, J. S. (1990). Probabilistic interpretation of feedforward classification network
  outputs (softmax).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from nnlib import validation
from nnlib.layers.base import Layer, check_input

__all__ = [
    "Identity",
    "LeakyReLU",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "get_activation",
    "leaky_relu",
    "leaky_relu_grad",
    "log_softmax",
    "logsumexp",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "tanh",
    "tanh_grad",
]


def sigmoid(x: jax.Array) -> jax.Array:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, stable for large ``|x|``.

    Computed from ``z = exp(-|x|) <= 1`` as ``1/(1+z)`` for ``x >= 0`` and ``z/(1+z)``
    otherwise, so ``exp`` never overflows. Shape: any, same shape out; values in (0, 1).
    """
    x = jnp.asarray(x)
    z = jnp.exp(-jnp.abs(x))
    return jnp.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def sigmoid_grad(x: jax.Array) -> jax.Array:
    """``d sigmoid / dx = s (1 - s)`` with ``s = sigmoid(x)``. Shape: same as ``x``."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x: jax.Array) -> jax.Array:
    """Hyperbolic tangent, values in (-1, 1). Shape: same as ``x``."""
    return jnp.tanh(x)


def tanh_grad(x: jax.Array) -> jax.Array:
    """``d tanh / dx = 1 - tanh(x)^2``. Shape: same as ``x``."""
    t = jnp.tanh(x)
    return 1.0 - t * t


def relu(x: jax.Array) -> jax.Array:
    """Rectified linear unit ``max(x, 0)``; NaN stays NaN. Shape: same as ``x``."""
    x = jnp.asarray(x)
    return jnp.where((x > 0) | jnp.isnan(x), x, jnp.zeros_like(x))


def relu_grad(x: jax.Array) -> jax.Array:
    """``[x > 0]`` as floats (0 at the kink). Shape: same as ``x``.

    At a NaN input it is 1, as ``jax.grad(relu)`` gives (the NaN passes through ``relu``).
    """
    x = jnp.asarray(x)
    return ((x > 0) | jnp.isnan(x)).astype(x.dtype)


def leaky_relu(x: jax.Array, negative_slope: float = 0.01) -> jax.Array:
    """``x`` for ``x >= 0``, ``negative_slope * x`` otherwise. Shape: same as ``x``."""
    x = jnp.asarray(x)
    return jnp.where(x >= 0, x, negative_slope * x)


def leaky_relu_grad(x: jax.Array, negative_slope: float = 0.01) -> jax.Array:
    """1 for ``x >= 0``, ``negative_slope`` otherwise. Shape: same as ``x``."""
    x = jnp.asarray(x)
    return jnp.where(x >= 0, jnp.ones_like(x), jnp.full_like(x, negative_slope))


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


class _Elementwise(Layer):
    """A parameter-free layer ``y = f(x)``; shapes in = shapes out, any rank."""

    def init(self, key: Any, in_shape: tuple[int, ...], *, dtype: Any = jnp.float32):
        """No parameters: ``({}, in_shape)``."""
        return {}, tuple(in_shape)

    def _check(self, x: Any) -> jax.Array:
        return check_input(x, type(self).__name__)


class Identity(_Elementwise):
    """``y = x`` (the "linear" activation)."""

    def forward(self, params, x, *, train=False, key=None, state=None):
        """``y = x``, any shape; returns ``(y, {})``."""
        return self._check(x), {}

    def backward(self, params, cache, dy):
        """``dx = dy`` (shape of ``x``); no parameters: ``({}, dx)``."""
        return {}, dy


class Sigmoid(_Elementwise):
    """``y = sigmoid(x)``; backward ``dx = dy * y (1 - y)``."""

    def forward(self, params, x, *, train=False, key=None, state=None):
        """``y = sigmoid(x)``, any shape, same shape out; the cache keeps ``y``."""
        y = sigmoid(self._check(x))
        return y, {"y": y}

    def backward(self, params, cache, dy):
        """``dx = dy * y (1 - y)`` (shape of ``x``); returns ``({}, dx)``."""
        y = cache["y"]
        return {}, dy * y * (1.0 - y)


class Tanh(_Elementwise):
    """``y = tanh(x)``; backward ``dx = dy * (1 - y^2)``."""

    def forward(self, params, x, *, train=False, key=None, state=None):
        """``y = tanh(x)``, any shape, same shape out; the cache keeps ``y``."""
        y = jnp.tanh(self._check(x))
        return y, {"y": y}

    def backward(self, params, cache, dy):
        """``dx = dy * (1 - y^2)`` (shape of ``x``); returns ``({}, dx)``."""
        y = cache["y"]
        return {}, dy * (1.0 - y * y)


class ReLU(_Elementwise):
    """``y = max(x, 0)``; backward ``dx = dy * [x > 0]``."""

    def forward(self, params, x, *, train=False, key=None, state=None):
        """``y = max(x, 0)`` (NaN stays NaN), any shape, same shape out; the cache keeps ``x``."""
        x = self._check(x)
        return relu(x), {"x": x}

    def backward(self, params, cache, dy):
        """``dx = dy * [x > 0]`` (shape of ``x``); returns ``({}, dx)``."""
        return {}, dy * relu_grad(cache["x"])


class LeakyReLU(_Elementwise):
    """``y = x`` for ``x >= 0`` else ``negative_slope * x`` (Maas et al. 2013).

    Args:
      negative_slope: slope for negative inputs, ``>= 0`` (default 0.01).
    """

    def __init__(self, negative_slope: float = 0.01):
        validation.positive(negative_slope, "negative_slope", allow_zero=True)
        self.negative_slope = float(negative_slope)

    def forward(self, params, x, *, train=False, key=None, state=None):
        """``y = x`` or ``negative_slope * x``, any shape, same shape out; the cache keeps ``x``."""
        x = self._check(x)
        return leaky_relu(x, self.negative_slope), {"x": x}

    def backward(self, params, cache, dy):
        """``dx = dy`` for ``x >= 0``, else ``negative_slope * dy`` (shape of ``x``); ``{}``."""
        return {}, dy * leaky_relu_grad(cache["x"], self.negative_slope)


class Softmax(_Elementwise):
    """Softmax over the last axis.

    Backward: the Jacobian is ``dy_i/dx_j = y_i (delta_ij - y_j)``, so
    ``dx = y * (dy - sum(dy * y, axis=-1, keepdims=True))`` without forming the matrix.
    """

    def forward(self, params, x, *, train=False, key=None, state=None):
        """``x (..., K) -> y (..., K)``, softmax over the last axis; the cache keeps ``y``."""
        y = softmax(self._check(x), axis=-1)
        return y, {"y": y}

    def backward(self, params, cache, dy):
        """``dx = y * (dy - sum(dy * y, -1))`` (shape ``(..., K)``); returns ``({}, dx)``."""
        y = cache["y"]
        return {}, y * (dy - jnp.sum(dy * y, axis=-1, keepdims=True))


_ACTIVATIONS = {
    "linear": Identity,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "softmax": Softmax,
}


def get_activation(name: str | Layer | None) -> Layer:
    """Returns an activation layer by name; a Layer is returned as is; None gives Identity.

    Names (case-insensitive): ``linear``, ``sigmoid``, ``tanh``, ``relu``, ``leaky_relu``,
    ``softmax``.

    Raises:
      ValueError: for an unknown name; the message lists the valid names.
      TypeError: for anything that is neither a string, a Layer nor None.

    Example:
      >>> get_activation("relu")
      ReLU()
    """
    if name is None:
        return Identity()
    if isinstance(name, Layer):
        return name
    return validation.lookup("activation", name, _ACTIVATIONS)()
