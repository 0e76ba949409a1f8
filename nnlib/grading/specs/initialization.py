"""Checkers for lesson 05's exercises: initialization, batch normalization and clipping.

* ``he_normal(key, fan_in, fan_out) -> W``: ``W`` of shape ``(fan_in, fan_out)`` drawn from a
  plain normal ``N(0, 2 / fan_in)`` (He et al. 2015).
* ``glorot_normal(key, fan_in, fan_out) -> W``: ``N(0, 2 / (fan_in + fan_out))`` (Glorot &
  Bengio 2010).
* ``glorot_uniform(key, fan_in, fan_out) -> W``: ``U(-a, a)`` with
  ``a = sqrt(6 / (fan_in + fan_out))``, so that ``Var W = a**2 / 3 = 2 / (fan_in + fan_out)``.
* ``batch_norm(x, gamma, beta, running_mean, running_var, *, train, momentum, eps)
  -> (y, running_mean, running_var)`` on ``x (N, D)`` (Ioffe & Szegedy 2015). In training mode
  it normalises each feature with the batch mean and the *biased* batch variance,
  ``y = gamma (x - mu) / sqrt(var + eps) + beta``, and returns the running statistics
  ``momentum * old + (1 - momentum) * new``, the variance entering them *unbiased*
  (``var * N / (N - 1)``, as in :class:`nnlib.layers.BatchNorm` and PyTorch). In evaluation
  mode it normalises with the running statistics and returns them unchanged.
* ``clip_by_global_norm(grads, max_norm) -> grads``: a pytree scaled by
  ``min(1, max_norm / ||g||)``, ``||g||`` the norm of all leaves together (Pascanu et al. 2013).

The initializers are random, so they are judged statistically on draws of about 20,000
weights: shape, mean, variance against the rule, the distribution's shape (the excess
kurtosis of a normal is 0, of a uniform -1.2), and whether the key is used. Each catalogued
mistake changes the variance by a factor of at least 1.3 on some case, where the sampling
error of the variance is about 1 %. The batch-norm and clipping cases include a batch of one,
non-square shapes, large magnitudes, a feature of tiny variance and a norm below the threshold.
"""

from __future__ import annotations

import numpy as np

from nnlib.grading.core import Mistake, Question

# --------------------------------------------------------------------------- initializers
#: (fan_in, fan_out) of the cases: non-square, so fan_in and fan_out mix-ups show.
INIT_FANS = ((240, 100), (80, 240), (400, 60))
VAR_TOL = 0.06  # relative; the sampling error of the variance of 19,200+ draws is about 1 %


def _he_var(fi, fo):
    return 2.0 / fi


def _glorot_var(fi, fo):
    return 2.0 / (fi + fo)


#: question -> (the rule's variance, its formula in words, normal or uniform,
#:              [(name, message, variance of the wrong rule)])
INIT_RULES = {
    "he_normal": (_he_var, "2 / fan_in", "normal", [
        ("fan_out", "the variance uses fan_out; He's rule keeps the forward pass's variance, "
         "so it divides by fan_in: std = sqrt(2 / fan_in)", lambda fi, fo: 2.0 / fo),
        ("variance_as_std", "2 / fan_in is the VARIANCE; the standard deviation to multiply a "
         "standard normal by is its square root, sqrt(2 / fan_in)", lambda fi, fo: (2.0 / fi) ** 2),
        ("one_over_fan_in", "that is Var W = 1 / fan_in (LeCun's rule); a ReLU zeroes half its "
         "inputs, so He doubles it: Var W = 2 / fan_in", lambda fi, fo: 1.0 / fi),
        ("glorot_instead", "that is Glorot's variance 2 / (fan_in + fan_out); He's is "
         "2 / fan_in", _glorot_var),
        ("std_of_uniform_limit", "the standard deviation is sqrt(6 / fan_in), the LIMIT of He's "
         "uniform version; for a normal, std = sqrt(2 / fan_in)", lambda fi, fo: 6.0 / fi),
    ]),
    "glorot_normal": (_glorot_var, "2 / (fan_in + fan_out)", "normal", [
        ("variance_as_std", "2 / (fan_in + fan_out) is the VARIANCE; the standard deviation is "
         "its square root", lambda fi, fo: _glorot_var(fi, fo) ** 2),
        ("one_over_sum", "that is 1 / (fan_in + fan_out): Glorot's rule averages the forward "
         "1/fan_in and backward 1/fan_out conditions, Var W = 2 / (fan_in + fan_out)",
         lambda fi, fo: 1.0 / (fi + fo)),
        ("he_instead", "that is He's variance 2 / fan_in; Glorot's averages the fans, "
         "2 / (fan_in + fan_out)", _he_var),
        ("fan_in_only", "that is 1 / fan_in, the forward condition alone; Glorot's compromise "
         "is 2 / (fan_in + fan_out)", lambda fi, fo: 1.0 / fi),
        ("fan_out_only", "that is 1 / fan_out, the backward condition alone; Glorot's "
         "compromise is 2 / (fan_in + fan_out)", lambda fi, fo: 1.0 / fo),
        ("std_of_uniform_limit", "the standard deviation is sqrt(6 / (fan_in + fan_out)), the "
         "LIMIT of the uniform version; for a normal, std = sqrt(2 / (fan_in + fan_out))",
         lambda fi, fo: 6.0 / (fi + fo)),
    ]),
    "glorot_uniform": (_glorot_var, "2 / (fan_in + fan_out)", "uniform", [
        ("std_as_limit", "the limit a is the standard deviation sqrt(2 / (fan_in + fan_out)); "
         "U(-a, a) has variance a**2 / 3, so a = sqrt(6 / (fan_in + fan_out))",
         lambda fi, fo: _glorot_var(fi, fo) / 3.0),
        ("limit_without_sqrt", "the limit is 6 / (fan_in + fan_out) without the square root: "
         "a = sqrt(6 / (fan_in + fan_out))", lambda fi, fo: (6.0 / (fi + fo)) ** 2 / 3.0),
        ("limit_sqrt_3", "the limit is sqrt(3 / (fan_in + fan_out)); with Var W = 2 / (fan_in + "
         "fan_out) and Var U(-a, a) = a**2 / 3, a = sqrt(6 / (fan_in + fan_out))",
         lambda fi, fo: 1.0 / (fi + fo)),
        ("he_limit", "that is He's limit sqrt(6 / fan_in); Glorot's is "
         "sqrt(6 / (fan_in + fan_out))", _he_var),
    ]),
}


def _init_cases(rng):
    return [(f"fan_in={fi}, fan_out={fo}",
             {"fan_in": np.asarray(fi), "fan_out": np.asarray(fo),
              "seeds": rng.integers(0, 2**31 - 1, size=2)}) for fi, fo in INIT_FANS]


def _init_runner(name):
    def run(fns, i):
        import jax

        k1, k2 = (jax.random.key(int(s)) for s in i["seeds"])
        fi, fo = int(i["fan_in"]), int(i["fan_out"])
        return {"W": fns[name](k1, fi, fo), "W, another key": fns[name](k2, fi, fo),
                "W, the first key again": fns[name](k1, fi, fo)}
    return run


def _draws(o, key):
    w = np.asarray(o.get(key, np.zeros(0)))
    if w.dtype == object or not np.issubdtype(w.dtype, np.number):
        return None
    return w.astype(np.float64)


def _excess_kurtosis(w):
    c = w - w.mean()
    return float(np.mean(c**4) / np.mean(c**2) ** 2 - 3.0)


def _init_judge(name):
    var_fn, words, kind, _ = INIT_RULES[name]

    def judge(i, o):
        fi, fo = int(i["fan_in"]), int(i["fan_out"])
        w = _draws(o, "W")
        if w is None:
            return ["`W` is not a numeric array"]
        if w.shape != (fi, fo):
            hint = " (rows are the fan_in inputs: shape (fan_in, fan_out))" if w.shape == (fo, fi) else ""
            return [f"`W` has shape {w.shape}, expected (fan_in, fan_out) = {(fi, fo)}{hint}"]
        if not np.all(np.isfinite(w)):
            return ["`W` contains nan or inf"]
        again, other = _draws(o, "W, the first key again"), _draws(o, "W, another key")
        problems = []
        if again is None or again.shape != w.shape or not np.array_equal(again, w):
            problems.append("the same key gave different weights: draw from the key passed in "
                            "(jax.random.normal(key, ...)), not from a global generator")
        elif other is not None and other.shape == w.shape and np.array_equal(other, w):
            problems.append("two different keys gave the same weights: the draw must come from "
                            "the key passed in")
        want = var_fn(fi, fo)
        mean, var = float(w.mean()), float(np.mean(w**2))
        if abs(mean) > 5 * np.sqrt(want / w.size) + 1e-12:
            problems.append(f"the weights' mean is {mean:.3g}, expected 0 (a distribution "
                            "symmetric about zero)")
        if abs(var / want - 1) > VAR_TOL:
            problems.append(f"the weights' variance (mean of W**2) is {var:.4g}, expected "
                            f"{words} = {want:.4g} (ratio {var / want:.3g})")
        kurt = _excess_kurtosis(w)
        if kind == "normal" and kurt < -0.9:
            problems.append(f"the weights look uniform (excess kurtosis {kurt:.2f}; a normal "
                            "has 0, a uniform -1.2): draw with jax.random.normal")
        if kind == "uniform":
            limit = np.sqrt(3 * want)
            if kurt > -0.9:
                problems.append(f"the weights do not look uniform (excess kurtosis {kurt:.2f}; "
                                "a uniform has -1.2): draw with jax.random.uniform")
            elif np.max(np.abs(w)) > limit * (1 + 1e-5) and abs(var / want - 1) <= VAR_TOL:
                problems.append(f"some weights lie beyond the limit a = {limit:.4g}")
        return problems
    return judge


def _init_hints(name):
    var_fn, _, kind, catalogue = INIT_RULES[name]

    def named(i, o):
        w = _draws(o, "W")
        fi, fo = int(i["fan_in"]), int(i["fan_out"])
        if w is None or w.shape != (fi, fo) or not np.all(np.isfinite(w)):
            return None
        var = float(np.mean(w**2))
        found = [msg for _, msg, f in catalogue
                 if abs(f(fi, fo) / var_fn(fi, fo) - 1) > VAR_TOL and abs(var / f(fi, fo) - 1) <= VAR_TOL]
        return " / ".join(found) or None

    def positive_only(i, o):
        w = _draws(o, "W")
        if w is None or w.size == 0 or not np.all(np.isfinite(w)) or w.min() < 0:
            return None
        return ("every weight is >= 0: jax.random.uniform draws from [0, 1) unless told "
                "otherwise; pass minval=-a, maxval=a (and jax.random.normal is centred already)")

    def wrong_family(i, o):
        w = _draws(o, "W")
        if w is None or w.size < 100 or not np.all(np.isfinite(w)):
            return None
        kurt = _excess_kurtosis(w)
        if kind == "normal" and kurt < -0.9:
            return "a uniform distribution was drawn where the rule asks for a normal one"
        if kind == "uniform" and kurt > -0.9:
            return "a normal distribution was drawn where the rule asks for a uniform one"
        return None

    return (positive_only, wrong_family, named)


def _init_question(name):
    return Question(name=name, functions=(name,), make_cases=_init_cases,
                    run=_init_runner(name), judge=_init_judge(name), hints=_init_hints(name))


HE_NORMAL = _init_question("he_normal")
GLOROT_NORMAL = _init_question("glorot_normal")
GLOROT_UNIFORM = _init_question("glorot_uniform")


# --------------------------------------------------------------------------- batch norm
def _bn_case(rng, n, d, *, train, momentum=0.9, eps=1e-5, loc=None, scale=None):
    loc = rng.normal(0, 3, size=d) if loc is None else loc
    scale = rng.uniform(0.5, 3.0, size=d) if scale is None else scale
    return {"x": loc + scale * rng.normal(size=(n, d)), "gamma": rng.uniform(0.5, 2.0, size=d),
            "beta": rng.normal(size=d), "running_mean": rng.normal(size=d),
            "running_var": rng.uniform(0.5, 2.0, size=d), "train": np.asarray(train),
            "momentum": np.asarray(momentum), "eps": np.asarray(eps)}


def _bn_cases(rng):
    return [
        ("training mode, x of shape (8, 3)", _bn_case(rng, 8, 3, train=True)),
        ("evaluation mode, x of shape (5, 4)", _bn_case(rng, 5, 4, train=False)),
        ("training mode, a square x of shape (4, 4), momentum=0.99",
         _bn_case(rng, 4, 4, train=True, momentum=0.99)),
        ("training mode, features of tiny variance (~1e-3) with eps=0.01, x of shape (6, 2)",
         _bn_case(rng, 6, 2, train=True, eps=0.01, scale=np.array([0.03, 0.05]))),
        ("evaluation mode, a batch of one, x of shape (1, 3)", _bn_case(rng, 1, 3, train=False)),
        ("training mode, large values (x ~ 100 +- 50), x of shape (10, 7)",
         _bn_case(rng, 10, 7, train=True, loc=100.0 + rng.normal(size=7), scale=np.full(7, 50.0))),
    ]


def _run_bn(fns, i):
    y, rm, rv = fns["batch_norm"](i["x"], i["gamma"], i["beta"], i["running_mean"],
                                  i["running_var"], train=bool(i["train"]),
                                  momentum=float(i["momentum"]), eps=float(i["eps"]))
    return {"y": y, "running_mean": rm, "running_var": rv}


def _bn_ref(i, *, axis=0, eps_outside=False, unbiased_norm=False, biased_running=False,
            update_train=True, update_eval=False, batch_in_eval=False, reverse_momentum=False,
            no_affine=False, running_std=False, eval_divide_by_var=False):
    x, train = i["x"], bool(i["train"])
    m, eps = float(i["momentum"]), float(i["eps"])
    mu, var = x.mean(axis=axis), x.var(axis=axis)
    count = x.shape[axis]
    unbiased = var * count / max(count - 1, 1)
    keep = (slice(None), None) if axis == 1 else (None, slice(None))
    if train or batch_in_eval:
        use_mu, use_var = mu, (unbiased if unbiased_norm else var)
    else:
        use_mu, use_var = i["running_mean"], i["running_var"]
    if eps_outside:
        x_hat = (x - use_mu[keep]) / (np.sqrt(use_var[keep]) + eps)
    elif eval_divide_by_var and not train:
        x_hat = (x - use_mu[keep]) / (use_var[keep] + eps)
    else:
        x_hat = (x - use_mu[keep]) / np.sqrt(use_var[keep] + eps)
    y = x_hat if no_affine else i["gamma"] * x_hat + i["beta"]
    rm, rv = i["running_mean"], i["running_var"]
    if (train and update_train) or (not train and update_eval):
        old, new = (1 - m, m) if reverse_momentum else (m, 1 - m)
        stat = np.sqrt(var) if running_std else (var if biased_running else unbiased)
        rm, rv = old * rm + new * mu, old * rv + new * stat
    return {"y": y, "running_mean": rm, "running_var": rv}


def _bn_axis_hint(i, o):
    n, d = i["x"].shape
    rm = np.asarray(o.get("running_mean", 0.0))
    if n != d and rm.dtype != object and rm.shape == (n,):
        return ("the running mean has one entry per EXAMPLE: the statistics were taken over "
                "axis 1 (the features); batch norm averages each feature over the batch, axis 0")
    return None


_BN_MISTAKES = (  # (name, message, the reference's flags that make the mistake)
    ("wrong_axis", "the statistics were taken over axis 1 (each example's features); "
     "batch norm normalises each feature over the batch: mean and var over axis 0",
     {"axis": 1}),
    ("eps_outside_sqrt", "eps is added to the standard deviation; it goes inside the "
     "square root: (x - mu) / sqrt(var + eps)",
     {"eps_outside": True}),
    ("unbiased_in_normalisation", "the batch is normalised with the unbiased variance "
     "(divided by N - 1); the normalisation uses the batch's own (biased, 1/N) "
     "variance, only the running estimate is unbiased",
     {"unbiased_norm": True}),
    ("biased_running_var", "the running variance was updated with the biased (1/N) "
     "batch variance; it estimates the population's, so use var * N / (N - 1)",
     {"biased_running": True}),
    ("not_updated_in_train", "in training mode the running statistics must be "
     "updated (and returned): momentum * old + (1 - momentum) * batch statistic",
     {"update_train": False}),
    ("updated_in_eval", "the running statistics changed in evaluation mode; "
     "with train=False return them unchanged",
     {"update_eval": True}),
    ("eval_uses_batch_statistics", "evaluation mode normalised with the batch's own "
     "statistics; with train=False use the running mean and variance (on a batch of "
     "one the batch statistics make every output equal beta)",
     {"batch_in_eval": True}),
    ("momentum_reversed", "the momentum convention is reversed: momentum is the "
     "weight of the OLD running value, momentum * old + (1 - momentum) * new",
     {"reverse_momentum": True}),
    ("no_gamma_beta", "gamma and beta are not applied: y = gamma * x_hat + beta",
     {"no_affine": True}),
    ("running_std", "the running variance was updated with the batch's standard "
     "deviation; it averages the (unbiased) variance",
     {"running_std": True}),
    ("eval_divides_by_variance", "evaluation mode divides by the running variance; "
     "divide by its square root, sqrt(running_var + eps)",
     {"eval_divide_by_var": True}),
)


BATCH_NORM = Question(
    name="batch_norm", functions=("batch_norm",), make_cases=_bn_cases, run=_run_bn,
    reference=_bn_ref, rtol=1e-4, atol=1e-6, hints=(_bn_axis_hint,),
    mistakes=tuple(Mistake(name, message, lambda i, f=flags: _bn_ref(i, **f))
                   for name, message, flags in _BN_MISTAKES),
)

# --------------------------------------------------------------------------- clipping
LEAVES = ("W1", "b1", "W2")


def _clip_cases(rng):
    def grads(scale, shapes=((3, 4), (4,), (4, 2))):
        return {k: scale * rng.normal(size=s) for k, s in zip(LEAVES, shapes, strict=True)}
    return [
        ("a dict of three leaves, global norm ~10 > max_norm=1", {**grads(2.0), "max_norm": np.asarray(1.0)}),
        ("global norm ~0.3 < max_norm=1 (nothing to clip)", {**grads(0.06), "max_norm": np.asarray(1.0)}),
        ("large gradients (~1000), max_norm=5", {**grads(300.0), "max_norm": np.asarray(5.0)}),
        ("one large leaf among small ones, shapes (1, 5), (5,), (5, 3), max_norm=2",
         {"W1": 20 * rng.normal(size=(1, 5)), "b1": 0.1 * rng.normal(size=5),
          "W2": 0.1 * rng.normal(size=(5, 3)), "max_norm": np.asarray(2.0)}),
        ("a nested pytree {'layer1': {'W', 'b'}, 'layer2': {'W'}}, max_norm=3",
         {**grads(3.0, ((2, 6), (6,), (6, 1))), "max_norm": np.asarray(3.0),
          "nested": np.asarray(True)}),
    ]


def _tree(i):
    if "nested" in i:
        return {"layer1": {"W": i["W1"], "b": i["b1"]}, "layer2": {"W": i["W2"]}}
    return {k: i[k] for k in LEAVES}


def _run_clip(fns, i):
    import jax

    tree = _tree(i)
    names = {"layer1": {"W": "W1", "b": "b1"}, "layer2": {"W": "W2"}} if "nested" in i else \
        {k: k for k in LEAVES}
    out = fns["clip_by_global_norm"](tree, float(i["max_norm"]))
    if jax.tree.structure(out) != jax.tree.structure(tree):
        raise TypeError(f"returned a pytree of structure {jax.tree.structure(out)}, expected "
                        f"the structure of grads, {jax.tree.structure(tree)}")
    return dict(zip(jax.tree.leaves(names), jax.tree.leaves(out), strict=True))


def _norm(i, keys=LEAVES, power=2.0):
    return float(sum(np.sum(np.abs(i[k]) ** power) for k in keys)) ** (1 / power)


def _clip_ref(i):
    c = float(i["max_norm"])
    factor = min(1.0, c / _norm(i))
    return {k: i[k] * factor for k in LEAVES}


def _scaled(factor_fn):
    return lambda i: {k: i[k] * factor_fn(i, k) for k in LEAVES}


CLIP_BY_GLOBAL_NORM = Question(
    name="clip_by_global_norm", functions=("clip_by_global_norm",), make_cases=_clip_cases,
    run=_run_clip, reference=_clip_ref, rtol=1e-5, atol=1e-7,
    mistakes=(
        Mistake("per_leaf_norm", "each leaf was clipped by its OWN norm; the global norm is "
                "one number for the whole pytree, sqrt(sum over leaves of sum(g**2)), and every "
                "leaf is scaled by the same factor",
                _scaled(lambda i, k: min(1.0, float(i["max_norm"]) / _norm(i, (k,))))),
        Mistake("scaled_below_threshold", "gradients whose global norm is already below max_norm "
                "were scaled up to it; leave them unchanged: factor = min(1, max_norm / norm)",
                _scaled(lambda i, k: float(i["max_norm"]) / _norm(i))),
        Mistake("clipped_by_value", "that is clipping by VALUE (each element to [-max_norm, "
                "max_norm]), which changes the gradient's direction; scale every leaf by "
                "max_norm / global_norm instead",
                lambda i: {k: np.clip(i[k], -float(i["max_norm"]), float(i["max_norm"]))
                           for k in LEAVES}),
        Mistake("squared_norm", "the norm is missing its square root: global_norm = "
                "sqrt(sum of squares)",
                _scaled(lambda i, k: min(1.0, float(i["max_norm"]) / _norm(i) ** 2))),
        Mistake("max_norm_dropped", "the gradients were divided by their norm but not multiplied "
                "by max_norm: g * max_norm / norm",
                _scaled(lambda i, k: min(1.0, 1.0 / _norm(i)))),
        Mistake("factor_inverted", "the factor is inverted: scale by max_norm / norm (< 1 when "
                "clipping), not norm / max_norm",
                _scaled(lambda i, k: max(1.0, _norm(i) / float(i["max_norm"])))),
        Mistake("unchanged", "nothing was clipped: when the global norm exceeds max_norm, "
                "scale every leaf by max_norm / norm", lambda i: {k: i[k] for k in LEAVES}),
    ),
)


QUESTIONS = ()
LESSON_QUESTIONS = (HE_NORMAL, GLOROT_NORMAL, GLOROT_UNIFORM, BATCH_NORM, CLIP_BY_GLOBAL_NORM)
