"""Numeric helpers shared by the optimizers: int32 step counters and constant-filled pytrees.

As in optax's ``numerics`` module, the counter saturates instead of wrapping around, so a
schedule or Adam's bias correction never sees a negative step.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def zero_count() -> jax.Array:
    """A new step counter: the int32 scalar ``0``, shape ``()``."""
    return jnp.zeros([], jnp.int32)


def safe_int32_increment(count: jax.Array) -> jax.Array:
    """``count + 1`` for an int32 scalar counter, saturating at the int32 maximum instead of
    overflowing (optax's ``safe_int32_increment``)."""
    return jnp.where(count < jnp.iinfo(jnp.int32).max, count + 1, count)


def tree_full_like(tree: Any, value: float) -> Any:
    """A pytree like ``tree`` (structure, leaf shapes and dtypes) with every entry ``value``."""
    return jax.tree.map(lambda p: jnp.full_like(p, value), tree)
