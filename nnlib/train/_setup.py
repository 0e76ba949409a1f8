"""Resolving what a training run needs: the loss, the optimizer, the metrics and the head.

Internal helpers for :mod:`nnlib.train`. Three lookups turn the user's names into functions:

- :func:`resolve_loss` takes a Keras name (``"categorical_crossentropy"``), a
  ``nnlib.losses`` loss object or a plain ``fn(y_pred, y_true) -> scalar``;
- :func:`resolve_optimizer` takes an optimizer name or a ``GradientTransformation``;
- :func:`resolve_metrics` takes metric names (``"accuracy"``, ``"mae"``, ``"mse"``).

:func:`find_head` implements the **fused softmax** rule. When the model ends in a softmax
(a ``Softmax`` layer or ``Dense(..., activation="softmax")``) and the loss is categorical
cross-entropy on probabilities, training computes the loss from the logits ``z`` instead::

    CE(softmax(z), y) = -sum_k y_k log softmax(z)_k = logsumexp(z) - sum_k y_k z_k

which never takes ``log(0)`` and whose gradient is simply ``softmax(z) - y`` (Bridle 1990).
Keras does the same internally for a softmax output. Sigmoid + binary cross-entropy is fused
the same way (``log sigmoid(z)`` computed stably). Predictions are unchanged: the model still
outputs probabilities; only the loss (and its gradient) is computed from the logits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from nnlib import validation

# Canonical nnlib.losses names of the probability losses that can be fused with the output.
_FUSABLE = {"categorical_cross_entropy": "softmax", "sparse_categorical_cross_entropy": "softmax",
            "binary_cross_entropy": "sigmoid"}


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


# ----------------------------------------------------------------------------- metrics


def _class_labels(y_true: jax.Array, n_classes: int) -> jax.Array:
    """Integer labels from one-hot ``(batch, K)``, ``(batch, 1)`` or ``(batch,)`` targets."""
    if y_true.ndim >= 2 and y_true.shape[-1] == n_classes:
        return jnp.argmax(y_true, axis=-1)
    if y_true.ndim >= 2 and y_true.shape[-1] == 1:
        return y_true[..., 0]
    return y_true


def accuracy(y_pred: jax.Array, y_true: jax.Array, *, threshold: float = 0.5) -> jax.Array:
    """Fraction of correct predictions.

    - ``y_pred (batch, K)`` with ``K > 1``: the predicted class is ``argmax`` over the last
      axis; ``y_true`` is one-hot ``(batch, K)`` (compared by ``argmax``) or integer labels
      ``(batch,)``.
    - a single output ``(batch,)`` or ``(batch, 1)`` (sigmoid): predicted class is
      ``y_pred > threshold`` (0.5 for probabilities, 0 for logits); ``y_true`` in {0, 1}.
    """
    if y_pred.ndim >= 2 and y_pred.shape[-1] > 1:
        pred = jnp.argmax(y_pred, axis=-1)
        true = _class_labels(y_true, y_pred.shape[-1])
        return jnp.mean((pred == true.astype(pred.dtype)).astype(jnp.float32))
    pred = (y_pred.reshape(y_pred.shape[0], -1) > threshold)
    true = (y_true.reshape(y_true.shape[0], -1) > 0.5)
    return jnp.mean((pred == true).astype(jnp.float32))


def _dense_target(y_pred: jax.Array, y_true: jax.Array) -> jax.Array:
    if jnp.issubdtype(y_true.dtype, jnp.integer) and y_true.ndim == y_pred.ndim - 1:
        return jax.nn.one_hot(y_true, y_pred.shape[-1], dtype=y_pred.dtype)
    return y_true.reshape(y_pred.shape).astype(y_pred.dtype)


def mae(y_pred: jax.Array, y_true: jax.Array) -> jax.Array:
    """Mean absolute error over every element: ``nnlib.losses.mae``, with integer labels
    ``(batch,)`` against ``y_pred (batch, K)`` one-hot encoded first."""
    from nnlib import losses

    return losses.mae(y_pred, _dense_target(y_pred, y_true))


def mse(y_pred: jax.Array, y_true: jax.Array) -> jax.Array:
    """Mean squared error over every element: ``nnlib.losses.mse``, with integer labels
    ``(batch,)`` against ``y_pred (batch, K)`` one-hot encoded first."""
    from nnlib import losses

    return losses.mse(y_pred, _dense_target(y_pred, y_true))


METRICS = {
    "accuracy": accuracy, "acc": accuracy,
    "mae": mae, "mean_absolute_error": mae,
    "mse": mse, "mean_squared_error": mse,
}


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


# ----------------------------------------------------------------------------- the head


class Head(NamedTuple):
    """How training computes the loss from the model.

    ``net`` is the layer (the model, or the model without its final softmax/sigmoid) whose
    output the loss consumes; ``net_params(params)`` / ``net_state(state)`` select its part of
    the model's pytrees and ``full_state(state, net_state)`` puts an updated state back.
    ``activation`` maps ``net``'s output to the model's output (identity if not fused);
    ``loss`` is the loss on ``net``'s output, ``loss_grad`` its hand-written gradient or None.
    """

    net: Any
    net_params: Callable
    net_state: Callable
    full_state: Callable
    activation: Callable
    loss: Callable
    loss_grad: Callable | None
    fused: bool
    threshold: float  # accuracy threshold for a single output (0 when it is a logit)


def _identity(z):
    return z


def find_head(model: Any, spec: Any, *, fuse: bool = True) -> Head:
    """Builds the :class:`Head` for ``model`` and the ``Loss`` ``spec`` (fusing if possible)."""
    from nnlib import layers, losses

    plain = Head(model, _identity, _identity, lambda s, ns: ns, _identity, spec.fn, spec.grad,
                 False, 0.0 if spec.from_logits else 0.5)
    kind = _FUSABLE.get(spec.name) if not spec.from_logits else None
    if not fuse or kind is None:
        return plain
    stack = list(getattr(model, "layers", None) or [])
    if not isinstance(model, layers.Sequential) or not stack:
        return plain
    last = stack[-1]
    want = layers.Sigmoid if kind == "sigmoid" else layers.Softmax
    if isinstance(last, want):
        head_layers = stack[:-1]
    elif isinstance(last, layers.Dense) and isinstance(layers.get_activation(last.activation), want):
        linear = layers.Dense(last.units, activation=None, use_bias=last.use_bias,
                              kernel_init=last.kernel_init, bias_init=last.bias_init)
        head_layers = stack[:-1] + [linear]
    else:
        return plain
    if not head_layers:
        return plain
    n = len(head_layers)
    net = layers.Sequential(head_layers)
    if isinstance(last, want):
        net_params, net_state = (lambda p: list(p)[:n]), (lambda s: list(s)[:n])
        full_state = lambda s, ns: list(ns) + list(s)[n:]
    else:
        net_params, net_state = (lambda p: list(p)), (lambda s: list(s))
        full_state = lambda s, ns: list(ns)
    fused = losses.get(spec, from_logits=True)  # the same loss on the logits side
    activation = layers.sigmoid if kind == "sigmoid" else layers.softmax
    return Head(net, net_params, net_state, full_state, activation, fused.fn, fused.grad,
                True, 0.5)
