"""``fit``: mini-batch training with validation, history, early stopping and progress.

How one epoch runs (this is what makes ``fit`` fast on a CPU or a GPU):

1. The data ``x (N, *in_shape)``, ``y (N, ...)`` is moved to the device **once**, before the
   first epoch.
2. Each epoch draws a fresh key ``jax.random.fold_in(key, epoch)`` and shuffles with a random
   permutation of ``0..N-1`` on the device.
3. The ``N // batch_size`` full batches run as **one** jitted ``jax.lax.scan`` over the
   training step; a trailing partial batch (``N % batch_size`` examples), if any, runs as one
   more step inside the same jitted epoch function. The epoch function compiles once (its
   shapes never change) and is reused for every epoch.
4. The host reads the vector of per-step losses once per epoch (no round trip per batch),
   checks it is finite, and records the epoch loss: the mean of the per-step losses weighted
   by batch size (the mean loss over the epoch's examples, as Keras reports it).

Early stopping (Prechelt 1998) watches ``val_loss`` (``loss`` without validation data) and
stops after ``patience`` epochs without an improvement of at least ``min_delta``; with
``restore_best`` the parameters and model state of the best epoch are returned (the optimizer
state is the last one, as in Keras).

Callbacks run on the host after each epoch: ``cb(epoch, logs)``, or
``cb(epoch, logs, params=params)`` when ``cb`` takes a ``params`` keyword (or ``**kwargs``),
so that a monitor can draw from the current parameters (e.g. ``nnlib.viz.BoundaryMonitor``).
When training ends without an error, ``cb.on_train_end()`` runs once for every callback
that has it.

References:
  Prechelt, L. (1998). Early stopping - but when? In Neural Networks: Tricks of the Trade.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nnlib import validation
from nnlib.progress import progress as Progress
from nnlib.train import step as _step
from nnlib.train.prepare import init_state, param_dtype, prepare_data
from nnlib.train.resolve import resolve_metrics, resolve_optimizer


class FitResult(NamedTuple):
    """What :func:`fit` returns: the trained pytrees and the per-epoch ``history``.

    ``history`` maps ``"loss"``, each metric name, ``"val_loss"`` and ``"val_<metric>"`` (with
    validation data) to a list with one float per epoch run.
    """

    params: Any
    state: Any
    opt_state: Any
    history: dict


class NonFiniteLossError(ValueError):
    """The training loss became NaN or infinite.

    Attributes:
      epoch: the epoch index (0-based, as callbacks see it).
      step: the global step index (0-based count of optimizer steps since this ``fit``
        started) of the first non-finite batch loss.
      value: that loss value (nan, inf or -inf).
    """

    def __init__(self, message: str, *, epoch: int, step: int, value: float):
        super().__init__(message)
        self.epoch, self.step, self.value = epoch, step, value


def make_epoch(train_step: Callable, n: int, batch_size: int, *, shuffle: bool = True) -> Callable:
    """The jitted epoch ``epoch(params, opt_state, state, x, y, key, index) -> (..., losses,
    metrics)``.

    ``train_step`` is the un-jitted step with metrics (``_step.build_step``); ``losses`` has
    one entry per step (``N // batch_size`` full batches, then the partial one if any). The
    epoch's randomness comes from ``fold_in(key, index)``, computed inside (one dispatch per
    epoch, nothing eager on the host).
    """
    n_full, tail = divmod(n, batch_size)

    def epoch(params, opt_state, state, x, y, key, index):
        k_perm, k_steps, k_tail = jax.random.split(jax.random.fold_in(key, index), 3)
        # a uniformly random order: sort random 32-bit keys (cheaper to compile than
        # jax.random.permutation; ties, rare for N << 2**16, keep their original order)
        perm = jnp.argsort(jax.random.bits(k_perm, (n,))) if shuffle else jnp.arange(n)
        carry = (params, opt_state, state)
        outs = []
        if n_full:
            def body(c, inp):
                idx, k = inp
                p, o, s, value, mets = train_step(*c, x[idx], y[idx], k)
                return _match_dtypes((p, o, s), c), (value, mets)

            idx = perm[: n_full * batch_size].reshape(n_full, batch_size)
            carry, out = jax.lax.scan(body, carry, (idx, jax.random.split(k_steps, n_full)))
            outs.append(out)
        if tail:
            idx = perm[n_full * batch_size:]
            p, o, s, value, mets = train_step(*carry, x[idx], y[idx], k_tail)
            carry = (p, o, s)
            outs.append(jax.tree_util.tree_map(lambda a: a[None], (value, mets)))
        losses, mets = jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *outs)
        return (*carry, losses, mets)

    return jax.jit(epoch)


def _match_dtypes(new: Any, old: Any) -> Any:
    """Casts ``new``'s leaves to ``old``'s dtypes (a scan carry must keep its types), e.g.
    float32 BatchNorm statistics updated from float64 inputs."""
    if jax.tree_util.tree_structure(new) != jax.tree_util.tree_structure(old):
        return new
    return jax.tree_util.tree_map(lambda a, b: jnp.asarray(a).astype(jnp.result_type(b)), new, old)


def _takes_params(cb: Callable) -> bool:
    """Whether ``cb`` can be called as ``cb(epoch, logs, params=...)``: its signature has a
    ``params`` parameter that can be passed by keyword, or ``**kwargs``."""
    try:
        sig = inspect.signature(cb)
    except (TypeError, ValueError):  # some builtins have no signature: call them plainly
        return False
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return any(p.kind == inspect.Parameter.VAR_KEYWORD or (p.name == "params" and p.kind in kinds)
               for p in sig.parameters.values())


def fit(model: Any, params: Any, x: Any, y: Any, *, loss: Any, optimizer: Any, epochs: int,
        batch_size: int, key: Any, state: Any = None, opt_state: Any = None,
        validation_split: float = 0.0, validation_data: Any = None,
        metrics: Sequence[str] = (), patience: int | None = None, min_delta: float = 0.0,
        restore_best: bool = True, progress: bool = True, callbacks: Sequence[Callable] = (),
        grad: str = "jax", shuffle: bool = True) -> FitResult:
    """Trains ``model`` with mini-batches; one jitted ``lax.scan`` per epoch (module docstring).

    Args:
      model: a layer (usually ``Sequential``) with ``init/forward/apply``.
      params: its parameters (from ``model.init``); cast ``x`` to their float dtype.
      x: inputs ``(N, *in_shape)``, floating point (NumPy or JAX).
      y: targets ``(N, ...)``: one-hot or regression targets (float) or integer labels.
      loss: loss name, ``nnlib.losses`` loss or ``fn(y_pred, y_true)``.
      optimizer: optimizer name or ``GradientTransformation``.
      epochs: number of passes over the data (>= 1).
      batch_size: examples per step (>= 1); larger than ``N`` means one batch of ``N``.
      key: PRNG key; epoch ``e`` uses ``fold_in(key, e)`` for its shuffle and dropout.
      state: model state (default ``model.init_state(in_shape)``).
      opt_state: optimizer state to continue from (default ``optimizer.init(params)``).
      validation_split: fraction in ``[0, 1)`` held out for validation: the **last** examples
        of ``x``/``y``, taken before shuffling (Keras's rule). Ignored with ``validation_data``.
      validation_data: ``(x_val, y_val)``, evaluated after each epoch in inference mode.
      metrics: names among ``"accuracy"``, ``"mae"``, ``"mse"`` (training values are
        batch-size-weighted means over the epoch's steps, as Keras reports them).
      patience: stop after this many epochs (>= 1) without improving the monitored value
        (``val_loss``, or ``loss`` without validation) by more than ``min_delta``. None: never.
      min_delta: minimum decrease that counts as an improvement.
      restore_best: with ``patience``, return the params/state of the best epoch.
      progress: show a progress bar over epochs with the latest logs (``nnlib.progress``:
        in a notebook it leaves one line, e.g. ``fit: 10 epochs in 2.1 s (loss=0.12)``).
      callbacks: callables run after each epoch, in order: ``cb(epoch, logs)`` (epoch 0-based,
        ``logs`` a dict of floats like one row of the history), or
        ``cb(epoch, logs, params=params)`` when ``cb``'s signature has a ``params`` parameter
        or ``**kwargs`` (checked once, before training). ``params`` are the parameters after
        that epoch, as the device arrays the loop holds (no copy, no host transfer; they are
        not the restored best ones under ``restore_best``). A callback returning True stops
        training after the epoch (all callbacks still run for it). When training ends (all
        epochs, early stopping, or a callback's stop; not when an error is raised),
        ``cb.on_train_end()`` is called once for each callback that has such a method, e.g. to
        draw a monitor's last frame when it redraws only every few epochs.
      grad: ``"jax"`` or ``"manual"`` (hand-written backward passes); see ``make_train_step``.
      shuffle: reshuffle the training examples every epoch (default True).

    Returns:
      :class:`FitResult` ``(params, state, opt_state, history)``.

    Raises:
      NonFiniteLossError: a batch loss became NaN/inf (message names epoch and global step).
      TypeError: integer ``x``, non-int ``epochs``/``batch_size``, a bad key, ...
      ValueError: ``x``/``y`` lengths differ, non-positive sizes, unknown names, ...

    Example:
      >>> result = fit(model, params, x, y, loss="categorical_crossentropy", optimizer="adam",
      ...              epochs=10, batch_size=32, key=jax.random.key(0), metrics=["accuracy"])
      >>> result.history["loss"][-1] < result.history["loss"][0]
      True
    """
    key = validation.require_key(key, "fit")
    epochs = validation.positive_int(epochs, "epochs")
    batch_size = validation.positive_int(batch_size, "batch_size")
    if patience is not None:
        patience = validation.positive_int(patience, "patience")
    validation.positive(min_delta, "min_delta", allow_zero=True)
    names = resolve_metrics(metrics)
    callbacks = tuple(callbacks)
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"callbacks must be callables cb(epoch, logs), got {type(cb).__name__}")
    with_params = tuple(_takes_params(cb) for cb in callbacks)
    on_end = tuple(f for f in (getattr(cb, "on_train_end", None) for cb in callbacks)
                   if callable(f))
    dtype = param_dtype(params)
    x, y, val = prepare_data(x, y, validation_split, validation_data, dtype)
    tx = resolve_optimizer(optimizer)
    if state is None:
        state = init_state(model, x.shape[1:], dtype)
    if opt_state is None:
        opt_state = tx.init(params)

    n = x.shape[0]
    batch_size = min(batch_size, n)
    _step.check_grad(grad)
    # The jitted epoch and eval functions are cached: fitting the same model again with the
    # same loss, optimizer and sizes does not recompile (see nnlib.train.step.cached).
    run_epoch = _step.cached(
        "epoch", model, loss, optimizer, (grad, names, n, batch_size, shuffle),
        lambda: make_epoch(_step.build_step(model, loss, tx, grad=grad, metrics=names),
                           n, batch_size, shuffle=shuffle))
    eval_step = None if val is None else _step.cached(
        "eval", model, loss, None, names, lambda: _step.make_eval_step(model, loss, names))
    weights = np.diff(np.append(np.arange(0, n, batch_size), n)).astype(np.float64)
    steps_per_epoch = len(weights)

    history: dict[str, list[float]] = {"loss": [], **{m: [] for m in names}}
    if val is not None:
        history.update({"val_loss": [], **{f"val_{m}": [] for m in names}})
    monitor = "val_loss" if val is not None else "loss"
    best, best_trees, wait = math.inf, None, 0

    bar = Progress(range(epochs), desc="fit", unit="epoch", disable=not progress)
    try:
        for epoch in bar:
            params, opt_state, state, losses, mets = run_epoch(
                params, opt_state, state, x, y, key, epoch)
            losses, mets = jax.device_get((losses, mets))  # the one host read per epoch
            _check_finite(np.asarray(losses), epoch, epochs, steps_per_epoch)
            logs = {"loss": float(np.dot(weights, losses) / n)}
            logs.update({m: float(np.dot(weights, mets[m]) / n) for m in names})
            if val is not None:
                logs.update({f"val_{k}": v for k, v in
                             _step.run_eval(eval_step, params, state, *val).items()})
            for k, v in logs.items():
                history[k].append(v)
            bar.set_postfix(**logs)
            stop = False
            for cb, wants in zip(callbacks, with_params):  # all run, even after one says stop
                out = cb(epoch, dict(logs), params=params) if wants else cb(epoch, dict(logs))
                stop = (out is True) or stop
            if patience is not None:
                if logs[monitor] < best - min_delta:
                    best, best_trees, wait = logs[monitor], (params, state), 0
                else:
                    wait += 1
                    stop = stop or wait >= patience
            if stop:
                break
    finally:
        bar.close()
    for end in on_end:  # reached only without an error (NaN loss, a failing callback, ...)
        end()
    if patience is not None and restore_best and best_trees is not None:
        params, state = best_trees
    return FitResult(params, state, opt_state, history)


def _check_finite(losses: np.ndarray, epoch: int, epochs: int, steps_per_epoch: int) -> None:
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        i = int(bad[0])
        value = float(losses[i])
        step = epoch * steps_per_epoch + i
        raise NonFiniteLossError(
            f"the training loss became {value} at epoch {epoch + 1}/{epochs} (epoch index "
            f"{epoch}), batch {i} of that epoch, global step {step} (0-based). Common causes: "
            "a learning rate that is too large, NaN/inf in x or y, or log(0) in a custom loss; "
            "try a smaller learning rate or gradient clipping (nnlib.optim.clip_by_global_norm)",
            epoch=epoch, step=step, value=value)
