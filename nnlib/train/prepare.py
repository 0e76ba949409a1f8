"""Checking the data ``fit`` and ``evaluate`` are given, and putting it on the device.

:func:`prepare_data` validates ``x``/``y`` (and validation data), casts them to the
parameters' floating dtype (:func:`param_dtype`), splits off the **last**
``validation_split`` fraction as Keras does, and returns device arrays; :func:`init_state`
makes a model's state (BatchNorm's running statistics) for its input shape.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nnlib import validation


def _targets(y: Any, name: str, n: int, x_name: str) -> jax.Array:
    arr = y if isinstance(y, jax.Array) else np.asarray(y)
    if arr.dtype == object or not (jnp.issubdtype(arr.dtype, jnp.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim == 0 or arr.shape[0] != n:
        raise ValueError(f"{x_name} and {name} must have the same number of examples, got "
                         f"{x_name} with {n} and {name} with shape {tuple(arr.shape)}")
    if arr.dtype == bool:
        arr = arr.astype(np.float32)
    return jnp.asarray(arr)


def _inputs(x: Any, name: str) -> jax.Array:
    try:
        x = validation.float_array(x, name)
    except TypeError as e:  # the usual case: uint8 images
        raise TypeError(f"{e} (and scale it, e.g. / 255)") from None
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (N, *in_shape) with a batch axis first, "
                         f"got shape {tuple(x.shape)}")
    return x


def param_dtype(params: Any) -> Any:
    """The floating dtype of the first floating leaf of ``params`` (float32 if none)."""
    for leaf in jax.tree_util.tree_leaves(params):
        if jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
            return jnp.result_type(leaf)
    return jnp.float32


def prepare_data(x, y, validation_split, validation_data, dtype):
    """Validates and moves ``(x, y)`` (and validation data) to the device, splitting off the
    **last** ``validation_split`` fraction as Keras does (before any shuffling)."""
    x = _inputs(x, "x")
    y = _targets(y, "y", x.shape[0], "x")
    if x.shape[0] == 0:
        raise ValueError("x must hold at least one example, got shape (0, ...)")
    x = x.astype(dtype)
    if jnp.issubdtype(y.dtype, jnp.floating):
        y = y.astype(dtype)
    if not isinstance(validation_split, (int, float)) or isinstance(validation_split, bool):
        raise TypeError(f"validation_split must be a float, got {validation_split!r}")
    validation.in_range(validation_split, "validation_split", 0.0, 1.0)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (x_val, y_val), got "
                             f"{type(validation_data).__name__} of length "
                             f"{len(validation_data) if hasattr(validation_data, '__len__') else '?'}")
        xv = _inputs(validation_data[0], "x_val").astype(dtype)
        yv = _targets(validation_data[1], "y_val", xv.shape[0], "x_val")
        if tuple(xv.shape[1:]) != tuple(x.shape[1:]):
            raise ValueError(f"x_val examples must have the shape of x's, got {tuple(xv.shape[1:])}"
                             f" and {tuple(x.shape[1:])}")
        return x, y, (xv, yv.astype(dtype) if jnp.issubdtype(yv.dtype, jnp.floating) else yv)
    if validation_split > 0:
        split_at = math.floor(x.shape[0] * (1.0 - validation_split))
        if split_at == 0 or split_at == x.shape[0]:
            raise ValueError(f"validation_split={validation_split} leaves an empty training or "
                             f"validation set for {x.shape[0]} examples")
        return x[:split_at], y[:split_at], (x[split_at:], y[split_at:])
    return x, y, None


def init_state(model: Any, in_shape: tuple[int, ...], dtype: Any) -> Any:
    """``model.init_state(in_shape, dtype=dtype)`` (or without ``dtype`` for a custom layer)."""
    try:
        return model.init_state(tuple(in_shape), dtype=dtype)
    except TypeError:
        return model.init_state(tuple(in_shape))
