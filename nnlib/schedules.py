"""Learning-rate schedules: functions ``step -> value``.

A schedule maps the optimizer's step counter ``t`` (an ``int32`` scalar, ``t = 0`` on the
first update) to a scalar such as the learning rate. Every schedule here is built from
``jax.numpy`` operations only, so it can be called inside ``jax.jit`` with a traced step and
is never recompiled when the step changes. Anywhere nnlib takes a ``learning_rate`` it accepts
either a float or one of these functions.

The rules and argument names follow optax's schedules, so a run can be compared with optax
step for step.

Example:
  >>> from nnlib import schedules
  >>> lr = schedules.cosine_decay(0.1, decay_steps=100)
  >>> [round(float(lr(t)), 6) for t in (0, 50, 100)]
  [0.1, 0.05, 0.0]

References:
  Robbins & Monro, "A stochastic approximation method", Ann. Math. Stat. 1951 (step sizes
  with sum a_t = inf and sum a_t^2 < inf make stochastic gradient descent converge).
  Loshchilov & Hutter, "SGDR: Stochastic gradient descent with warm restarts", ICLR 2017.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from nnlib import validation

Schedule = Callable[[Any], jax.Array]

__all__ = [
    "Schedule",
    "constant",
    "cosine_decay",
    "exponential_decay",
    "piecewise_constant",
    "step_decay",
    "warmup_cosine_decay",
]


def _float_step(step: Any) -> jax.Array:
    """The step as a float array (Python ints become float, avoiding int32 overflow)."""
    step = jnp.asarray(step)
    return step if jnp.issubdtype(step.dtype, jnp.floating) else step.astype(float)


def constant(value: float) -> Schedule:
    """The schedule ``eta_t = value`` for every step ``t``.

    Args:
      value: the constant value (a float).

    Returns:
      A function ``step -> value`` returning a scalar array.
    """
    validation.scalar(value, "value")
    return lambda step: jnp.asarray(value, dtype=float)


def exponential_decay(
    init_value: float,
    transition_steps: int,
    decay_rate: float,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: float | None = None,
) -> Schedule:
    r"""Exponential decay: the value is multiplied by ``decay_rate`` every ``transition_steps``.

    .. math::
        \eta_t = \eta_0 \, r^{p}, \qquad
        p = \frac{\max(t - t_0, 0)}{T}\ \ (\lfloor p \rfloor \text{ if staircase})

    with :math:`\eta_0` = ``init_value``, :math:`r` = ``decay_rate``, :math:`T` =
    ``transition_steps`` and :math:`t_0` = ``transition_begin``. When ``end_value`` is given the
    value never passes it (a lower bound when ``r < 1``, an upper bound when ``r > 1``).

    Args:
      init_value: the value for ``t <= transition_begin``.
      transition_steps: positive int, the number of steps over which the value is multiplied
        by ``decay_rate`` once.
      decay_rate: positive float (``< 1`` decays, ``> 1`` grows).
      transition_begin: non-negative int, the step at which the decay starts.
      staircase: if True, decay in discrete jumps (``p`` rounded down).
      end_value: optional bound on the value.

    Returns:
      A function ``step -> value``.

    Raises:
      ValueError: if ``transition_steps <= 0``, ``decay_rate <= 0`` or ``transition_begin < 0``.
    """
    validation.scalar(init_value, "init_value")
    validation.positive_int(transition_steps, "transition_steps")
    validation.positive_int(transition_begin, "transition_begin", allow_zero=True)
    validation.positive(validation.scalar(decay_rate, "decay_rate"), "decay_rate")
    if end_value is not None:
        validation.scalar(end_value, "end_value")
    clip = jnp.maximum if decay_rate < 1.0 else jnp.minimum

    def schedule(step):
        elapsed = _float_step(step) - transition_begin
        p = elapsed / transition_steps
        if staircase:
            p = jnp.floor(p)
        value = jnp.where(elapsed <= 0, init_value, init_value * jnp.power(decay_rate, p))
        return value if end_value is None else clip(value, end_value)

    return schedule


def piecewise_constant(init_value: float, boundaries_and_scales: Mapping[int, float]) -> Schedule:
    r"""Piecewise constant: at each boundary step the value is multiplied by its scale.

    .. math::
        \eta_t = \eta_0 \prod_{i:\ t \ge b_i} s_i

    Example: ``piecewise_constant(0.1, {100: 0.1, 200: 0.1})`` gives 0.1 for steps 0..99,
    0.01 for steps 100..199 and 0.001 from step 200 on.

    Args:
      init_value: the value before the first boundary.
      boundaries_and_scales: a dict ``{boundary_step: scale}`` with non-negative int steps
        and non-negative scales.

    Returns:
      A function ``step -> value``.

    Raises:
      TypeError: if ``boundaries_and_scales`` is not a dict.
      ValueError: on a negative boundary or scale.
    """
    validation.scalar(init_value, "init_value")
    if not isinstance(boundaries_and_scales, Mapping):
        raise TypeError(
            "boundaries_and_scales must be a dict {step: scale}, got "
            f"{type(boundaries_and_scales).__name__}"
        )
    pairs = []
    for boundary, factor in sorted(boundaries_and_scales.items()):
        name = f"boundary {boundary!r} in boundaries_and_scales"
        validation.positive_int(boundary, name, allow_zero=True)
        s = validation.scalar(factor, f"scale at step {boundary}")
        validation.positive(s, f"scale at step {boundary}", allow_zero=True)
        pairs.append((boundary, s))

    def schedule(step):
        step = jnp.asarray(step)
        value = jnp.asarray(init_value, dtype=float)
        for boundary, factor in pairs:
            value = value * jnp.where(step >= boundary, factor, 1.0)
        return value

    return schedule


def step_decay(init_value: float, step_size: int, factor: float) -> Schedule:
    r"""Step decay: multiply by ``factor`` every ``step_size`` steps.

    .. math::
        \eta_t = \eta_0 \, \gamma^{\lfloor t / k \rfloor}

    with :math:`\gamma` = ``factor`` and :math:`k` = ``step_size`` (PyTorch's ``StepLR``). The
    same as ``exponential_decay(init_value, step_size, factor, staircase=True)``.

    Args:
      init_value: the value for the first ``step_size`` steps.
      step_size: positive int, the number of steps between two drops.
      factor: positive float, the multiplier applied at each drop (e.g. 0.1).

    Returns:
      A function ``step -> value``.
    """
    return exponential_decay(init_value, step_size, factor, staircase=True)


def cosine_decay(init_value: float, decay_steps: int, alpha: float = 0.0) -> Schedule:
    r"""Cosine decay from ``init_value`` to ``alpha * init_value`` over ``decay_steps`` steps.

    .. math::
        \eta_t = \eta_0 \left[\alpha + (1 - \alpha)\,
                 \tfrac12\left(1 + \cos\left(\pi \tfrac{\min(t, T)}{T}\right)\right)\right]

    This is one cycle of SGDR (Loshchilov & Hutter 2017) without the restarts.

    Args:
      init_value: the value at step 0.
      decay_steps: positive int ``T``; after ``T`` steps the value stays at ``alpha * init_value``.
      alpha: the final value as a fraction of ``init_value``, in ``[0, 1]``.

    Returns:
      A function ``step -> value``.

    References:
      Loshchilov & Hutter, "SGDR: Stochastic gradient descent with warm restarts", ICLR 2017.
    """
    validation.scalar(init_value, "init_value")
    validation.positive_int(decay_steps, "decay_steps")
    validation.in_range(validation.scalar(alpha, "alpha"), "alpha", 0.0, 1.0, high_inclusive=True)

    def schedule(step):
        t = jnp.minimum(_float_step(step), decay_steps)
        cosine = 0.5 * (1.0 + jnp.cos(jnp.pi * t / decay_steps))
        return init_value * ((1.0 - alpha) * cosine + alpha)

    return schedule


def warmup_cosine_decay(
    init_value: float,
    peak_value: float,
    warmup_steps: int,
    decay_steps: int,
    end_value: float = 0.0,
) -> Schedule:
    r"""Linear warm-up from ``init_value`` to ``peak_value``, then cosine decay to ``end_value``.

    With :math:`W` = ``warmup_steps`` and :math:`T` = ``decay_steps`` (the *total* length,
    warm-up included, as in optax):

    .. math::
        \eta_t = \begin{cases}
          \eta_{init} + (\eta_{peak} - \eta_{init})\, t / W & t < W \\
          \eta_{end} + (\eta_{peak} - \eta_{end})\,
            \tfrac12\left(1 + \cos\left(\pi \tfrac{\min(t - W,\ T - W)}{T - W}\right)\right)
            & t \ge W
        \end{cases}

    Args:
      init_value: the value at step 0 (often 0).
      peak_value: the value reached at step ``warmup_steps``.
      warmup_steps: non-negative int ``W`` (0 means no warm-up).
      decay_steps: int ``T > W``, the step at which ``end_value`` is reached.
      end_value: the value from step ``decay_steps`` on.

    Returns:
      A function ``step -> value``.

    Raises:
      ValueError: if ``warmup_steps < 0`` or ``decay_steps <= warmup_steps``.

    References:
      Loshchilov & Hutter, "SGDR: Stochastic gradient descent with warm restarts", ICLR 2017.
      Goyal et al., "Accurate, large minibatch SGD: training ImageNet in 1 hour", 2017 (warm-up).
    """
    for value, name in (
        (init_value, "init_value"),
        (peak_value, "peak_value"),
        (end_value, "end_value"),
    ):
        validation.scalar(value, name)
    validation.positive_int(warmup_steps, "warmup_steps", allow_zero=True)
    validation.positive_int(decay_steps, "decay_steps")
    if decay_steps <= warmup_steps:
        raise ValueError(
            f"decay_steps is the total length including warm-up, so it must be greater than "
            f"warmup_steps; got decay_steps={decay_steps}, warmup_steps={warmup_steps}"
        )
    cosine_steps = decay_steps - warmup_steps

    def schedule(step):
        t = _float_step(step)
        warm = init_value + (peak_value - init_value) * t / max(warmup_steps, 1)
        s = jnp.clip(t - warmup_steps, 0.0, cosine_steps)
        cosine = 0.5 * (1.0 + jnp.cos(jnp.pi * s / cosine_steps))
        decayed = end_value + (peak_value - end_value) * cosine
        return jnp.where(t < warmup_steps, warm, decayed)

    return schedule
