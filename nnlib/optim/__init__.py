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

The package, one concept per module: :mod:`~nnlib.optim.base` (the interface, ``chain``,
``apply_updates``, ``stateless``), :mod:`~nnlib.optim.numerics` (step counters, filled
pytrees), :mod:`~nnlib.optim.transforms` (learning-rate, momentum, RMSprop, AdaGrad and Adam
scalings, each with its state), :mod:`~nnlib.optim.regularize` (clipping, weight decay,
penalties) and :mod:`~nnlib.optim.aliases` (the optimizers by name).
"""

from nnlib.optim.aliases import adagrad, adam, adamw, get, momentum, rmsprop, sgd
from nnlib.optim.base import (
    EmptyState,
    GradientTransformation,
    ScalarOrSchedule,
    apply_updates,
    chain,
)
from nnlib.optim.regularize import (
    add_decayed_weights,
    clip,
    clip_by_global_norm,
    global_norm,
    l1_penalty,
    l2_penalty,
)
from nnlib.optim.transforms import (
    AdagradState,
    AdamState,
    RmsState,
    ScheduleState,
    TraceState,
    scale,
    scale_by_adagrad,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    trace,
)
# The schedules are re-exported (``optim.cosine_decay``): a learning rate may be a schedule.
from nnlib.schedules import (
    Schedule,
    constant,
    cosine_decay,
    exponential_decay,
    piecewise_constant,
    step_decay,
    warmup_cosine_decay,
)

__all__ = [
    "AdagradState",
    "AdamState",
    "EmptyState",
    "GradientTransformation",
    "RmsState",
    "ScalarOrSchedule",
    "Schedule",
    "ScheduleState",
    "TraceState",
    "adagrad",
    "adam",
    "adamw",
    "add_decayed_weights",
    "apply_updates",
    "chain",
    "clip",
    "clip_by_global_norm",
    "constant",
    "cosine_decay",
    "exponential_decay",
    "get",
    "global_norm",
    "l1_penalty",
    "l2_penalty",
    "momentum",
    "piecewise_constant",
    "rmsprop",
    "scale",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_rms",
    "sgd",
    "step_decay",
    "trace",
    "warmup_cosine_decay",
]
