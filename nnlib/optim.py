"""Optimizers as pure ``(init, update)`` pairs over pytrees, in the style of optax.

An optimizer is a :class:`GradientTransformation`: ``init(params) -> state`` builds its state
(a pytree of NamedTuples), and ``update(grads, state, params=None) -> (updates, state)``
turns gradients into *updates* that :func:`apply_updates` adds to the parameters. Nothing is
hidden in an object, so a whole training step can go through ``jax.jit``. Big optimizers are
built by :func:`chain`-ing small transformations, e.g. Adam is "scale by Adam's moments, then
by ``-learning_rate``" and AdamW inserts "add ``weight_decay * params``" between the two.

Every rule, default and order of operations matches optax 0.2.8 (the tests compare the two
for 20 steps), but the code is our own and kept short enough to read in one sitting.

Example:
  >>> import jax, jax.numpy as jnp
  >>> from nnlib import optim
  >>> loss = lambda w: jnp.sum((w - 3.0) ** 2)
  >>> opt = optim.adam(0.1)
  >>> w = jnp.zeros(2); state = opt.init(w)
  >>> for _ in range(200):
  ...     updates, state = opt.update(jax.grad(loss)(w), state, w)
  ...     w = optim.apply_updates(w, updates)
  >>> bool(jnp.allclose(w, 3.0, atol=1e-2))
  True

Shapes: ``params``, ``grads`` and ``updates`` are pytrees with the same structure, each leaf
an array of any shape; every rule below acts element-wise on the leaves.

References:
  Robbins & Monro, "A stochastic approximation method", 1951 (SGD).
  Polyak, "Some methods of speeding up the convergence of iteration methods", 1964 (momentum).
  Nesterov, "A method for solving ... with convergence rate O(1/k^2)", 1983.
  Duchi, Hazan & Singer, "Adaptive subgradient methods", JMLR 2011 (AdaGrad).
  Hinton, Srivastava & Swersky, "Neural networks for machine learning", lecture 6e, 2012
  (RMSprop).
  Kingma & Ba, "Adam: a method for stochastic optimization", ICLR 2015.
  Loshchilov & Hutter, "Decoupled weight decay regularization", ICLR 2019 (AdamW).
  Pascanu, Mikolov & Bengio, "On the difficulty of training RNNs", ICML 2013 (clipping).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from nnlib import _checks

# The schedules are re-exported (``optim.cosine_decay``): a learning rate may be a schedule.
from nnlib.schedules import (  # noqa: F401
    Schedule,
    constant,
    cosine_decay,
    exponential_decay,
    piecewise_constant,
    step_decay,
    warmup_cosine_decay,
)

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
    v = _checks.scalar(value, name)
    if v is None:
        return
    if high is not None:
        _checks.in_range(v, name, 0.0, high)
    else:
        _checks.positive(v, name, allow_zero=not strict)


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
    _checks.scalar(step_size, "step_size")
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


def trace(decay: float, nesterov: bool = False) -> GradientTransformation:
    r"""Momentum (Polyak 1964) or Nesterov momentum (Nesterov 1983) as a trace of past updates.

    .. math::
        m_t = g_t + \mu\, m_{t-1}, \qquad
        u_t = m_t \ \text{(heavy ball)} \quad\text{or}\quad
        u_t = g_t + \mu\, m_t \ \text{(Nesterov)}

    with :math:`m_0 = 0` and :math:`\mu` = ``decay`` in ``[0, 1)`` (the Nesterov form of
    Sutskever et al. 2013, written for the gradient at the current point).
    """
    _check(decay, "momentum", high=1.0)

    def update(grads, state, params=None):
        new = jax.tree.map(lambda g, m: g + decay * m, grads, state.trace)
        out = jax.tree.map(lambda g, m: g + decay * m, grads, new) if nesterov else new
        return out, TraceState(new)

    return GradientTransformation(lambda params: TraceState(_full_like(params, 0.0)), update)


def scale_by_rms(decay: float = 0.9, eps: float = 1e-8) -> GradientTransformation:
    r"""RMSprop's scaling (Hinton, Srivastava & Swersky 2012, lecture 6e).

    .. math::
        \nu_t = \rho\, \nu_{t-1} + (1 - \rho)\, g_t^2, \qquad u_t = g_t / \sqrt{\nu_t + \epsilon}

    with :math:`\nu_0 = 0`, :math:`\rho` = ``decay``; ``eps`` is *inside* the square root (optax;
    PyTorch puts it outside).
    """
    _check(decay, "decay", high=1.0)
    _check(eps, "eps")

    def update(grads, state, params=None):
        nu = jax.tree.map(lambda g, n: (1 - decay) * g**2 + decay * n, grads, state.nu)
        return jax.tree.map(lambda g, n: g * jax.lax.rsqrt(n + eps), grads, nu), RmsState(nu)

    return GradientTransformation(lambda params: RmsState(_full_like(params, 0.0)), update)


def scale_by_adagrad(
    initial_accumulator_value: float = 0.1, eps: float = 1e-7
) -> GradientTransformation:
    r"""AdaGrad's scaling (Duchi, Hazan & Singer 2011).

    .. math::
        G_t = G_{t-1} + g_t^2, \qquad u_t = g_t / \sqrt{G_t + \epsilon}

    with :math:`G_0` = ``initial_accumulator_value`` (and ``u = 0`` where ``G_t = 0``).
    """
    _check(initial_accumulator_value, "initial_accumulator_value")
    _check(eps, "eps")

    def update(grads, state, params=None):
        acc = jax.tree.map(lambda g, s: g**2 + s, grads, state.sum_of_squares)
        out = jax.tree.map(
            lambda g, s: g * jnp.where(s > 0, jax.lax.rsqrt(s + eps), 0.0), grads, acc
        )
        return out, AdagradState(acc)

    return GradientTransformation(
        lambda params: AdagradState(_full_like(params, initial_accumulator_value)), update
    )


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> GradientTransformation:
    r"""Adam's scaling (Kingma & Ba 2015, Algorithm 1), with bias correction.

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \quad
        u_t = \frac{m_t / (1 - \beta_1^t)}{\sqrt{v_t / (1 - \beta_2^t)} + \epsilon}

    with :math:`m_0 = v_0 = 0`, ``t`` counted from 1, and ``eps`` *outside* the square root.
    """
    _check(b1, "b1", high=1.0)
    _check(b2, "b2", high=1.0)
    _check(eps, "eps")

    def init(params):
        return AdamState(_zero_count(), _full_like(params, 0.0), _full_like(params, 0.0))

    def update(grads, state, params=None):
        mu = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.mu)
        nu = jax.tree.map(lambda g, v: (1 - b2) * g**2 + b2 * v, grads, state.nu)
        t = _increment(state.count)
        c1, c2 = 1 - b1**t, 1 - b2**t  # bias corrections

        def step(m, v):
            return (m / c1.astype(m.dtype)) / (jnp.sqrt(v / c2.astype(v.dtype)) + eps)

        return jax.tree.map(step, mu, nu), AdamState(t, mu, nu)

    return GradientTransformation(init, update)


def add_decayed_weights(weight_decay: float) -> GradientTransformation:
    r"""Adds ``weight_decay * params`` to the updates: ``u = g + lambda * w`` (needs ``params``).

    Placed before :func:`scale_by_learning_rate` this is decoupled weight decay
    (Loshchilov & Hutter 2019): the parameter shrinks by ``lr * lambda * w`` each step.
    """
    _check(weight_decay, "weight_decay")

    def fn(grads, params):
        if params is None:
            raise ValueError(
                "add_decayed_weights needs the parameters: call update(grads, state, params)"
            )
        return jax.tree.map(lambda g, p: g + weight_decay * p, grads, params)

    return _stateless(fn)


def clip(max_delta: float) -> GradientTransformation:
    """Clips every element of the updates to ``[-max_delta, max_delta]``.

    Args:
      max_delta: the largest absolute value of an update element (``>= 0``).

    Returns:
      A stateless :class:`GradientTransformation`; its ``update`` maps ``grads`` (a pytree of
      arrays of any shapes, matching ``params``) to clipped updates of the same shapes.
    """
    _check(max_delta, "max_delta")
    return _stateless(
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
    _check(max_norm, "max_norm", strict=True)

    def fn(grads, params):
        norm = global_norm(grads)
        return jax.tree.map(
            lambda g: jnp.where(norm < max_norm, g, g / norm.astype(g.dtype) * max_norm), grads
        )

    return _stateless(fn)


# ----------------------------------------------------------------- optimizers
def sgd(
    learning_rate: ScalarOrSchedule, momentum: float | None = None, nesterov: bool = False
) -> GradientTransformation:
    r"""Stochastic gradient descent (Robbins & Monro 1951), optionally with momentum.

    ``w <- w - eta_t g_t``; with ``momentum`` :math:`\mu`, :func:`trace` first
    (Polyak 1964; Nesterov 1983 if ``nesterov``), then ``-eta_t``.

    Args:
      learning_rate: a non-negative float or a schedule ``step -> eta``.
      momentum: ``mu`` in ``[0, 1)``, or None for plain SGD.
      nesterov: use Nesterov momentum (needs ``momentum``).
    """
    _check_learning_rate(learning_rate)
    if momentum is None:
        if nesterov:
            raise ValueError("nesterov=True needs a momentum value, e.g. momentum=0.9")
        return chain(scale_by_learning_rate(learning_rate))
    return chain(trace(momentum, nesterov), scale_by_learning_rate(learning_rate))


def momentum(
    learning_rate: ScalarOrSchedule, momentum: float = 0.9, nesterov: bool = False
) -> GradientTransformation:
    """SGD with (heavy-ball or Nesterov) momentum: ``sgd(learning_rate, momentum, nesterov)``."""
    return sgd(learning_rate, momentum, nesterov)


def adagrad(
    learning_rate: ScalarOrSchedule, initial_accumulator_value: float = 0.1, eps: float = 1e-7
) -> GradientTransformation:
    """AdaGrad (Duchi et al. 2011): :func:`scale_by_adagrad`, then ``-learning_rate``."""
    _check_learning_rate(learning_rate)
    return chain(
        scale_by_adagrad(initial_accumulator_value, eps), scale_by_learning_rate(learning_rate)
    )


def rmsprop(
    learning_rate: ScalarOrSchedule,
    decay: float = 0.9,
    eps: float = 1e-8,
    momentum: float | None = None,
    nesterov: bool = False,
) -> GradientTransformation:
    """RMSprop (Hinton et al. 2012, lecture 6e): :func:`scale_by_rms`, ``-learning_rate``, then
    an optional :func:`trace` (momentum is applied *after* the learning rate, as in optax)."""
    _check_learning_rate(learning_rate)
    parts = [scale_by_rms(decay, eps), scale_by_learning_rate(learning_rate)]
    if momentum is not None:
        parts.append(trace(momentum, nesterov))
    elif nesterov:
        raise ValueError("nesterov=True needs a momentum value, e.g. momentum=0.9")
    return chain(*parts)


def adam(
    learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> GradientTransformation:
    """Adam (Kingma & Ba 2015): :func:`scale_by_adam`, then ``-learning_rate``."""
    _check_learning_rate(learning_rate)
    return chain(scale_by_adam(b1, b2, eps), scale_by_learning_rate(learning_rate))


def adamw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-4,
) -> GradientTransformation:
    r"""AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay.

    ``w <- w - eta_t (adam_t + lambda w)``: the decay is added after Adam's scaling, so it is
    not divided by :math:`\sqrt{v}` as an L2 penalty in the loss would be. ``update`` needs
    ``params``.
    """
    _check_learning_rate(learning_rate)
    return chain(
        scale_by_adam(b1, b2, eps),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(learning_rate),
    )


# ----------------------------------------------------------------- penalties
def l2_penalty(params: Any, scale: float = 1.0) -> jax.Array:
    r"""L2 penalty (weight decay as a loss term): :math:`\frac{\lambda}{2}\sum_i w_i^2`.

    Its gradient is ``scale * w``. Add it to the loss; with plain SGD this equals
    ``add_decayed_weights(scale)``, with Adam it does not (see :func:`adamw`).
    """
    _check(scale, "scale")
    return 0.5 * scale * sum(jnp.sum(jnp.square(w)) for w in jax.tree.leaves(params))


def l1_penalty(params: Any, scale: float = 1.0) -> jax.Array:
    r"""L1 penalty (drives weights to exactly zero): :math:`\lambda \sum_i |w_i|`."""
    _check(scale, "scale")
    return scale * sum(jnp.sum(jnp.abs(w)) for w in jax.tree.leaves(params))


# ----------------------------------------------------------------- lookup by name
_DEFAULTS = {  # name -> (factory, Keras's default learning rate)
    "sgd": (sgd, 0.01),
    "momentum": (momentum, 0.01),
    "nesterov": (lambda lr: momentum(lr, 0.9, nesterov=True), 0.01),
    "adagrad": (adagrad, 0.001),
    "rmsprop": (rmsprop, 0.001),
    "adam": (adam, 0.001),
    "adamw": (adamw, 0.001),
}


def get(
    name: str | GradientTransformation, learning_rate: ScalarOrSchedule | None = None
) -> GradientTransformation:
    """Returns the optimizer called ``name`` (Keras names, case-insensitive) with its defaults.

    Without ``learning_rate`` Keras's default is used (sgd/momentum/nesterov 0.01, the others
    0.001). A :class:`GradientTransformation` is returned unchanged.

    Raises:
      ValueError: for an unknown name, listing the valid ones.
    """
    if isinstance(name, GradientTransformation):
        if learning_rate is not None:
            raise ValueError(
                "learning_rate cannot be given with an optimizer object; build it with the rate"
            )
        return name
    factory, default_lr = _checks.lookup("optimizer", name, _DEFAULTS)
    return factory(default_lr if learning_rate is None else learning_rate)
