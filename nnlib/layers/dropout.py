"""Inverted dropout (Srivastava et al. 2014)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nnlib import validation
from nnlib.layers.base import Layer, check_input


class Dropout(Layer):
    """Inverted dropout: zero a fraction ``rate`` of the units while training.

    With ``train=True`` and ``rate > 0``, each unit is kept independently with probability
    ``p = 1 - rate``, and kept units are scaled by ``1 / p``::

        m_i ~ Bernoulli(1 - rate),     y = x * m / (1 - rate)

    so ``E[y] = x`` and nothing needs rescaling at test time. With ``train=False`` or
    ``rate == 0`` the layer is the identity (and needs no key).

    Backward: ``dx = dy * m / (1 - rate)`` (the same mask).

    Shapes: any ``x``; ``y`` has the same shape.

    Args:
      rate: the fraction of units **set to zero**, ``0 <= rate < 1``.

    Raises:
      ValueError: for a rate outside ``[0, 1)``; from ``forward`` when ``train=True``,
        ``rate > 0`` and no ``key`` is given.

    Example:
      >>> y = Dropout(0.5).apply({}, x, train=True, key=jax.random.key(0))

    References:
      Srivastava, N., Hinton, G., Krizhevsky, A., Sutskever, I. and Salakhutdinov, R. (2014).
      Dropout: a simple way to prevent neural networks from overfitting. JMLR 15, 1929-1958.
    """

    def __init__(self, rate: float):
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise TypeError(f"Dropout: rate must be a number in [0, 1), got {rate!r}")
        validation.in_range(rate, "Dropout rate", 0.0, 1.0)
        self.rate = float(rate)

    @property
    def needs_key(self) -> bool:
        return self.rate > 0

    def init(self, key, in_shape, *, dtype=jnp.float32):
        """No parameters: ``({}, in_shape)``."""
        return {}, tuple(in_shape)

    def forward(self, params, x, *, train=False, key=None, state=None):
        """``x (B, ...) -> y`` of the same shape; ``key`` needed when ``train`` and ``rate > 0``."""
        x = check_input(x, "Dropout")
        if not train or self.rate == 0:
            return x, {}
        key = validation.require_key(key, "Dropout(train=True)")
        keep = jax.random.bernoulli(key, 1.0 - self.rate, x.shape)
        mask = keep.astype(x.dtype) / (1.0 - self.rate)
        return x * mask, {"mask": mask}

    def backward(self, params, cache, dy):
        """``dy -> ({}, dx)``, both of ``x``'s shape: ``dx = dy * m / (1 - rate)``."""
        if "mask" not in cache:  # identity in eval mode or rate == 0
            return {}, dy
        return {}, dy * cache["mask"]
