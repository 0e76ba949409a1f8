"""Activation functions: functional forms, their derivatives, and layer classes.

Functional forms (elementwise unless noted, any shape, same shape out)::

    sigmoid(x)    = 1 / (1 + exp(-x))            sigmoid_grad(x)    = s (1 - s)
    tanh(x)       = (e^x - e^-x) / (e^x + e^-x)  tanh_grad(x)       = 1 - tanh(x)^2
    relu(x)       = max(x, 0)                    relu_grad(x)       = [x > 0]
    leaky_relu(x) = x if x >= 0 else a x         leaky_relu_grad(x) = 1 if x >= 0 else a
    softmax(x)_i  = exp(x_i) / sum_j exp(x_j)    (over the last axis)

``softmax``, ``log_softmax`` and ``logsumexp`` live in :mod:`nnlib.numerics` (the losses use
them too) and are re-exported here.

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
from nnlib.numerics import log_softmax, logsumexp, softmax

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
    return _relu(jnp.asarray(x))


@jax.custom_jvp
def _relu(x):
    # XLA's max propagates NaN. The derivative is relu_grad's (0 at the kink, 1 at a NaN;
    # jnp.maximum's own gives 1/2 at x == 0). A max, rather than a select on a mask, lets XLA
    # fuse the forward pass into its consumers (benchmarks/README.md: the CNN step).
    return jnp.maximum(x, jnp.zeros((), x.dtype))


@_relu.defjvp
def _relu_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _relu(x), jnp.where((x > 0) | jnp.isnan(x), t, jnp.zeros((), t.dtype))


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
