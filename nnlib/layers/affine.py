"""What Dense and Conv2D share: a kernel ``W``, an optional bias ``b`` and an activation.

Both layers compute a linear map ``z`` of ``x`` with their kernel (a matrix product for
Dense, a sum of them over the kernel offsets for Conv2D), then ``y = act(z + b)``. They hold
the same four hyperparameters for that part (``activation``, ``use_bias``, ``kernel_init``,
``bias_init``); the functions here read them from the layer on every call, so that one
changed after construction (``dense.activation = "tanh"``) takes effect::

    params = init_kernel_and_bias(layer, key, kernel_shape, dtype)  # {"W": ..., "b": (C_out,)}
    y, cache = bias_and_activation(layer, params, z, x)        # y = act(z + b); cache["x"] = x
    dz = activation_backward(layer, cache, dy)                 # dL/dz from dy = dL/dy

``C_out = kernel_shape[-1]``; ``z`` and ``y`` have shape ``(B, ..., C_out)``. The bias
gradient is ``db = sum dz`` over every axis but the last, which the layer computes next to
its ``dW``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

from nnlib.layers.activations import Identity, get_activation
from nnlib.layers.base import Layer


def activation_layer(activation: Any) -> Layer | None:
    """The activation layer to compose after a linear map, or None for ``linear``/None.

    Raises:
      ValueError: for an unknown name (listing the valid ones), as :func:`get_activation`.
    """
    act = get_activation(activation)
    return None if isinstance(act, Identity) else act


def initializer(init: Any) -> Callable:
    """``nnlib.init.get(init)``: an initializer ``fn(key, shape, dtype)`` by name or as is."""
    from nnlib import init as initializers  # another module; imported on first use

    return initializers.get(init)


def init_kernel_and_bias(layer: Any, key: Any, kernel_shape: tuple[int, ...],
                         dtype: Any) -> dict:
    """``{"W": kernel_shape, "b": (kernel_shape[-1],)}`` from ``layer.kernel_init``/``bias_init``.

    ``"b"`` only when ``layer.use_bias``. ``key`` is split in two, one half for each.
    """
    k_w, k_b = jax.random.split(key)
    params = {"W": initializer(layer.kernel_init)(k_w, tuple(kernel_shape), dtype)}
    if layer.use_bias:
        params["b"] = initializer(layer.bias_init)(k_b, (kernel_shape[-1],), dtype)
    return params


def bias_and_activation(layer: Any, params: dict, z: jax.Array,
                        x: jax.Array) -> tuple[jax.Array, dict]:
    """``y = act(z + b)`` for ``z (B, ..., C_out)``; returns ``(y, cache)``.

    The cache holds the layer's input ``x`` (``cache["x"]``, for ``dW``) and, when there is
    an activation, the activation's own cache (``cache["act"]``).
    """
    if layer.use_bias:
        z = z + params["b"]
    cache = {"x": x}
    act = activation_layer(layer.activation)
    if act is None:
        return z, cache
    y, cache["act"] = act.forward({}, z)
    return y, cache


def activation_backward(layer: Any, cache: dict, dy: jax.Array) -> jax.Array:
    """``dz = dL/dz`` from ``dy = dL/dy`` through the activation (``dy`` itself without one).

    Shapes: ``dy`` and ``dz`` both ``(B, ..., C_out)``.
    """
    act = activation_layer(layer.activation)
    if act is None:
        return dy
    return act.backward({}, cache["act"], dy)[1]
