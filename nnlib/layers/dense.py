"""Fully connected (dense) layer: ``y = act(x @ W + b)``."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from nnlib import validation
from nnlib.layers.affine import (
    activation_backward,
    activation_layer,
    bias_and_activation,
    init_kernel_and_bias,
)
from nnlib.layers.base import Layer, check_input, shape_tuple


class Dense(Layer):
    """Fully connected layer ``y = act(x @ W + b)``.

    Shapes: ``x (batch, in_features)``, ``W (in_features, units)``, ``b (units,)``,
    ``y (batch, units)``.

    Backward (with ``dz = dL/dz`` for ``z = x @ W + b``, after the activation's backward)::

        dW = x^T @ dz      db = sum_batch dz      dx = dz @ W^T

    Args:
      units: number of output features.
      activation: a name (``"relu"``, ``"sigmoid"``, ``"tanh"``, ``"leaky_relu"``,
        ``"softmax"``, ``"linear"``), an activation layer, or None (linear). It is
        applied inside this layer; the cache holds both parts.
      use_bias: whether to add ``b`` (without it ``params`` has only ``"W"``).
      kernel_init: initializer name or function for ``W`` (see ``nnlib.init``).
      bias_init: initializer name or function for ``b``.

    Example:
      >>> layer = Dense(3, activation="relu")
      >>> params, out_shape = layer.init(jax.random.key(0), (4,))   # out_shape == (3,)

    References:
      Rumelhart, Hinton & Williams (1986), Learning representations by back-propagating errors.
    """

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_init: Any = "glorot_uniform", bias_init: Any = "zeros"):
        self.units = validation.positive_int(units, "Dense: units")
        self.activation = activation
        activation_layer(activation)  # validates the name now
        self.use_bias = bool(use_bias)
        self.kernel_init = kernel_init
        self.bias_init = bias_init

    def init(self, key, in_shape, *, dtype=jnp.float32):
        """``params = {"W": (in_features, units), "b": (units,)}``, ``out_shape = (units,)``."""
        (n_in,) = shape_tuple(in_shape, "Dense", 1,
                              "; flatten images first with Flatten()")
        return init_kernel_and_bias(self, key, (n_in, self.units), dtype), (self.units,)

    def forward(self, params, x, *, train=False, key=None, state=None):
        """``y = act(x @ W + b)``: ``x (B, in_features) -> y (B, units)``; returns ``(y, cache)``."""
        x = check_input(x, "Dense", 2,
                        " (expected (batch, in_features)); put a Flatten() layer before Dense")
        W = params["W"]
        if x.shape[1] != W.shape[0]:
            raise ValueError(
                f"Dense: x has {x.shape[1]} features (shape {tuple(x.shape)}) but W expects "
                f"in_features={W.shape[0]} (W shape {tuple(W.shape)})"
            )
        return bias_and_activation(self, params, x @ W, x)

    def backward(self, params, cache, dy):
        """``dy (B, units) -> ({"W": dW, "b": db}, dx (B, in_features))``."""
        dz = activation_backward(self, cache, dy)
        grads = {"W": cache["x"].T @ dz}
        if self.use_bias:
            grads["b"] = jnp.sum(dz, axis=0)
        return grads, dz @ params["W"].T
