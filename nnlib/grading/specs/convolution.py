"""Checkers for lesson 08's exercises: a convolution's forward and backward pass, max pooling.

Layouts are those of :class:`nnlib.layers.Conv2D`: images NHWC ``x (N, H, W, C_in)``, kernels
HWIO ``w (kh, kw, C_in, C_out)``, outputs NHWC. ``stride`` ``S`` and ``padding`` ``P`` are
integers, the same along height and width; ``P`` rows/columns of zeros go on all four sides.

* ``conv2d_naive(x, w, *, stride, padding) -> y (N, H_out, W_out, C_out)``: the
  cross-correlation of deep-learning libraries (the kernel is *not* flipped),
  ``y[n, r, c, o] = sum_{a, b, i} xp[n, S r + a, S c + b, i] w[a, b, i, o]`` with ``xp`` the
  padded input and ``H_out = floor((H + 2P - kh) / S) + 1`` (likewise ``W_out``).
* ``conv2d_backward(dy, x, w, *, stride, padding) -> (dx, dw)``: the gradients of
  ``sum(dy * y)`` with respect to ``x`` (shape of ``x``) and ``w`` (shape of ``w``).
* ``maxpool2d_backward(dy, x, *, size) -> dx``: non-overlapping ``size x size`` max pooling
  (stride ``size``, no padding; rows/columns beyond the last whole window are dropped);
  ``dx`` has the shape of ``x`` and holds each window's ``dy`` at the position of its
  maximum, zero elsewhere. The cases have no ties.

Every case set has a batch of one, non-square images and kernels, ``C_in != C_out``, a
stride of 2 with padding, and inputs of a large magnitude, so that each catalogued mistake
moves the output far beyond the tolerance (or changes its shape) in at least one case.
"""

from __future__ import annotations

import numpy as np

from nnlib.grading.core import Mistake, Question, variant


# --------------------------------------------------------------------------- references
def _geometry(x, w, stride, padding):
    n, h, wd, _ = x.shape
    kh, kw = w.shape[:2]
    return (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1


def _pad(x, padding, axes=(1, 2)):
    pads = [(0, 0)] * x.ndim
    for a in axes:
        pads[a] = (padding, padding)
    return np.pad(x, pads)


def _slice(xp, a, b, stride, ho, wo):
    """``xp[:, a + S r, b + S c, :]`` for ``r < ho, c < wo``: shape (N, ho, wo, C)."""
    return xp[:, a: a + stride * (ho - 1) + 1: stride, b: b + stride * (wo - 1) + 1: stride, :]


def conv2d(x, w, stride, padding, *, xp=None, out_hw=None):
    """Reference cross-correlation in float64 (``xp``/``out_hw`` override the padding and size)."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    xp = _pad(x, padding) if xp is None else xp
    ho, wo = _geometry(x, w, stride, padding) if out_hw is None else out_hw
    y = np.zeros((xp.shape[0], ho, wo, w.shape[3]))
    for a in range(w.shape[0]):
        for b in range(w.shape[1]):
            y += _slice(xp, a, b, stride, ho, wo) @ w[a, b]
    return y


def conv2d_grads(dy, x, w, stride, padding, *, flip_dx=False):
    """Reference ``(dx, dw)``; ``flip_dx`` scatters with the rotated kernel (a mistake)."""
    dy, x, w = (np.asarray(v, np.float64) for v in (dy, x, w))
    kh, kw = w.shape[:2]
    ho, wo = dy.shape[1:3]
    xp = _pad(x, padding)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for a in range(kh):
        for b in range(kw):
            dw[a, b] = np.einsum("nhwc,nhwd->cd", _slice(xp, a, b, stride, ho, wo), dy)
            k = w[kh - 1 - a, kw - 1 - b] if flip_dx else w[a, b]
            dxp[:, a: a + stride * (ho - 1) + 1: stride, b: b + stride * (wo - 1) + 1: stride] += dy @ k.T
    h, wd = x.shape[1:3]
    return dxp[:, padding: padding + h, padding: padding + wd], dw, dxp


def _windows(x, size, step=None):
    """Windows of ``x (N, H, W, C)``: (N, Ho, Wo, C, size*size) and their top-left corners."""
    step = size if step is None else step
    n, h, wd, c = x.shape
    ho, wo = (h - size) // step + 1, (wd - size) // step + 1
    cols = [x[:, a: a + step * (ho - 1) + 1: step, b: b + step * (wo - 1) + 1: step, :]
            for a in range(size) for b in range(size)]
    return np.stack(cols, axis=-1), ho, wo


def maxpool_backward(dy, x, size, *, step=None, swap=False, how="argmax"):
    """Reference max-pool backward; ``step``/``swap``/``how`` produce the catalogued mistakes."""
    dy, x = np.asarray(dy, np.float64), np.asarray(x, np.float64)
    step = size if step is None else step
    win, ho, wo = _windows(x, size, step)
    if how == "argmax":
        hit = (win == win.max(axis=-1, keepdims=True)).astype(np.float64)
    else:
        hit = np.full(win.shape, 1.0 / size**2 if how == "mean" else 1.0)
    dx = np.zeros_like(x)
    for k in range(size * size):
        a, b = divmod(k, size)
        if swap:
            a, b = b, a
        dx[:, a: a + step * (ho - 1) + 1: step, b: b + step * (wo - 1) + 1: step, :] += hit[..., k] * dy
    return dx


# --------------------------------------------------------------------------- conv2d_naive
def _conv_case(rng, n, h, w, cin, kh, kw, cout, stride, padding, scale=1.0):
    return {"x": scale * rng.normal(size=(n, h, w, cin)), "w": rng.normal(size=(kh, kw, cin, cout)),
            "stride": np.asarray(stride), "padding": np.asarray(padding)}


def _conv_cases(rng):
    return [
        ("x (2, 7, 9, 3), w (3, 2, 3, 4), stride 1, padding 0", _conv_case(rng, 2, 7, 9, 3, 3, 2, 4, 1, 0)),
        ("x (2, 8, 7, 2), w (3, 3, 2, 5), stride 2, padding 1", _conv_case(rng, 2, 8, 7, 2, 3, 3, 5, 2, 1)),
        ("a batch of one, x (1, 6, 5, 1), w (2, 3, 1, 3), stride 1, padding 2",
         _conv_case(rng, 1, 6, 5, 1, 2, 3, 3, 1, 2)),
        ("large inputs (~1000), x (3, 9, 6, 2), w (3, 3, 2, 1), stride 3, padding 1",
         _conv_case(rng, 3, 9, 6, 2, 3, 3, 1, 3, 1, scale=1000.0)),
    ]


def _sp(i):
    return int(i["stride"]), int(i["padding"])


def _conv_ref(i):
    return {"y": conv2d(i["x"], i["w"], *_sp(i))}


def _conv_no_stride(i):
    return conv2d(i["x"], i["w"], 1, int(i["padding"]))


def _conv_window_step_one(i):
    ho, wo = _geometry(i["x"], i["w"], *_sp(i))
    return _conv_no_stride(i)[:, :ho, :wo]


def _conv_pad_batch_height(i):
    s, p = _sp(i)
    xp = _pad(np.asarray(i["x"], np.float64), p, axes=(0, 1))
    kh, kw = i["w"].shape[:2]
    out_hw = ((xp.shape[1] - kh) // s + 1, (xp.shape[2] - kw) // s + 1)
    return conv2d(i["x"], i["w"], s, p, xp=xp, out_hw=out_hw)


CONV2D_NAIVE = Question(
    name="conv2d", functions=("conv2d_naive",), make_cases=_conv_cases,
    run=lambda fns, i: {"y": fns["conv2d_naive"](i["x"], i["w"], stride=int(i["stride"]),
                                                 padding=int(i["padding"]))},
    reference=_conv_ref, rtol=1e-4, atol=1e-6,
    mistakes=(
        Mistake("flipped_kernel", "the kernel is flipped (w[::-1, ::-1]): that is the convolution "
                "of mathematics; deep-learning libraries compute the cross-correlation, "
                "y[r, c] = sum_ab x[S r + a, S c + b] w[a, b], with no flip",
                lambda i: {"y": conv2d(i["x"], i["w"][::-1, ::-1], *_sp(i))}),
        Mistake("missing_plus_one", "the output is one row and one column too small: "
                "H_out = floor((H + 2P - kh) / S) + 1 (the +1 counts the first window)",
                lambda i: {"y": _conv_ref(i)["y"][:, :-1, :-1]}),
        Mistake("pad_batch_and_height", "the zeros were added to the batch and height axes "
                "(a pad written for one HWC image); in NHWC pad axes 1 and 2: "
                "np.pad(x, ((0, 0), (P, P), (P, P), (0, 0)))",
                lambda i: {"y": _conv_pad_batch_height(i)}),
        Mistake("channels_first", "the output is channels-first (N, C_out, H_out, W_out); this "
                "exercise uses NHWC: y has shape (N, H_out, W_out, C_out)",
                lambda i: {"y": _conv_ref(i)["y"].transpose(0, 3, 1, 2)}),
        Mistake("stride_ignored", "the stride is ignored: that is the output of stride 1; with "
                "stride S the window moves S pixels, y[r, c] starts at row S r, column S c",
                lambda i: {"y": _conv_no_stride(i)}),
        Mistake("window_step_one", "the output has the right size but the windows start at "
                "(r, c) instead of (S r, S c): multiply the output index by the stride",
                lambda i: {"y": _conv_window_step_one(i)}),
    ),
)


# --------------------------------------------------------------------------- conv2d_backward
def _backward_cases(rng):
    cases = []
    for desc, case in _conv_cases(rng):
        ho, wo = _geometry(case["x"], case["w"], int(case["stride"]), int(case["padding"]))
        case["dy"] = rng.normal(size=(case["x"].shape[0], ho, wo, case["w"].shape[3]))
        cases.append((desc, case))
    return cases


def _backward_ref(i):
    dx, dw, _ = conv2d_grads(i["dy"], i["x"], i["w"], *_sp(i))
    return {"dx": dx, "dw": dw}


def _run_backward(fns, i):
    dx, dw = fns["conv2d_backward"](i["dy"], i["x"], i["w"], stride=int(i["stride"]),
                                    padding=int(i["padding"]))
    return {"dx": dx, "dw": dw}


CONV2D_BACKWARD = Question(
    name="conv2d_grads", functions=("conv2d_backward",), make_cases=_backward_cases,
    run=_run_backward, reference=_backward_ref, rtol=1e-4, atol=1e-6,
    mistakes=(
        Mistake("dx_kernel_flipped", "dx used the kernel rotated by 180 degrees: in the scatter "
                "form dx[S r + a, S c + b] += dy[r, c] @ w[a, b].T the kernel is not flipped (the "
                "flip appears only when dx is written as a convolution of the zero-padded dy)",
                variant(_backward_ref, dx=lambda i: conv2d_grads(i["dy"], i["x"], i["w"], *_sp(i),
                                                                flip_dx=True)[0])),
        Mistake("dx_not_cropped", "dx still has the padding: it is the gradient of the padded "
                "input; crop P rows and columns from every side, dxp[:, P:P+H, P:P+W]",
                variant(_backward_ref, dx=lambda i: conv2d_grads(i["dy"], i["x"], i["w"], *_sp(i))[2])),
        Mistake("dw_in_out_swapped", "dw has its channel axes swapped (kh, kw, C_out, C_in); "
                "dw[a, b] = window(a, b)^T dy has shape (C_in, C_out), as w does",
                variant(_backward_ref, dw=lambda i: _backward_ref(i)["dw"].transpose(0, 1, 3, 2))),
        Mistake("dw_batch_mean", "dw is divided by the batch size: the gradient of sum(dy * y) "
                "sums over the batch (the loss's own 1/N is already inside dy)",
                variant(_backward_ref, dw=lambda i: _backward_ref(i)["dw"] / i["x"].shape[0])),
    ),
)


# --------------------------------------------------------------------------- max pooling
def _pool_case(rng, n, h, w, c, size, scale=1.0):
    x = scale * rng.normal(size=(n, h, w, c))
    ho, wo = h // size, w // size
    return {"x": x, "dy": rng.normal(size=(n, ho, wo, c)), "size": np.asarray(size)}


def _pool_cases(rng):
    return [("x (2, 6, 8, 3), size 2", _pool_case(rng, 2, 6, 8, 3, 2)),
            ("a batch of one, x (1, 9, 6, 2), size 3", _pool_case(rng, 1, 9, 6, 2, 3)),
            ("x (3, 7, 5, 1), size 2 (the last row and column are in no window)",
             _pool_case(rng, 3, 7, 5, 1, 2)),
            ("large inputs (~1000), x (2, 4, 6, 4), size 2", _pool_case(rng, 2, 4, 6, 4, 2, 1000.0))]


def _pool_ref(i):
    return {"dx": maxpool_backward(i["dy"], i["x"], int(i["size"]))}


def _pool_step_one(i):
    """Windows read at (r + a, c + b) (stride 1) and routed there."""
    size = int(i["size"])
    ho, wo = i["dy"].shape[1:3]
    win, _, _ = _windows(np.asarray(i["x"], np.float64)[:, : ho + size - 1, : wo + size - 1], size, 1)
    hit = (win == win.max(axis=-1, keepdims=True)).astype(np.float64)
    dx = np.zeros(i["x"].shape)
    for k in range(size * size):
        a, b = divmod(k, size)
        dx[:, a: a + ho, b: b + wo, :] += hit[..., k] * i["dy"]
    return dx


MAXPOOL2D_BACKWARD = Question(
    name="maxpool2d_backward", functions=("maxpool2d_backward",), make_cases=_pool_cases,
    run=lambda fns, i: {"dx": fns["maxpool2d_backward"](i["dy"], i["x"], size=int(i["size"]))},
    reference=_pool_ref, rtol=1e-5, atol=1e-7,
    mistakes=(
        Mistake("every_position", "the gradient went to every position of the window; only the "
                "maximum affected the output, so only it gets dy (the others get 0)",
                lambda i: {"dx": maxpool_backward(i["dy"], i["x"], int(i["size"]), how="all")}),
        Mistake("averaged", "the gradient was spread evenly over the window (dy / size**2): that "
                "is the backward pass of AVERAGE pooling; max pooling sends all of dy to the argmax",
                lambda i: {"dx": maxpool_backward(i["dy"], i["x"], int(i["size"]), how="mean")}),
        Mistake("argmax_row_col_swapped", "the argmax's row and column inside the window are "
                "swapped: with the flat index k of the window's max, row = k // size and "
                "column = k % size",
                lambda i: {"dx": maxpool_backward(i["dy"], i["x"], int(i["size"]), swap=True)}),
        Mistake("window_step_one", "the windows start at (r + a, c + b) instead of "
                "(size r + a, size c + b): window r of the output covers rows size*r .. "
                "size*r + size - 1",
                lambda i: {"dx": _pool_step_one(i)}),
    ),
)

QUESTIONS = ()
LESSON_QUESTIONS = (CONV2D_NAIVE, CONV2D_BACKWARD, MAXPOOL2D_BACKWARD)
