"""Convolution, max pooling and flattening for NHWC images ``(batch, height, width, channels)``.

Conv2D is written as a sum over the ``kh * kw`` kernel offsets: for offset ``(i, j)`` the
input pixels that meet ``W[i, j]`` form a (strided) slice of the padded input, shape
``(N, H_out, W_out, C_in)``, and one matrix product with ``W[i, j] (C_in, C_out)`` adds
their contribution. This is the cross-correlation deep-learning libraries call convolution
(LeCun et al. 1998). The hand-written ``backward`` methods follow these readable formulas;
``forward`` runs the same computation in the faster form of :mod:`nnlib.layers.kernels`
(one matrix product over im2col patches; pooling by a reshape when windows tile the image),
whose gradients ``jax.grad`` uses.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from nnlib import validation
from nnlib.layers import kernels
from nnlib.layers.affine import (
    activation_backward,
    activation_layer,
    bias_and_activation,
    init_kernel_and_bias,
)
from nnlib.layers.base import Layer, check_input, int_pair, shape_tuple

_NHWC = " (expected NHWC images (batch, height, width, channels))"


def _window(x: jax.Array, i: int, j: int, strides: tuple[int, int], out_hw: tuple[int, int]):
    """The slice ``x[:, i + s*r, j + s*c, :]`` for ``r < H_out, c < W_out``: (N, H_out, W_out, C)."""
    (sh, sw), (ho, wo) = strides, out_hw
    return x[:, i: i + sh * (ho - 1) + 1: sh, j: j + sw * (wo - 1) + 1: sw, :]


def _window_add(dx: jax.Array, i: int, j: int, strides, out_hw, value: jax.Array) -> jax.Array:
    """Adds ``value (N, H_out, W_out, C)`` into the positions :func:`_window` reads."""
    (sh, sw), (ho, wo) = strides, out_hw
    return dx.at[:, i: i + sh * (ho - 1) + 1: sh, j: j + sw * (wo - 1) + 1: sw, :].add(value)


def _out_size(n: int, k: int, s: int, padding: str, who: str) -> tuple[int, int, int]:
    """Returns ``(n_out, pad_before, pad_after)`` along one spatial axis."""
    if padding == "same":
        n_out = -(-n // s)  # ceil(n / s)
        total = max((n_out - 1) * s + k - n, 0)
        return n_out, total // 2, total - total // 2
    if n < k:
        raise ValueError(f"{who}: input size {n} is smaller than the window {k} with padding='valid'")
    return (n - k) // s + 1, 0, 0


class Conv2D(Layer):
    """2-D convolution (cross-correlation) on NHWC images, optionally with an activation.

    Shapes: ``x (N, H, W, C_in)``, ``W (kh, kw, C_in, C_out)``, ``b (C_out,)``,
    ``y (N, H_out, W_out, C_out)``. With stride ``s``: ``"valid"`` gives
    ``H_out = floor((H - kh) / s) + 1``; ``"same"`` gives ``H_out = ceil(H / s)`` and pads
    with zeros (the extra row/column, if any, at the bottom/right, as TensorFlow does).

    Forward, with ``xp`` the padded input and ``X_ij = xp[:, i::s, j::s, :]`` (H_out x W_out)::

        z = sum_{i < kh, j < kw} X_ij @ W[i, j] + b,    y = act(z)

    Backward (``dz`` after the activation's backward)::

        dW[i, j] = X_ij^T @ dz   (summed over N, H_out, W_out)      db = sum dz
        dxp[:, i::s, j::s, :] += dz @ W[i, j]^T,   dx = dxp without the padding

    Args:
      filters: number of output channels ``C_out``.
      kernel_size: ``k`` or ``(kh, kw)``.
      strides: ``s`` or ``(sh, sw)``.
      padding: ``"valid"`` (no padding) or ``"same"``.
      activation: as for :class:`~nnlib.layers.Dense`.
      use_bias, kernel_init, bias_init: as for :class:`~nnlib.layers.Dense`; the fans of
        the kernel count the receptive field ``kh * kw``.

    References:
      LeCun, Y., Bottou, L., Bengio, Y. and Haffner, P. (1998). Gradient-based learning
      applied to document recognition. Proc. IEEE 86(11).
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, kernel_init="glorot_uniform", bias_init="zeros"):
        self.filters = validation.positive_int(filters, "Conv2D: filters")
        self.kernel_size = kernel_size
        self.strides = strides
        int_pair(kernel_size, "kernel_size")  # validate now; _k and _s re-derive them
        int_pair(strides, "strides")
        self.padding = validation.lookup("padding", padding, {"valid": "valid", "same": "same"})
        self.activation = activation
        activation_layer(activation)
        self.use_bias = bool(use_bias)
        self.kernel_init = kernel_init
        self.bias_init = bias_init

    # Derived from the public hyperparameters on every use, so that changing one after
    # construction (``conv.strides = 2``) takes effect.
    @property
    def _k(self) -> tuple[int, int]:
        return int_pair(self.kernel_size, "kernel_size")

    @property
    def _s(self) -> tuple[int, int]:
        return int_pair(self.strides, "strides")

    def _geometry(self, h: int, w: int):
        (kh, kw), (sh, sw) = self._k, self._s
        ho, pt, pb = _out_size(h, kh, sh, self.padding, "Conv2D")
        wo, pl, pr = _out_size(w, kw, sw, self.padding, "Conv2D")
        return (ho, wo), ((0, 0), (pt, pb), (pl, pr), (0, 0))

    def init(self, key, in_shape, *, dtype=jnp.float32):
        """``in_shape (H, W, C_in)``: ``params = {"W": (kh, kw, C_in, C_out), "b": (C_out,)}``,
        ``out_shape = (H_out, W_out, C_out)``."""
        h, w, c = shape_tuple(in_shape, "Conv2D", 3, " (expected (height, width, channels))")
        (ho, wo), _ = self._geometry(h, w)
        params = init_kernel_and_bias(self, key, (*self._k, c, self.filters), dtype)
        return params, (ho, wo, self.filters)

    def forward(self, params, x, *, train=False, key=None, state=None):
        """``x (N, H, W, C_in) -> y (N, H_out, W_out, C_out)``; returns ``(y, cache)``."""
        x = check_input(x, "Conv2D", 4, _NHWC)
        W = params["W"]
        if x.shape[3] != W.shape[2]:
            raise ValueError(
                f"Conv2D: x has {x.shape[3]} channels (shape {tuple(x.shape)}) but W expects "
                f"C_in={W.shape[2]} (W shape {tuple(W.shape)})"
            )
        _, pads = self._geometry(x.shape[1], x.shape[2])
        # the sum over kernel offsets of the class docstring, computed as one matrix product
        # over im2col patches (nnlib.layers.kernels: same numbers, several times faster)
        z = kernels.conv2d(jnp.pad(x, pads), W, self._s)
        return bias_and_activation(self, params, z, x)

    def backward(self, params, cache, dy):
        """``dy (N, H_out, W_out, C_out) -> ({"W": dW, "b": db}, dx (N, H, W, C_in))``."""
        dz = activation_backward(self, cache, dy)
        x, W = cache["x"], params["W"]
        out_hw, pads = self._geometry(x.shape[1], x.shape[2])
        xp = jnp.pad(x, pads)
        dxp = jnp.zeros_like(xp)
        dW = []
        for i in range(W.shape[0]):
            row = []
            for j in range(W.shape[1]):
                row.append(jnp.einsum("nhwc,nhwd->cd", _window(xp, i, j, self._s, out_hw), dz))
                dxp = _window_add(dxp, i, j, self._s, out_hw, dz @ W[i, j].T)
            dW.append(jnp.stack(row))
        grads = {"W": jnp.stack(dW)}
        if self.use_bias:
            grads["b"] = jnp.sum(dz, axis=(0, 1, 2))
        (_, _), (pt, _), (pl, _), _ = pads
        dx = dxp[:, pt: pt + x.shape[1], pl: pl + x.shape[2], :]
        return grads, dx


class MaxPool2D(Layer):
    """Max pooling over ``pool_size`` windows of NHWC images (no padding).

    ``y[n, r, c, ch] = max_{i, j} x[n, r*s + i, c*s + j, ch]``;
    shapes ``x (N, H, W, C)`` -> ``y (N, floor((H - ph)/sh) + 1, floor((W - pw)/sw) + 1, C)``.

    Backward routes ``dy`` to the position of the maximum of each window. When several
    entries of a window tie for the maximum, the gradient is split equally among them, as
    ``jax.grad`` does for ``jnp.max`` (the forward here is a max over the stacked window
    offsets).

    Args:
      pool_size: ``p`` or ``(ph, pw)`` (default 2).
      strides: ``s`` or ``(sh, sw)``; None (default) means ``pool_size``.
    """

    def __init__(self, pool_size=2, strides=None):
        self.pool_size = pool_size
        self.strides = strides
        int_pair(pool_size, "pool_size")  # validate now; _p and _s re-derive them
        if strides is not None:
            int_pair(strides, "strides")

    @property
    def _p(self) -> tuple[int, int]:
        return int_pair(self.pool_size, "pool_size")

    @property
    def _s(self) -> tuple[int, int]:
        return self._p if self.strides is None else int_pair(self.strides, "strides")

    def _out_hw(self, h, w):
        return (_out_size(h, self._p[0], self._s[0], "valid", "MaxPool2D")[0],
                _out_size(w, self._p[1], self._s[1], "valid", "MaxPool2D")[0])

    def init(self, key, in_shape, *, dtype=jnp.float32):
        """No parameters: ``({}, (H_out, W_out, C))`` for ``in_shape (H, W, C)``."""
        h, w, c = shape_tuple(in_shape, "MaxPool2D", 3, " (expected (height, width, channels))")
        return {}, (*self._out_hw(h, w), c)

    def _offsets(self):
        return [(i, j) for i in range(self._p[0]) for j in range(self._p[1])]

    def forward(self, params, x, *, train=False, key=None, state=None):
        """``x (N, H, W, C) -> y (N, H_out, W_out, C)``; returns ``(y, cache)``."""
        x = check_input(x, "MaxPool2D", 4, _NHWC)
        out_hw = self._out_hw(x.shape[1], x.shape[2])
        if kernels.tiles(self._p, self._s):  # windows that tile the image: a reshape and a max
            y = kernels.maxpool2d(x, self._p)
            return y, {"x": x, "y": y}
        windows = jnp.stack([_window(x, i, j, self._s, out_hw) for i, j in self._offsets()], -1)
        y = jnp.max(windows, axis=-1)
        return y, {"x": x, "y": y}

    def backward(self, params, cache, dy):
        """``dy (N, H_out, W_out, C) -> ({}, dx (N, H, W, C))``, routed to each window's max."""
        x, y = cache["x"], cache["y"]
        out_hw = y.shape[1:3]
        hits = [(_window(x, i, j, self._s, out_hw) == y).astype(dy.dtype) for i, j in self._offsets()]
        share = dy / sum(hits)  # split equally among tied maxima
        dx = jnp.zeros_like(x)
        for (i, j), hit in zip(self._offsets(), hits):
            dx = _window_add(dx, i, j, self._s, out_hw, hit * share)
        return {}, dx


class Flatten(Layer):
    """Flattens everything but the batch axis: ``(N, d1, d2, ...) -> (N, d1*d2*...)``.

    Backward reshapes ``dy`` back to the input's shape.
    """

    def init(self, key, in_shape, *, dtype=jnp.float32):
        """No parameters: ``({}, (d1 * d2 * ...,))`` for ``in_shape (d1, d2, ...)``."""
        return {}, (math.prod(int(d) for d in in_shape),)

    def forward(self, params, x, *, train=False, key=None, state=None):
        """``x (N, d1, d2, ...) -> y (N, d1 * d2 * ...)``; returns ``(y, cache)``."""
        x = check_input(x, "Flatten")
        if x.ndim < 2:
            raise ValueError(f"Flatten: x must have a batch axis and at least one more, got shape {tuple(x.shape)}")
        return x.reshape(x.shape[0], -1), {"x_shape": tuple(x.shape)}

    def backward(self, params, cache, dy):
        """``dy (N, d1 * d2 * ...) -> ({}, dx (N, d1, d2, ...))``: a reshape."""
        return {}, dy.reshape(cache["x_shape"])
