"""The cnn assignment's checkers: right answers pass, other correct forms pass, every
catalogued mistake gets its diagnosis, and wrong answers nobody catalogued still fail."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from checks import fails_with, passes_on_seeds
from nnlib import optim
from nnlib.grading import check, specs


def conv2d_naive(x, w, b, *, stride, padding, flip=False, pad_axes=(1, 2), plus=1, bias=True,
                 channels_first_out=False):
    if flip:
        w = w[::-1, ::-1]
    widths = [(0, 0)] * 4
    for a in pad_axes:
        widths[a] = (padding, padding)
    xp = np.pad(x, widths)
    n, h, wd, _ = xp.shape
    kh, kw, _, cout = w.shape
    oh, ow = (h - kh) // stride + plus, (wd - kw) // stride + plus
    y = np.zeros((n, oh, ow, cout))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            if patch.shape[1:3] != (kh, kw):
                continue
            y[:, i, j, :] = np.einsum("nack,acko->no", patch, w)
    y = y + (b if bias else 0.0)
    return y.transpose(0, 3, 1, 2) if channels_first_out else y


def conv2d_im2col(x, w, b, *, stride, padding):
    xp = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    kh, kw, cin, cout = w.shape
    oh = (xp.shape[1] - kh) // stride + 1
    ow = (xp.shape[2] - kw) // stride + 1
    cols = jnp.stack([xp[:, a:a + stride * (oh - 1) + 1:stride, c:c + stride * (ow - 1) + 1:stride, :]
                      for a in range(kh) for c in range(kw)], axis=3)      # (n, oh, ow, kh*kw, cin)
    return cols.reshape(*cols.shape[:3], -1) @ w.reshape(-1, cout) + b


def conv2d_backward(dy, x, w, *, stride, padding, rotate=True, db_axes=(0, 1, 2)):
    def f(x, w, b):
        return jnp.sum(conv2d_im2col(x, w, b, stride=stride, padding=padding) * dy)
    dx, dw, db = jax.grad(f, argnums=(0, 1, 2))(x, w, jnp.zeros(w.shape[-1]))
    if not rotate:
        def g(x):
            return jnp.sum(conv2d_im2col(x, w[::-1, ::-1], jnp.zeros(w.shape[-1]), stride=stride,
                                         padding=padding) * dy)
        dx = jax.grad(g)(x)
    return dx, dw, jnp.sum(dy, axis=db_axes)


def maxpool2d_forward(x, *, size):
    n, h, w, c = x.shape
    return x.reshape(n, h // size, size, w // size, size, c).max(axis=(2, 4))


def maxpool2d_backward(dy, x, *, size, spread="argmax"):
    n, h, w, c = x.shape
    win = x.reshape(n, h // size, size, w // size, size, c)
    y = win.max(axis=(2, 4), keepdims=True)
    up = dy[:, :, None, :, None, :]
    if spread == "argmax":
        g = np.where(win == y, up, 0.0)
    elif spread == "all":
        g = np.broadcast_to(up, win.shape)
    else:
        g = np.broadcast_to(up / size**2, win.shape)
    return np.asarray(g).reshape(x.shape)


def conv_output_size(n, kernel, *, stride, padding, dilation):
    return (n + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def train_cnn(x_train, y_train, x_test, y_test, *, key, filters, learning_rate, epochs):
    k1, k2, k3 = jax.random.split(key, 3)
    params = {"w": jax.random.normal(k1, (3, 3, 1, filters)) * jnp.sqrt(2 / 9),
              "b": jnp.zeros(filters),
              "W": jax.random.normal(k2, (4 * 4 * filters, 10)) * jnp.sqrt(1 / (16 * filters)),
              "c": jnp.zeros(10)}

    def scores(p, x):
        h = jax.nn.relu(conv2d_im2col(x, p["w"], p["b"], stride=1, padding=1))
        h = maxpool2d_forward(h, size=2)
        return h.reshape(len(x), -1) @ p["W"] + p["c"]

    def loss(p, x, y):
        return -jnp.mean(jax.nn.log_softmax(scores(p, x))[jnp.arange(len(y)), y])

    opt = optim.adam(learning_rate)

    @jax.jit
    def step(p, s, x, y):
        u, s = opt.update(jax.grad(loss)(p, x, y), s, p)
        return optim.apply_updates(p, u), s

    state = opt.init(params)
    for e in range(epochs):
        order = np.asarray(jax.random.permutation(jax.random.fold_in(k3, e), len(y_train)))
        for start in range(0, len(order), 32):
            rows = order[start:start + 32]
            params, state = step(params, state, x_train[rows], y_train[rows])
    return float(jnp.mean(jnp.argmax(scores(params, x_test), 1) == y_test))


def test_right_answers_pass():
    passes_on_seeds("conv2d_naive", (conv2d_naive,))
    passes_on_seeds("conv2d_im2col", (conv2d_im2col,))
    passes_on_seeds("conv2d_backward", (conv2d_backward,))
    passes_on_seeds("maxpool2d", (maxpool2d_forward, maxpool2d_backward))
    passes_on_seeds("conv_output_size", (conv_output_size,))


def test_training_uses_the_students_convolution_and_pooling():
    assert check("train_cnn", train_cnn, verbose=False).passed


def test_the_assignment_lists_its_questions():
    mod = specs.assignment("cnn")
    assert [q.name for q in mod.QUESTIONS] == ["conv2d_naive", "conv2d_im2col", "conv2d_backward",
                                                "maxpool2d", "conv_output_size", "train_cnn"]
    assert sum(q.points for q in mod.QUESTIONS) == 18 and mod.MANUAL == {"hyperparameters": 3}


@pytest.mark.parametrize("kw, expect", [
    ({"flip": True}, "kernel is flipped"),
    ({"plus": 0}, "off-by-one output size"),
    ({"plus": 2}, "off-by-one output size"),
    ({"pad_axes": (1,)}, "padding on the wrong axis"),
    ({"channels_first_out": True}, "channels-first output"),
    ({"bias": False}, "bias is not added"),
])
def test_convolution_mistakes(kw, expect):
    fails_with("conv2d_naive", lambda x, w, b, *, stride, padding: conv2d_naive(
        x, w, b, stride=stride, padding=padding, **kw), expect=expect)


def test_the_stride_ignored_is_named():
    fails_with("conv2d_im2col", lambda x, w, b, *, stride, padding: conv2d_im2col(
        x, w, b, stride=1, padding=padding), expect="stride is ignored")


@pytest.mark.parametrize("kw, expect", [
    ({"rotate": False}, "rotated by 180 degrees"),
    ({"db_axes": (1, 2)}, "over the batch AND over every output position"),
])
def test_backward_mistakes(kw, expect):
    fails_with("conv2d_backward", lambda dy, x, w, *, stride, padding: conv2d_backward(
        dy, x, w, stride=stride, padding=padding, **kw), expect=expect)


@pytest.mark.parametrize("spread, expect", [("all", "every position of the window"),
                                            ("mean", "shared out over the window")])
def test_maxpool_mistakes(spread, expect):
    fails_with("maxpool2d", maxpool2d_forward, lambda dy, x, *, size: maxpool2d_backward(
        dy, x, size=size, spread=spread), expect=expect)


@pytest.mark.parametrize("fn, expect", [
    (lambda n, k, *, stride, padding, dilation: (n + 2 * padding - k) // stride + 1, "spans d (k - 1) + 1"),
    (lambda n, k, *, stride, padding, dilation: (n + 2 * padding - dilation * k) // stride + 1, "not d k"),
    (lambda n, k, *, stride, padding, dilation: (n + 2 * padding - dilation * (k - 1) - 1) // stride,
     "count the first position"),
])
def test_output_size_mistakes(fn, expect):
    fails_with("conv_output_size", fn, expect=expect)


def test_own_wrong_implementations_beyond_the_catalogue_all_fail():
    wrong = [
        ("conv2d_naive", lambda x, w, b, *, stride, padding: conv2d_naive(
            x, w.transpose(1, 0, 2, 3), b, stride=stride, padding=padding)),        # kh/kw swapped
        ("conv2d_im2col", lambda x, w, b, *, stride, padding: conv2d_im2col(
            x, w, b, stride=stride, padding=padding) / w.shape[0]),
        ("maxpool2d", lambda x, *, size: maxpool2d_forward(-x, size=size) * -1,       # min-pooling
         maxpool2d_backward),
        ("conv_output_size", lambda n, k, *, stride, padding, dilation:
            (n - dilation * (k - 1) - 1) // stride + 1 + 2 * padding),               # pad after
    ]
    for name, *fns in wrong:
        assert not check(name, *fns, verbose=False).passed, name
