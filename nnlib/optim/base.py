"""The optimizer interface: GradientTransformation, EmptyState, stateless, chain, apply_updates.

Also the type of a learning rate, :data:`ScalarOrSchedule`, and its check.
"""

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


def check_learning_rate(learning_rate: Any) -> None:
    """Raises a clear error unless ``learning_rate`` is a non-negative float or a schedule.

    A schedule (any callable ``step -> value``) is not called here; a traced float is let
    through (see :func:`nnlib.validation.non_negative`).

    Raises:
      TypeError: if ``learning_rate`` is neither a real number nor callable.
      ValueError: if it is negative, NaN or infinite.
    """
    if callable(learning_rate):
        return
    try:
        validation.non_negative(learning_rate, "learning_rate")
    except TypeError:
        raise TypeError(
            "learning_rate must be a float or a schedule (a function step -> value), got "
            f"{type(learning_rate).__name__}"
        ) from None


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


def stateless(fn: Callable[[Any, Any], Any]) -> GradientTransformation:
    """A transformation without state from ``fn(grads, params) -> updates`` (optax's
    ``stateless``); its state is :class:`EmptyState` and ``params`` may be None."""
    return GradientTransformation(
        lambda params: EmptyState(), lambda grads, state, params=None: (fn(grads, params), state)
    )
