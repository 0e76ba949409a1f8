"""Sequential: a stack of layers that is itself a layer, plus a Keras-like surface."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from nnlib import validation
from nnlib.layers.base import Layer, updated_state


class Sequential(Layer):
    """Layers applied one after the other: ``y = f_L(... f_2(f_1(x)))``.

    It follows the layer contract with lists: ``params`` is a list of per-layer params,
    ``state`` a list of per-layer states, and ``cache = {"caches": [...], "state": [...]}``.
    ``backward`` runs the layers' backward passes in reverse order (the chain rule), feeding
    each one the ``dx`` of the layer after it.

    Keys: ``init`` splits its key across all layers; ``forward(train=True)`` splits its key
    among the layers whose ``needs_key`` is true (Dropout), and raises a clear ``ValueError``
    if one is needed but missing.

    Keras-like surface (stores pytrees on the object on purpose): :meth:`build`,
    :meth:`summary`, and :meth:`compile`, :meth:`fit`, :meth:`evaluate`, :meth:`predict`,
    which delegate to ``nnlib.train``.

    Args:
      layers: a list of layers (``Sequential([Dense(32, "relu"), Dense(10)])``).

    Example:
      >>> model = Sequential([Dense(16, activation="relu"), Dense(1)])
      >>> params, out_shape = model.init(jax.random.key(0), (3,))      # out_shape == (1,)
      >>> y = model.apply(params, jnp.ones((5, 3)))                     # (5, 1)
    """

    def __init__(self, layers: Sequence[Layer] = ()):
        if isinstance(layers, Layer):
            layers = [layers]
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: layers[{i}] must be a Layer, got {type(layer).__name__}")
        self.layers = layers
        self.params = None
        self.state = None
        self.in_shape = None

    def add(self, layer: Layer) -> Sequential:
        """Appends ``layer`` (Keras style) and returns the model."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a Layer, got {type(layer).__name__}")
        self.layers.append(layer)
        return self

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def needs_key(self) -> bool:
        return any(layer.needs_key for layer in self.layers)

    # ----------------------------------------------------------------- layer contract
    def init(self, key, in_shape, *, dtype=jnp.float32):
        """Returns ``([params_1, ..., params_L], out_shape)``; one subkey per layer.

        ``in_shape`` is one example's shape (no batch axis); ``out_shape`` the last layer's.
        """
        keys = jax.random.split(validation.require_key(key, "Sequential.init"), max(len(self.layers), 1))
        params, shape = [], tuple(in_shape)
        for layer, k in zip(self.layers, keys):
            p, shape = layer.init(k, shape, dtype=dtype)
            params.append(p)
        return params, shape

    def output_shapes(self, in_shape) -> list[tuple[int, ...]]:
        """The output shape (no batch axis) after each layer, computed without allocating."""
        shapes, shape = [], tuple(in_shape)
        for layer in self.layers:
            out = {}

            def run(k, layer=layer, shape=shape, out=out):
                p, out["shape"] = layer.init(k, shape)
                return p

            jax.eval_shape(run, jax.random.key(0))
            shape = tuple(out["shape"])
            shapes.append(shape)
        return shapes

    def init_state(self, in_shape, *, dtype=jnp.float32):
        """Returns ``[state_1, ..., state_L]`` (``{}`` for stateless layers)."""
        shapes = [tuple(in_shape)] + self.output_shapes(in_shape)[:-1]
        return [layer.init_state(s, dtype=dtype) for layer, s in zip(self.layers, shapes)]

    def _layer_keys(self, train, key):
        if not train or not self.needs_key:
            return [None] * len(self.layers)
        key = validation.require_key(key, "Sequential(train=True) with a Dropout layer")
        users = [i for i, layer in enumerate(self.layers) if layer.needs_key]
        subkeys = jax.random.split(key, len(users))
        keys = [None] * len(self.layers)
        for i, k in zip(users, subkeys):
            keys[i] = k
        return keys

    def forward(self, params, x, *, train=False, key=None, state=None):
        """Runs the layers in order: ``x (B, *in_shape) -> y (B, *out_shape)``.

        ``params`` and ``state`` are lists with one entry per layer; returns ``(y, cache)``
        with ``cache = {"caches": [...], "state": [...]}`` (the updated per-layer states).
        """
        n = len(self.layers)
        if not isinstance(params, (list, tuple)) or len(params) != n:
            got = f"{len(params)} entries" if isinstance(params, (list, tuple)) else type(params).__name__
            raise ValueError(f"Sequential: params must be a list with one entry per layer ({n}), got {got}")
        if state is not None and (not isinstance(state, (list, tuple)) or len(state) != n):
            raise ValueError(
                f"Sequential: state must be a list with one entry per layer ({n}); "
                "get it from model.init_state(in_shape)"
            )
        keys = self._layer_keys(train, key)
        caches = []
        for i, layer in enumerate(self.layers):
            x, cache = layer.forward(params[i], x, train=train, key=keys[i],
                                     state=None if state is None else state[i])
            caches.append(cache)
        return x, {"caches": caches, "state": [updated_state(c) for c in caches]}

    def backward(self, params, cache, dy):
        """The layers' backward passes in reverse order (the chain rule).

        ``dy (B, *out_shape) -> (dparams, dx (B, *in_shape))`` with ``dparams`` a list of
        per-layer gradients, each with that layer's params' structure.
        """
        grads = [None] * len(self.layers)
        for i in reversed(range(len(self.layers))):
            grads[i], dy = self.layers[i].backward(params[i], cache["caches"][i], dy)
        return grads, dy

    # ------------------------------------------------------------- Keras-like surface
    def build(self, key, in_shape, *, dtype=jnp.float32) -> Sequential:
        """Initializes and stores ``self.params``, ``self.state`` and ``self.in_shape``."""
        self.params, _ = self.init(key, in_shape, dtype=dtype)
        self.state = self.init_state(in_shape, dtype=dtype)
        self.in_shape = tuple(in_shape)
        return self

    def summary(self, in_shape=None) -> str:
        """A table of layers, output shapes and parameter counts (after :meth:`build`).

        Args:
          in_shape: shape of one example; defaults to the one given to :meth:`build`.

        Raises:
          ValueError: when the model is not built and no ``in_shape`` is given.
        """
        in_shape = self.in_shape if in_shape is None else tuple(in_shape)
        if in_shape is None:
            raise ValueError("Sequential.summary: call model.build(key, in_shape) first, or pass in_shape")
        shapes, shape = [], in_shape
        counts = []
        for layer, out_shape in zip(self.layers, self.output_shapes(in_shape)):
            p = jax.eval_shape(lambda k, layer=layer, s=shape: layer.init(k, s)[0], jax.random.key(0))
            counts.append(sum(leaf.size for leaf in jax.tree.leaves(p)))
            shapes.append(out_shape)
            shape = out_shape
        rows = [(repr(layer), str((None, *s)), f"{c:,}") for layer, s, c in zip(self.layers, shapes, counts)]
        head = ("Layer", "Output shape", "Params")
        widths = [max(len(r[k]) for r in rows + [head]) for k in range(3)]
        fmt = lambda r: f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}"
        rule = "-" * len(fmt(head))
        lines = [fmt(head), rule, *map(fmt, rows), rule,
                 f"Total params: {sum(counts):,}  (input shape {(None, *in_shape)})"]
        return "\n".join(lines)

    # Delegation to nnlib.train (written there; imported on first use). The arguments are
    # passed on unchanged, so their defaults live in one place: nnlib.train.keras.
    def compile(self, *args: Any, **kwargs: Any) -> None:
        """``compile(optimizer="rmsprop", loss=None, metrics=(), *, seed=0)``: Keras's ``compile``.

        Configures the model for training; the names are checked now.

        Args:
          optimizer: a name (``"adam"``, ``"sgd"``, ``"rmsprop"``, ... with Keras's default
            learning rates) or a ``nnlib.optim.GradientTransformation``.
          loss: a loss name (``"categorical_crossentropy"`` for one-hot targets ``(N, K)``,
            ``"sparse_categorical_crossentropy"`` for integer labels ``(N,)``, ``"mse"``, ...),
            a ``nnlib.losses.Loss`` or a function ``fn(y_pred, y_true) -> scalar``.
          metrics: names among ``"accuracy"``, ``"mae"``, ``"mse"``.
          seed: fixes initialization, shuffling and dropout.

        Raises:
          ValueError: unknown optimizer, loss or metric names (listing the valid ones).

        See ``nnlib.train.compile_model``.
        """
        from nnlib import train
        return train.compile_model(self, *args, **kwargs)

    def fit(self, *args: Any, **kwargs: Any):
        """``fit(x, y, epochs=1, batch_size=32, validation_split=0.0, validation_data=None,
        verbose=1, callbacks=(), patience=None, key=None)``: Keras's ``fit``.

        Trains ``self.params`` in place (building the model on first use).

        Args:
          x: inputs ``(N, *in_shape)``, floating point, e.g. ``(N, 784)`` or NHWC images
            ``(N, H, W, C)``.
          y: targets ``(N, ...)``: one-hot ``(N, K)``, integer labels ``(N,)`` or regression
            targets ``(N, out)``, as the compiled loss expects.
          epochs: passes over the data (>= 1).
          batch_size: examples per step (None means 32).
          validation_split: the **last** fraction of ``x``/``y`` held out for validation.
          validation_data: ``(x_val (M, *in_shape), y_val (M, ...))``; overrides the split.
          verbose: 0 silent, 1 a progress bar, 2 one printed line per epoch.
          callbacks: ``cb(epoch, logs)`` or ``cb(epoch, logs, params=params)`` after each epoch.
          patience: early stopping after this many epochs without improvement (None: never).
          key: PRNG key for shuffling and dropout (default: from the compile seed).

        Returns:
          a ``History`` whose ``.history`` maps ``"loss"``, metrics and ``"val_*"`` to
          per-epoch lists of floats.

        See ``nnlib.train.fit_model``.
        """
        from nnlib import train
        return train.fit_model(self, *args, **kwargs)

    def evaluate(self, *args: Any, **kwargs: Any):
        """``evaluate(x, y, batch_size=None, verbose=0)``: Keras's ``evaluate``.

        The loss and metrics on ``(x, y)`` in inference mode.

        Args:
          x: inputs ``(N, *in_shape)``, floating point.
          y: targets ``(N, ...)``, as for :meth:`fit`.
          batch_size: chunk size (memory only; default 1024).
          verbose: accepted for Keras compatibility; nothing is printed.

        Returns:
          ``[loss, *metrics]`` as floats, or the loss alone when compiled without metrics.

        See ``nnlib.train.evaluate_model``.
        """
        from nnlib import train
        return train.evaluate_model(self, *args, **kwargs)

    def predict(self, *args: Any, **kwargs: Any):
        """``predict(x, batch_size=None)``: Keras's ``predict``, the outputs in inference mode.

        Args:
          x: inputs ``(N, *in_shape)``, floating point.
          batch_size: chunk size (memory only; default 1024).

        Returns:
          a NumPy array ``(N, *out_shape)`` (probabilities for a softmax/sigmoid output).

        See ``nnlib.train.predict_model``.
        """
        from nnlib import train
        return train.predict_model(self, *args, **kwargs)

    def __repr__(self) -> str:
        inner = ",\n".join(f"    {layer!r}" for layer in self.layers)
        return f"Sequential([\n{inner},\n])" if self.layers else "Sequential([])"
