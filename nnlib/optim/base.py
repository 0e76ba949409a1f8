"""The optimizer interface: GradientTransformation, its states, chain and apply_updates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from nnlib import validation
from nnlib.schedules import Schedule

ScalarOrSchedule = float | Schedule


class GradientTransformation(NamedTuple):
    """A pair of pure functions ``init(params) -> state`` and
    ``update(grads, state, params=None) -> (updates, new_state)``."""

    init: Callable[[Any], Any]
    update: Callable[..., tuple[Any, Any]]


class EmptyState(NamedTuple):
    """The state of a stateless transformation."""


class ScheduleState(NamedTuple):
    count: jax.Array  # int32 scalar: number of updates so far


class TraceState(NamedTuple):
    trace: Any  # pytree like params


class RmsState(NamedTuple):
    nu: Any  # pytree like params: running mean of g^2


class AdagradState(NamedTuple):
    sum_of_squares: Any  # pytree like params: running sum of g^2


class AdamState(NamedTuple):
    count: jax.Array  # int32 scalar
    mu: Any  # first moment, pytree like params
    nu: Any  # second moment, pytree like params


# ----------------------------------------------------------------- checks and helpers
def _check(value: Any, name: str, *, high: float | None = None, strict: bool = False) -> None:
    """Raises a clear error unless ``0 <= value`` (``0 < value`` if ``strict``, ``< high`` if set).

    Traced values (inside ``jit``/``vmap``) cannot be checked and are let through.
    """
    v = validation.scalar(value, name)
    if v is None:
        return
    if high is not None:
        validation.in_range(v, name, 0.0, high)
    else:
        validation.positive(v, name, allow_zero=not strict)


def _check_learning_rate(learning_rate: Any) -> None:
    if callable(learning_rate):
        return
    try:
        _check(learning_rate, "learning_rate")
    except TypeError:
        raise TypeError(
            "learning_rate must be a float or a schedule (a function step -> value), got "
            f"{type(learning_rate).__name__}"
        ) from None


def _increment(count: jax.Array) -> jax.Array:
    """``count + 1`` for an int32 counter, saturating instead of overflowing."""
    return jnp.where(count < jnp.iinfo(jnp.int32).max, count + 1, count)


def _zero_count() -> jax.Array:
    return jnp.zeros([], jnp.int32)


def _full_like(tree: Any, value: float) -> Any:
    return jax.tree.map(lambda p: jnp.full_like(p, value), tree)


# ----------------------------------------------------------------- composition
def apply_updates(params: Any, updates: Any) -> Any:
    """Returns ``params + updates`` leaf by leaf, keeping each parameter's dtype.

    Args:
      params: a pytree of arrays of any shapes (e.g. a list of ``{"W": (in, out), "b": (out,)}``).
      updates: a pytree of arrays matching ``params`` (same structure, same leaf shapes), as
        returned by a :class:`GradientTransformation`'s ``update``.

    Returns:
      A pytree like ``params`` (structure, shapes and dtypes): ``params + updates``.

    Raises:
      ValueError: if ``updates`` does not have the pytree structure of ``params``.
    """
    if jax.tree.structure(params) != jax.tree.structure(updates):
        raise ValueError(
            "updates must have the same pytree structure as params, got "
            f"{jax.tree.structure(updates)} and {jax.tree.structure(params)}"
        )
    return jax.tree.map(
        lambda p, u: jnp.asarray(p + u).astype(jnp.asarray(p).dtype), params, updates
    )


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Applies ``transforms`` one after the other; the state is the tuple of their states.

    ``chain(a, b).update(g, s, p)`` computes ``b.update(a.update(g, s[0], p)[0], s[1], p)``.
    """
    for i, t in enumerate(transforms):
        if not isinstance(t, GradientTransformation):
            raise TypeError(
                f"chain argument {i} must be a GradientTransformation, got {type(t).__name__}"
            )

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(grads, state, params=None):
        new_state = []
        for t, s in zip(transforms, state, strict=True):
            grads, s = t.update(grads, s, params)
            new_state.append(s)
        return grads, tuple(new_state)

    return GradientTransformation(init, update)


def _stateless(fn: Callable[[Any, Any], Any]) -> GradientTransformation:
    """A transformation without state from ``fn(grads, params) -> updates``."""
    return GradientTransformation(
        lambda params: EmptyState(), lambda grads, state, params=None: (fn(grads, params), state)
    )


# ----------------------------------------------------------------- building blocks
def scale(step_size: float) -> GradientTransformation:
    """Multiplies every update by the constant ``step_size``: ``u = step_size * g``.

    Args:
      step_size: a real number (negative for descent, e.g. ``scale(-0.1)``).

    Returns:
      A stateless :class:`GradientTransformation`; its ``update`` maps ``grads`` (a pytree of
      arrays of any shapes, matching ``params``) to updates of the same structure and shapes.
    """
    validation.scalar(step_size, "step_size")
    return _stateless(lambda grads, params: jax.tree.map(lambda g: step_size * g, grads))


def scale_by_learning_rate(learning_rate: ScalarOrSchedule) -> GradientTransformation:
    r"""Gradient descent's step: ``u = -eta_t * g`` (the minus sign lives here).

    Args:
      learning_rate: a non-negative float, or a schedule ``step -> eta_t``; the schedule is
        called with an int32 counter that starts at 0 and is kept in the state.
    """
    _check_learning_rate(learning_rate)
    if not callable(learning_rate):
        return scale(-learning_rate)

    def update(grads, state, params=None):
        eta = learning_rate(state.count)
        grads = jax.tree.map(lambda g: -jnp.asarray(eta, dtype=g.dtype) * g, grads)
        return grads, ScheduleState(_increment(state.count))

    return GradientTransformation(lambda params: ScheduleState(_zero_count()), update)
