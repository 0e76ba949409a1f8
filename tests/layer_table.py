"""The layers under test: one row per configuration, like optax's table of optimizers.

The table-driven tests in ``test_layers.py`` (backward against ``jax.vjp`` in float64, dtypes,
no retracing, ``repr``, docstrings) run over every row, so a new layer (or a new configuration
worth checking) is tested by adding one row here.

A row says how to build the layer and its input: ``x = normal(seed, x_shape) * scale + shift``
(rounded to integers when ``rounded``: MaxPool2D then sees tied maxima), float64 parameters
from ``layer.init(KEY, x_shape[1:])`` then ``setup``, and the expected ``out_shape`` and
``param_shapes`` of ``init``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from layer_checks import F64, normal

from nnlib import layers as L

KEY = jax.random.key(0)


@dataclass(frozen=True)
class LayerCase:
    """One row: a layer, its input and what ``init`` must return.

    Attributes:
      id: the pytest id.
      make: builds a fresh layer (a test may change its hyperparameters).
      x_shape: the input's shape, batch axis first.
      out_shape: the expected ``out_shape`` of ``init`` (no batch axis).
      param_shapes: the expected shapes of ``init``'s params (a pytree of shape tuples).
      seed, scale, shift, rounded: ``x = normal(seed, x_shape) * scale + shift``, rounded.
      train: the ``train`` flag of ``forward``.
      key: seed of the PRNG key given to ``forward`` (None: no key).
      setup: ``(params, state) -> (params, state)``, replacing ``init``'s values (e.g. a
        random bias, so that its gradient is not checked at zero only).
    """

    id: str
    make: Callable[[], L.Layer]
    x_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    param_shapes: Any
    seed: int = 1
    scale: float = 1.0
    shift: float = 0.0
    rounded: bool = False
    train: bool = False
    key: int | None = None
    setup: Callable | None = None

    def prng_key(self, offset: int = 0):
        """``jax.random.key(key + offset)``, or None for a row without a key."""
        return None if self.key is None else jax.random.key(self.key + offset)


class Built(NamedTuple):
    """A row made concrete: the layer, its params, state and input, and init's out_shape."""

    layer: L.Layer
    params: Any
    state: Any
    x: jax.Array
    out_shape: tuple[int, ...]


def build(case: LayerCase, dtype: Any = F64) -> Built:
    """Builds the row's layer, params (init, then ``setup``), state and input in ``dtype``.

    ``state`` is ``layer.init_state(...)`` (``{}`` for a stateless layer), after ``setup``.
    """
    layer = case.make()
    params, out_shape = layer.init(KEY, case.x_shape[1:], dtype=F64)
    state = layer.init_state(case.x_shape[1:], dtype=F64)
    if case.setup is not None:
        params, state = case.setup(params, state)
    x = normal(case.seed, case.x_shape) * case.scale + case.shift
    if case.rounded:
        x = jnp.round(x)
    params, state, x = jax.tree.map(lambda a: a.astype(dtype), (params, state, x))
    return Built(layer, params, state, x, out_shape)


def random_bias(params, state):
    """A random bias ``b`` (when the layer has one) instead of init's zeros."""
    if "b" in params:
        params = {**params, "b": normal(2, params["b"].shape)}
    return params, state


def random_batchnorm(params, state):
    """gamma near 1, random beta and running statistics (var > 0) instead of init's 1/0/0/1."""
    c = params["gamma"].shape
    params = {"gamma": 1.0 + normal(8, c) * 0.1, "beta": normal(9, c)}
    state = {"mean": normal(10, c), "var": 1.0 + jnp.abs(normal(11, c))}
    return params, state


def mlp():
    """A dense network with every kind of dense-side layer (and two Dropouts: two subkeys)."""
    return L.Sequential([L.Dense(8, activation="relu"), L.BatchNorm(), L.Dropout(0.3),
                         L.Dense(6, activation="tanh"), L.Dropout(0.2), L.Dense(3),
                         L.Softmax()])


def small_cnn():
    """Conv, pooling, BatchNorm, Flatten, Dropout and Dense in one network."""
    return L.Sequential([
        L.Conv2D(3, 3, padding="same", activation="relu"), L.MaxPool2D(),
        L.Conv2D(4, 3, strides=2, padding="same", use_bias=False),  # BatchNorm cancels a bias
        L.BatchNorm(), L.ReLU(),
        L.Flatten(), L.Dropout(0.25), L.Dense(5),
    ])


def _activation(id_, make):
    """An activation layer: any rank works (softmax acts on the last axis); no params."""
    return LayerCase(id_, make, (2, 3, 5), (3, 5), {}, seed=1, scale=3.0)


def _dense(id_, activation):
    return LayerCase(id_, lambda: L.Dense(4, activation=activation), (5, 6), (4,),
                     {"W": (6, 4), "b": (4,)}, seed=2)


def _batchnorm(id_, x_shape, train):
    c = x_shape[-1]
    return LayerCase(id_, L.BatchNorm, x_shape, x_shape[1:], {"gamma": (c,), "beta": (c,)},
                     seed=12, scale=2.0, shift=1.0, train=train, setup=random_batchnorm)


def _conv(id_, make, x_shape, out_shape, param_shapes):
    return LayerCase(id_, make, x_shape, out_shape, param_shapes, seed=1, setup=random_bias)


LAYERS = [
    _activation("Identity", L.Identity),
    _activation("Sigmoid", L.Sigmoid),
    _activation("Tanh", L.Tanh),
    _activation("ReLU", L.ReLU),
    _activation("LeakyReLU", lambda: L.LeakyReLU(0.1)),
    _activation("Softmax", L.Softmax),
    _dense("Dense", None),
    _dense("Dense-relu", "relu"),
    _dense("Dense-softmax", "softmax"),
    _dense("Dense-LeakyReLU-layer", L.LeakyReLU(0.2)),
    LayerCase("Dense-no-bias-ones", lambda: L.Dense(3, use_bias=False, kernel_init="ones"),
              (4, 2), (3,), {"W": (2, 3)}, seed=3),
    LayerCase("Dropout-train", lambda: L.Dropout(0.4), (6, 10), (10,), {}, seed=4,
              train=True, key=7),
    LayerCase("Dropout-eval", lambda: L.Dropout(0.5), (3, 4), (4,), {}, seed=5),
    _batchnorm("BatchNorm-dense-train", (8, 5), True),
    _batchnorm("BatchNorm-dense-eval", (8, 5), False),
    _batchnorm("BatchNorm-image-train", (3, 4, 4, 2), True),
    _batchnorm("BatchNorm-image-eval", (3, 4, 4, 2), False),
    _conv("Conv2D-valid", lambda: L.Conv2D(3, 3), (2, 7, 6, 2), (5, 4, 3),
          {"W": (3, 3, 2, 3), "b": (3,)}),
    _conv("Conv2D-same-stride2-relu",
          lambda: L.Conv2D(2, 3, strides=2, padding="same", activation="relu"),
          (2, 7, 6, 2), (4, 3, 2), {"W": (3, 3, 2, 2), "b": (2,)}),
    _conv("Conv2D-same-2x3-no-bias",
          lambda: L.Conv2D(2, (2, 3), strides=(2, 1), padding="same", use_bias=False),
          (2, 6, 5, 3), (3, 5, 2), {"W": (2, 3, 3, 2)}),
    LayerCase("MaxPool2D-ties", L.MaxPool2D, (2, 4, 6, 2), (2, 3, 2), {}, seed=3,
              rounded=True),  # integers: many windows have tied maxima
    LayerCase("MaxPool2D-3-stride2", lambda: L.MaxPool2D(3, 2), (2, 7, 5, 1), (3, 2, 1), {},
              seed=4, scale=2.0, rounded=True),  # overlapping windows
    LayerCase("MaxPool2D-2x1", lambda: L.MaxPool2D((2, 1)), (2, 4, 3, 2), (2, 3, 2), {},
              seed=4, scale=2.0, rounded=True),
    LayerCase("Flatten", L.Flatten, (2, 3, 4, 2), (24,), {}, seed=5),
    LayerCase("Sequential-mlp", mlp, (9, 5), (3,),
              [{"W": (5, 8), "b": (8,)}, {"gamma": (8,), "beta": (8,)}, {},
               {"W": (8, 6), "b": (6,)}, {}, {"W": (6, 3), "b": (3,)}, {}],
              seed=15, train=True, key=3),
    LayerCase("Sequential-nested",
              lambda: L.Sequential([L.Sequential([L.Dense(4, activation="relu"),
                                                  L.BatchNorm()]),
                                    L.Dense(2)]),
              (5, 3), (2,),
              [[{"W": (3, 4), "b": (4,)}, {"gamma": (4,), "beta": (4,)}],
               {"W": (4, 2), "b": (2,)}],
              seed=16, train=True),
    LayerCase("Sequential-cnn", small_cnn, (3, 8, 8, 1), (5,),
              [{"W": (3, 3, 1, 3), "b": (3,)}, {}, {"W": (3, 3, 3, 4)},
               {"gamma": (4,), "beta": (4,)}, {}, {}, {}, {"W": (16, 5), "b": (5,)}],
              seed=6, train=True, key=1),
]

def case_id(case: LayerCase) -> str:
    """The pytest id of a row: ``parametrize("case", LAYERS, ids=case_id)``."""
    return case.id


#: every layer class in the table, once (for the tests that are about a class)
LAYER_CLASSES = sorted({type(case.make()) for case in LAYERS}, key=lambda cls: cls.__name__)
