"""The student-facing checkers: right answers pass, every known mistake gets its diagnosis."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import nbformat
import numpy as np
import pytest

from nnlib.grading import check, core, specs

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "backprop" / "backprop.ipynb"


@pytest.fixture(scope="module")
def sol():
    """The solution notebook's functions, executed here (no kernel)."""
    ns: dict = {}
    for cell in nbformat.read(str(SOLUTION), as_version=4).cells:
        nbg = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and not nbg.get("grade"):
            exec(compile(cell.source, str(SOLUTION), "exec"), ns)  # noqa: S102
    return ns


def _fails_with(name, *fns, expect):
    result = check(name, *fns, verbose=False)
    assert not result.passed
    assert expect in result.report, result.report
    return result


@pytest.mark.parametrize("name,fns", [
    ("dense_forward", ("dense_forward",)),
    ("dense_backward", ("dense_forward", "dense_backward")),
    ("relu", ("relu_forward", "relu_backward")),
    ("sigmoid", ("sigmoid_forward", "sigmoid_backward")),
    ("mse", ("mse_loss", "mse_backward")),
    ("softmax_cross_entropy", ("softmax_cross_entropy", "softmax_cross_entropy_backward")),
    ("softmax_layer", ("softmax_forward", "softmax_backward")),
    ("mlp", ("mlp_forward", "mlp_backward")),
    ("numerical_gradient", ("numerical_gradient",)),
])
def test_solution_passes_every_check(sol, name, fns):
    result = check(name, *(sol[f] for f in fns), seed=7, verbose=False)
    assert result.passed, result.report
    assert bool(result) and "all" in result.report


def test_solution_trains_to_the_required_accuracy(sol):
    assert check("train", sol["train_mlp"], sol["mlp_forward"], verbose=False).passed


def test_not_implemented_is_friendly(capsys):
    def stub(*args):
        raise NotImplementedError("dense_forward is not implemented yet")

    result = check("dense_forward", stub)
    assert not result and result.report == "dense_forward: not implemented yet."
    assert "Traceback" not in capsys.readouterr().out


def test_dense_backward_mistakes(sol):
    fwd = sol["dense_forward"]

    def transposed(dy, cache):
        x, W, b = cache
        return dy @ W.T, dy.T @ x, dy.sum(0)

    r = _fails_with("dense_backward", fwd, transposed, expect="weight gradient is transposed")
    assert "has shape (5, 3), expected (3, 5)" in r.report  # expected vs got, in words

    def not_summed(dy, cache):
        x, W, b = cache
        return dy @ W.T, x.T @ dy, dy

    _fails_with("dense_backward", fwd, not_summed, expect="not summed over the batch")

    def averaged(dy, cache):
        x, W, b = cache
        return dy @ W.T, x.T @ dy / len(x), dy.sum(0)

    _fails_with("dense_backward", fwd, averaged, expect="divided by the batch size")

    def sign(dy, cache):
        x, W, b = cache
        return -(dy @ W.T), -(x.T @ dy), -dy.sum(0)

    _fails_with("dense_backward", fwd, sign, expect="sign error")


def test_two_mistakes_in_one_answer_are_both_named(sol):
    def both(dy, cache):
        x, W, _ = cache
        return dy @ W.T, dy.T @ x, dy

    r = _fails_with("dense_backward", sol["dense_forward"], both, expect="transposed")
    assert "not summed over the batch" in r.report
    assert r.report.count("Likely mistake") == 2  # said once each, not once per case


def test_dense_forward_shape_and_bias_mistakes():
    _fails_with("dense_forward", lambda x, W, b: ((x @ W + b).T, None),
                expect="has shape (5, 4), expected (4, 5)")
    _fails_with("dense_forward", lambda x, W, b: (x @ W, None), expect="bias b is not added")


def test_activation_mistakes(sol):
    relu_f = sol["relu_forward"]
    _fails_with("relu", relu_f, lambda da, c: da * jnp.maximum(c[0], 0),
                expect="instead of its derivative")
    _fails_with("relu", relu_f, lambda da, c: da * (c[0] >= 0), expect="z > 0, not z >= 0")

    def sig_fwd_z(z):  # a student whose cache holds the pre-activation
        return jax.nn.sigmoid(z), (z,)

    _fails_with("sigmoid", sig_fwd_z, lambda da, c: da * c[0] * (1 - c[0]),
                expect="applied to the pre-activation z")
    sig_f = sol["sigmoid_forward"]  # its cache holds the post-activation a
    _fails_with("sigmoid", sig_f,
                lambda da, c: da * jax.nn.sigmoid(c[0]) * (1 - jax.nn.sigmoid(c[0])),
                expect="evaluated at the post-activation")
    _fails_with("sigmoid", sig_f, lambda da, c: -da * c[0] * (1 - c[0]), expect="sign error")


def test_loss_mistakes(sol):
    mse = sol["mse_loss"]
    _fails_with("mse", mse, lambda p, t: 2 * (p - t), expect="missing the 1/N")
    _fails_with("mse", mse, lambda p, t: 2 * (t - p) / p.size, expect="sign error")
    sce = sol["softmax_cross_entropy"]
    _fails_with("softmax_cross_entropy", sce,
                lambda z, y: jax.nn.softmax(z) - y, expect="missing the 1/N")

    def naive_backward(z, y):
        e = jnp.exp(z)
        return (e / e.sum(-1, keepdims=True) - y) / len(z)

    _fails_with("softmax_cross_entropy", sce, naive_backward, expect="overflowed on large logits")


def test_softmax_layer_mistakes_are_named(sol):
    import jax.numpy as jnp

    fwd = sol["softmax_forward"]

    def diagonal(dp, cache):
        (p,) = cache
        return dp * p * (1 - p)

    def over_batch(dp, cache):
        (p,) = cache
        return p * (dp - jnp.sum(p * dp, axis=0, keepdims=True))

    def no_p(dp, cache):
        (p,) = cache
        return dp - jnp.sum(p * dp, axis=-1, keepdims=True)

    def naive_forward(z):
        e = jnp.exp(z)
        p = e / e.sum(axis=-1, keepdims=True)
        return p, (p,)

    _fails_with("softmax_layer", fwd, diagonal, expect="only the diagonal of the Jacobian")
    _fails_with("softmax_layer", fwd, over_batch, expect="taken over the batch (axis 0)")
    _fails_with("softmax_layer", fwd, no_p, expect="the factor p_j in front is missing")
    _fails_with("softmax_layer", naive_forward, sol["softmax_backward"],
                expect="softmax overflowed on large logits")


def test_mlp_mistakes(sol):
    fwd, dense_b = sol["mlp_forward"], sol["dense_backward"]

    def no_relu_grad(params, cache, ds):
        c1, cr, c2 = cache
        dh, dW2, db2 = dense_b(ds, c2)
        dx, dW1, db1 = dense_b(dh, c1)
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}, dx

    _fails_with("mlp", fwd, no_relu_grad, expect="does not go through the ReLU")

    def neg(params, cache, ds):
        grads, dx = sol["mlp_backward"](params, cache, ds)
        return {k: -v for k, v in grads.items()}, -dx

    _fails_with("mlp", fwd, neg, expect="sign error")
    _fails_with("mlp", fwd, lambda p, c, ds: ({"W1": 0}, 0), expect="grads is missing")


def test_numerical_gradient_mistakes():
    def diff(f, x, eps=1e-6, central=True, denom=2.0, dtype=np.float64):
        x = np.array(x, dtype=dtype)
        g = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + eps
            fp = f(x)
            x[i] = old - eps if central else old
            fm = f(x)
            x[i] = old
            g[i] = (fp - fm) / ((denom if central else 1.0) * eps)
        return g

    _fails_with("numerical_gradient", lambda f, x, eps=1e-6: diff(f, x, central=False),
                expect="forward difference")
    _fails_with("numerical_gradient", lambda f, x, eps=1e-6: diff(f, x, denom=1.0),
                expect="divided by 2*eps")
    _fails_with("numerical_gradient", lambda f, x, eps=1e-6: diff(f, x, dtype=np.float32),
                expect="float32")


def test_training_that_does_not_learn(sol):
    def lazy_train(x, y, *, key):
        return sol["init_mlp"](key, 2, 8, 2)

    _fails_with("train", lazy_train, sol["mlp_forward"], expect="below the required 0.90")


def test_training_must_take_every_gradient_from_the_students_functions(sol):
    # The old solution: jax.grad differentiated the loss itself, so the student's
    # softmax_cross_entropy_backward was never used. It learns, but does not pass.
    ns = dict(sol)
    exec(compile(
        "def train_mlp(x, y, *, key, epochs=600, learning_rate=0.5):\n"
        "    y1 = jax.nn.one_hot(jnp.asarray(y), 2, dtype=jnp.float64)\n"
        "    x = jnp.asarray(x, dtype=jnp.float64)\n"
        "    params = init_mlp(key, 2, 32, 2)\n"
        "    net = nnlib.autodiff.custom_vjp(mlp_forward, mlp_backward)\n"
        "    step = jax.jit(lambda p: jax.tree.map(lambda w, g: w - learning_rate * g, p,\n"
        "        jax.grad(lambda q: softmax_cross_entropy(net(q, x), y1))(p)))\n"
        "    for _ in range(epochs):\n"
        "        params = step(params)\n"
        "    return params\n", "old_train", "exec"), ns)  # noqa: S102
    result = _fails_with("train", ns["train_mlp"], ns["mlp_forward"],
                         expect="never called your softmax_cross_entropy_backward")
    assert "below the required" not in result.report  # it did learn: only the rule is broken


# --------------------------------------------------------------------- later lessons' checkers
def _adam(no_correction=False, sign=1.0):
    def step(p, g, m, v, t, *, learning_rate, b1, b2, eps):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        mh, vh = (m, v) if no_correction else (m / (1 - b1**t), v / (1 - b2**t))
        return p - sign * learning_rate * mh / (jnp.sqrt(vh) + eps), m, v
    return step


def test_optimizer_checkers():
    assert check("adam_step", _adam(), verbose=False)
    _fails_with("adam_step", _adam(no_correction=True), expect="without bias correction")
    _fails_with("adam_step", _adam(sign=-1.0), expect="sign error")

    def rms(root):
        def step(p, g, s, *, learning_rate, decay, eps):
            s = decay * s + (1 - decay) * g**2
            return p - learning_rate * g / ((jnp.sqrt(s) if root else s) + eps), s
        return step

    assert check("rmsprop_step", rms(True), verbose=False)
    _fails_with("rmsprop_step", rms(False), expect="without the square root")
    assert check("sgd_step", lambda p, g, *, learning_rate: p - learning_rate * g, verbose=False)
    _fails_with("sgd_step", lambda p, g, *, learning_rate: p + learning_rate * g,
                expect="sign error in the update")


def test_dropout_and_softmax_checkers():
    def dropout(rescale=True, at_eval=False):
        def f(x, *, rate, train, key):
            if not (train or at_eval):
                return x
            keep = jax.random.bernoulli(key, 1 - rate, x.shape)
            return jnp.where(keep, x / (1 - rate) if rescale else x, 0.0)
        return f

    assert check("dropout", dropout(), verbose=False)
    _fails_with("dropout", dropout(rescale=False), expect="not rescaled")
    _fails_with("dropout", dropout(at_eval=True), expect="applied at evaluation time")

    def naive(z):
        e = jnp.exp(z)
        return e / e.sum(-1, keepdims=True)

    assert check("softmax", lambda z: jax.nn.softmax(z, axis=-1), verbose=False)
    _fails_with("softmax", naive, expect="Subtract the row's max")


def _gates(add=None, mul=None, mx=None):
    """Right gate backward functions, with any of them replaced."""
    return (add or (lambda x, y, g: (g, g)), mul or (lambda x, y, g: (g * y, g * x)),
            mx or (lambda x, y, g: (g * (x > y), g * (y > x))))


def test_gate_checker_names_each_gate_mistake():
    assert check("gates", *_gates(), verbose=False)
    _fails_with("gates", *_gates(mul=lambda x, y, g: (g * x, g * y)), expect="OTHER input")
    _fails_with("gates", *_gates(mul=lambda x, y, g: (y, x)), expect="upstream gradient g is missing")
    _fails_with("gates", *_gates(add=lambda x, y, g: (g / 2, g / 2)), expect="not shared out")
    _fails_with("gates", *_gates(mx=lambda x, y, g: (g, g)), expect="its gradient is 0")
    _fails_with("gates", *_gates(mx=lambda x, y, g: (g * (x < y), g * (y < x))),
                expect="went to the smaller input")
    one = _fails_with("gates", *_gates(mx=lambda x, y, g: (g, g)), expect="max:")
    assert "multiply" not in one.report and "add:" not in one.report.split("Likely")[-1]


def _tanh(dz):
    return (lambda z: (jnp.tanh(z), (z, jnp.tanh(z))),
            lambda da, cache: dz(da, *cache))


def test_tanh_checker_names_each_mistake():
    assert check("tanh", *_tanh(lambda da, z, a: da * (1 - a**2)), verbose=False)
    for wrong, expect in [
        (lambda da, z, a: da * (1 - z**2), "applied to the pre-activation"),
        (lambda da, z, a: da * (1 - a), "the square is missing"),
        (lambda da, z, a: da * (1 - jnp.tanh(a) ** 2), "evaluated at the post-activation"),
        (lambda da, z, a: 1 - a**2, "multiplied by the upstream gradient"),
        (lambda da, z, a: -da * (1 - a**2), "sign error"),
    ]:
        _fails_with("tanh", *_tanh(wrong), expect=expect)


def test_gate_and_tanh_checkers_accept_other_correct_forms():
    """Correct answers written differently (np.where, a loop, 1/cosh**2) pass."""
    def max_where(x, y, g):
        return np.where(x > y, g, 0.0), np.where(x > y, 0.0, g)

    def mul_loop(x, y, g):
        x, y, g = (np.asarray(a, np.float64) for a in (x, y, g))
        dx, dy = np.empty_like(x), np.empty_like(y)
        for i in np.ndindex(x.shape):
            dx[i], dy[i] = g[i] * y[i], g[i] * x[i]
        return dx, dy

    assert check("gates", *_gates(mul=mul_loop, mx=max_where), verbose=False)
    assert check("tanh", lambda z: (np.tanh(z), z), lambda da, z: da / np.cosh(z) ** 2,
                 verbose=False)


def test_check_argument_errors():
    with pytest.raises(ValueError, match="valid names are: .*dense_backward"):
        check("dense_backwrd", print)
    with pytest.raises(ValueError, match="needs 2 function"):
        check("dense_backward", print)
    with pytest.raises(TypeError, match="must be a function"):
        check("dense_forward", 3)


def test_close_is_scaled_by_the_largest_value():
    want = np.array([1e3, 1e-3])
    assert core.close(want + np.array([1e-3, 1e-3]), want, rtol=1e-5, atol=0)
    assert not core.close(want + np.array([0, 1.0]), want, rtol=1e-5, atol=0)
    assert not core.close(np.array([np.nan, 0]), np.array([1.0, 0]), rtol=1e-5, atol=0)
    assert core.close(np.array([np.inf]), np.array([np.inf]), rtol=1e-5, atol=0)


def test_spec_points_match_the_notebook():
    spec = specs.assignment("backprop")
    cells = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]
             for c in nbformat.read(str(SOLUTION), as_version=4).cells
             if "nbgrader" in c.metadata}
    for q in spec.QUESTIONS:
        assert q.name in cells and cells[q.name]["solution"], q.name
        assert cells[q.test_cell]["points"] == q.points, q.name
    for gid, points in spec.MANUAL.items():
        assert cells[gid]["points"] == points and cells[gid]["solution"]
    assert sum(q.points for q in spec.QUESTIONS) == 27
