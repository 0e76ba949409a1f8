"""The graded questions of the ``cnn`` assignment (solutions/cnn/cnn.ipynb).

Conventions the notebook states: images are channels-last, ``x: (N, H, W, C_in)``; a kernel is
``w: (KH, KW, C_in, C_out)`` with a bias ``b: (C_out,)``; "convolution" is the
cross-correlation deep-learning libraries compute,
``y[n, i, j, o] = b[o] + sum_{a, c, k} xp[n, s i + a, s j + c, k] w[a, c, k, o]`` with ``xp``
the input zero-padded by ``padding`` rows and columns on each side of H and W, and the output
size ``floor((H + 2 padding - KH) / stride) + 1`` (LeCun et al. 1998; Dumoulin & Visin 2016).

* ``conv2d_naive(x, w, b, *, stride, padding) -> y`` (loops allowed);
* ``conv2d_im2col(x, w, b, *, stride, padding) -> y`` (vectorised: patches and one matmul);
* ``conv2d_backward(dy, x, w, *, stride, padding) -> (dx, dw, db)``;
* ``maxpool2d_forward(x, *, size) -> y`` and ``maxpool2d_backward(dy, x, *, size) -> dx``
  (non-overlapping ``size x size`` windows, H and W divisible by ``size``);
* ``conv_output_size(n, kernel, *, stride, padding, dilation) -> int`` (the derivation);
* ``train_cnn(x_train, y_train, x_test, y_test, *, key, filters, learning_rate, epochs)``: a CNN
  on the digits built from the student's ``conv2d_im2col`` and ``maxpool2d_forward``.
"""

from __future__ import annotations

import numpy as np

from nnlib.grading.core import (AUTODIFF, GRADER, Mistake, Question, counting_calls,
                                training_judge)
from nnlib.grading.specs.convolution import conv2d as reference_conv2d
from nnlib.grading.specs.convolution import conv2d_grads as reference_conv2d_grads
from nnlib.grading.specs.convolution import maxpool_backward as reference_maxpool_backward

ASSIGNMENT = "cnn"
# The convolutions are the task: none of the libraries' own.
_OWN = (*GRADER, "jax.lax.conv", "jax.lax.conv_general_dilated",
        "jax.lax.conv_general_dilated_patches", "jax.scipy.signal", "scipy.signal",
        "nnlib.layers", "nnlib.viz.conv")


def _conv(x, w, b, s, p, *, flip=False):
    """The reference cross-correlation plus bias (or, with ``flip``, the true convolution)."""
    return reference_conv2d(x, w[::-1, ::-1] if flip else w, s, p) + b


def _conv_cases(rng):
    def case(n, h, wd, cin, cout, k, s, p):
        return {"x": rng.normal(size=(n, h, wd, cin)), "w": rng.normal(size=(k, k, cin, cout)),
                "b": rng.normal(size=cout), "dy_seed": np.asarray(int(rng.integers(0, 2**31 - 1))),
                "stride": np.asarray(s), "padding": np.asarray(p)}
    return [("x (2, 7, 6, 3), a 3x3 kernel to 4 channels, stride 1, padding 1",
             case(2, 7, 6, 3, 4, 3, 1, 1)),
            ("x (1, 9, 8, 2), a 3x3 kernel to 5 channels, stride 2, no padding",
             case(1, 9, 8, 2, 5, 3, 2, 0)),
            ("x (3, 5, 5, 1), a 2x2 kernel to 2 channels, stride 1, padding 2",
             case(3, 5, 5, 1, 2, 2, 1, 2)),
            ("large values (~100), x (2, 6, 7, 4), a 3x3 kernel, stride 1, padding 0",
             {**case(2, 6, 7, 4, 3, 3, 1, 0), "x": 100 * rng.normal(size=(2, 6, 7, 4))})]


def _sp(i):
    return int(i["stride"]), int(i["padding"])


def _conv_ref(i):
    return {"y": _conv(i["x"], i["w"], i["b"], *_sp(i))}


def _conv_shape_hint(i, outputs):
    """Names the mistakes that change the output's shape (the comparison cannot match those)."""
    y = np.asarray(outputs.get("y", np.zeros(0)))
    if y.dtype == object:
        return None
    x, w, (s, p) = i["x"], i["w"], _sp(i)
    n, h, wd, _ = x.shape
    kh, kw, _, cout = w.shape
    want = (n, (h + 2 * p - kh) // s + 1, (wd + 2 * p - kw) // s + 1, cout)
    if y.shape == want:
        return None
    if y.shape in {(n, want[1] - 1, want[2] - 1, cout), (n, want[1] + 1, want[2] + 1, cout)}:
        return ("off-by-one output size: there are floor((H + 2 padding - KH) / stride) + 1 "
                "positions along H (and likewise along W)")
    if y.shape in {(n, h + 2 * p - kh + 1, wd + 2 * p - kw + 1, cout)} and s > 1:
        return "the stride is ignored: the window moves by `stride` pixels"
    if y.shape in {(n, (h + 2 * p - kh) // s + 1, (wd - kw) // s + 1, cout),
                   (n, (h - kh) // s + 1, (wd + 2 * p - kw) // s + 1, cout)} and p > 0:
        return ("padding on the wrong axis: pad both H and W (axes 1 and 2), by `padding` on "
                "each side")
    if y.ndim == 4 and y.shape[1] == cout:
        return ("channels-first output: this assignment is channels-last, y has shape "
                "(N, H_out, W_out, C_out)")
    if y.ndim == 4 and y.shape[-1] != cout:
        return ("the channel axes are confused: x is (N, H, W, C_in), channels LAST, and w is "
                "(KH, KW, C_in, C_out)")
    return None


def _conv_mistakes():
    return (
        Mistake("kernel_flipped", "the kernel is flipped: that is the mathematical convolution; "
                "deep-learning 'convolution' is cross-correlation, w[a, c] multiplies "
                "x[i + a, j + c]",
                lambda i: {"y": _conv(i["x"], i["w"], i["b"], *_sp(i), flip=True)}),
        Mistake("no_bias", "the bias is not added: y = ... + b[o]",
                lambda i: {"y": _conv(i["x"], i["w"], 0 * i["b"], *_sp(i))}),
    )


CONV_NAIVE = Question(
    name="conv2d_naive", functions=("conv2d_naive",), points=3, test_cell="test_conv2d_naive",
    forbidden=(*_OWN, *AUTODIFF), make_cases=_conv_cases, reference=_conv_ref,
    run=lambda fns, i: {"y": fns["conv2d_naive"](i["x"], i["w"], i["b"], stride=_sp(i)[0],
                                                 padding=_sp(i)[1])},
    hints=(_conv_shape_hint,), mistakes=_conv_mistakes(),
)

CONV_IM2COL = Question(
    name="conv2d_im2col", functions=("conv2d_im2col",), points=3, test_cell="test_conv2d_im2col",
    forbidden=(*_OWN, *AUTODIFF), make_cases=_conv_cases, reference=_conv_ref,
    run=lambda fns, i: {"y": fns["conv2d_im2col"](i["x"], i["w"], i["b"], stride=_sp(i)[0],
                                                  padding=_sp(i)[1])},
    hints=(_conv_shape_hint,), mistakes=_conv_mistakes(),
)


# --------------------------------------------------------------------------- backward
def _dy(i):
    """The upstream gradient of a case, of the output's shape (computed without the reference,
    which the student's kernel must not be seen calling)."""
    (n, h, wd, _), (kh, kw, _, cout), (s, p) = i["x"].shape, i["w"].shape, _sp(i)
    shape = (n, (h + 2 * p - kh) // s + 1, (wd + 2 * p - kw) // s + 1, cout)
    return np.random.default_rng(int(i["dy_seed"])).normal(size=shape)


def _conv_bwd_ref(i, *, dx_flip=True, db_spatial=True):
    dy = _dy(i)
    dx, dw, _ = reference_conv2d_grads(dy, i["x"], i["w"], *_sp(i), flip_dx=not dx_flip)
    db = dy.sum(axis=(0, 1, 2)) if db_spatial else dy.sum(axis=(1, 2))
    return {"dx": dx, "dw": dw, "db": db}


def _run_conv_bwd(fns, i):
    s, p = _sp(i)
    dx, dw, db = fns["conv2d_backward"](_dy(i), i["x"], i["w"], stride=s, padding=p)
    return {"dx": dx, "dw": dw, "db": db}


CONV_BACKWARD = Question(
    name="conv2d_backward", functions=("conv2d_backward",), points=3,
    test_cell="test_conv2d_backward", forbidden=(*_OWN, *AUTODIFF), make_cases=_conv_cases,
    run=_run_conv_bwd, reference=_conv_bwd_ref,
    mistakes=(
        Mistake("dx_kernel_not_flipped", "dx is a FULL convolution of dy with the kernel rotated "
                "by 180 degrees: dy[n, i, j, o] sends w[a, c, :, o] back to position "
                "(s i + a, s j + c); the kernel was used unrotated",
                lambda i: _conv_bwd_ref(i, dx_flip=False)),
        Mistake("db_per_example", "db sums dy over the batch AND over every output position: "
                "dy.sum(axis=(0, 1, 2))", lambda i: _conv_bwd_ref(i, db_spatial=False)),
    ),
)


# --------------------------------------------------------------------------- max-pooling
def _pool_cases(rng):
    def case(shape, size):
        return {"x": rng.normal(size=shape), "dy_seed": np.asarray(int(rng.integers(0, 2**31 - 1))),
                "size": np.asarray(size)}
    return [("x (2, 6, 4, 3), 2x2 windows", case((2, 6, 4, 3), 2)),
            ("x (1, 6, 9, 2), 3x3 windows", case((1, 6, 9, 2), 3)),
            ("x (3, 4, 4, 1), 2x2 windows", case((3, 4, 4, 1), 2))]


def _pool_ref(i, *, spread="argmax"):
    x, k = i["x"], int(i["size"])
    n, h, w, c = x.shape
    y = x.reshape(n, h // k, k, w // k, k, c).max(axis=(2, 4))
    dy = np.random.default_rng(int(i["dy_seed"])).normal(size=y.shape)
    return {"y": y, "dx": reference_maxpool_backward(dy, x, k, how=spread)}


def _run_pool(fns, i):
    k = int(i["size"])
    y = fns["maxpool2d_forward"](i["x"], size=k)
    dy = np.random.default_rng(int(i["dy_seed"])).normal(size=np.shape(y))
    return {"y": y, "dx": fns["maxpool2d_backward"](dy, i["x"], size=k)}


MAXPOOL = Question(
    name="maxpool2d", functions=("maxpool2d_forward", "maxpool2d_backward"), points=4,
    test_cell="test_maxpool2d", forbidden=(*_OWN, *AUTODIFF), make_cases=_pool_cases,
    run=_run_pool, reference=_pool_ref,
    mistakes=(
        Mistake("gradient_to_every_position", "the gradient is sent to every position of the "
                "window; only the argmax (the input that became the output) receives it, the "
                "others get 0", lambda i: {**_pool_ref(i), "dx": _pool_ref(i, spread="all")["dx"]}),
        Mistake("gradient_averaged", "the gradient is shared out over the window as in average "
                "pooling; max-pooling routes all of it to the argmax",
                lambda i: {**_pool_ref(i), "dx": _pool_ref(i, spread="mean")["dx"]}),
    ),
)


# --------------------------------------------------------------------------- a derivation
def _size_cases(rng):
    rows = [(28, 3, 1, 1, 1), (28, 3, 1, 0, 2), (32, 5, 2, 2, 3), (15, 4, 3, 1, 2),
            (64, 7, 2, 3, 1), (10, 3, 2, 0, 4)]
    return [(f"n={n}, kernel={k}, stride={s}, padding={p}, dilation={d}",
             {"n": np.asarray(n), "k": np.asarray(k), "s": np.asarray(s), "p": np.asarray(p),
              "d": np.asarray(d)}) for n, k, s, p, d in rows]


def _size_ref(i, *, extent="right", plus_one=True):
    n, k, s, p, d = (int(i[c]) for c in "nkspd")
    span = {"right": d * (k - 1) + 1, "no_dilation": k, "d_times_k": d * k}[extent]
    return {"size": np.asarray((n + 2 * p - span) // s + (1 if plus_one else 0))}


OUTPUT_SIZE = Question(
    name="conv_output_size", functions=("conv_output_size",), points=2,
    test_cell="test_conv_output_size", forbidden=_OWN, make_cases=_size_cases,
    run=lambda fns, i: {"size": np.asarray(fns["conv_output_size"](
        int(i["n"]), int(i["k"]), stride=int(i["s"]), padding=int(i["p"]), dilation=int(i["d"])))},
    reference=_size_ref, rtol=0.0, atol=0.0,
    mistakes=(
        Mistake("dilation_ignored", "a dilated kernel spans d (k - 1) + 1 pixels, not k: its taps "
                "are d pixels apart", lambda i: _size_ref(i, extent="no_dilation")),
        Mistake("span_d_times_k", "the span of k taps d pixels apart is d (k - 1) + 1, not d k "
                "(there are k - 1 gaps between k taps)",
                lambda i: _size_ref(i, extent="d_times_k")),
        Mistake("no_plus_one", "count the first position too: floor((n + 2p - span) / s) + 1",
                lambda i: _size_ref(i, plus_one=False)),
    ),
)


# --------------------------------------------------------------------------- training
OWN = ("conv2d_im2col", "maxpool2d_forward")
MIN_ACCURACY = 0.85
"""train_cnn's least test accuracy (python -m nnlib.grading.margins: the margin)."""


def _train_cases(rng):
    return [("the digits (8x8): a fresh split, 1200 training and 597 test images",
             {"seed": np.asarray(int(rng.integers(0, 2**31 - 1)))})]


def _run_train(fns, i):
    import jax

    from nnlib import data

    k_split, k_fit = jax.random.split(jax.random.key(int(i["seed"])))
    x, y = data.load_digits()
    x = (x / 16.0).reshape(-1, 8, 8, 1)
    order = np.asarray(jax.random.permutation(k_split, len(y)))
    tr, te = order[:1200], order[1200:]
    train = fns["train_cnn"]
    with counting_calls(train, OWN) as calls:
        accuracy = train(x[tr], y[tr], x[te], y[te], key=k_fit, filters=8, learning_rate=1e-2,
                         epochs=8)
    return {"accuracy": np.asarray(float(accuracy)),
            **{f"used {n}": np.asarray(calls[n] > 0) for n in OWN}}


TRAIN_CNN = Question(
    name="train_cnn", functions=("train_cnn",), points=3, test_cell="test_train_cnn",
    forbidden=GRADER, make_cases=_train_cases, run=_run_train,
    judge=training_judge("train_cnn", OWN, MIN_ACCURACY, "filters=8, learning_rate=1e-2, epochs=8"),
    timeout=150.0, accuracy_floor=MIN_ACCURACY,
)


QUESTIONS = (CONV_NAIVE, CONV_IM2COL, CONV_BACKWARD, MAXPOOL, OUTPUT_SIZE, TRAIN_CNN)
MANUAL = {"hyperparameters": 3}
"""Manually graded answer cells (grade_id -> points), left for the instructor's rubric."""
