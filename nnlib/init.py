"""Weight initializers: ``fn(key, shape, dtype=jnp.float32) -> array``.

Every initializer has the same signature as ``jax.nn.initializers``' functions, so a layer
can take either a name (looked up with :func:`get`) or a function::

    W = init.glorot_uniform(jax.random.key(0), (784, 128))   # (784, 128) float32

Why the scale matters: for a layer ``y = x @ W`` with ``fan_in`` inputs, each output is a sum
of ``fan_in`` terms, so ``Var[y] = fan_in * Var[W] * Var[x]`` (independent, zero-mean terms).
Keeping ``Var[y] == Var[x]`` layer after layer (and the same for the gradients on the way
back, which sum over ``fan_out`` terms) gives the rules below.

- Glorot/Xavier (Glorot & Bengio 2010), for tanh/sigmoid/linear layers:
  ``Var[W] = 2 / (fan_in + fan_out)`` (a compromise between the forward and backward rule).
- He/Kaiming (He et al. 2015), for ReLU layers, which zero half their inputs:
  ``Var[W] = 2 / fan_in``.

A uniform distribution ``U(-a, a)`` has variance ``a**2 / 3``, so its limit is
``a = sqrt(3 * Var[W])``. The ``*_normal`` initializers here draw from a **plain** (not
truncated) normal distribution with standard deviation ``sqrt(Var[W])``; Keras truncates at
two standard deviations and rescales, which gives the same variance with a different shape.

Fans of a kernel:

- 1-D ``(n,)`` (e.g. a bias): ``fan_in = fan_out = n``.
- 2-D dense kernel ``(in, out)``: ``fan_in = in``, ``fan_out = out``.
- Conv kernel ``(kh, kw, c_in, c_out)`` (or any N-D ``(*spatial, c_in, c_out)``): the
  receptive field ``r = kh * kw`` is counted, ``fan_in = r * c_in``, ``fan_out = r * c_out``.

References:
  Glorot, X. and Bengio, Y. (2010). Understanding the difficulty of training deep
  feedforward neural networks. AISTATS.
  He, K., Zhang, X., Ren, S. and Sun, J. (2015). Delving deep into rectifiers: surpassing
  human-level performance on ImageNet classification. ICCV.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from nnlib import validation

Initializer = Callable[..., jax.Array]

__all__ = [
    "fans",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "normal",
    "ones",
    "zeros",
]


def _shape(shape: Any) -> tuple[int, ...]:
    """Validates ``shape`` as a tuple of non-negative ints (an int means ``(n,)``)."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of ints, got {shape!r}") from None
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int) and not hasattr(d, "__index__"):
            raise TypeError(f"shape must be a tuple of ints, got {shape!r}")
        if int(d) < 0:
            raise ValueError(f"shape must have non-negative sizes, got {dims}")
    return tuple(int(d) for d in dims)


def _dtype(dtype: Any) -> Any:
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating-point dtype, got {jnp.dtype(dtype)}")
    return dtype


def fans(shape: Sequence[int]) -> tuple[int, int]:
    """Returns ``(fan_in, fan_out)`` of a weight of the given shape.

    Args:
      shape: ``()``, ``(n,)``, ``(in, out)`` or ``(*receptive_field, c_in, c_out)``, e.g.
        a conv kernel ``(kh, kw, c_in, c_out)``.

    Returns:
      ``(fan_in, fan_out)``: for ``ndim >= 2``, ``fan_in = r * shape[-2]`` and
      ``fan_out = r * shape[-1]`` with ``r = prod(shape[:-2])`` (1 for a dense kernel);
      ``(n, n)`` for ``(n,)`` and ``(1, 1)`` for a scalar.

    Example:
      >>> fans((3, 3, 16, 32))
      (144, 288)
    """
    shape = _shape(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return receptive * shape[-2], receptive * shape[-1]


def zeros(key: Any, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """All zeros of ``shape`` (the usual bias initializer). ``key`` is ignored (may be None)."""
    return jnp.zeros(_shape(shape), _dtype(dtype))


def ones(key: Any, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """All ones of ``shape`` (e.g. BatchNorm's ``gamma``). ``key`` is ignored (may be None)."""
    return jnp.ones(_shape(shape), _dtype(dtype))


def normal(
    key: Any, shape: Sequence[int], dtype: Any = jnp.float32, stddev: float = 0.01
) -> jax.Array:
    """Plain (untruncated) normal ``N(0, stddev**2)`` of ``shape``, whatever the fans.

    Args:
      key: a PRNG key (``jax.random.key(seed)``).
      shape: the output shape.
      dtype: a floating-point dtype.
      stddev: the standard deviation (default 0.01, the "small random numbers" of early nets).

    Returns:
      An array of ``shape`` and ``dtype``.
    """
    key = validation.require_key(key, "init.normal")
    validation.positive(stddev, "stddev", allow_zero=True)
    return stddev * jax.random.normal(key, _shape(shape), _dtype(dtype))


def _variance_scaling(
    key: Any, shape: Any, dtype: Any, fan: str, distribution: str, who: str
) -> jax.Array:
    """Draws an array of ``shape`` with ``Var[W] = 2 / fan``, for the Glorot and He rules.

    ``fan`` is ``"sum"`` (``fan_in + fan_out``, Glorot) or ``"in"`` (``fan_in``, He); the
    ``distribution`` is ``"uniform"`` (``U(-a, a)``, ``a = sqrt(3 Var[W])``) or ``"normal"``
    (plain, standard deviation ``sqrt(Var[W])``). ``who`` names the caller in errors.
    """
    fan_in, fan_out = fans(shape)
    variance = 2.0 / max(fan_in + fan_out if fan == "sum" else fan_in, 1)
    key = validation.require_key(key, who)
    if distribution == "uniform":
        limit = math.sqrt(3.0 * variance)  # Var[U(-a, a)] = a^2 / 3
        return jax.random.uniform(key, _shape(shape), _dtype(dtype), -limit, limit)
    return math.sqrt(variance) * jax.random.normal(key, _shape(shape), _dtype(dtype))


_SCALED_ARGS_DOC = """
    Args:
      key: a PRNG key.
      shape: ``(in, out)`` or ``(kh, kw, c_in, c_out)``; see :func:`fans`.
      dtype: a floating-point dtype.

    Returns:
      An array of ``shape`` and ``dtype``.
    """


def _scaled_args_doc(fn: Initializer) -> Initializer:
    """Appends the Args and Returns that the Glorot and He initializers share to ``fn``'s
    docstring (absent under ``python -OO``)."""
    if fn.__doc__:
        fn.__doc__ += _SCALED_ARGS_DOC
    return fn


@_scaled_args_doc
def glorot_uniform(key: Any, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """Glorot/Xavier uniform: ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``.

    So ``Var[W] = 2 / (fan_in + fan_out)`` (Glorot & Bengio 2010, eq. 16). The default kernel
    initializer of :class:`nnlib.layers.Dense`, as in Keras.
    """
    return _variance_scaling(key, shape, dtype, "sum", "uniform", "init.glorot_uniform")


@_scaled_args_doc
def glorot_normal(key: Any, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """Glorot/Xavier normal: plain (not truncated) ``N(0, 2 / (fan_in + fan_out))``.

    Standard deviation ``sqrt(2 / (fan_in + fan_out))`` (Glorot & Bengio 2010).
    """
    return _variance_scaling(key, shape, dtype, "sum", "normal", "init.glorot_normal")


@_scaled_args_doc
def he_uniform(key: Any, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """He/Kaiming uniform: ``U(-a, a)`` with ``a = sqrt(6 / fan_in)``.

    So ``Var[W] = 2 / fan_in``, which keeps the activations' second moment constant through
    ReLU layers (He et al. 2015, eq. 10).
    """
    return _variance_scaling(key, shape, dtype, "in", "uniform", "init.he_uniform")


@_scaled_args_doc
def he_normal(key: Any, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """He/Kaiming normal: plain (not truncated) ``N(0, 2 / fan_in)``.

    Standard deviation ``sqrt(2 / fan_in)`` (He et al. 2015, eq. 10).
    """
    return _variance_scaling(key, shape, dtype, "in", "normal", "init.he_normal")


_TABLE: dict[str, Initializer] = {
    "zeros": zeros,
    "ones": ones,
    "normal": normal,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "xavier_uniform": glorot_uniform,
    "xavier_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "kaiming_uniform": he_uniform,
    "kaiming_normal": he_normal,
}


def get(name: str | Initializer) -> Initializer:
    """Returns the initializer called ``name`` (case-insensitive); a callable is returned as is.

    Names: ``zeros``, ``ones``, ``normal``, ``glorot_uniform``/``xavier_uniform``,
    ``glorot_normal``/``xavier_normal``, ``he_uniform``/``kaiming_uniform``,
    ``he_normal``/``kaiming_normal``.

    Raises:
      ValueError: for an unknown name (the message lists the valid names).
      TypeError: if ``name`` is neither a string nor callable.
    """
    if callable(name):
        return name
    return validation.lookup("initializer", name, _TABLE)
