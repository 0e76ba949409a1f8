"""Jitted training and evaluation steps: pure functions of the pytrees they update.

One **training step** on a mini-batch ``(xb, yb)`` with parameters ``theta``::

    L(theta)       = (1/B) sum_i loss(f_theta(x_i), y_i)        (mean over the batch)
    g              = dL/dtheta                                   (backpropagation)
    updates, s'    = optimizer.update(g, s, theta)               (e.g. Adam, Kingma & Ba 2015)
    theta'         = theta + updates

The gradient ``g`` comes from one of two places (``grad=``):

- ``"jax"``: ``jax.value_and_grad`` differentiates the layers' ``forward`` (JAX autodiff);
- ``"manual"``: the model runs through ``nnlib.autodiff.manual(model, train=True)``, so
  ``jax.grad`` calls every layer's **hand-written** ``backward``, and the loss's hand-written
  gradient (``loss_grad``) is used for ``dL/dy_pred``. Both give the same numbers (a test
  checks it in float64); ``"manual"`` is how a student's own backward pass gets trained.

A softmax (sigmoid) output with categorical (binary) cross-entropy is trained on the logits
with the stable fused loss; see :mod:`nnlib.train.head`.

References:
  Rumelhart, D. E., Hinton, G. E. and Williams, R. J. (1986). Learning representations by
  back-propagating errors. Nature 323.
  Kingma, D. P. and Ba, J. (2015). Adam: a method for stochastic optimization. ICLR.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from nnlib.train.head import find_head
from nnlib.train.metrics import METRICS, accuracy
from nnlib.train.prepare import init_state, param_dtype, prepare_data
from nnlib.train.resolve import resolve_loss, resolve_metrics, resolve_optimizer

_GRADS = ("jax", "manual")

# Jitted functions built by fit/evaluate/predict, reused when the same model is trained or
# evaluated again (XLA compilation costs seconds on a CPU; one epoch of a small MLP costs
# milliseconds). Each entry keeps references to what its key names by id, so an id cannot be
# reused while the entry lives. A layer's hyperparameters are plain attributes that a student
# may change (``drop.rate = 0.5``), and a trace bakes in the values it saw, so the key holds
# each layer's current hyperparameters (its ``repr``) next to its identity.
_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 32


def _ident(obj: Any) -> Any:
    return obj.lower() if isinstance(obj, str) else id(obj)


def _layer_key(layer: Any) -> tuple:
    """A layer's identity and current hyperparameters (``Layer.__repr__`` shows all of them;
    a ``Sequential``'s shows its layers')."""
    return id(layer), type(layer), repr(layer)


def cached(kind: str, model: Any, loss: Any, optimizer: Any, extra: tuple,
           build: Callable[[], Callable]) -> Callable:
    """Returns the jitted function ``build()`` for this configuration, building it only once.

    The key is ``kind``, the model's class and layers (by identity **and** current
    hyperparameters), the loss and optimizer (names, or objects by identity) and ``extra``
    (hashable settings such as batch size).
    """
    layers = getattr(model, "layers", None)
    model_key = ((type(model), tuple(map(_layer_key, layers))) if isinstance(layers, list)
                 else _layer_key(model))
    key = (kind, model_key, _ident(loss), _ident(optimizer), extra)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key][0]
    fn = build()
    _CACHE[key] = (fn, (model, list(layers or ()), loss, optimizer))
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return fn


def check_grad(grad: Any) -> str:
    if grad not in _GRADS:
        raise ValueError(f"grad must be one of {', '.join(_GRADS)}, got {grad!r}")
    return grad


def _manual_loss(fn: Callable, grad: Callable) -> Callable:
    """``fn(y_pred, y_true)`` whose derivative in ``y_pred`` is the hand-written ``grad``."""

    @jax.custom_vjp
    def loss(y_pred, y_true):
        return fn(y_pred, y_true)

    def fwd(y_pred, y_true):
        return fn(y_pred, y_true), (y_pred, y_true)

    def bwd(res, g):
        y_pred, y_true = res
        d_true = None
        if jnp.issubdtype(jnp.result_type(y_true), jnp.floating):
            d_true = jnp.zeros_like(y_true)  # targets are data: no gradient flows to them
        return g * grad(y_pred, y_true), d_true

    loss.defvjp(fwd, bwd)
    return loss


def _train_forward(net: Any, grad: str) -> Callable:
    """``f(params, x, key, state) -> (y, new_state)`` in training mode."""
    if grad == "manual":
        from nnlib import autodiff  # another module; imported on first use

        run = autodiff.manual(net, train=True)
        return lambda p, x, key, state: run(p, x, key=key, state=state)

    from nnlib.layers import updated_state

    def run_jax(p, x, key, state):
        y, cache = net.forward(p, x, train=True, key=key, state=state)
        return y, updated_state(cache)

    return run_jax


def _objective(model: Any, loss: Any, grad: str):
    """``(objective, head)``: ``objective(params, state, xb, yb, key) -> (L, (state, z))``."""
    head = find_head(model, resolve_loss(loss))
    forward = _train_forward(head.net, grad)
    loss_fn = head.loss
    if grad == "manual" and head.loss_grad is not None:
        loss_fn = _manual_loss(head.loss, head.loss_grad)

    def objective(params, state, xb, yb, key):
        net_state = None if state is None else head.net_state(state)
        z, new_net_state = forward(head.net_params(params), xb, key, net_state)
        new_state = state if state is None else head.full_state(state, new_net_state)
        return loss_fn(z, yb), (new_state, z)

    return objective, head


def make_train_step(model: Any, loss: Any, optimizer: Any, *, grad: str = "jax") -> Callable:
    """Builds a jitted, pure training step.

    Args:
      model: a layer (usually a ``Sequential``) following the ``nnlib.layers`` contract.
      loss: a loss name (``"categorical_crossentropy"``, ``"mse"``, ... see
        ``nnlib.losses.get``), a ``nnlib.losses`` loss, or ``fn(y_pred, y_true) -> scalar``.
      optimizer: an optimizer name (``nnlib.optim.get``) or a ``GradientTransformation``.
      grad: ``"jax"`` (autodiff through ``forward``) or ``"manual"`` (hand-written backward
        passes via ``nnlib.autodiff.manual``).

    Returns:
      ``step(params, opt_state, state, xb, yb, key) -> (params, opt_state, state, loss)``,
      where ``xb`` is a batch ``(B, *in_shape)``, ``yb`` its targets ``(B, ...)``, ``key`` a
      PRNG key for dropout (may be None for a model without dropout), ``state`` the model
      state (BatchNorm statistics; ``{}``/list of ``{}`` otherwise) and ``loss`` the scalar
      mean batch loss *before* the update.

    Raises:
      ValueError: unknown loss/optimizer names (listing the valid ones) or a bad ``grad``.

    Example:
      >>> step = make_train_step(model, "categorical_crossentropy", "adam")
      >>> params, opt_state, state, value = step(params, opt_state, state, xb, yb, key)
    """
    check_grad(grad)
    step = build_step(model, loss, resolve_optimizer(optimizer), grad=grad)

    def train_step(params, opt_state, state, xb, yb, key):
        return step(params, opt_state, state, xb, yb, key)[:4]

    return jax.jit(train_step)


def _metric_values(names: Sequence[str], head: Any, z: jax.Array, yb: jax.Array) -> dict:
    y_pred = head.activation(z)
    out = {}
    for name in names:
        fn = METRICS[name.lower()]
        out[name] = (fn(y_pred, yb, threshold=head.threshold) if fn is accuracy
                     else fn(y_pred, yb))
    return out


def build_step(model: Any, loss: Any, tx: Any, *, grad: str = "jax",
               metrics: Sequence[str] = ()) -> Callable:
    """The un-jitted step behind :func:`make_train_step`, also returning training metrics.

    Returns:
      ``step(params, opt_state, state, xb, yb, key) -> (params, opt_state, state, loss,
      metrics)`` with ``metrics`` a dict of batch means computed on the training forward pass
      (before the update, dropout active), as Keras reports training metrics.
    """
    from nnlib import optim  # another module; imported on first use

    check_grad(grad)
    objective, head = _objective(model, loss, grad)
    value_and_grad = jax.value_and_grad(objective, has_aux=True)

    def step(params, opt_state, state, xb, yb, key):
        (value, (new_state, z)), grads = value_and_grad(params, state, xb, yb, key)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optim.apply_updates(params, updates)
        mets = _metric_values(metrics, head, jax.lax.stop_gradient(z), yb)
        return params, opt_state, new_state, value, mets

    return step


def make_eval_step(model: Any, loss: Any, metrics: Sequence[str] = ()) -> Callable:
    """Builds a jitted evaluation step (inference mode: ``train=False``, no dropout).

    Args:
      model: the model (a layer).
      loss: as for :func:`make_train_step`.
      metrics: names among ``"accuracy"`` (argmax for one-hot or integer labels; a threshold
        of 0.5 for a single sigmoid output), ``"mae"``, ``"mse"``.

    Returns:
      ``eval_step(params, state, xb, yb) -> dict`` with the batch means of ``"loss"`` and of
      each metric (keys as given).

    Raises:
      ValueError: an unknown metric or loss name (listing the valid ones).
    """
    names = resolve_metrics(metrics)
    head = find_head(model, resolve_loss(loss))

    def eval_step(params, state, xb, yb):
        net_state = None if state is None else head.net_state(state)
        z = head.net.apply(head.net_params(params), xb, train=False, state=net_state)
        return {"loss": head.loss(z, yb), **_metric_values(names, head, z, yb)}

    return jax.jit(eval_step)


def _chunks(n: int, batch_size: int | None) -> list[tuple[int, int]]:
    size = n if batch_size is None else max(1, min(int(batch_size), n))
    return [(i, min(i + size, n)) for i in range(0, n, size)]


def run_eval(eval_step: Callable, params: Any, state: Any, x: jax.Array, y: jax.Array,
             batch_size: int | None = 1024) -> dict[str, float]:
    """Evaluates on ``(x, y)`` in chunks and returns the sample-weighted means as floats.

    All chunks but the last have the same shape, so ``eval_step`` compiles at most twice; the
    sums stay on the device and the host reads them once.
    """
    totals: dict[str, jax.Array] = {}
    for lo, hi in _chunks(x.shape[0], batch_size):
        for k, v in eval_step(params, state, x[lo:hi], y[lo:hi]).items():
            totals[k] = totals.get(k, 0.0) + v * (hi - lo)
    host = jax.device_get(totals)
    return {k: float(v) / x.shape[0] for k, v in host.items()}


def predict(model: Any, params: Any, x: Any, *, state: Any = None,
            batch_size: int | None = 1024) -> jax.Array:
    """Model outputs ``model.apply(params, x, train=False)`` computed in chunks.

    Args:
      x: inputs ``(N, *in_shape)``, floating point.
      batch_size: chunk size (memory only; the result does not depend on it).

    Returns:
      ``(N, *out_shape)`` predictions (probabilities for a softmax/sigmoid model).
    """
    from nnlib import validation

    x = validation.float_array(x, "x")
    apply = cached("predict", model, None, None, (), lambda: jax.jit(
        lambda p, s, xb: model.apply(p, xb, train=False, state=s)))
    parts = [apply(params, state, x[lo:hi]) for lo, hi in _chunks(x.shape[0], batch_size)]
    return jnp.concatenate(parts, axis=0)


def evaluate(model: Any, params: Any, x: Any, y: Any, *, loss: Any, metrics: Sequence[str] = (),
             state: Any = None, batch_size: int | None = 1024) -> dict[str, float]:
    """Loss and metrics of ``model`` on ``(x, y)`` in inference mode, as floats.

    Args:
      x: inputs ``(N, *in_shape)``; y: targets ``(N, ...)``.
      loss, metrics: as for :func:`make_eval_step`.
      state: model state (BatchNorm running statistics); default ``model.init_state``.
      batch_size: chunk size (memory only; the means are weighted by chunk size).

    Returns:
      ``{"loss": float, <metric>: float, ...}``: means over all ``N`` examples.
    """
    dtype = param_dtype(params)
    x, y, _ = prepare_data(x, y, 0.0, None, dtype)
    if state is None:
        state = init_state(model, x.shape[1:], dtype)
    names = resolve_metrics(metrics)
    eval_step = cached("eval", model, loss, None, names,
                       lambda: make_eval_step(model, loss, names))
    return run_eval(eval_step, params, state, x, y, batch_size)
