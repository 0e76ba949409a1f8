"""The optimizers by name: sgd, momentum, adagrad, rmsprop, adam, adamw, and get(name)."""

from __future__ import annotations

from nnlib import validation
from nnlib.optim.base import GradientTransformation, ScalarOrSchedule, chain, check_learning_rate
from nnlib.optim.regularize import add_decayed_weights
from nnlib.optim.transforms import (
    scale_by_adagrad,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    trace,
)


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
    check_learning_rate(learning_rate)
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
    check_learning_rate(learning_rate)
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
    check_learning_rate(learning_rate)
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
    check_learning_rate(learning_rate)
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
    check_learning_rate(learning_rate)
    return chain(
        scale_by_adam(b1, b2, eps),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(learning_rate),
    )


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
    factory, default_lr = validation.lookup("optimizer", name, _DEFAULTS)
    return factory(default_lr if learning_rate is None else learning_rate)
