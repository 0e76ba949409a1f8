"""The layer contract every nnlib layer follows.

A layer is a small object that holds **hyperparameters only** (never arrays). Its
parameters, state and cache are pytrees passed in and out explicitly, so every method is a
pure function that ``jax.jit``, ``jax.grad`` and ``jax.vmap`` can transform::

    params, out_shape = layer.init(key, in_shape)          # in_shape excludes the batch axis
    state = layer.init_state(in_shape)                     # {} except BatchNorm
    y, cache = layer.forward(params, x, train=False, key=None, state=None)
    dparams, dx = layer.backward(params, cache, dy)        # dparams has params' structure
    y = layer.apply(params, x, train=False, key=None, state=None)

``forward`` returns, next to the output, a ``cache`` dict of whatever ``backward`` needs
(CS231n's layer contract). ``backward`` applies the chain rule: given ``dy = dL/dy`` (same
shape as ``y``) it returns ``dL/dparams`` and ``dL/dx`` (Rumelhart, Hinton & Williams 1986).

References:
  Rumelhart, D. E., Hinton, G. E. and Williams, R. J. (1986). Learning representations by
  back-propagating errors. Nature 323, 533-536.
"""

from __future__ import annotations

import inspect
from typing import Any

import jax
import jax.numpy as jnp

from nnlib import _checks

Params = dict
Cache = dict


class Layer:
    """Base class: hyperparameters only, pure ``init/forward/backward`` methods.

    Subclasses implement :meth:`init`, :meth:`forward` and :meth:`backward`; the defaults
    here give :meth:`apply`, :meth:`init_state`, :attr:`needs_key` and a ``repr`` that shows
    the hyperparameters (those given to ``__init__`` that differ from their defaults).
    """

    def init(self, key: Any, in_shape: tuple[int, ...], *, dtype: Any = jnp.float32):
        """Creates the parameters.

        Args:
          key: a PRNG key (``jax.random.key(seed)``); parameter-free layers ignore it.
          in_shape: the shape of one example, without the batch axis.
          dtype: floating-point dtype of the parameters (default float32).

        Returns:
          ``(params, out_shape)``: a dict of arrays and the shape of one output example.
        """
        raise NotImplementedError

    def init_state(self, in_shape: tuple[int, ...], *, dtype: Any = jnp.float32) -> dict:
        """Returns the layer's initial (non-trainable) state: ``{}`` for stateless layers."""
        return {}

    def forward(self, params: Params, x: jax.Array, *, train: bool = False,
                key: Any = None, state: Any = None) -> tuple[jax.Array, Cache]:
        """Computes ``(y, cache)``; see the module docstring."""
        raise NotImplementedError

    def backward(self, params: Params, cache: Cache, dy: jax.Array) -> tuple[Params, jax.Array]:
        """Returns ``(dparams, dx)`` from the cache of :meth:`forward` and ``dy = dL/dy``."""
        raise NotImplementedError

    def apply(self, params: Params, x: jax.Array, *, train: bool = False,
              key: Any = None, state: Any = None) -> jax.Array:
        """Returns only the output ``y`` of :meth:`forward`."""
        return self.forward(params, x, train=train, key=key, state=state)[0]

    @property
    def needs_key(self) -> bool:
        """True when ``forward(..., train=True)`` needs a PRNG ``key`` (Dropout with rate > 0)."""
        return False

    def __repr__(self) -> str:
        parts = []
        for name, p in inspect.signature(type(self).__init__).parameters.items():
            if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            value = getattr(self, name, p.default)
            if p.default is p.empty or not _same(value, p.default):
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


def _same(a: Any, b: Any) -> bool:
    """``a == b`` for plain hyperparameter values (numbers, strings, tuples); else identity."""
    plain = (bool, int, float, str, tuple)
    return a is b or (isinstance(a, plain) and isinstance(b, plain) and a == b)


def updated_state(cache: dict) -> Any:
    """Returns the state a layer's ``forward`` produced (``cache["state"]``), or ``{}``.

    BatchNorm (and a Sequential holding one) puts its updated running statistics there when
    ``train=True``; stateless layers have no ``"state"`` entry, which gives ``{}``.
    """
    return cache.get("state", {})


def check_input(x: Any, who: str, ndim: int, hint: str = "") -> jax.Array:
    """Validates a layer input: floating dtype and ``ndim`` dimensions, else a clear error.

    Raises:
      TypeError: for an integer or boolean array.
      ValueError: for the wrong number of dimensions (with ``hint`` appended).
    """
    dtype = getattr(x, "dtype", None)
    if dtype is not None and not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"{who}: x must have a floating-point dtype, got {dtype}; "
            "convert it first, e.g. x.astype('float32')"
        )
    x = _checks.float_array(x, "x")
    if x.ndim != ndim:
        raise ValueError(
            f"{who}: x must have {ndim} dimensions, got shape {tuple(x.shape)}" + hint
        )
    return x


def int_pair(value: Any, name: str) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(2, 3) -> (2, 3)``; validates positive ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    try:
        pair = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < 1:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return pair


def shape_tuple(in_shape: Any, who: str, ndim: int, hint: str = "") -> tuple[int, ...]:
    """Validates ``in_shape`` (the shape of one example, no batch axis) as ``ndim`` ints."""
    try:
        shape = tuple(int(d) for d in in_shape)
    except TypeError:
        raise TypeError(f"{who}: in_shape must be a tuple of ints, got {in_shape!r}") from None
    if len(shape) != ndim:
        raise ValueError(
            f"{who}: in_shape must have {ndim} entries (no batch axis), got {shape}" + hint
        )
    return shape
