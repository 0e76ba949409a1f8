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

from nnlib import validation

Params = dict
Cache = dict


class Layer:
    """Base class: hyperparameters only, pure ``init/forward/backward`` methods.

    Subclasses implement :meth:`init`, :meth:`forward` and :meth:`backward`; the defaults
    here give :meth:`apply`, :meth:`init_state`, :attr:`needs_key`, :meth:`hyperparameters`
    and a ``repr`` that shows the hyperparameters (those given to ``__init__`` that differ
    from their defaults). A subclass method without a docstring inherits the contract's
    docstring below, so ``help(Dense.forward)`` always says what goes in and comes out.

    Shapes, with ``B`` the batch size: ``x (B, *in_shape)``, ``y (B, *out_shape)``,
    ``dy`` like ``y``, ``dx`` like ``x``; ``in_shape``/``out_shape`` exclude the batch axis.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("init", "forward", "backward"):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "__doc__", None):
                method.__doc__ = getattr(super(cls, cls), name).__doc__

    def init(self, key: Any, in_shape: tuple[int, ...], *, dtype: Any = jnp.float32):
        """Creates the parameters for inputs whose examples have shape ``in_shape``.

        Args:
          key: a PRNG key (``jax.random.key(seed)``); parameter-free layers ignore it.
          in_shape: the shape of one example, without the batch axis, e.g. ``(784,)`` or
            ``(28, 28, 1)`` (NHWC images without N).
          dtype: floating-point dtype of the parameters (default float32).

        Returns:
          ``(params, out_shape)``: a dict of arrays (``{}`` for a parameter-free layer; see
          the class docstring for each array's shape) and the shape of one output example.
        """
        raise NotImplementedError

    def init_state(self, in_shape: tuple[int, ...], *, dtype: Any = jnp.float32) -> dict:
        """Returns the layer's initial (non-trainable) state: ``{}`` for stateless layers."""
        return {}

    def forward(self, params: Params, x: jax.Array, *, train: bool = False,
                key: Any = None, state: Any = None) -> tuple[jax.Array, Cache]:
        """Computes the output ``y`` and the ``cache`` that :meth:`backward` needs.

        Args:
          params: the dict from :meth:`init`.
          x: a batch of inputs ``(B, *in_shape)``, floating point.
          train: training mode (Dropout drops, BatchNorm uses batch statistics).
          key: a PRNG key, needed only when ``train=True`` and :attr:`needs_key`.
          state: the layer's state from :meth:`init_state` (BatchNorm), else ignored.

        Returns:
          ``(y, cache)``: the outputs ``(B, *out_shape)`` and a dict of what the backward
          pass needs (an updated state, if any, in ``cache["state"]``).

        Raises:
          TypeError: for an integer or boolean ``x``.
          ValueError: for an ``x`` of the wrong rank or size (the message names both).
        """
        raise NotImplementedError

    def backward(self, params: Params, cache: Cache, dy: jax.Array) -> tuple[Params, jax.Array]:
        """Backpropagates ``dy = dL/dy`` through the layer (the chain rule).

        Args:
          params: the dict given to :meth:`forward`.
          cache: the cache :meth:`forward` returned.
          dy: ``dL/dy``, the shape of ``y``: ``(B, *out_shape)``.

        Returns:
          ``(dparams, dx)``: ``dL/dparams`` with ``params``' structure and shapes, and
          ``dx = dL/dx`` of ``x``'s shape ``(B, *in_shape)``.
        """
        raise NotImplementedError

    def apply(self, params: Params, x: jax.Array, *, train: bool = False,
              key: Any = None, state: Any = None) -> jax.Array:
        """Returns only the output ``y (B, *out_shape)`` of :meth:`forward`."""
        return self.forward(params, x, train=train, key=key, state=state)[0]

    def hyperparameters(self) -> dict[str, Any]:
        """The hyperparameters: each ``__init__`` argument name mapped to its current value.

        Read from the attribute of the same name (the default where there is none), so a
        hyperparameter changed after construction (``drop.rate = 0.5``) shows here, in the
        ``repr`` and in the key under which ``nnlib.train`` caches compiled functions.
        """
        out = {}
        for name, p in inspect.signature(type(self).__init__).parameters.items():
            if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            out[name] = getattr(self, name, p.default)
        return out

    @property
    def needs_key(self) -> bool:
        """True when ``forward(..., train=True)`` needs a PRNG ``key`` (Dropout with rate > 0)."""
        return False

    def __repr__(self) -> str:
        params = inspect.signature(type(self).__init__).parameters
        parts = [f"{name}={value!r}" for name, value in self.hyperparameters().items()
                 if params[name].default is params[name].empty
                 or not _same(value, params[name].default)]
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


def check_input(x: Any, who: str, ndim: int | None = None, hint: str = "") -> jax.Array:
    """Validates a layer input: a floating dtype and ``ndim`` dimensions (any if None).

    The dtype check is :func:`nnlib.validation.float_array`'s, with the layer's name ``who``
    in front of its message.

    Raises:
      TypeError: for an integer or boolean array.
      ValueError: for the wrong number of dimensions (with ``hint`` appended).
    """
    try:
        x = validation.float_array(x, "x")
    except TypeError as e:
        raise TypeError(f"{who}: {e}") from None
    if ndim is not None and x.ndim != ndim:
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
    if len(pair) != 2:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return tuple(validation.positive_int(v, name) for v in pair)


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
