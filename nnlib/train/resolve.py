"""Turning the names a user gives ``fit`` into what training runs: loss, optimizer, metrics.

- :func:`resolve_loss` takes a Keras name (``"categorical_crossentropy"``), a
  ``nnlib.losses`` loss object or a plain ``fn(y_pred, y_true) -> scalar``;
- :func:`resolve_optimizer` takes an optimizer name or a ``GradientTransformation``;
- :func:`resolve_metrics` takes metric names (``"accuracy"``, ``"mae"``, ``"mse"``, see
  :mod:`nnlib.train.metrics`).

Each raises a ``ValueError`` that lists the valid names for a name it does not know.
"""

from __future__ import annotations

from typing import Any

from nnlib import validation
from nnlib.train.metrics import METRICS


def resolve_loss(loss: Any):
    """Returns the ``nnlib.losses.Loss`` ``(name, fn, grad, from_logits)`` for ``loss``.

    ``loss`` is a name (Keras or nnlib, e.g. ``"categorical_crossentropy"``), a ``Loss``, or a
    function ``fn(y_pred, y_true) -> scalar`` (then ``grad`` is None).

    Raises:
      ValueError: for an unknown name (the message lists the valid ones) or ``loss=None``.
    """
    from nnlib import losses  # another module; imported on first use

    if loss is None:
        raise ValueError("loss is required: pass a name such as 'categorical_crossentropy' "
                         "or a function fn(y_pred, y_true) -> scalar")
    if not (isinstance(loss, (str, losses.Loss)) or callable(loss)):
        raise TypeError(f"loss must be a name, a nnlib.losses.Loss or a function "
                        f"fn(y_pred, y_true) -> scalar, got {type(loss).__name__}")
    return losses.get(loss)


def resolve_optimizer(optimizer: Any):
    """Returns a ``GradientTransformation`` for a name (``nnlib.optim.get``) or one given."""
    from nnlib import optim  # another module; imported on first use

    if isinstance(optimizer, str):
        return optim.get(optimizer)  # raises ValueError listing the valid names
    if not (callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))):
        raise TypeError("optimizer must be a name such as 'adam' or a GradientTransformation "
                        f"(init, update), got {type(optimizer).__name__}")
    return optimizer


def resolve_metrics(metrics: Any) -> tuple[str, ...]:
    """Validates metric names; a single string is accepted as a one-element list.

    Raises:
      ValueError: for an unknown name, listing the valid ones.
      TypeError: for something that is not a name.
    """
    if metrics is None:
        return ()
    if isinstance(metrics, str):
        metrics = (metrics,)
    out = []
    for m in metrics:
        validation.lookup("metric", m, METRICS)
        out.append(m)
    if len(set(out)) != len(out):
        raise ValueError(f"metrics must not repeat a name, got {list(out)}")
    return tuple(out)
