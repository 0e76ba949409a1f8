"""Sequential: a stack of layers that is itself a layer (Keras's training methods are in
:mod:`nnlib.models`)."""

from __future__ import annotations

from collections.abc import Sequence

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

    :meth:`build` stores ``params``, ``state`` and ``in_shape`` on the object (as Keras does)
    and :meth:`summary` prints the layers' output shapes and parameter counts; training is
    :func:`nnlib.train.fit`, or Keras's ``compile``/``fit`` on :class:`nnlib.models.Sequential`.

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

    # ------------------------------------------------------------- built state and summary
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

    def __repr__(self) -> str:
        inner = ",\n".join(f"    {layer!r}" for layer in self.layers)
        return f"Sequential([\n{inner},\n])" if self.layers else "Sequential([])"
