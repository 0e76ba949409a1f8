"""Clipping, decoupled weight decay and L1/L2 penalties."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from nnlib import validation
from nnlib.optim.base import GradientTransformation, stateless


def add_decayed_weights(weight_decay: float) -> GradientTransformation:
    r"""Adds ``weight_decay * params`` to the updates: ``u = g + lambda * w`` (needs ``params``).

    Placed before :func:`scale_by_learning_rate` this is decoupled weight decay
    (Loshchilov & Hutter 2019): the parameter shrinks by ``lr * lambda * w`` each step.
    """
    validation.non_negative(weight_decay, "weight_decay")

    def fn(grads, params):
        if params is None:
            raise ValueError(
                "add_decayed_weights needs the parameters: call update(grads, state, params)"
            )
        return jax.tree.map(lambda g, p: g + weight_decay * p, grads, params)

    return stateless(fn)


def clip(max_delta: float) -> GradientTransformation:
    """Clips every element of the updates to ``[-max_delta, max_delta]``.

    Args:
      max_delta: the largest absolute value of an update element (``>= 0``).

    Returns:
      A stateless :class:`GradientTransformation`; its ``update`` maps ``grads`` (a pytree of
      arrays of any shapes, matching ``params``) to clipped updates of the same shapes.
    """
    validation.non_negative(max_delta, "max_delta")
    return stateless(
        lambda grads, params: jax.tree.map(lambda g: jnp.clip(g, -max_delta, max_delta), grads)
    )


def global_norm(tree: Any) -> jax.Array:
    r"""The L2 norm of all leaves taken together: :math:`\sqrt{\sum_\text{leaves} \sum_i x_i^2}`.

    Args:
      tree: a pytree of arrays of any shapes (e.g. gradients matching ``params``).

    Returns:
      A scalar array ``()``: the norm of the concatenation of all leaves, flattened.
    """
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(tree)))


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    r"""Rescales the updates when their global norm exceeds ``max_norm`` (Pascanu et al. 2013).

    .. math::
        u = g \ \text{if}\ \|g\| < c, \quad\text{else}\quad u = g \, c / \|g\|

    with :math:`\|g\|` = :func:`global_norm` of all leaves together and :math:`c` =
    ``max_norm > 0``. ``update`` maps ``grads`` (a pytree of arrays of any shapes, matching
    ``params``) to updates of the same structure and shapes.
    """
    validation.non_negative(max_norm, "max_norm", strict=True)

    def fn(grads, params):
        norm = global_norm(grads)
        return jax.tree.map(
            lambda g: jnp.where(norm < max_norm, g, g / norm.astype(g.dtype) * max_norm), grads
        )

    return stateless(fn)


# ----------------------------------------------------------------- penalties
def l2_penalty(params: Any, scale: float = 1.0) -> jax.Array:
    r"""L2 penalty (weight decay as a loss term): :math:`\frac{\lambda}{2}\sum_i w_i^2`.

    Its gradient is ``scale * w``. Add it to the loss; with plain SGD this equals
    ``add_decayed_weights(scale)``, with Adam it does not (see :func:`adamw`).
    """
    validation.non_negative(scale, "scale")
    return 0.5 * scale * sum(jnp.sum(jnp.square(w)) for w in jax.tree.leaves(params))


def l1_penalty(params: Any, scale: float = 1.0) -> jax.Array:
    r"""L1 penalty (drives weights to exactly zero): :math:`\lambda \sum_i |w_i|`."""
    validation.non_negative(scale, "scale")
    return scale * sum(jnp.sum(jnp.abs(w)) for w in jax.tree.leaves(params))
