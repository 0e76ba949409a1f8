"""The optimizers assignment's checkers: right answers pass, other correct forms pass, every
catalogued mistake gets its diagnosis, and wrong answers nobody catalogued still fail."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from checks import fails_with, passes_on_seeds
from nnlib import data, layers, train
from nnlib.grading import check, specs
from nnlib.optim import GradientTransformation

tmap = jax.tree.map




def sgd_momentum(learning_rate, momentum, *, form="heavy", carried=True, sign=1.0):
    def init(params):
        return tmap(jnp.zeros_like, params)

    def update(grads, v, params=None):
        v = v if carried else tmap(jnp.zeros_like, v)
        if form == "ema":
            v = tmap(lambda v, g: momentum * v + (1 - momentum) * g, v, grads)
        else:
            v = tmap(lambda v, g: momentum * v + g, v, grads)
        if form == "params":
            return tmap(lambda g, p: -learning_rate * g + (momentum - 1) * p, grads, params), v
        return tmap(lambda v: -sign * learning_rate * v, v), v
    return GradientTransformation(init, update)


def rmsprop(learning_rate, decay, eps, *, root="outside", carried=True, swapped=False, sign=1.0):
    def init(params):
        return tmap(jnp.zeros_like, params)

    def update(grads, s, params=None):
        s = s if carried else tmap(jnp.zeros_like, s)
        a, b = (1 - decay, decay) if swapped else (decay, 1 - decay)
        s = tmap(lambda s, g: a * s + b * g**2, s, grads)
        den = {"outside": lambda s: jnp.sqrt(s) + eps, "inside": lambda s: jnp.sqrt(s + eps),
               "none": lambda s: s + eps}[root]
        return tmap(lambda g, s: -sign * learning_rate * g / den(s), grads, s), s
    return GradientTransformation(init, update)


def adam(learning_rate, b1, b2, eps, *, correct=True, t0=0, root="outside", carried=True,
         count=True, sign=1.0):
    def init(params):
        return (jnp.asarray(t0), tmap(jnp.zeros_like, params), tmap(jnp.zeros_like, params))

    def update(grads, state, params=None):
        t, m, v = state
        if not carried:
            m, v = tmap(jnp.zeros_like, m), tmap(jnp.zeros_like, v)
        t = t + 1 if count else jnp.asarray(t0 + 1)
        m = tmap(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
        v = tmap(lambda v, g: b2 * v + (1 - b2) * g**2, v, grads)
        c1, c2 = (1 - b1**t, 1 - b2**t) if correct else (1.0, 1.0)
        den = {"outside": lambda vh: jnp.sqrt(vh) + eps, "inside": lambda vh: jnp.sqrt(vh + eps),
               "none": lambda vh: vh + eps}[root]
        return tmap(lambda m, v: -sign * learning_rate * (m / c1) / den(v / c2), m, v), (t, m, v)
    return GradientTransformation(init, update)


def steady_state_steps(learning_rate, momentum, eps, g):
    return -learning_rate * g / (1 - momentum), -learning_rate * g / (np.abs(g) + eps)


def train_digits(optimizer, *, key, epochs=8):
    x, y = data.load_digits()
    x = data.standardize(x)[0]
    k_split, k_init, k_fit = jax.random.split(key, 3)
    order = np.asarray(jax.random.permutation(k_split, len(y)))
    tr, te = order[:1400], order[1400:]
    model = layers.Sequential([layers.Dense(64, activation="relu"), layers.Dense(10)])
    params, state = model.init(k_init, (x.shape[1],))
    result = train.fit(model, params, x[tr], y[tr], loss="softmax_cross_entropy_with_integer_labels",
                       optimizer=optimizer, epochs=epochs, batch_size=64, key=k_fit,
                       progress=False)
    acc = float(np.mean(np.argmax(model.apply(result.params, x[te]), -1) == y[te]))
    return acc, result.history["loss"]


RIGHT = {"sgd_momentum": (sgd_momentum,), "rmsprop": (rmsprop,), "adam": (adam,),
         "steady_state_steps": (steady_state_steps,)}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_answers_pass(name):
    passes_on_seeds(name, RIGHT[name], (0, 5))


def test_training_with_the_students_adam_is_judged_and_counted():
    assert check("train_digits", train_digits, adam, verbose=False).passed
    lazy = lambda optimizer, *, key, epochs=8: train_digits(  # noqa: E731 - ignores its optimizer
        __import__("nnlib").optim.adam(3e-3), key=key, epochs=epochs)
    fails_with("train_digits", lazy, adam, expect="never used")


def test_the_assignment_lists_its_questions():
    mod = specs.assignment("optimizers")
    assert [q.name for q in mod.QUESTIONS] == ["sgd_momentum", "rmsprop", "adam",
                                                "steady_state_steps", "train_digits"]
    assert sum(q.points for q in mod.QUESTIONS) == 15 and mod.MANUAL == {"compare_optimizers": 3}
    assert {"sgd_step", "adam_step", "rmsprop_step"} <= set(specs.all_questions())


def test_the_librarys_optimizers_are_the_reference():
    """nnlib.optim's momentum, RMSprop (eps moved outside) and Adam follow the same rules."""
    from nnlib import optim

    assert check("sgd_momentum", lambda learning_rate, momentum: optim.sgd(
        learning_rate, momentum=momentum), verbose=False)
    assert check("adam", lambda learning_rate, b1, b2, eps: optim.adam(
        learning_rate, b1=b1, b2=b2, eps=eps), verbose=False)


@pytest.mark.parametrize("kw, expect", [
    ({"form": "params"}, "multiplies the parameters"),
    ({"carried": False}, "not carried"),
    ({"form": "ema"}, "is an average"),
    ({"sign": -1.0}, "sign error"),
])
def test_momentum_mistakes(kw, expect):
    fails_with("sgd_momentum", lambda learning_rate, momentum: sgd_momentum(
        learning_rate, momentum, **kw), expect=expect)


@pytest.mark.parametrize("kw, expect", [
    ({"root": "none"}, "square root is missing"),
    ({"root": "inside"}, "inside the square root"),
    ({"carried": False}, "not carried"),
    ({"swapped": True}, "swapped"),
    ({"sign": -1.0}, "sign error"),
])
def test_rmsprop_mistakes(kw, expect):
    fails_with("rmsprop", lambda learning_rate, decay, eps: rmsprop(
        learning_rate, decay, eps, **kw), expect=expect)


@pytest.mark.parametrize("kw, expect", [
    ({"correct": False}, "no bias correction"),
    ({"t0": 1}, "uses t + 1"),
    ({"t0": -1}, "divides by 1 - b**0 = 0"),
    ({"count": False}, "not incremented"),
    ({"root": "inside"}, "inside the square root"),
    ({"root": "none"}, "square root of v_hat is missing"),
    ({"carried": False}, "moments m and v are not carried"),
    ({"sign": -1.0}, "sign error"),
])
def test_adam_mistakes(kw, expect):
    with np.errstate(all="ignore"):
        fails_with("adam", lambda learning_rate, b1, b2, eps: adam(
            learning_rate, b1, b2, eps, **kw), expect=expect)


@pytest.mark.parametrize("fn, expect", [
    (lambda lr, mu, eps, g: (-lr * g, -lr * g / (np.abs(g) + eps)), "geometric series"),
    (lambda lr, mu, eps, g: (-lr * mu * g / (1 - mu), -lr * g / (np.abs(g) + eps)), "not mu / (1 - mu)"),
    (lambda lr, mu, eps, g: (-lr * g / (1 - mu), -lr * g), "does not scale with the gradient"),
    (lambda lr, mu, eps, g: (-lr * g / (1 - mu), -lr * np.sign(g)), "eps matters"),
])
def test_steady_state_mistakes(fn, expect):
    fails_with("steady_state_steps", fn, expect=expect)


def test_own_wrong_implementations_beyond_the_catalogue_all_fail():
    def adam_b1_b2_swapped(learning_rate, b1, b2, eps):
        return adam(learning_rate, b2, b1, eps)

    def momentum_nesterov(learning_rate, momentum):           # a different method, not a slip
        inner = sgd_momentum(learning_rate, momentum)

        def update(grads, v, params=None):
            v = tmap(lambda v, g: momentum * v + g, v, grads)
            return tmap(lambda v, g: -learning_rate * (g + momentum * v), v, grads), v
        return GradientTransformation(inner.init, update)

    def rmsprop_lr_squared(learning_rate, decay, eps):
        return rmsprop(learning_rate**2, decay, eps)

    for name, fn in [("adam", adam_b1_b2_swapped), ("sgd_momentum", momentum_nesterov),
                     ("rmsprop", rmsprop_lr_squared),
                     ("steady_state_steps", lambda lr, mu, eps, g: (-lr * g / (1 + mu), -lr * g))]:
        assert not check(name, fn, verbose=False).passed, name
