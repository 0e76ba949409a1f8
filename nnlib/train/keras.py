"""The Keras-like surface: ``model.compile / fit / evaluate / predict``.

``Sequential.compile/fit/evaluate/predict`` delegate here, so the classic example reads as in
Keras::

    model = Sequential([Flatten(), Dense(128, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=10, batch_size=32)
    loss, acc = model.evaluate(x_test, y_test)

Unlike the rest of nnlib, this surface keeps state on the model object **on purpose**: after
``fit`` the trained pytrees are ``model.params``, ``model.state`` and ``model.opt_state``
(the pure functions in :mod:`nnlib.train` never hide state).

Determinism: ``compile(seed=s)`` fixes every random choice. The model is built lazily, on
the first ``fit``/``evaluate``/``predict``, from ``x.shape[1:]`` with the key
``fold_in(key(s), 0)``; the ``i``-th call of ``fit`` (counting from 0 since ``compile``)
shuffles and drops out with ``fold_in(fold_in(key(s), 1), i)`` unless a ``key`` is given.
The same seed, data and calls give the same history. ``compile`` again resets the optimizer
state (as Keras does) but keeps the trained parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from nnlib import validation
from nnlib.train import _setup
from nnlib.train import loop as _loop
from nnlib.train import step as _step


class History:
    """What ``fit_model`` returns, like Keras's ``History``.

    Attributes:
      history: dict mapping ``"loss"``, metric names, ``"val_loss"``, ``"val_<metric>"`` to
        per-epoch lists of floats.
      epoch: the epoch indices run (``[0, 1, ...]``).
      model: the trained model.
    """

    def __init__(self, history: dict, model: Any):
        self.history = history
        self.epoch = list(range(len(history.get("loss", []))))
        self.model = model

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class CompileConfig:
    """What ``compile_model`` stores as ``model.compile_config``."""

    def __init__(self, optimizer: Any, loss: Any, metrics: tuple[str, ...], seed: int):
        self.optimizer, self.loss, self.metrics, self.seed = optimizer, loss, metrics, seed
        self.fit_calls = 0

    def __repr__(self) -> str:
        return (f"CompileConfig(optimizer={self.optimizer!r}, loss={self.loss!r}, "
                f"metrics={list(self.metrics)}, seed={self.seed})")


def compile_model(model: Any, optimizer: Any = "rmsprop", loss: Any = None,
                  metrics: Sequence[str] = (), *, seed: int = 0) -> None:
    """Configures ``model`` for training (Keras's ``compile``); names are checked now.

    Args:
      model: a ``Sequential``.
      optimizer: a name (``"adam"``, ``"sgd"``, ``"rmsprop"`` ... with Keras's default learning
        rates, see ``nnlib.optim.get``) or a ``GradientTransformation``.
      loss: a loss name (``"categorical_crossentropy"``, ``"mse"`` ...), ``nnlib.losses.Loss``
        or function. Required before ``fit``/``evaluate``.
      metrics: names among ``"accuracy"``, ``"mae"``, ``"mse"``.
      seed: fixes initialization, shuffling and dropout (module docstring).

    Raises:
      ValueError: unknown optimizer, loss or metric names (listing the valid ones).
    """
    seed = validation.integer(seed, "seed")
    _setup.resolve_optimizer(optimizer)  # check the names now, as Keras does
    if loss is not None:
        _setup.resolve_loss(loss)
    # Names are kept as given (not resolved objects), so that the jitted-function cache
    # recognises the same configuration after another compile.
    model.compile_config = CompileConfig(optimizer, loss, _setup.resolve_metrics(metrics), seed)
    model.opt_state = None


def _config(model: Any, who: str, *, need_loss: bool = True) -> CompileConfig:
    config = getattr(model, "compile_config", None)
    if config is None:
        raise RuntimeError(f"{who}: call model.compile(optimizer=..., loss=..., metrics=...) first")
    if need_loss and config.loss is None:
        raise ValueError(f"{who}: the model was compiled without a loss; "
                         "call model.compile(loss='...') first")
    return config


def _ensure_built(model: Any, x: Any, config: CompileConfig | None) -> None:
    """Builds the model from ``x.shape[1:]`` if needed, or checks the shape matches."""
    in_shape = tuple(np.shape(x)[1:])
    if getattr(model, "params", None) is None:
        seed = 0 if config is None else config.seed
        model.build(jax.random.fold_in(jax.random.key(seed), 0), in_shape)
    elif getattr(model, "in_shape", None) is not None and tuple(model.in_shape) != in_shape:
        raise ValueError(f"x examples have shape {in_shape} but the model was built for "
                         f"{tuple(model.in_shape)}")
    if getattr(model, "state", None) is None:
        model.state = model.init_state(in_shape)


def fit_model(model: Any, x: Any, y: Any, epochs: int = 1, batch_size: int | None = 32,
              validation_split: float = 0.0, validation_data: Any = None, verbose: int = 1,
              callbacks: Sequence[Callable] = (), patience: int | None = None,
              key: Any = None) -> History:
    """Keras's ``fit``: trains ``model.params`` in place and returns a :class:`History`.

    Args:
      x, y: training data ``(N, *in_shape)`` (float) and targets ``(N, ...)``.
      epochs, batch_size: as Keras (``batch_size=None`` means 32).
      validation_split: the **last** fraction of ``x``/``y`` held out (Keras's rule).
      validation_data: ``(x_val, y_val)`` (takes precedence over ``validation_split``).
      verbose: 0 silent, 1 a progress bar over epochs, 2 one printed line per epoch.
      callbacks: callables run after each epoch, passed to ``nnlib.train.fit``:
        ``cb(epoch, logs)``, or ``cb(epoch, logs, params=params)`` when ``cb`` takes a
        ``params`` keyword; returning True stops training; ``cb.on_train_end()``, where it
        exists, runs once when training ends (see ``nnlib.train.fit``).
      patience: early stopping on ``val_loss`` (``loss`` without validation) with the best
        weights restored; None (default) trains every epoch.
      key: PRNG key for shuffling/dropout; default derived from the compile seed.

    Returns:
      a :class:`History` whose ``.history`` holds per-epoch ``loss``, metrics, ``val_*``.
    """
    config = _config(model, "fit")
    _ensure_built(model, x, config)
    if key is None:
        root = jax.random.fold_in(jax.random.key(config.seed), 1)
        key = jax.random.fold_in(root, config.fit_calls)
    callbacks = tuple(callbacks)
    if verbose == 2:
        callbacks += (_print_epoch(epochs),)
    result = _loop.fit(
        model, model.params, x, y, loss=config.loss, optimizer=config.optimizer, epochs=epochs,
        batch_size=32 if batch_size is None else batch_size, key=key, state=model.state,
        opt_state=getattr(model, "opt_state", None), validation_split=validation_split,
        validation_data=validation_data, metrics=config.metrics, patience=patience,
        progress=verbose == 1, callbacks=callbacks)
    config.fit_calls += 1
    model.params, model.state, model.opt_state = result.params, result.state, result.opt_state
    return History(result.history, model)


def _print_epoch(epochs: int) -> Callable:
    def cb(epoch, logs):
        print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
    return cb


def evaluate_model(model: Any, x: Any, y: Any, batch_size: int | None = None,
                   verbose: int = 0) -> float | list[float]:
    """Keras's ``evaluate``: ``[loss, *metrics]`` on ``(x, y)``, or the loss alone without metrics.

    ``batch_size`` only sets the chunk size (default 1024); ``verbose`` is accepted for
    Keras compatibility (evaluation prints nothing).
    """
    config = _config(model, "evaluate")
    _ensure_built(model, x, config)
    logs = _step.evaluate(model, model.params, x, y, loss=config.loss, metrics=config.metrics,
                          state=model.state, batch_size=1024 if batch_size is None else batch_size)
    values = [logs["loss"]] + [logs[m] for m in config.metrics]
    return values[0] if len(values) == 1 else values


def predict_model(model: Any, x: Any, batch_size: int | None = None) -> np.ndarray:
    """Keras's ``predict``: the model outputs ``(N, *out_shape)`` as a NumPy array.

    Works before ``compile``/``fit`` too (the model is built with seed 0, as Keras would
    initialize it). ``batch_size`` only sets the chunk size (default 1024).
    """
    config = getattr(model, "compile_config", None)
    _ensure_built(model, x, config)
    out = _step.predict(model, model.params, x, state=model.state,
                        batch_size=1024 if batch_size is None else batch_size)
    return np.asarray(out)
