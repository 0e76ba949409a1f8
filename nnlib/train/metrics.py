"""Metrics ``fit`` and ``evaluate`` report: accuracy, mean absolute and squared error.

Unlike the losses of the same names in :mod:`nnlib.losses`, these accept integer class labels
``(batch,)`` against outputs ``(batch, K)`` (one-hot encoding them first) and are never
differentiated: they are only reported. ``METRICS`` maps the names ``fit(metrics=[...])``
accepts (Keras's, ``"accuracy"``, ``"mae"``, ``"mse"`` and their long forms) to them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


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


def mean_absolute_error(y_pred: jax.Array, y_true: jax.Array) -> jax.Array:
    """Mean absolute error over every element: ``nnlib.losses.mae``, with integer labels
    ``(batch,)`` against ``y_pred (batch, K)`` one-hot encoded first."""
    from nnlib import losses

    return losses.mae(y_pred, _dense_target(y_pred, y_true))


def mean_squared_error(y_pred: jax.Array, y_true: jax.Array) -> jax.Array:
    """Mean squared error over every element: ``nnlib.losses.mse``, with integer labels
    ``(batch,)`` against ``y_pred (batch, K)`` one-hot encoded first."""
    from nnlib import losses

    return losses.mse(y_pred, _dense_target(y_pred, y_true))


METRICS = {
    "accuracy": accuracy, "acc": accuracy,
    "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error,
    "mse": mean_squared_error, "mean_squared_error": mean_squared_error,
}
