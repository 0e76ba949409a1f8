"""Fast convolution and max pooling for XLA:CPU (and GPU): what Conv2D and MaxPool2D run.

The layers' ``backward`` methods keep the readable formulas (a sum over the kernel offsets,
as lesson 08 derives them); their ``forward`` calls the functions here, whose derivatives
are given by a ``jax.custom_jvp`` rule each (so ``jax.grad``, ``jax.jvp`` and
``jax.hessian`` all work; ``jax.grad`` transposes the rules into the backward passes below).
Both forms compute the same numbers: the tests check the functions here against ``jax.lax``
and the layers' readable backward against ``jax.vjp`` of their forward, in float64.

**Convolution as one matrix product (im2col).** For a padded input ``xp (N, Hp, Wp, C)``, a
kernel ``W (kh, kw, C, O)`` and strides ``(sh, sw)``, the patch matrix holds, for every
output position, the ``kh * kw * C`` input values its kernel window covers::

    P[n, r, c, (i, j, ch)] = xp[n, r*sh + i, c*sw + j, ch]        P (N, Ho, Wo, kh*kw*C)
    z = P @ W.reshape(kh*kw*C, O)                                 z (N, Ho, Wo, O)

and the backward pass is two more matrix products and the adjoint of the gather::

    dW = P^T @ dz        (summed over N, Ho, Wo)
    dP = dz @ W^T        then  dxp[n, r*sh + i, c*sw + j, ch] += dP[n, r, c, (i, j, ch)]

One product with an inner dimension of ``kh * kw * C`` runs near the machine's matmul speed;
the readable form makes ``kh * kw`` products with an inner dimension of only ``C``. The patch
matrix is built in two steps (first the ``kw`` column shifts, then the ``kh`` row shifts of
that), which XLA fuses into fewer copies than ``kh * kw`` separate slices. It costs
``kh * kw`` times the input's memory, kept for the backward pass.

Measured with ``benchmarks/bench_train_step.py`` on the course's 2-core CPU (figures in
benchmarks/README.md), a CNN training step with this formulation ran several times faster
than with ``jax.lax.conv_general_dilated`` (whose XLA:CPU gradient is slow) and faster than
with the readable sum of products.

**Max pooling by reshape.** When the windows do not overlap (stride = pool size, the usual
case), ``x`` cropped to ``(N, Ho*ph, Wo*pw, C)`` reshapes to ``(N, Ho, ph, Wo, pw, C)`` and the
pooling is a max over axes 2 and 4. The backward routes ``dy`` to the window's maximum and,
as ``jax.grad`` of ``jnp.max`` and the readable ``MaxPool2D.backward`` do, splits it equally
among tied maxima. Overlapping windows use the readable form.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import SymbolicZero

from nnlib.layers.base import int_pair


def _span(out: int, stride: int) -> int:
    """How many input positions ``out`` windows with this stride start in: ``(out-1)*s + 1``."""
    return stride * (out - 1) + 1


def _patches(xp: jax.Array, kernel: tuple[int, int], strides: tuple[int, int],
             out_hw: tuple[int, int]) -> jax.Array:
    """The im2col matrix ``P (N, Ho, Wo, kh*kw*C)``, last axis ordered ``(i, j, ch)``."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, strides, out_hw
    cols = jnp.concatenate([xp[:, :, j: j + _span(wo, sw): sw, :] for j in range(kw)], axis=-1)
    return jnp.concatenate([cols[:, i: i + _span(ho, sh): sh] for i in range(kh)], axis=-1)


def _unpatch(dP: jax.Array, kernel: tuple[int, int], strides: tuple[int, int],
             in_hw: tuple[int, int]) -> jax.Array:
    """The adjoint of :func:`_patches`: sums ``dP (N, Ho, Wo, kh*kw*C)`` back into
    ``dxp (N, Hp, Wp, C)``, every entry to the input position it was copied from."""
    (kh, kw), (sh, sw), (hp, wp) = kernel, strides, in_hw
    n, ho, wo, k = dP.shape
    c = k // (kh * kw)
    zero = jnp.zeros((), dP.dtype)

    def place(v, axis, start, span, stride, size):  # v at start, start+stride, ... on axis
        cfg = [(0, 0, 0)] * 4
        cfg[axis] = (start, size - start - span, stride - 1)
        return lax.pad(v, zero, cfg)

    rows = dP.reshape(n, ho, wo, kh, kw * c)
    cols = sum(place(rows[:, :, :, i], 1, i, _span(ho, sh), sh, hp) for i in range(kh))
    return sum(place(cols[..., j * c: (j + 1) * c], 2, j, _span(wo, sw), sw, wp)
               for j in range(kw))


def conv2d(xp: jax.Array, W: jax.Array, strides: tuple[int, int]) -> jax.Array:
    """Cross-correlation of a padded NHWC input with an HWIO kernel, "valid" over ``xp``.

    ``xp (N, Hp, Wp, C)``, ``W (kh, kw, C, O)`` -> ``z (N, Ho, Wo, O)`` with
    ``Ho = (Hp - kh) // sh + 1`` (likewise ``Wo``). Differentiable in both arguments, in
    forward and reverse mode (im2col, see the module docstring).

    Raises:
      ValueError: ``xp`` or ``W`` not 4-D, channels that differ, a kernel larger than the
        input, strides below 1.
      TypeError: strides that are not an int or a pair of ints.
    """
    xp, W = jnp.asarray(xp), jnp.asarray(W)
    strides = int_pair(strides, "conv2d: strides")
    if xp.ndim != 4 or W.ndim != 4:
        raise ValueError(f"conv2d: expected xp (N, H, W, C) and W (kh, kw, C, O), got shapes "
                         f"{tuple(xp.shape)} and {tuple(W.shape)}")
    if xp.shape[3] != W.shape[2]:
        raise ValueError(f"conv2d: xp has {xp.shape[3]} channels but W expects {W.shape[2]} "
                         f"(shapes {tuple(xp.shape)} and {tuple(W.shape)})")
    if W.shape[0] > xp.shape[1] or W.shape[1] > xp.shape[2]:
        raise ValueError(f"conv2d: the kernel {tuple(W.shape[:2])} is larger than the input "
                         f"{tuple(xp.shape[1:3])}")
    return _conv2d(xp, W, strides)


def _im2col_conv(xp, W, strides):
    """``P @ W.reshape(kh*kw*C, O)`` as one 2-D product (a 4-D ``dot_general`` contracting
    three axes was slower in the backward pass)."""
    kh, kw, c, o = W.shape
    out_hw = ((xp.shape[1] - kh) // strides[0] + 1, (xp.shape[2] - kw) // strides[1] + 1)
    P = _patches(xp, (kh, kw), strides, out_hw)
    return (P.reshape(-1, kh * kw * c) @ W.reshape(-1, o)).reshape(*P.shape[:3], o)


@partial(jax.custom_jvp, nondiff_argnums=(2,))
def _conv2d(xp, W, strides):
    return _im2col_conv(xp, W, strides)


def _conv2d_jvp(strides, primals, tangents):
    """The convolution is bilinear: ``d(conv(x, W)) = conv(dx, W) + conv(x, dW)``. ``jax.grad``
    transposes these two linear maps into the backward pass of the module docstring
    (``dW = P^T dz``; ``dx`` = the patches of ``dz W^T`` added back). A tangent that is zero
    (the input images, which are not differentiated) costs nothing."""
    (xp, W), (dxp, dW) = primals, tangents
    z = _im2col_conv(xp, W, strides)
    dz = jnp.zeros_like(z)
    if not isinstance(dxp, SymbolicZero):
        dz = dz + _im2col_conv(dxp, W, strides)
    if not isinstance(dW, SymbolicZero):
        dz = dz + _im2col_conv(xp, dW, strides)
    return z, dz


_conv2d.defjvp(_conv2d_jvp, symbolic_zeros=True)


def tiles(pool: tuple[int, int], strides: tuple[int, int]) -> bool:
    """Whether :func:`maxpool2d` applies: windows that tile the image (stride = pool size)."""
    return tuple(pool) == tuple(strides)


def maxpool2d(x: jax.Array, pool: tuple[int, int]) -> jax.Array:
    """Max pooling over non-overlapping ``pool = (ph, pw)`` windows (stride = pool size).

    ``x (N, H, W, C)`` -> ``y (N, H // ph, W // pw, C)``; rows and columns past the last
    whole window are ignored, as with "valid" pooling. The gradient is split equally among
    tied maxima.

    Raises:
      ValueError: ``x`` not 4-D, a pool below 1 or larger than the image.
      TypeError: a pool that is not an int or a pair of ints.
    """
    x, pool = jnp.asarray(x), int_pair(pool, "maxpool2d: pool")
    if x.ndim != 4:
        raise ValueError(f"maxpool2d: expected x (N, H, W, C), got shape {tuple(x.shape)}")
    if pool[0] > x.shape[1] or pool[1] > x.shape[2]:
        raise ValueError(f"maxpool2d: the pool {pool} is larger than the image "
                         f"{tuple(x.shape[1:3])}")
    return _maxpool(x, pool)


def _blocks(x, pool):
    (ph, pw), (n, h, w, c) = pool, x.shape
    ho, wo = h // ph, w // pw
    return x[:, : ho * ph, : wo * pw].reshape(n, ho, ph, wo, pw, c)


def _maxpool_jvp(pool, primals, tangents):
    """The pooling's derivative in direction ``dx``: the mean of ``dx`` over the entries tied
    for each window's maximum (one entry, almost always). ``jax.grad`` transposes this
    (linear) map into the backward pass, which routes ``dy`` to the maxima and splits it
    equally among ties."""
    (x,), (dx,) = primals, tangents
    (ph, pw), y = pool, _maxpool(x, pool)
    ho, wo = y.shape[1:3]
    # how many entries of each window equal its maximum: a sum of strided slices, cheaper
    # than a reduction over the 6-D view
    count = sum((x[:, i: ho * ph: ph, j: wo * pw: pw] == y).astype(x.dtype)
                for i in range(ph) for j in range(pw))
    hit = _blocks(x, pool) == y[:, :, None, :, None]
    picked = jnp.where(hit, _blocks(dx, pool), jnp.zeros((), dx.dtype))
    return y, jnp.sum(picked, axis=(2, 4)) / count


@partial(jax.custom_jvp, nondiff_argnums=(1,))
def _maxpool(x, pool):
    return jnp.max(_blocks(x, pool), axis=(2, 4))


_maxpool.defjvp(_maxpool_jvp)
