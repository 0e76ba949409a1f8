"""The regularization assignment's checkers: right answers pass, other correct forms pass,
every catalogued mistake gets its diagnosis, and wrong answers nobody catalogued still fail."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from checks import fails_with, passes_on_seeds
from nnlib import optim
from nnlib.grading import check, specs


def _dropout(rate_as_keep=False, rescale=True, at_eval=False, row_mask=False, fixed_key=False,
             backward="right"):
    def forward(x, *, rate, train, key):
        if not (train or at_eval):
            return x, None
        p_keep = rate if rate_as_keep else 1 - rate
        key = jax.random.key(0) if fixed_key else key
        shape = (1, x.shape[1]) if row_mask else x.shape
        keep = jax.random.bernoulli(key, p_keep, shape) * jnp.ones(x.shape, bool)
        scale = 1 / p_keep if rescale else 1.0
        return jnp.where(keep, x * scale, 0.0), (keep, scale)

    def backward_fn(dy, cache):
        if cache is None or backward == "identity":
            return dy
        keep, scale = cache
        return jnp.where(keep, dy * (scale if backward == "right" else 1.0), 0.0)
    return forward, backward_fn


def l2_penalty(params, lam):
    weights = {k: v for k, v in params.items() if k.startswith("W")}
    penalty = 0.5 * lam * sum(jnp.sum(w**2) for w in weights.values())
    return penalty, {k: (lam * v if k.startswith("W") else jnp.zeros_like(v)) for k, v in params.items()}


def _es(keep_last=False, shift=0, ties=False):
    def f(train_epoch, validate, params, *, max_epochs, patience):
        best, best_params, wait, seen = np.inf, params, 0, []
        for _ in range(max_epochs):
            params = train_epoch(params)
            v = float(validate(params))
            seen.append(v)
            if v < best or (ties and v == best):
                best, best_params, wait = v, params, 0
            else:
                wait += 1
                if wait >= patience + shift:
                    break
        return (params if keep_last else best_params), seen
    return f


early_stopping_fit = _es()   # the right one: the name train_regularized calls


def dropout_moments(x, rate):
    return x, x**2 * rate / (1 - rate)


def train_regularized(x_tr, y_tr, x_val, y_val, *, dropout_rate, l2, patience, key, max_epochs=300):
    """A D-256-256-K MLP, full-batch Adam, with the functions above."""
    k_init, k_drop = jax.random.split(key)
    sizes = [x_tr.shape[1], 256, 256, int(y_tr.max()) + 1]
    keys = jax.random.split(k_init, len(sizes) - 1)
    params = {}
    for i, (a, b, k) in enumerate(zip(sizes, sizes[1:], keys)):
        params[f"W{i}"] = jax.random.normal(k, (a, b)) * jnp.sqrt(2 / a)
        params[f"b{i}"] = jnp.zeros(b)
    def scores(p, x, key=None):
        h = x
        for i in range(len(sizes) - 1):
            h = h @ p[f"W{i}"] + p[f"b{i}"]
            if i < len(sizes) - 2:
                h = jax.nn.relu(h)
                if key is not None:
                    h, _ = dropout_forward(h, rate=dropout_rate, train=True, key=jax.random.fold_in(key, i))
        return h

    def data_loss(p, x, y, key=None):
        logp = jax.nn.log_softmax(scores(p, x, key))
        return -jnp.mean(logp[jnp.arange(len(y)), y])

    opt = optim.adam(1e-3)

    @jax.jit
    def step(p, s, k):
        g = jax.grad(data_loss)(p, x_tr, y_tr, k)
        _, pg = l2_penalty(p, l2)
        g = jax.tree.map(jnp.add, g, pg)
        u, s = opt.update(g, s, p)
        return optim.apply_updates(p, u), s

    state = {"p": params, "s": opt.init(params), "epoch": 0}

    def train_epoch(st):
        p, s = step(st["p"], st["s"], jax.random.fold_in(k_drop, st["epoch"]))
        return {"p": p, "s": s, "epoch": st["epoch"] + 1}

    def validate(st):
        return data_loss(st["p"], x_val, y_val)

    best, seen = early_stopping_fit(train_epoch, validate, state, max_epochs=max_epochs,
                                    patience=patience)
    acc = float(jnp.mean(jnp.argmax(scores(best["p"], x_val), 1) == y_val))
    return best["p"], acc, seen


dropout_forward, dropout_backward = _dropout()   # the names train_regularized calls


def test_right_answers_pass():
    passes_on_seeds("dropout_layer", _dropout())
    passes_on_seeds("l2_penalty", (l2_penalty,))
    passes_on_seeds("early_stopping_fit", (early_stopping_fit,))
    passes_on_seeds("dropout_moments", (dropout_moments,))


def test_training_with_the_students_functions_is_judged_and_counted():
    assert check("train_regularized", train_regularized, verbose=False).passed

    def without_stopping(x_tr, y_tr, x_val, y_val, **kw):
        global early_stopping_fit
        saved = early_stopping_fit
        try:
            early_stopping_fit = lambda te, va, p, *, max_epochs, patience: (te(p), [va(te(p))])  # noqa: E731
            return train_regularized(x_tr, y_tr, x_val, y_val, **kw)
        finally:
            early_stopping_fit = saved
    res = check("train_regularized", without_stopping, verbose=False)
    assert not res.passed


def test_the_assignment_lists_its_questions():
    mod = specs.assignment("regularization")
    assert [q.name for q in mod.QUESTIONS] == ["dropout_layer", "l2_penalty", "early_stopping_fit",
                                                "dropout_moments", "train_regularized"]
    assert sum(q.points for q in mod.QUESTIONS) == 13 and mod.MANUAL == {"which_regularizer": 3}
    assert "dropout" in specs.all_questions()


@pytest.mark.parametrize("kw, expect", [
    ({"rescale": False}, "no rescaling"),
    ({"at_eval": True}, "with train=False dropout must return x unchanged"),
    ({"rate_as_keep": True}, "rate was used as the keep probability"),
    ({"row_mask": True}, "every example gets the same mask"),
    ({"fixed_key": True}, "two different keys gave the same mask"),
    ({"backward": "identity"}, "mask is not applied in the backward pass"),
    ({"backward": "unscaled"}, "not the 1/(1 - rate) scaling"),
])
def test_dropout_mistakes(kw, expect):
    fails_with("dropout_layer", *_dropout(**kw), expect=expect)


def _l2(biases=False, half=True, grad_factor=1.0, sign=1.0):
    def f(params, lam):
        keep = {k: v for k, v in params.items() if k.startswith("W") or biases}
        pen = (0.5 if half else 1.0) * lam * sum(jnp.sum(v**2) for v in keep.values())
        return pen, {k: (sign * grad_factor * lam * v if k in keep else jnp.zeros_like(v))
                     for k, v in params.items()}
    return f


@pytest.mark.parametrize("fn, expect", [
    (_l2(biases=True), "biases are penalised"),
    (_l2(half=False), "the 1/2 is missing"),
    (_l2(grad_factor=2.0), "not 2 lam W"),
    (_l2(sign=-1.0), "sign error"),
])
def test_l2_mistakes(fn, expect):
    fails_with("l2_penalty", fn, expect=expect)


@pytest.mark.parametrize("fn, expect", [
    (_es(keep_last=True), "last ones, not those of the best"),
    (_es(shift=-1), "one epoch too early"),
    (_es(shift=1), "one epoch too late"),
    (_es(ties=True), "equal validation loss counted as an improvement"),
])
def test_early_stopping_mistakes(fn, expect):
    fails_with("early_stopping_fit", fn, expect=expect)


@pytest.mark.parametrize("fn, expect", [
    (lambda x, r: (x, x**2 * r * (1 - r)), "without the 1/(1 - rate)"),
    (lambda x, r: (x, x**2 * r), "E[y^2] - E[y]^2"),
    (lambda x, r: (x * (1 - r), x**2 * r / (1 - r)), "keeps the mean"),
])
def test_moment_mistakes(fn, expect):
    fails_with("dropout_moments", fn, expect=expect)


def test_own_wrong_implementations_beyond_the_catalogue_all_fail():
    def drop_half_scale(x, *, rate, train, key):                 # scales by 1 / rate
        keep = jax.random.bernoulli(key, 1 - rate, x.shape)
        return jnp.where(keep, x / rate, 0.0) if train else x, keep
    wrong = [("dropout_layer", drop_half_scale, lambda dy, keep: jnp.where(keep, dy, 0.0)),
             ("l2_penalty", lambda p, lam: (0.5 * lam * sum(jnp.sum(v**2) for v in p.values()) / 2,
                                            {k: lam * v for k, v in p.items()})),
             ("early_stopping_fit", lambda te, va, p, *, max_epochs, patience:
                 (te(p), [float(va(te(p)))])),                   # one epoch only
             ("dropout_moments", lambda x, r: (x, x**2 / (1 - r)))]
    for name, *fns in wrong:
        assert not check(name, *fns, verbose=False).passed, name
