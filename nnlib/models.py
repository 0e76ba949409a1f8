"""Keras's ``Sequential`` model: ``compile / fit / evaluate / predict`` on a stack of layers.

The classic example reads as in Keras::

    from nnlib.layers import Dense, Flatten
    from nnlib.models import Sequential

    model = Sequential([Flatten(), Dense(128, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=10, batch_size=32)
    loss, acc = model.evaluate(x_test, y_test)

:class:`Sequential` is the layer container :class:`nnlib.layers.Sequential` (a stack of layers
that is itself a layer) plus Keras's training methods, built on the pure functions of
:mod:`nnlib.train` (``fit``, ``evaluate``, ``predict``), whose arguments and behaviour are
documented there once. This module sits above both ``nnlib.layers`` and ``nnlib.train``;
neither imports it.

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

from nnlib import layers, train, validation
from nnlib.train.resolve import resolve_loss, resolve_metrics, resolve_optimizer


class History:
    """What :meth:`Sequential.fit` returns, like Keras's ``History``.

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
    """What :meth:`Sequential.compile` stores as ``model.compile_config``."""

    def __init__(self, optimizer: Any, loss: Any, metrics: tuple[str, ...], seed: int):
        self.optimizer, self.loss, self.metrics, self.seed = optimizer, loss, metrics, seed
        self.fit_calls = 0

    def __repr__(self) -> str:
        return (f"CompileConfig(optimizer={self.optimizer!r}, loss={self.loss!r}, "
                f"metrics={list(self.metrics)}, seed={self.seed})")


class Sequential(layers.Sequential):
    """Keras's ``Sequential``: a layer stack with ``compile``, ``fit``, ``evaluate``, ``predict``.

    Everything :class:`nnlib.layers.Sequential` does (``init``, ``forward``, ``backward``,
    ``build``, ``summary``...) plus Keras's training methods. State kept on the object:
    ``params``, ``state`` and ``in_shape`` (set by ``build``, or by the first
    ``fit``/``evaluate``/``predict``), ``compile_config`` (set by :meth:`compile`) and
    ``opt_state`` (the optimizer's state after :meth:`fit`).

    Args:
      layers: a list of layers (``Sequential([Dense(32, "relu"), Dense(10)])``).
    """

    def __init__(self, layers: Sequence[Any] = ()):
        super().__init__(layers)
        self.compile_config: CompileConfig | None = None
        self.opt_state: Any = None

    def compile(self, optimizer: Any = "rmsprop", loss: Any = None,
                metrics: Sequence[str] = (), *, seed: int = 0) -> None:
        """Configures the model for training (Keras's ``compile``); the names are checked now.

        Args:
          optimizer: a name (``"adam"``, ``"sgd"``, ``"rmsprop"``, ... with Keras's default
            learning rates, see ``nnlib.optim.get``) or a ``GradientTransformation``.
          loss: a loss name (``"categorical_crossentropy"`` for one-hot targets ``(N, K)``,
            ``"sparse_categorical_crossentropy"`` for integer labels ``(N,)``, ``"mse"``, ...),
            a ``nnlib.losses.Loss`` or a function ``fn(y_pred, y_true) -> scalar``. Required
            before ``fit``/``evaluate``.
          metrics: names among ``"accuracy"``, ``"mae"``, ``"mse"`` (:mod:`nnlib.train.metrics`).
          seed: fixes initialization, shuffling and dropout (module docstring).

        Raises:
          ValueError: unknown optimizer, loss or metric names (listing the valid ones).
        """
        seed = validation.integer(seed, "seed")
        resolve_optimizer(optimizer)  # check the names now, as Keras does
        if loss is not None:
            resolve_loss(loss)
        # Names are kept as given (not resolved objects), so that the jitted-function cache
        # recognises the same configuration after another compile.
        self.compile_config = CompileConfig(optimizer, loss, resolve_metrics(metrics), seed)
        self.opt_state = None

    def fit(self, x: Any, y: Any, epochs: int = 1, batch_size: int | None = 32,
            validation_split: float = 0.0, validation_data: Any = None, verbose: int = 1,
            callbacks: Sequence[Callable] = (), patience: int | None = None,
            key: Any = None) -> History:
        """Keras's ``fit``: trains ``self.params`` in place and returns a :class:`History`.

        The arguments are those of :func:`nnlib.train.fit` (see there: shapes, validation,
        callbacks, early stopping), with Keras's defaults and two differences:
        ``batch_size=None`` means 32, and ``verbose`` is 0 (silent), 1 (a progress bar over
        epochs) or 2 (one printed line per epoch). ``key`` defaults to one derived from the
        compile seed (module docstring). The model is built on first use from
        ``x.shape[1:]``.

        Returns:
          a :class:`History` whose ``.history`` maps ``"loss"``, the metrics and ``"val_*"``
          to per-epoch lists of floats.
        """
        config = self._config("fit")
        self._ensure_built(x)
        if key is None:
            root = jax.random.fold_in(jax.random.key(config.seed), 1)
            key = jax.random.fold_in(root, config.fit_calls)
        callbacks = tuple(callbacks)
        if verbose == 2:
            callbacks += (_print_epoch(epochs),)
        result = train.fit(
            self, self.params, x, y, loss=config.loss, optimizer=config.optimizer,
            epochs=epochs, batch_size=32 if batch_size is None else batch_size, key=key,
            state=self.state, opt_state=self.opt_state, validation_split=validation_split,
            validation_data=validation_data, metrics=config.metrics, patience=patience,
            progress=verbose == 1, callbacks=callbacks)
        config.fit_calls += 1
        self.params, self.state, self.opt_state = result.params, result.state, result.opt_state
        return History(result.history, self)

    def evaluate(self, x: Any, y: Any, batch_size: int | None = None,
                 verbose: int = 0) -> float | list[float]:
        """Keras's ``evaluate``: the loss and metrics on ``(x, y)`` in inference mode.

        See :func:`nnlib.train.evaluate`. ``batch_size`` only sets the chunk size (default
        1024); ``verbose`` is accepted for Keras compatibility (nothing is printed).

        Returns:
          ``[loss, *metrics]`` as floats, or the loss alone when compiled without metrics.
        """
        config = self._config("evaluate")
        self._ensure_built(x)
        logs = train.evaluate(self, self.params, x, y, loss=config.loss,
                              metrics=config.metrics, state=self.state,
                              batch_size=1024 if batch_size is None else batch_size)
        values = [logs["loss"]] + [logs[m] for m in config.metrics]
        return values[0] if len(values) == 1 else values

    def predict(self, x: Any, batch_size: int | None = None) -> np.ndarray:
        """Keras's ``predict``: the outputs ``(N, *out_shape)`` in inference mode, as NumPy.

        Works before ``compile``/``fit`` too (the model is built with seed 0, as Keras would
        initialize it). See :func:`nnlib.train.predict`; ``batch_size`` only sets the chunk
        size (default 1024).
        """
        self._ensure_built(x)
        out = train.predict(self, self.params, x, state=self.state,
                            batch_size=1024 if batch_size is None else batch_size)
        return np.asarray(out)

    def _config(self, who: str) -> CompileConfig:
        config = self.compile_config
        if config is None:
            raise RuntimeError(f"{who}: call model.compile(optimizer=..., loss=..., "
                               "metrics=...) first")
        if config.loss is None:
            raise ValueError(f"{who}: the model was compiled without a loss; "
                             "call model.compile(loss='...') first")
        return config

    def _ensure_built(self, x: Any) -> None:
        """Builds the model from ``x.shape[1:]`` if needed, or checks the shape matches."""
        in_shape = tuple(np.shape(x)[1:])
        if self.params is None:
            seed = 0 if self.compile_config is None else self.compile_config.seed
            self.build(jax.random.fold_in(jax.random.key(seed), 0), in_shape)
        elif self.in_shape is not None and tuple(self.in_shape) != in_shape:
            raise ValueError(f"x examples have shape {in_shape} but the model was built for "
                             f"{tuple(self.in_shape)}")
        if self.state is None:
            self.state = self.init_state(in_shape)


def _print_epoch(epochs: int) -> Callable:
    def cb(epoch, logs):
        values = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
        print(f"Epoch {epoch + 1}/{epochs} - {values}")
    return cb
