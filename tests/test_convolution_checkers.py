"""Lesson 08's checkers: a convolution's forward and backward pass, max pooling's backward.

Right answers pass with two seeds and in several forms (NumPy loops, an im2col matrix product,
``jax.lax.conv_general_dilated``, ``jax.vjp``, nnlib's own layers); every catalogued mistake,
written the way a student would write it, gets its diagnosis (asserted on the message) and
only its own; the cases move each mistake far beyond the tolerance; and wrong answers the
catalogue does not list fail (the last test counts how many of them are also named).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnlib import layers
from nnlib.grading import check, specs
from nnlib.grading.core import close
from nnlib.grading.specs import convolution as spec

SEEDS = (0, 1)
MISTAKES = {q.name: {m.name: m.message for m in q.mistakes} for q in spec.LESSON_QUESTIONS}


def _fails_with(name, fn, expect, seed=0):
    result = check(name, fn, seed=seed, verbose=False)
    assert not result.passed, f"{name}: a wrong answer passed"
    assert expect in result.report, result.report
    others = [m for m in MISTAKES[name].values() if m != expect]
    assert not any(o in result.report for o in others), result.report  # named alone
    return result


def test_the_questions_are_registered_once_with_zero_points():
    names = [q.name for q in spec.LESSON_QUESTIONS]
    assert names == ["conv2d", "conv2d_grads", "maxpool2d_backward"]
    assert spec.QUESTIONS == ()
    for q in spec.LESSON_QUESTIONS:
        assert specs.question(q.name) is q and q.points == 0 and q.mistakes
    everywhere = []
    for mod in specs.CHECK_MODULES:
        module = __import__(f"nnlib.grading.specs.{mod}", fromlist=["x"])
        everywhere += [q.name for q in (*module.QUESTIONS, *getattr(module, "LESSON_QUESTIONS", ()))]
    assert len(everywhere) == len(set(everywhere)), "two modules define a question of the same name"


# --------------------------------------------------------------------------- right answers
def _out(h, k, s, p):
    return (h + 2 * p - k) // s + 1


def _slide(xp, w, ho, wo, step):
    """Window (r, c) of the padded ``xp`` starts at (step r, step c): the loops of a conv."""
    kh, kw = w.shape[:2]
    y = np.zeros((xp.shape[0], ho, wo, w.shape[3]))
    for r in range(ho):
        for c in range(wo):
            patch = xp[:, r * step: r * step + kh, c * step: c * step + kw, :]
            y[:, r, c, :] = np.einsum("nabi,abio->no", patch, w)
    return y


def _padded(x, padding, pads=None):
    pads = ((0, 0), (padding, padding), (padding, padding), (0, 0)) if pads is None else pads
    return np.pad(np.asarray(x, float), pads)


def conv_loops(x, w, *, stride, padding):
    xp = _padded(x, padding)
    kh, kw = w.shape[:2]
    return _slide(xp, w, (xp.shape[1] - kh) // stride + 1, (xp.shape[2] - kw) // stride + 1, stride)


def conv_im2col(x, w, *, stride, padding):
    x = jnp.pad(jnp.asarray(x), ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    kh, kw, cin, cout = w.shape
    n, h, wd, _ = x.shape
    ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
    cols = jnp.stack([x[:, a: a + stride * (ho - 1) + 1: stride, b: b + stride * (wo - 1) + 1: stride, :]
                      for a in range(kh) for b in range(kw)], axis=3)      # (n, ho, wo, kh*kw, cin)
    return cols.reshape(n * ho * wo, -1) @ jnp.asarray(w).reshape(-1, cout)


def conv_im2col_shaped(x, w, *, stride, padding):
    n, h, wd, _ = x.shape
    kh, kw, _, cout = w.shape
    y = conv_im2col(x, w, stride=stride, padding=padding)
    return y.reshape(n, _out(h, kh, stride, padding), _out(wd, kw, stride, padding), cout)


def conv_lax(x, w, *, stride, padding):
    return jax.lax.conv_general_dilated(
        jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32), (stride, stride),
        [(padding, padding)] * 2, dimension_numbers=("NHWC", "HWIO", "NHWC"))


def conv_nnlib(x, w, *, stride, padding):
    x = jnp.pad(jnp.asarray(x), ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    layer = layers.Conv2D(w.shape[3], w.shape[:2], strides=stride, use_bias=False)
    return layer.apply({"W": jnp.asarray(w)}, x)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fn", [conv_loops, conv_im2col_shaped, conv_lax, conv_nnlib])
def test_right_convolutions_pass(fn, seed):
    result = check("conv2d", fn, seed=seed, verbose=False)
    assert result.passed, result.report


def conv_backward_vjp(dy, x, w, *, stride, padding):
    _, pull = jax.vjp(lambda x, w: conv_lax(x, w, stride=stride, padding=padding),
                      jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32))
    return pull(jnp.asarray(dy, jnp.float32))


def conv_backward_loops(dy, x, w, *, stride, padding):
    xp = np.pad(np.asarray(x, float), ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    kh, kw = w.shape[:2]
    dxp, dw = np.zeros_like(xp), np.zeros(w.shape)
    for r in range(dy.shape[1]):
        for c in range(dy.shape[2]):
            rows, cols = slice(r * stride, r * stride + kh), slice(c * stride, c * stride + kw)
            dxp[:, rows, cols, :] += np.einsum("no,abio->nabi", dy[:, r, c], w)
            dw += np.einsum("nabi,no->abio", xp[:, rows, cols, :], dy[:, r, c])
    h, wd = x.shape[1:3]
    return dxp[:, padding: padding + h, padding: padding + wd], dw


def conv_backward_nnlib(dy, x, w, *, stride, padding):
    xp = jnp.pad(jnp.asarray(x), ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    layer = layers.Conv2D(w.shape[3], w.shape[:2], strides=stride, use_bias=False)
    params = {"W": jnp.asarray(w)}
    _, cache = layer.forward(params, xp)
    grads, dxp = layer.backward(params, cache, jnp.asarray(dy))
    h, wd = x.shape[1:3]
    return dxp[:, padding: padding + h, padding: padding + wd], grads["W"]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fn", [conv_backward_vjp, conv_backward_loops, conv_backward_nnlib])
def test_right_conv_backwards_pass(fn, seed):
    result = check("conv2d_grads", fn, seed=seed, verbose=False)
    assert result.passed, result.report


def _route(dy, x, size, step, where):
    """Loops over the windows (start step*r, step*c); ``where(flat argmax)`` -> (row, col) in it."""
    dx = np.zeros(x.shape)
    n, ho, wo, ch = dy.shape
    for i in range(n):
        for r in range(ho):
            for c in range(wo):
                for k in range(ch):
                    win = x[i, r * step: r * step + size, c * step: c * step + size, k]
                    a, b = where(int(np.argmax(win)))
                    dx[i, r * step + a, c * step + b, k] += dy[i, r, c, k]
    return dx


def pool_loops(dy, x, *, size):
    return _route(dy, x, size, size, lambda k: divmod(k, size))


def pool_jax_grad(dy, x, *, size):
    n, h, wd, c = x.shape
    ho, wo = h // size, wd // size

    def pool(x):
        crop = x[:, : ho * size, : wo * size]
        return crop.reshape(n, ho, size, wo, size, c).max(axis=(2, 4))

    return jax.grad(lambda x: jnp.sum(pool(x) * dy))(jnp.asarray(x))


def pool_nnlib(dy, x, *, size):
    layer = layers.MaxPool2D(size)
    _, cache = layer.forward({}, jnp.asarray(x))
    return layer.backward({}, cache, jnp.asarray(dy))[1]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fn", [pool_loops, pool_jax_grad, pool_nnlib])
def test_right_pool_backwards_pass(fn, seed):
    result = check("maxpool2d_backward", fn, seed=seed, verbose=False)
    assert result.passed, result.report


# --------------------------------------------------------------------------- catalogued mistakes
def conv_flipped(x, w, *, stride, padding):
    return conv_loops(x, np.asarray(w)[::-1, ::-1], stride=stride, padding=padding)


def conv_no_plus_one(x, w, *, stride, padding):
    xp = _padded(x, padding)
    kh, kw = w.shape[:2]
    return _slide(xp, w, (xp.shape[1] - kh) // stride, (xp.shape[2] - kw) // stride, stride)


def conv_pad_hwc(x, w, *, stride, padding):
    xp = _padded(x, padding, ((padding, padding), (padding, padding), (0, 0), (0, 0)))
    kh, kw = w.shape[:2]
    return _slide(xp, w, (xp.shape[1] - kh) // stride + 1, (xp.shape[2] - kw) // stride + 1, stride)


def conv_nchw_out(x, w, *, stride, padding):
    return np.transpose(conv_loops(x, w, stride=stride, padding=padding), (0, 3, 1, 2))


def conv_no_stride(x, w, *, stride, padding):
    return conv_loops(x, w, stride=1, padding=padding)


def conv_step_one(x, w, *, stride, padding):
    xp = _padded(x, padding)
    kh, kw = w.shape[:2]
    return _slide(xp, w, (xp.shape[1] - kh) // stride + 1, (xp.shape[2] - kw) // stride + 1, 1)


def bwd_flipped_dx(dy, x, w, *, stride, padding):
    dx, dw = conv_backward_loops(dy, x, np.asarray(w)[::-1, ::-1], stride=stride, padding=padding)
    return dx, conv_backward_loops(dy, x, w, stride=stride, padding=padding)[1]


def bwd_not_cropped(dy, x, w, *, stride, padding):
    xp = np.pad(np.asarray(x, float), ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    return conv_backward_loops(dy, xp, w, stride=stride, padding=0)


def bwd_dw_swapped(dy, x, w, *, stride, padding):
    dx, dw = conv_backward_loops(dy, x, w, stride=stride, padding=padding)
    return dx, np.transpose(dw, (0, 1, 3, 2))


def bwd_dw_mean(dy, x, w, *, stride, padding):
    dx, dw = conv_backward_loops(dy, x, w, stride=stride, padding=padding)
    return dx, dw / x.shape[0]


def pool_every_position(dy, x, *, size):
    dx = np.zeros(x.shape)
    ho, wo = dy.shape[1:3]
    dx[:, : ho * size, : wo * size] = np.repeat(np.repeat(dy, size, axis=1), size, axis=2)
    return dx


def pool_averaged(dy, x, *, size):
    return pool_every_position(dy, x, size=size) / size**2


def pool_swapped(dy, x, *, size):
    return _route(dy, x, size, size, lambda k: (k % size, k // size))   # row and column swapped


def pool_step_one(dy, x, *, size):
    return _route(dy, x, size, 1, lambda k: divmod(k, size))            # windows at r, not size*r


CATALOGUED = {
    ("conv2d", "flipped_kernel"): conv_flipped,
    ("conv2d", "missing_plus_one"): conv_no_plus_one,
    ("conv2d", "pad_batch_and_height"): conv_pad_hwc,
    ("conv2d", "channels_first"): conv_nchw_out,
    ("conv2d", "stride_ignored"): conv_no_stride,
    ("conv2d", "window_step_one"): conv_step_one,
    ("conv2d_grads", "dx_kernel_flipped"): bwd_flipped_dx,
    ("conv2d_grads", "dx_not_cropped"): bwd_not_cropped,
    ("conv2d_grads", "dw_in_out_swapped"): bwd_dw_swapped,
    ("conv2d_grads", "dw_batch_mean"): bwd_dw_mean,
    ("maxpool2d_backward", "every_position"): pool_every_position,
    ("maxpool2d_backward", "averaged"): pool_averaged,
    ("maxpool2d_backward", "argmax_row_col_swapped"): pool_swapped,
    ("maxpool2d_backward", "window_step_one"): pool_step_one,
}


def test_every_catalogued_mistake_has_a_wrong_answer_here():
    assert {(q, m) for q, ms in MISTAKES.items() for m in ms} == set(CATALOGUED)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("question,mistake", list(CATALOGUED))
def test_catalogued_mistakes_are_named(question, mistake, seed):
    _fails_with(question, CATALOGUED[(question, mistake)], MISTAKES[question][mistake], seed=seed)


def test_each_mistake_moves_the_output_far_beyond_the_tolerance():
    """On some case, the mistake changes the output's shape or moves it by >100x the tolerance."""
    rng = np.random.default_rng(0)
    for q in spec.LESSON_QUESTIONS:
        cases = q.make_cases(rng)
        for m in q.mistakes:
            far = False
            for _, inputs in cases:
                want, wrong = q.reference(inputs), m.outputs(inputs)
                for key in want:
                    a, b = np.asarray(wrong[key]), np.asarray(want[key])
                    if a.shape != b.shape:
                        far = True
                    elif not close(a, b, 100 * q.rtol, 100 * q.atol):
                        far = True
            assert far, f"{q.name}: {m.name} is never far from the reference"


def test_the_cases_cover_a_batch_of_one_strides_padding_and_large_inputs():
    rng = np.random.default_rng(0)
    for q in spec.LESSON_QUESTIONS:
        cases = q.make_cases(rng)
        assert any(i["x"].shape[0] == 1 for _, i in cases), q.name
        assert any(np.abs(i["x"]).max() > 500 for _, i in cases), q.name
        assert any(i["x"].shape[1] != i["x"].shape[2] for _, i in cases), q.name
    for _, i in spec.CONV2D_NAIVE.make_cases(rng):
        assert i["w"].shape[2] != i["w"].shape[3] or i["w"].shape[0] != i["w"].shape[1]
    conv = spec.CONV2D_NAIVE.make_cases(rng)
    assert any(int(i["stride"]) > 1 and int(i["padding"]) > 0 for _, i in conv)


def test_the_lesson_notebook_first_attempt_gets_its_diagnosis():
    def maxpool2d_backward(dy, x, *, size):          # the lesson's first attempt
        return jnp.repeat(jnp.repeat(dy, size, axis=1), size, axis=2)

    result = check("maxpool2d_backward", maxpool2d_backward, verbose=False)
    assert not result.passed
    assert "shape" in result.report   # 7 x 5 images: the last row and column are in no window


# --------------------------------------------------------------------------- not catalogued
def conv_first_channel_only(x, w, *, stride, padding):
    return conv_loops(np.asarray(x)[..., :1], np.asarray(w)[:, :, :1], stride=stride, padding=padding)


def conv_pad_bottom_right(x, w, *, stride, padding):
    xp = np.pad(np.asarray(x, float), ((0, 0), (0, 2 * padding), (0, 2 * padding), (0, 0)))
    return conv_loops(xp, w, stride=stride, padding=0)


def conv_kernel_hw_swapped(x, w, *, stride, padding):
    return conv_loops(x, np.transpose(w, (1, 0, 2, 3)), stride=stride, padding=padding)


def conv_plus_bias_one(x, w, *, stride, padding):
    return conv_loops(x, w, stride=stride, padding=padding) + 1.0


def bwd_dx_sign(dy, x, w, *, stride, padding):
    dx, dw = conv_backward_loops(dy, x, w, stride=stride, padding=padding)
    return -dx, dw


def bwd_dw_no_padding(dy, x, w, *, stride, padding):
    dx, _ = conv_backward_loops(dy, x, w, stride=stride, padding=padding)
    xp = np.pad(np.asarray(x, float), ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    kh, kw = w.shape[:2]
    dw = np.zeros(w.shape)
    for r in range(dy.shape[1]):
        for c in range(dy.shape[2]):
            rows, cols = slice(r * stride, r * stride + kh), slice(c * stride, c * stride + kw)
            patch = np.asarray(x, float)[:, rows, cols, :]   # the unpadded input
            if patch.shape[1:3] != (kh, kw):
                patch = xp[:, rows, cols, :] * 0
            dw += np.einsum("nabi,no->abio", patch, dy[:, r, c])
    return dx, dw


def pool_to_min(dy, x, *, size):
    return pool_loops(dy, -np.asarray(x), size=size)


def pool_first_position(dy, x, *, size):
    dx = np.zeros(x.shape)
    ho, wo = dy.shape[1:3]
    dx[:, : ho * size: size, : wo * size: size] = dy
    return dx


def pool_channel_zero_argmax(dy, x, *, size):
    x = np.asarray(x)
    return pool_loops(dy, np.repeat(x[..., :1], x.shape[-1], axis=-1), size=size)


UNCATALOGUED = [
    ("conv2d", conv_first_channel_only), ("conv2d", conv_pad_bottom_right),
    ("conv2d", conv_kernel_hw_swapped), ("conv2d", conv_plus_bias_one),
    ("conv2d_grads", bwd_dx_sign), ("conv2d_grads", bwd_dw_no_padding),
    ("maxpool2d_backward", pool_to_min), ("maxpool2d_backward", pool_first_position),
    ("maxpool2d_backward", pool_channel_zero_argmax),
]


def test_wrong_answers_outside_the_catalogue_fail_and_are_counted():
    named = 0
    for name, fn in UNCATALOGUED:
        result = check(name, fn, verbose=False)
        assert not result.passed, f"{fn.__name__} passed {name}"
        named += "Likely mistake" in result.report
    print(f"{len(UNCATALOGUED)} uncatalogued wrong answers fail; {named} of them are also named")
