"""Lesson 05's checkers: He/Glorot initializers, batch norm, clipping by the global norm.

Right answers pass with two seeds and in several forms (NumPy, JAX, loops, nnlib's own);
every catalogued mistake gets its diagnosis (asserted on the message); the cases move each
mistake far beyond the tolerance; and wrong answers the catalogue does not list fail (the
last test counts how many of them are also named).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnlib import init, layers, optim
from nnlib.grading import check, specs
from nnlib.grading.specs import initialization as spec

SEEDS = (0, 1)


def _fails_with(name, *fns, expect, seed=0):
    result = check(name, *fns, seed=seed, verbose=False)
    assert not result.passed, f"{name}: a wrong answer passed"
    assert expect in result.report, result.report
    return result


def test_the_questions_are_registered_once_with_zero_points():
    names = [q.name for q in spec.LESSON_QUESTIONS]
    assert names == ["he_normal", "glorot_normal", "glorot_uniform", "batch_norm",
                     "clip_by_global_norm"]
    for name in names:
        assert specs.question(name) is next(q for q in spec.LESSON_QUESTIONS if q.name == name)
        assert specs.question(name).points == 0
    everywhere = []
    for mod in specs.CHECK_MODULES:
        module = __import__(f"nnlib.grading.specs.{mod}", fromlist=["x"])
        everywhere += [q.name for q in (*module.QUESTIONS, *getattr(module, "LESSON_QUESTIONS", ()))]
    assert len(everywhere) == len(set(everywhere)), "two modules define a question of the same name"


# --------------------------------------------------------------------------- initializers
def he_normal(key, fan_in, fan_out):
    return jax.random.normal(key, (fan_in, fan_out)) * jnp.sqrt(2.0 / fan_in)


def glorot_normal(key, fan_in, fan_out):
    return jax.random.normal(key, (fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))


def glorot_uniform(key, fan_in, fan_out):
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return jax.random.uniform(key, (fan_in, fan_out), minval=-a, maxval=a)


RIGHT_INITS = {
    "he_normal": [he_normal, lambda k, i, o: init.he_normal(k, (i, o)),
                  lambda k, i, o: np.asarray(jax.random.normal(k, (i, o), jnp.float32)) / np.sqrt(i / 2),
                  lambda k, i, o: jnp.sqrt(2.0 / i) * jax.random.truncated_normal(k, -3, 3, (i, o))
                  / np.sqrt(0.9733369)],  # truncated at 3 sd, rescaled to the right variance
    "glorot_normal": [glorot_normal, lambda k, i, o: init.glorot_normal(k, (i, o)),
                      lambda k, i, o: jax.random.normal(k, (i, o)) * (2.0 / (i + o)) ** 0.5],
    "glorot_uniform": [glorot_uniform, lambda k, i, o: init.glorot_uniform(k, (i, o)),
                       lambda k, i, o: (2 * jax.random.uniform(k, (i, o)) - 1) * np.sqrt(6 / (i + o))],
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name,k", [(n, k) for n, fs in RIGHT_INITS.items() for k in range(len(fs))])
def test_right_initializers_pass(name, k, seed):
    result = check(name, RIGHT_INITS[name][k], seed=seed, verbose=False)
    assert result.passed, result.report


def _normal(std):
    return lambda k, i, o: jax.random.normal(k, (i, o)) * std(i, o)


def _uniform(limit):
    return lambda k, i, o: jax.random.uniform(k, (i, o), minval=-limit(i, o), maxval=limit(i, o))


CATALOGUED_INITS = {  # (question, mistake name) -> a wrong answer showing it
    ("he_normal", "fan_out"): _normal(lambda i, o: np.sqrt(2 / o)),
    ("he_normal", "variance_as_std"): _normal(lambda i, o: 2 / i),
    ("he_normal", "one_over_fan_in"): _normal(lambda i, o: np.sqrt(1 / i)),
    ("he_normal", "glorot_instead"): _normal(lambda i, o: np.sqrt(2 / (i + o))),
    ("he_normal", "std_of_uniform_limit"): _normal(lambda i, o: np.sqrt(6 / i)),
    ("glorot_normal", "variance_as_std"): _normal(lambda i, o: 2 / (i + o)),
    ("glorot_normal", "one_over_sum"): _normal(lambda i, o: np.sqrt(1 / (i + o))),
    ("glorot_normal", "he_instead"): _normal(lambda i, o: np.sqrt(2 / i)),
    ("glorot_normal", "fan_in_only"): _normal(lambda i, o: np.sqrt(1 / i)),
    ("glorot_normal", "fan_out_only"): _normal(lambda i, o: np.sqrt(1 / o)),
    ("glorot_normal", "std_of_uniform_limit"): _normal(lambda i, o: np.sqrt(6 / (i + o))),
    ("glorot_uniform", "std_as_limit"): _uniform(lambda i, o: np.sqrt(2 / (i + o))),
    ("glorot_uniform", "limit_without_sqrt"): _uniform(lambda i, o: 6 / (i + o)),
    ("glorot_uniform", "limit_sqrt_3"): _uniform(lambda i, o: np.sqrt(3 / (i + o))),
    ("glorot_uniform", "he_limit"): _uniform(lambda i, o: np.sqrt(6 / i)),
}


def test_every_catalogued_initializer_mistake_has_a_wrong_answer_here():
    catalogue = {(q, m) for q, (_, _, _, ms) in spec.INIT_RULES.items() for m, _, _ in ms}
    assert catalogue == set(CATALOGUED_INITS)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("question,mistake", list(CATALOGUED_INITS))
def test_initializer_mistakes_are_named(question, mistake, seed):
    message = next(msg for m, msg, _ in spec.INIT_RULES[question][3] if m == mistake)
    result = _fails_with(question, CATALOGUED_INITS[(question, mistake)], expect=message, seed=seed)
    others = [msg for m, msg, _ in spec.INIT_RULES[question][3] if m != mistake]
    assert not any(o in result.report for o in others), result.report  # named alone


def test_each_initializer_mistake_moves_the_variance_far_beyond_the_tolerance():
    for question, (rule, _, _, catalogue) in spec.INIT_RULES.items():
        for name, _, wrong in catalogue:
            ratios = [wrong(i, o) / rule(i, o) for i, o in spec.INIT_FANS]
            assert max(abs(r - 1) for r in ratios) > 0.3, (question, name, ratios)
            assert min(abs(r - 1) for r in ratios) > 2 * spec.VAR_TOL, (question, name, ratios)
        for i, o in spec.INIT_FANS:  # no two mistakes can be confused on the same case
            rs = sorted(w(i, o) / rule(i, o) for _, _, w in catalogue)
            assert all(b / a > 1 + 2 * spec.VAR_TOL for a, b in zip(rs, rs[1:])), (question, i, o)


def test_initializer_problems_that_are_not_a_scale():
    _fails_with("glorot_uniform", lambda k, i, o: jax.random.uniform(k, (i, o)) * np.sqrt(6 / (i + o)),
                expect="jax.random.uniform draws from [0, 1)")
    _fails_with("glorot_uniform", glorot_normal, expect="a normal distribution was drawn")
    _fails_with("he_normal", lambda k, i, o: jax.random.uniform(k, (i, o), minval=-1, maxval=1)
                * np.sqrt(6 / i), expect="a uniform distribution was drawn")
    r = _fails_with("he_normal", lambda k, i, o: he_normal(k, o, i), expect="expected (fan_in, fan_out)")
    assert "rows are the fan_in inputs" in r.report
    _fails_with("he_normal", lambda k, i, o: np.random.default_rng().normal(size=(i, o)) * np.sqrt(2 / i),
                expect="not from a global generator")
    _fails_with("he_normal", lambda k, i, o: he_normal(jax.random.key(0), i, o),
                expect="two different keys gave the same weights")
    _fails_with("he_normal", lambda k, i, o: he_normal(k, i, o) + 0.5, expect="mean is")
    with np.errstate(invalid="ignore"):
        _fails_with("he_normal", lambda k, i, o: he_normal(k, i, o) * np.nan, expect="nan or inf")
    assert "not implemented yet" in check(
        "he_normal", lambda k, i, o: (_ for _ in ()).throw(NotImplementedError()), verbose=False).report


# --------------------------------------------------------------------------- batch norm
def batch_norm(x, gamma, beta, running_mean, running_var, *, train, momentum, eps):
    if train:
        mu, var = x.mean(axis=0), x.var(axis=0)
        n = x.shape[0]
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var * n / (n - 1)
    else:
        mu, var = running_mean, running_var
    return gamma * (x - mu) / np.sqrt(var + eps) + beta, running_mean, running_var


def batch_norm_jax(x, gamma, beta, running_mean, running_var, *, train, momentum, eps):
    x = jnp.asarray(x, jnp.float32)
    if not train:
        return (x - running_mean) * jax.lax.rsqrt(running_var + eps) * gamma + beta, running_mean, running_var
    mu = jnp.mean(x, 0)
    var = jnp.mean((x - mu) ** 2, 0)
    new_mean = running_mean + (1 - momentum) * (mu - running_mean)        # the same update
    new_var = running_var + (1 - momentum) * (jnp.var(x, 0, ddof=1) - running_var)
    return gamma * (x - mu) / jnp.sqrt(var + eps) + beta, new_mean, new_var


def batch_norm_loops(x, gamma, beta, running_mean, running_var, *, train, momentum, eps):
    n, d = x.shape
    y, rm, rv = np.empty_like(x), np.array(running_mean, float), np.array(running_var, float)
    for j in range(d):
        col = [x[k, j] for k in range(n)]
        if train:
            mu = sum(col) / n
            var = sum((v - mu) ** 2 for v in col) / n
            rm[j] = momentum * rm[j] + (1 - momentum) * mu
            rv[j] = momentum * rv[j] + (1 - momentum) * sum((v - mu) ** 2 for v in col) / (n - 1)
        else:
            mu, var = running_mean[j], running_var[j]
        for k in range(n):
            y[k, j] = gamma[j] * (x[k, j] - mu) / (var + eps) ** 0.5 + beta[j]
    return y, rm, rv


def batch_norm_nnlib(x, gamma, beta, running_mean, running_var, *, train, momentum, eps):
    layer = layers.BatchNorm(momentum=momentum, eps=eps)
    y, cache = layer.forward({"gamma": jnp.asarray(gamma, jnp.float32), "beta": jnp.asarray(beta, jnp.float32)},
                             jnp.asarray(x, jnp.float32), train=train,
                             state={"mean": jnp.asarray(running_mean, jnp.float32),
                                    "var": jnp.asarray(running_var, jnp.float32)})
    return y, cache["state"]["mean"], cache["state"]["var"]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fn", [batch_norm, batch_norm_jax, batch_norm_loops, batch_norm_nnlib])
def test_right_batch_norms_pass(fn, seed):
    result = check("batch_norm", fn, seed=seed, verbose=False)
    assert result.passed, result.report


def _bn(**flags):
    """The right batch norm with one slip switched on."""
    def fn(x, gamma, beta, running_mean, running_var, *, train, momentum, eps):
        axis = 1 if flags.get("axis1") else 0
        keep = (slice(None), None) if axis else (None, slice(None))
        n = x.shape[axis]
        mu, var = x.mean(axis=axis), x.var(axis=axis)
        use_batch = train or flags.get("batch_in_eval")
        m_use, v_use = (mu, var * n / (n - 1) if flags.get("unbiased") else var) if use_batch else \
            (running_mean, running_var)
        if flags.get("eps_outside"):
            y = (x - m_use[keep]) / (np.sqrt(v_use[keep]) + eps)
        elif flags.get("divide_by_var") and not train:
            y = (x - m_use[keep]) / (v_use[keep] + eps)
        else:
            y = (x - m_use[keep]) / np.sqrt(v_use[keep] + eps)
        if not flags.get("no_affine"):
            y = gamma * y + beta
        update = (train and not flags.get("frozen")) or (not train and flags.get("update_eval"))
        if update:
            with np.errstate(divide="ignore", invalid="ignore"):
                new_var = np.sqrt(var) if flags.get("std") else (
                    var if flags.get("biased") else var * n / (n - 1))
            old, new = (1 - momentum, momentum) if flags.get("reversed") else (momentum, 1 - momentum)
            running_mean = old * running_mean + new * mu
            running_var = old * running_var + new * new_var
        return y, running_mean, running_var
    return fn


BN_MISTAKES = {
    "wrong_axis": _bn(axis1=True), "eps_outside_sqrt": _bn(eps_outside=True),
    "unbiased_in_normalisation": _bn(unbiased=True), "biased_running_var": _bn(biased=True),
    "not_updated_in_train": _bn(frozen=True), "updated_in_eval": _bn(update_eval=True),
    "eval_uses_batch_statistics": _bn(batch_in_eval=True), "momentum_reversed": _bn(reversed=True),
    "no_gamma_beta": _bn(no_affine=True), "running_std": _bn(std=True),
    "eval_divides_by_variance": _bn(divide_by_var=True),
}


def test_evaluating_in_training_mode_names_both_halves_of_the_bug():
    def train_always(x, gamma, beta, rm, rv, *, train, momentum, eps):
        return batch_norm(x, gamma, beta, rm, rv, train=True, momentum=momentum, eps=eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = _fails_with("batch_norm", train_always, expect="use the running mean and variance")
    assert "return them unchanged" in r.report


def test_a_wrong_axis_on_non_square_inputs_is_named_by_the_running_mean_shape():
    def axis1(x, gamma, beta, rm, rv, *, train, momentum, eps):
        if not train:
            return batch_norm(x, gamma, beta, rm, rv, train=False, momentum=momentum, eps=eps)
        mu, var = x.mean(1), x.var(1)
        y = gamma * (x - mu[:, None]) / np.sqrt(var[:, None] + eps) + beta
        return y, momentum * np.resize(rm, mu.shape) + (1 - momentum) * mu, rv
    r = _fails_with("batch_norm", axis1, expect="one entry per EXAMPLE")
    assert "has shape" in r.report


def test_each_batch_norm_mistake_moves_some_case_far_beyond_the_tolerance():
    for mistake in spec.BATCH_NORM.mistakes:
        worst = 0.0
        for _, i in spec.BATCH_NORM.make_cases(np.random.default_rng(0)):
            ref = spec.BATCH_NORM.reference(i)
            try:
                wrong = mistake.outputs(i)
            except ValueError:  # the wrong axis cannot broadcast on a non-square case
                continue
            for k in ref:
                with np.errstate(invalid="ignore"):
                    d = np.nan_to_num(np.abs(np.asarray(wrong[k]) - ref[k]), nan=1e9).max()
                worst = max(worst, float(d / max(1.0, np.abs(ref[k]).max())))
        assert worst > 1e2 * spec.BATCH_NORM.rtol, (mistake.name, worst)


# --------------------------------------------------------------------------- clipping
def clip_jax(grads, max_norm):
    norm = jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree.leaves(grads)))
    return jax.tree.map(lambda g: g * jnp.minimum(1.0, max_norm / norm), grads)


def clip_flat(grads, max_norm):
    leaves, tree = jax.tree.flatten(grads)
    norm = np.linalg.norm(np.concatenate([np.ravel(g) for g in leaves]))
    if norm <= max_norm:
        return grads
    return jax.tree.unflatten(tree, [g * (max_norm / norm) for g in leaves])


def clip_nnlib(grads, max_norm):
    t = optim.clip_by_global_norm(max_norm)
    return t.update(grads, t.init(grads))[0]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fn", [clip_jax, clip_flat, clip_nnlib])
def test_right_clippings_pass(fn, seed):
    result = check("clip_by_global_norm", fn, seed=seed, verbose=False)
    assert result.passed, result.report


def _norm(tree):
    return float(np.sqrt(sum(np.sum(np.square(g)) for g in jax.tree.leaves(tree))))


CLIP_MISTAKES = {
    "per_leaf_norm": lambda g, c: jax.tree.map(lambda x: x * min(1.0, c / np.linalg.norm(x)), g),
    "scaled_below_threshold": lambda g, c: jax.tree.map(lambda x: x * c / _norm(g), g),
    "clipped_by_value": lambda g, c: jax.tree.map(lambda x: np.clip(x, -c, c), g),
    "squared_norm": lambda g, c: jax.tree.map(lambda x: x * min(1.0, c / _norm(g) ** 2), g),
    "max_norm_dropped": lambda g, c: jax.tree.map(lambda x: x * min(1.0, 1 / _norm(g)), g),
    "factor_inverted": lambda g, c: jax.tree.map(lambda x: x * max(1.0, _norm(g) / c), g),
    "unchanged": lambda g, c: g,
}


CATALOGUED = {spec.BATCH_NORM: BN_MISTAKES, spec.CLIP_BY_GLOBAL_NORM: CLIP_MISTAKES}


@pytest.mark.parametrize("question", list(CATALOGUED), ids=lambda q: q.name)
def test_every_catalogued_mistake_has_a_wrong_answer_here(question):
    assert {m.name for m in question.mistakes} == set(CATALOGUED[question])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("question,mistake", [(q, m) for q in CATALOGUED for m in q.mistakes],
                         ids=lambda x: getattr(x, "name", ""))
def test_catalogued_mistakes_are_named(question, mistake, seed):
    with np.errstate(divide="ignore", invalid="ignore"):
        _fails_with(question.name, CATALOGUED[question][mistake.name], expect=mistake.message,
                    seed=seed)


def test_a_different_pytree_structure_is_reported():
    _fails_with("clip_by_global_norm", lambda g, c: jax.tree.leaves(clip_jax(g, c)),
                expect="structure")


# ------------------------------------------------- wrong answers the catalogue does not list
def _extra_wrong_answers():
    def he_truncated_not_rescaled(k, i, o):  # truncated at 2 sd: the variance drops to 0.77
        return jnp.sqrt(2.0 / i) * jax.random.truncated_normal(k, -2, 2, (i, o))

    def he_fan_average(k, i, o):  # 2 / ((fan_in + fan_out) / 2)
        return jax.random.normal(k, (i, o)) * jnp.sqrt(4.0 / (i + o))

    def glorot_uniform_limit_sqrt_12(k, i, o):  # a = sqrt(12 / (fan_in + fan_out))
        a = np.sqrt(12.0 / (i + o))
        return jax.random.uniform(k, (i, o), minval=-a, maxval=a)

    def bn_running_from_output(x, gamma, beta, rm, rv, *, train, momentum, eps):
        y, _, _ = batch_norm(x, gamma, beta, rm, rv, train=train, momentum=momentum, eps=eps)
        if train:  # running statistics of the normalised output instead of the input
            n = x.shape[0]
            rm = momentum * rm + (1 - momentum) * y.mean(0)
            rv = momentum * rv + (1 - momentum) * y.var(0) * n / (n - 1)
        return y, rm, rv

    def bn_eval_no_centering(x, gamma, beta, rm, rv, *, train, momentum, eps):
        if train:
            return batch_norm(x, gamma, beta, rm, rv, train=True, momentum=momentum, eps=eps)
        return gamma * x / np.sqrt(rv + eps) + beta, rm, rv

    def bn_gamma_inside_sqrt(x, gamma, beta, rm, rv, *, train, momentum, eps):
        y, rm, rv = batch_norm(x, np.ones_like(gamma), np.zeros_like(beta), rm, rv, train=train,
                               momentum=momentum, eps=eps)
        return y * np.sqrt(gamma) + beta, rm, rv

    def clip_l1_norm(g, c):
        n = float(sum(np.sum(np.abs(x)) for x in jax.tree.leaves(g)))
        return jax.tree.map(lambda x: x * min(1.0, c / n), g)

    def clip_rms(g, c):  # the root-mean-square of the entries instead of the norm
        leaves = jax.tree.leaves(g)
        n = float(np.sqrt(np.mean(np.concatenate([np.ravel(x) ** 2 for x in leaves]))))
        return jax.tree.map(lambda x: x * min(1.0, c / n), g)

    def clip_first_leaf_only(g, c):
        leaves, tree = jax.tree.flatten(g)
        f = min(1.0, c / _norm(g))
        return jax.tree.unflatten(tree, [leaves[0] * f] + leaves[1:])

    return [("he_normal", he_truncated_not_rescaled), ("he_normal", he_fan_average),
            ("glorot_uniform", glorot_uniform_limit_sqrt_12),
            ("batch_norm", bn_running_from_output), ("batch_norm", bn_eval_no_centering),
            ("batch_norm", bn_gamma_inside_sqrt),
            ("clip_by_global_norm", clip_l1_norm), ("clip_by_global_norm", clip_rms),
            ("clip_by_global_norm", clip_first_leaf_only)]


EXTRA = _extra_wrong_answers()


@pytest.mark.parametrize("name,fn", EXTRA, ids=[f.__name__ for _, f in EXTRA])
def test_wrong_answers_outside_the_catalogue_fail(name, fn):
    with np.errstate(divide="ignore", invalid="ignore"):
        result = check(name, fn, verbose=False)
    assert not result.passed, result.report


def test_how_many_uncatalogued_wrong_answers_are_named():
    """Reported, not required: how many of the extra wrong answers get a 'Likely mistake'."""
    named = []
    for name, fn in EXTRA:
        with np.errstate(divide="ignore", invalid="ignore"):
            named.append("Likely mistake" in check(name, fn, verbose=False).report)
    print(f"{sum(named)} of {len(EXTRA)} uncatalogued wrong answers are named")
    assert len(named) == 9
