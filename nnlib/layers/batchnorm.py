"""Batch normalization (Ioffe & Szegedy 2015)."""

from __future__ import annotations

import jax.numpy as jnp

from nnlib import validation
from nnlib.layers.base import Layer, check_input


class BatchNorm(Layer):
    """Batch normalization over every axis but the last (features / channels).

    Works for ``(N, D)`` (normalise each of the D features over the batch) and
    ``(N, H, W, C)`` (normalise each channel over batch and space). With ``m`` the number of
    values per feature (``N`` or ``N*H*W``)::

        mu = mean(x),  var = mean((x - mu)^2)                (biased, over the m values)
        x_hat = (x - mu) / sqrt(var + eps),    y = gamma * x_hat + beta

    - ``train=True`` uses the batch statistics and returns the updated running statistics
      in ``cache["state"]``::

          mean <- momentum * mean + (1 - momentum) * mu
          var  <- momentum * var  + (1 - momentum) * var * m / (m - 1)   (UNBIASED batch var)

      (the unbiased estimate for inference, as in Ioffe & Szegedy's Algorithm 2 and PyTorch;
      Keras uses the biased one).
    - ``train=False`` normalises with the running statistics; ``cache["state"]`` is the
      unchanged state.

    Backward (train, sums over the m values of a feature, ``g = dy * gamma``)::

        dbeta = sum dy,   dgamma = sum dy * x_hat
        dx = (1 / (m sqrt(var + eps))) * (m g - sum g - x_hat * sum(g * x_hat))

    Backward (eval, statistics are constants): ``dx = dy * gamma / sqrt(running_var + eps)``.
    The state gets no gradient.

    Params: ``gamma (C,)`` (ones), ``beta (C,)`` (zeros). State: ``mean (C,)`` (zeros),
    ``var (C,)`` (ones), from :meth:`init_state`.

    Args:
      momentum: weight of the old running statistics, in ``[0, 1)``.
      eps: added to the variance for stability, ``> 0``.

    Raises:
      ValueError: from ``forward`` when ``state`` is missing, or the last axis of ``x``
        does not match ``gamma``.

    References:
      Ioffe, S. and Szegedy, C. (2015). Batch normalization: accelerating deep network
      training by reducing internal covariate shift. ICML.
    """

    def __init__(self, momentum: float = 0.9, eps: float = 1e-5):
        validation.in_range(momentum, "momentum", 0.0, 1.0)
        validation.positive(eps, "eps")
        self.momentum = float(momentum)
        self.eps = float(eps)

    def _features(self, in_shape) -> int:
        shape = tuple(int(d) for d in in_shape)
        if len(shape) < 1:
            raise ValueError(f"BatchNorm: in_shape must have at least 1 entry, got {shape}")
        return shape[-1]

    def init(self, key, in_shape, *, dtype=jnp.float32):
        """``params = {"gamma": ones (C,), "beta": zeros (C,)}`` for ``in_shape (..., C)``."""
        c = self._features(in_shape)
        params = {"gamma": jnp.ones((c,), dtype), "beta": jnp.zeros((c,), dtype)}
        return params, tuple(int(d) for d in in_shape)

    def init_state(self, in_shape, *, dtype=jnp.float32):
        """Running statistics ``{"mean": zeros (C,), "var": ones (C,)}`` for ``in_shape (..., C)``."""
        c = self._features(in_shape)
        return {"mean": jnp.zeros((c,), dtype), "var": jnp.ones((c,), dtype)}

    def forward(self, params, x, *, train=False, key=None, state=None):
        """``x (N, ..., C) -> y`` of the same shape; needs ``state`` (see the class docstring)."""
        x = check_input(x, "BatchNorm")
        if x.ndim < 2:
            raise ValueError(
                f"BatchNorm: x must have a batch axis and a feature axis, got shape {tuple(x.shape)}"
            )
        gamma, beta = params["gamma"], params["beta"]
        if x.shape[-1] != gamma.shape[0]:
            raise ValueError(
                f"BatchNorm: x has {x.shape[-1]} features on its last axis (shape "
                f"{tuple(x.shape)}) but gamma has shape {tuple(gamma.shape)}"
            )
        if state is None or "mean" not in state or "var" not in state:
            raise ValueError(
                "BatchNorm needs its running statistics: pass state=layer.init_state(in_shape) "
                "(a dict with 'mean' and 'var')"
            )
        axes = tuple(range(x.ndim - 1))
        if train:
            m = x.size // x.shape[-1]
            mu = jnp.mean(x, axis=axes)
            var = jnp.mean(jnp.square(x - mu), axis=axes)
            inv_std = 1.0 / jnp.sqrt(var + self.eps)
            unbiased = var * (m / max(m - 1, 1))
            mom = self.momentum
            new_state = {
                "mean": (mom * state["mean"] + (1 - mom) * mu).astype(state["mean"].dtype),
                "var": (mom * state["var"] + (1 - mom) * unbiased).astype(state["var"].dtype),
            }
        else:
            mu, var = state["mean"].astype(x.dtype), state["var"].astype(x.dtype)
            inv_std = 1.0 / jnp.sqrt(var + self.eps)
            new_state = state
        x_hat = (x - mu) * inv_std
        y = gamma * x_hat + beta
        return y, {"x_hat": x_hat, "inv_std": inv_std, "train": bool(train), "state": new_state}

    def backward(self, params, cache, dy):
        """``dy (N, ..., C) -> ({"gamma": (C,), "beta": (C,)}, dx (N, ..., C))``."""
        x_hat, inv_std = cache["x_hat"], cache["inv_std"]
        axes = tuple(range(dy.ndim - 1))
        grads = {"gamma": jnp.sum(dy * x_hat, axis=axes), "beta": jnp.sum(dy, axis=axes)}
        g = dy * params["gamma"]
        if not cache["train"]:
            return grads, g * inv_std
        m = dy.size // dy.shape[-1]
        dx = (inv_std / m) * (
            m * g - jnp.sum(g, axis=axes) - x_hat * jnp.sum(g * x_hat, axis=axes)
        )
        return grads, dx
