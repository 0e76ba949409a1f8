"""Scaling rules, each a GradientTransformation with its state class beside it.

Constant and learning-rate scaling (``scale``, ``scale_by_learning_rate``), momentum
(``trace``), RMSprop, AdaGrad and Adam.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from nnlib import validation
from nnlib.optim.base import (
    GradientTransformation,
    ScalarOrSchedule,
    check_learning_rate,
    stateless,
)
from nnlib.optim.numerics import safe_int32_increment, tree_full_like, zero_count


def scale(step_size: float) -> GradientTransformation:
    """Multiplies every update by the constant ``step_size``: ``u = step_size * g``.

    Args:
      step_size: a real number (negative for descent, e.g. ``scale(-0.1)``).

    Returns:
      A stateless :class:`GradientTransformation`; its ``update`` maps ``grads`` (a pytree of
      arrays of any shapes, matching ``params``) to updates of the same structure and shapes.
    """
    validation.scalar(step_size, "step_size")
    return stateless(lambda grads, params: jax.tree.map(lambda g: step_size * g, grads))


class ScheduleState(NamedTuple):
    """The state of :func:`scale_by_learning_rate` with a schedule."""

    count: jax.Array  # int32 scalar: number of updates so far


def scale_by_learning_rate(learning_rate: ScalarOrSchedule) -> GradientTransformation:
    r"""Gradient descent's step: ``u = -eta_t * g`` (the minus sign lives here).

    Args:
      learning_rate: a non-negative float, or a schedule ``step -> eta_t``; the schedule is
        called with an int32 counter that starts at 0 and is kept in the state.
    """
    check_learning_rate(learning_rate)
    if not callable(learning_rate):
        return scale(-learning_rate)

    def update(grads, state, params=None):
        eta = learning_rate(state.count)
        grads = jax.tree.map(lambda g: -jnp.asarray(eta, dtype=g.dtype) * g, grads)
        return grads, ScheduleState(safe_int32_increment(state.count))

    return GradientTransformation(lambda params: ScheduleState(zero_count()), update)


class TraceState(NamedTuple):
    """The state of :func:`trace`."""

    trace: Any  # pytree like params


def trace(decay: float, nesterov: bool = False) -> GradientTransformation:
    r"""Momentum (Polyak 1964) or Nesterov momentum (Nesterov 1983) as a trace of past updates.

    .. math::
        m_t = g_t + \mu\, m_{t-1}, \qquad
        u_t = m_t \ \text{(heavy ball)} \quad\text{or}\quad
        u_t = g_t + \mu\, m_t \ \text{(Nesterov)}

    with :math:`m_0 = 0` and :math:`\mu` = ``decay`` in ``[0, 1)`` (the Nesterov form of
    Sutskever et al. 2013, written for the gradient at the current point).
    """
    validation.non_negative(decay, "momentum", high=1.0)

    def update(grads, state, params=None):
        new = jax.tree.map(lambda g, m: g + decay * m, grads, state.trace)
        out = jax.tree.map(lambda g, m: g + decay * m, grads, new) if nesterov else new
        return out, TraceState(new)

    return GradientTransformation(lambda params: TraceState(tree_full_like(params, 0.0)), update)


class RmsState(NamedTuple):
    """The state of :func:`scale_by_rms`."""

    nu: Any  # pytree like params: running mean of g^2


def scale_by_rms(decay: float = 0.9, eps: float = 1e-8) -> GradientTransformation:
    r"""RMSprop's scaling (Hinton, Srivastava & Swersky 2012, lecture 6e).

    .. math::
        \nu_t = \rho\, \nu_{t-1} + (1 - \rho)\, g_t^2, \qquad u_t = g_t / \sqrt{\nu_t + \epsilon}

    with :math:`\nu_0 = 0`, :math:`\rho` = ``decay``; ``eps`` is *inside* the square root (optax;
    PyTorch puts it outside).
    """
    validation.non_negative(decay, "decay", high=1.0)
    validation.non_negative(eps, "eps")

    def update(grads, state, params=None):
        nu = jax.tree.map(lambda g, n: (1 - decay) * g**2 + decay * n, grads, state.nu)
        return jax.tree.map(lambda g, n: g * jax.lax.rsqrt(n + eps), grads, nu), RmsState(nu)

    return GradientTransformation(lambda params: RmsState(tree_full_like(params, 0.0)), update)


class AdagradState(NamedTuple):
    """The state of :func:`scale_by_adagrad`."""

    sum_of_squares: Any  # pytree like params: running sum of g^2


def scale_by_adagrad(
    initial_accumulator_value: float = 0.1, eps: float = 1e-7
) -> GradientTransformation:
    r"""AdaGrad's scaling (Duchi, Hazan & Singer 2011).

    .. math::
        G_t = G_{t-1} + g_t^2, \qquad u_t = g_t / \sqrt{G_t + \epsilon}

    with :math:`G_0` = ``initial_accumulator_value`` (and ``u = 0`` where ``G_t = 0``).
    """
    validation.non_negative(initial_accumulator_value, "initial_accumulator_value")
    validation.non_negative(eps, "eps")

    def update(grads, state, params=None):
        acc = jax.tree.map(lambda g, s: g**2 + s, grads, state.sum_of_squares)
        out = jax.tree.map(
            lambda g, s: g * jnp.where(s > 0, jax.lax.rsqrt(s + eps), 0.0), grads, acc
        )
        return out, AdagradState(acc)

    return GradientTransformation(
        lambda params: AdagradState(tree_full_like(params, initial_accumulator_value)), update
    )


class AdamState(NamedTuple):
    """The state of :func:`scale_by_adam`."""

    count: jax.Array  # int32 scalar
    mu: Any  # first moment, pytree like params
    nu: Any  # second moment, pytree like params


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> GradientTransformation:
    r"""Adam's scaling (Kingma & Ba 2015, Algorithm 1), with bias correction.

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \quad
        u_t = \frac{m_t / (1 - \beta_1^t)}{\sqrt{v_t / (1 - \beta_2^t)} + \epsilon}

    with :math:`m_0 = v_0 = 0`, ``t`` counted from 1, and ``eps`` *outside* the square root.
    """
    validation.non_negative(b1, "b1", high=1.0)
    validation.non_negative(b2, "b2", high=1.0)
    validation.non_negative(eps, "eps")

    def init(params):
        return AdamState(zero_count(), tree_full_like(params, 0.0), tree_full_like(params, 0.0))

    def update(grads, state, params=None):
        mu = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.mu)
        nu = jax.tree.map(lambda g, v: (1 - b2) * g**2 + b2 * v, grads, state.nu)
        t = safe_int32_increment(state.count)
        c1, c2 = 1 - b1**t, 1 - b2**t  # bias corrections

        def step(m, v):
            return (m / c1.astype(m.dtype)) / (jnp.sqrt(v / c2.astype(v.dtype)) + eps)

        return jax.tree.map(step, mu, nu), AdamState(t, mu, nu)

    return GradientTransformation(init, update)
