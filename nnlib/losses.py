r"""Loss functions, each with a hand-written gradient with respect to the prediction.

Every loss is ``f(y_pred, y_true) -> scalar`` and has a partner
``f_grad(y_pred, y_true) -> dL/dy_pred`` of ``y_pred``'s shape, written out by hand (the
first step of backpropagation) and tested against ``jax.grad``.

Reductions follow Keras: element-wise losses (MSE, MAE, Huber, binary cross-entropy) are the
mean over **all** elements, :math:`N = ` ``y_pred.size``; class-wise losses (softmax and
categorical cross-entropy) sum over the last (class) axis and average over the :math:`M`
examples of the other axes.

Cross-entropy comes in two forms. The *logits* forms (``sigmoid_binary_cross_entropy``,
``softmax_cross_entropy``, ``softmax_cross_entropy_with_integer_labels``) take raw scores and
are exact and stable at any magnitude (tested at logits of 1e4). The *probability* forms
(``binary_cross_entropy``, ``categorical_cross_entropy``, ``sparse_categorical_cross_entropy``)
take a sigmoid/softmax output and clip it to :math:`[\epsilon, 1-\epsilon]`,
:math:`\epsilon =` ``EPSILON`` :math:`= 10^{-7}` (as Keras does), so ``log(0)`` never
happens; the gradient is zero where the clip is active. Prefer the logits forms.

References:
  Goodfellow, I., Bengio, Y. and Courville, A. (2016). Deep Learning, sections 6.2.2 and 6.2.2.3.
  Huber, P. J. (1964). Robust estimation of a location parameter. Ann. Math. Statist. 35(1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nnlib import validation

# The stable implementations the softmax activation uses too; log_softmax and logsumexp are
# re-exported here.
from nnlib.numerics import log_softmax, logsumexp, softmax

EPSILON = 1e-7

__all__ = [
    "EPSILON",
    "Loss",
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "categorical_cross_entropy",
    "categorical_cross_entropy_grad",
    "get",
    "huber",
    "huber_grad",
    "log_softmax",
    "logsumexp",
    "mae",
    "mae_grad",
    "mse",
    "mse_grad",
    "sigmoid_binary_cross_entropy",
    "sigmoid_binary_cross_entropy_grad",
    "softmax_cross_entropy",
    "softmax_cross_entropy_grad",
    "softmax_cross_entropy_with_integer_labels",
    "softmax_cross_entropy_with_integer_labels_grad",
    "sparse_categorical_cross_entropy",
    "sparse_categorical_cross_entropy_grad",
]


# ----------------------------------------------------------------------------- validation
def _pair(y_pred: Any, y_true: Any, *, class_axis: bool = False) -> tuple[jax.Array, jax.Array]:
    """Checks y_pred (float) and y_true (float, int or bool, cast to y_pred's dtype): same shape."""
    y_pred = validation.float_array(y_pred, "y_pred")
    if class_axis and y_pred.ndim == 0:
        raise ValueError("y_pred must have a class axis (the last one), got shape ()")
    if getattr(y_true, "dtype", None) is None:
        y_true = np.asarray(y_true)
    dtype = y_true.dtype
    if jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.bool_):
        y_true = jnp.asarray(y_true, dtype=y_pred.dtype)
    else:
        y_true = validation.float_array(y_true, "y_true")
    validation.same_shape(y_pred, y_true, "y_pred", "y_true")
    return y_pred, y_true


def _labels(logits: Any, labels: Any, who: str) -> tuple[jax.Array, jax.Array]:
    """Checks (..., C) float logits/probabilities and (...) integer labels in [0, C)."""
    logits = validation.float_array(logits, "y_pred")
    if logits.ndim == 0:
        raise ValueError("y_pred must have a class axis (the last one), got shape ()")
    labels = labels if hasattr(labels, "dtype") else np.asarray(labels)
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise TypeError(
            f"{who}: y_true must hold integer class labels, got dtype {labels.dtype}; "
            "for one-hot or soft targets use the categorical/softmax_cross_entropy loss"
        )
    if tuple(labels.shape) != tuple(logits.shape[:-1]):
        raise ValueError(
            f"{who}: y_true must have shape y_pred.shape[:-1] = {tuple(logits.shape[:-1])}, "
            f"got y_pred shape {tuple(logits.shape)} and y_true shape {tuple(labels.shape)}"
        )
    n_classes = logits.shape[-1]
    try:
        concrete = np.asarray(labels)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        concrete = None  # inside jit: out-of-range labels give a NaN loss instead
    if (
        concrete is not None
        and concrete.size
        and (concrete.min() < 0 or concrete.max() >= n_classes)
    ):
        raise ValueError(
            f"{who}: y_true labels must be in [0, {n_classes}) for {n_classes} classes, "
            f"got values from {concrete.min()} to {concrete.max()}"
        )
    return logits, jnp.asarray(labels)


def _check_delta(delta: Any) -> None:
    """Huber's ``delta`` must be a positive real number; a traced one (``jit``) is let through."""
    value = validation.scalar(delta, "delta")
    if value is not None:
        validation.positive(value, "delta")


def _n_examples(y_pred: jax.Array) -> int:
    """M = the number of examples: every axis but the last (class) one."""
    return max(y_pred.size // max(y_pred.shape[-1], 1), 1) if y_pred.ndim else 1


# ----------------------------------------------------------------------- regression losses
def mse(y_pred: Any, y_true: Any) -> jax.Array:
    r"""Mean squared error :math:`L = \frac{1}{N}\sum_i (\hat y_i - y_i)^2`.

    Args:
      y_pred: predictions :math:`\hat y`, float array of any shape, e.g. ``(batch, out)``.
      y_true: targets :math:`y`, the same shape.

    Returns:
      A scalar: the mean over all :math:`N` elements.

    Raises:
      TypeError: if ``y_pred`` is not floating point.
      ValueError: if the shapes differ (the message names both).
    """
    y_pred, y_true = _pair(y_pred, y_true)
    return jnp.mean((y_pred - y_true) ** 2)


def mse_grad(y_pred: Any, y_true: Any) -> jax.Array:
    r""":math:`\partial L/\partial \hat y_i = \frac{2}{N}(\hat y_i - y_i)` of :func:`mse`."""
    y_pred, y_true = _pair(y_pred, y_true)
    return 2.0 * (y_pred - y_true) / y_pred.size


def mae(y_pred: Any, y_true: Any) -> jax.Array:
    r"""Mean absolute error :math:`L = \frac{1}{N}\sum_i |\hat y_i - y_i|`.

    Args, Returns and Raises as :func:`mse`.
    """
    y_pred, y_true = _pair(y_pred, y_true)
    return jnp.mean(jnp.abs(y_pred - y_true))


def mae_grad(y_pred: Any, y_true: Any) -> jax.Array:
    r""":math:`\frac{1}{N}\,\mathrm{sign}(\hat y_i - y_i)` of :func:`mae`.

    At a tie (:math:`\hat y_i = y_i`) the subgradient 0 is used (``jax.grad`` of ``abs``
    returns 1 there).
    """
    y_pred, y_true = _pair(y_pred, y_true)
    return jnp.sign(y_pred - y_true) / y_pred.size


def huber(y_pred: Any, y_true: Any, delta: float = 1.0) -> jax.Array:
    r"""Huber loss (Huber 1964): quadratic near zero, linear in the tails.

    With :math:`r_i = \hat y_i - y_i`,

    .. math::
        \ell(r) = \begin{cases} \tfrac12 r^2 & |r| \le \delta \\
                  \delta\,(|r| - \tfrac12\delta) & |r| > \delta \end{cases},
        \qquad L = \frac{1}{N}\sum_i \ell(r_i).

    Args:
      y_pred: predictions, float array of any shape.
      y_true: targets, the same shape.
      delta: where the quadratic turns linear (positive); may be traced inside ``jax.jit``
        (then it is not checked).

    Returns:
      A scalar: the mean over all elements.
    """
    _check_delta(delta)
    y_pred, y_true = _pair(y_pred, y_true)
    r = y_pred - y_true
    a = jnp.abs(r)
    return jnp.mean(jnp.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta)))


def huber_grad(y_pred: Any, y_true: Any, delta: float = 1.0) -> jax.Array:
    r""":math:`\frac{1}{N}\,\mathrm{clip}(\hat y_i - y_i, -\delta, \delta)` of :func:`huber`."""
    _check_delta(delta)
    y_pred, y_true = _pair(y_pred, y_true)
    return jnp.clip(y_pred - y_true, -delta, delta) / y_pred.size


# ------------------------------------------------------------------ binary cross-entropy
def binary_cross_entropy(y_pred: Any, y_true: Any) -> jax.Array:
    r"""Binary cross-entropy of **probabilities** :math:`p = \hat y \in [0, 1]`.

    .. math:: L = -\frac{1}{N}\sum_i \big[y_i \log p_i + (1 - y_i)\log(1 - p_i)\big],

    with :math:`p` clipped to :math:`[\epsilon, 1-\epsilon]`, :math:`\epsilon = 10^{-7}`.
    Keras' ``"binary_crossentropy"``. Prefer :func:`sigmoid_binary_cross_entropy` on logits.

    Args:
      y_pred: probabilities (e.g. a sigmoid output), float array of any shape.
      y_true: targets in [0, 1] (0/1 labels, int or float), the same shape.

    Returns:
      A scalar: the mean over all elements.
    """
    p, y = _pair(y_pred, y_true)
    p = jnp.clip(p, EPSILON, 1.0 - EPSILON)
    return -jnp.mean(y * jnp.log(p) + (1.0 - y) * jnp.log1p(-p))


def binary_cross_entropy_grad(y_pred: Any, y_true: Any) -> jax.Array:
    r"""Gradient of :func:`binary_cross_entropy`.

    :math:`\partial L/\partial p_i = \frac{1}{N}\big(\frac{1-y_i}{1-p_i} - \frac{y_i}{p_i}\big)`.
    Zero where :math:`p_i` lies outside :math:`[\epsilon, 1-\epsilon]` (the clip is flat there).
    """
    p, y = _pair(y_pred, y_true)
    inside = (p >= EPSILON) & (p <= 1.0 - EPSILON)
    pc = jnp.clip(p, EPSILON, 1.0 - EPSILON)
    return jnp.where(inside, (1.0 - y) / (1.0 - pc) - y / pc, 0.0) / p.size


def sigmoid_binary_cross_entropy(y_pred: Any, y_true: Any) -> jax.Array:
    r"""Binary cross-entropy of **logits** :math:`z`, with :math:`p = \sigma(z)`.

    :math:`-[y\log\sigma(z) + (1-y)\log(1-\sigma(z))]` simplifies to
    :math:`\log(1+e^{z}) - z y`, computed in the stable form

    .. math:: \ell(z, y) = \max(z, 0) - z y + \log(1 + e^{-|z|}),
              \qquad L = \frac{1}{N}\sum_i \ell(z_i, y_i),

    whose exponential never exceeds 1 (``jnp.logaddexp(0, z)`` evaluates
    :math:`\max(z, 0) + \log(1 + e^{-|z|})` this way, and its ``jax.grad`` is
    :math:`\sigma(z)` everywhere; the formula written with ``maximum`` and ``abs`` would get
    ``jax.grad`` wrong at exactly :math:`z = 0`, where both kinks sit, e.g. at zero-initialised
    weights). Keras' ``binary_crossentropy(from_logits=True)``.

    Args:
      y_pred: logits, float array of any shape.
      y_true: targets in [0, 1], the same shape.

    Returns:
      A scalar: the mean over all elements.
    """
    z, y = _pair(y_pred, y_true)
    return jnp.mean(jnp.logaddexp(0.0, z) - z * y)


def sigmoid_binary_cross_entropy_grad(y_pred: Any, y_true: Any) -> jax.Array:
    r""":math:`\frac{1}{N}(\sigma(z_i) - y_i)` of :func:`sigmoid_binary_cross_entropy`."""
    z, y = _pair(y_pred, y_true)
    return (jax.nn.sigmoid(z) - y) / z.size


# ----------------------------------------------------------------- softmax cross-entropy
def softmax_cross_entropy(y_pred: Any, y_true: Any) -> jax.Array:
    r"""Softmax cross-entropy of **logits** :math:`z` against one-hot or soft targets :math:`y`.

    .. math:: \ell(z, y) = -\sum_k y_k \log\mathrm{softmax}(z)_k
              = \Big(\sum_k y_k\Big)\,\mathrm{logsumexp}(z) - \sum_k y_k z_k,
              \qquad L = \frac{1}{M}\sum_{m} \ell(z_m, y_m),

    with :func:`logsumexp` computed stably (max subtracted). Adding a constant to all logits
    of an example leaves the loss unchanged. Keras'
    ``categorical_crossentropy(from_logits=True)``.

    Args:
      y_pred: logits, float array ``(..., C)``, e.g. ``(batch, classes)``.
      y_true: targets, the same shape; each row a distribution (one-hot or soft).

    Returns:
      A scalar: the mean over the :math:`M` examples (all axes but the last).
    """
    z, y = _pair(y_pred, y_true, class_axis=True)
    return jnp.sum(-y * log_softmax(z)) / _n_examples(z)


def softmax_cross_entropy_grad(y_pred: Any, y_true: Any) -> jax.Array:
    r"""Gradient of :func:`softmax_cross_entropy`.

    :math:`\partial L/\partial z = \frac{1}{M}\big(\mathrm{softmax}(z)\sum_k y_k - y\big)`.

    For targets that sum to 1 this is the familiar :math:`(\mathrm{softmax}(z) - y)/M`.
    """
    z, y = _pair(y_pred, y_true, class_axis=True)
    p = softmax(z)
    return (p * jnp.sum(y, axis=-1, keepdims=True) - y) / _n_examples(z)


def softmax_cross_entropy_with_integer_labels(y_pred: Any, y_true: Any) -> jax.Array:
    r"""Softmax cross-entropy of **logits** against integer class labels.

    .. math:: \ell(z, c) = \mathrm{logsumexp}(z) - z_c, \qquad L = \frac{1}{M}\sum_m \ell(z_m, c_m).

    Equal to :func:`softmax_cross_entropy` with one-hot targets, without building them. Keras'
    ``sparse_categorical_crossentropy(from_logits=True)``.

    Args:
      y_pred: logits, float array ``(..., C)``.
      y_true: integer labels in ``[0, C)``, shape ``y_pred.shape[:-1]``.

    Returns:
      A scalar: the mean over the :math:`M` examples.

    Raises:
      TypeError: if the labels are not integers or the logits are not floating point.
      ValueError: on a shape mismatch, or labels outside ``[0, C)`` (checked when the labels
        are concrete; inside ``jax.jit`` such a label makes the loss NaN).
    """
    z, c = _labels(y_pred, y_true, "softmax_cross_entropy_with_integer_labels")
    n_classes = z.shape[-1]
    picked = jnp.take_along_axis(z, c[..., None], axis=-1)[..., 0]
    picked = jnp.where((c >= 0) & (c < n_classes), picked, jnp.nan)
    return jnp.sum(logsumexp(z) - picked) / _n_examples(z)


def softmax_cross_entropy_with_integer_labels_grad(y_pred: Any, y_true: Any) -> jax.Array:
    r""":math:`\frac{1}{M}(\mathrm{softmax}(z) - \mathrm{onehot}(c))` of
    :func:`softmax_cross_entropy_with_integer_labels`."""
    z, c = _labels(y_pred, y_true, "softmax_cross_entropy_with_integer_labels")
    onehot = jax.nn.one_hot(c, z.shape[-1], dtype=z.dtype)
    return (softmax(z) - onehot) / _n_examples(z)


# ------------------------------------------------------ categorical (probability) forms
def categorical_cross_entropy(y_pred: Any, y_true: Any) -> jax.Array:
    r"""Categorical cross-entropy of **probabilities** :math:`p` (e.g. a softmax output).

    .. math:: L = -\frac{1}{M}\sum_m \sum_k y_{mk} \log p_{mk},

    with :math:`p` clipped to :math:`[\epsilon, 1-\epsilon]`, :math:`\epsilon = 10^{-7}` (rows
    are not renormalised). Keras' ``"categorical_crossentropy"``. Prefer
    :func:`softmax_cross_entropy` on logits.

    Args:
      y_pred: probabilities ``(..., C)``, each row summing to 1.
      y_true: one-hot (or soft) targets, the same shape.

    Returns:
      A scalar: the mean over the :math:`M` examples.
    """
    p, y = _pair(y_pred, y_true, class_axis=True)
    return -jnp.sum(y * jnp.log(jnp.clip(p, EPSILON, 1.0 - EPSILON))) / _n_examples(p)


def categorical_cross_entropy_grad(y_pred: Any, y_true: Any) -> jax.Array:
    r"""Gradient of :func:`categorical_cross_entropy`.

    :math:`\partial L/\partial p_{mk} = -\frac{1}{M}\,\frac{y_{mk}}{p_{mk}}` (0 where clipped).
    """
    p, y = _pair(y_pred, y_true, class_axis=True)
    inside = (p >= EPSILON) & (p <= 1.0 - EPSILON)
    return jnp.where(inside, -y / jnp.clip(p, EPSILON, 1.0 - EPSILON), 0.0) / _n_examples(p)


def sparse_categorical_cross_entropy(y_pred: Any, y_true: Any) -> jax.Array:
    r"""Cross-entropy of **probabilities** against integer labels.

    :math:`L = -\frac1M\sum_m \log p_{m,c_m}`, with :math:`p` clipped to
    :math:`[\epsilon, 1-\epsilon]`. Keras' ``"sparse_categorical_crossentropy"`` (whose
    default takes probabilities).

    Args:
      y_pred: probabilities ``(..., C)``.
      y_true: integer labels in ``[0, C)``, shape ``y_pred.shape[:-1]``.

    Returns:
      A scalar: the mean over the :math:`M` examples.
    """
    p, c = _labels(y_pred, y_true, "sparse_categorical_cross_entropy")
    onehot = jax.nn.one_hot(c, p.shape[-1], dtype=p.dtype)
    return categorical_cross_entropy(p, onehot)


def sparse_categorical_cross_entropy_grad(y_pred: Any, y_true: Any) -> jax.Array:
    r"""Gradient of :func:`sparse_categorical_cross_entropy`.

    :math:`-\frac{1}{M p_{m,c_m}}` at each example's label, 0 elsewhere (and where clipped).
    """
    p, c = _labels(y_pred, y_true, "sparse_categorical_cross_entropy")
    return categorical_cross_entropy_grad(p, jax.nn.one_hot(c, p.shape[-1], dtype=p.dtype))


# ------------------------------------------------------------------------------- lookup
class Loss(NamedTuple):
    """A loss and its hand-written gradient, as returned by :func:`get`.

    Attributes:
      name: the canonical function name, e.g. ``"softmax_cross_entropy"``.
      fn: ``fn(y_pred, y_true) -> scalar``.
      grad: ``grad(y_pred, y_true) -> dL/dy_pred``, or None for a user function
        (differentiate ``fn`` with ``jax.grad`` instead).
      from_logits: True if ``y_pred`` are logits, False if values/probabilities.
    """

    name: str
    fn: Callable[[Any, Any], jax.Array]
    grad: Callable[[Any, Any], jax.Array] | None
    from_logits: bool


def _loss(fn: Callable, grad: Callable, from_logits: bool) -> Loss:
    return Loss(fn.__name__, fn, grad, from_logits)


_MSE = _loss(mse, mse_grad, False)
_MAE = _loss(mae, mae_grad, False)
_HUBER = _loss(huber, huber_grad, False)
_BCE = _loss(binary_cross_entropy, binary_cross_entropy_grad, False)
_SBCE = _loss(sigmoid_binary_cross_entropy, sigmoid_binary_cross_entropy_grad, True)
_CCE = _loss(categorical_cross_entropy, categorical_cross_entropy_grad, False)
_SCE = _loss(softmax_cross_entropy, softmax_cross_entropy_grad, True)
_SPARSE = _loss(sparse_categorical_cross_entropy, sparse_categorical_cross_entropy_grad, False)
_SCE_INT = _loss(
    softmax_cross_entropy_with_integer_labels,
    softmax_cross_entropy_with_integer_labels_grad,
    True,
)

_TABLE: dict[str, Loss] = {
    "mse": _MSE,
    "mean_squared_error": _MSE,
    "mae": _MAE,
    "mean_absolute_error": _MAE,
    "huber": _HUBER,
    "binary_crossentropy": _BCE,
    "binary_cross_entropy": _BCE,
    "sigmoid_binary_cross_entropy": _SBCE,
    "categorical_crossentropy": _CCE,
    "categorical_cross_entropy": _CCE,
    "softmax_cross_entropy": _SCE,
    "sparse_categorical_crossentropy": _SPARSE,
    "sparse_categorical_cross_entropy": _SPARSE,
    "softmax_cross_entropy_with_integer_labels": _SCE_INT,
}

# the same loss on the other side of the final sigmoid/softmax
_TWIN = {_BCE: _SBCE, _SBCE: _BCE, _CCE: _SCE, _SCE: _CCE, _SPARSE: _SCE_INT, _SCE_INT: _SPARSE}


def get(name: str | Loss | Callable, *, from_logits: bool | None = None) -> Loss:
    """Looks a loss up by Keras or nnlib name (case-insensitive) and returns a :class:`Loss`.

    Keras names take what Keras takes: ``"binary_crossentropy"``,
    ``"categorical_crossentropy"`` and ``"sparse_categorical_crossentropy"`` expect
    **probabilities**; pass ``from_logits=True`` (as in Keras) for their logits forms, or use
    the nnlib names ``"sigmoid_binary_cross_entropy"``, ``"softmax_cross_entropy"``,
    ``"softmax_cross_entropy_with_integer_labels"``. Also ``"mse"``/``"mean_squared_error"``,
    ``"mae"``/``"mean_absolute_error"``, ``"huber"`` (delta 1).

    Args:
      name: a name, a :class:`Loss` (returned as is) or a function ``f(y_pred, y_true)``
        (wrapped with ``grad=None``).
      from_logits: if given, picks the logits or probability form of a cross-entropy.

    Returns:
      ``Loss(name, fn, grad, from_logits)``.

    Raises:
      ValueError: for an unknown name (listing the valid ones), or ``from_logits`` on a loss
        that has no such form (e.g. ``"mse"``).
    """
    if isinstance(name, Loss):
        loss = name
    elif callable(name):
        loss = Loss(getattr(name, "__name__", "custom_loss"), name, None, bool(from_logits))
    else:
        loss = validation.lookup("loss", name, _TABLE)
    if from_logits is None or loss.from_logits == bool(from_logits):
        return loss
    if loss not in _TWIN:
        raise ValueError(f"loss {loss.name!r} has no from_logits={from_logits} form")
    return _TWIN[loss]
