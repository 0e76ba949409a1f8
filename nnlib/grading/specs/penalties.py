r"""Checkers of the regularization lesson's penalties and early stopping (feedback only).

Signatures (arrays are NumPy float64 or JAX arrays):

* ``l2_penalty_and_grad(params, lam) -> (penalty, grads)``: ``params`` is a list of layers,
  each a dict with a weight matrix ``"W"`` ``(n_in, n_out)`` and a bias ``"b"`` ``(n_out,)``
  (the layout of ``nnlib.layers.Sequential`` of ``Dense`` layers). Only the weights are
  penalised, with the lesson's convention
  :math:`\Omega(\theta) = \frac{\lambda}{2}\sum_l \sum_{ij} W_{l,ij}^2`, whose gradient is
  :math:`\lambda W_l` (weight decay at rate :math:`\lambda`; Krogh & Hertz 1992) and 0 for
  every bias. ``grads`` has the structure of ``params``.
* ``l1_penalty_and_grad(params, lam) -> (penalty, grads)``: the same with
  :math:`\Omega(\theta) = \lambda\sum_l \sum_{ij} \lvert W_{l,ij}\rvert` and the
  subgradient :math:`\lambda\,\mathrm{sign}(W_l)`, taken as 0 where a weight is exactly 0
  (Tibshirani 1996).
* ``early_stopping(history, patience) -> (stop_epoch, best_epoch)``: ``history`` is a dict of
  per-epoch lists ``"loss"`` (training) and ``"val_loss"`` (validation), as
  ``nnlib.train.fit`` returns it. The rule of ``fit`` (Prechelt 1998): watch ``val_loss``; an
  epoch improves when its value is strictly below the best so far; stop after ``patience``
  epochs in a row without an improvement. Epochs are 0-based indices; ``stop_epoch`` is the
  last epoch run (the last one of the list if the rule never fires) and ``best_epoch`` the one
  whose weights are kept (the first of equal minima, never one after the stop).

The cases have non-square layers, a layer with one unit, a one-row layer, weights of about
0.01 and of about 10, strengths from 0.001 to 2.5, weights that are exactly 0 (where the L1
subgradient matters), and loss curves with ties, plateaus, a lower value after the stop, a
slow steady improvement and a run that never stops, so that each catalogued mistake moves
the output far beyond the tolerance in at least one case.
"""

from __future__ import annotations

import numpy as np

from nnlib.grading.core import Mistake, Question, variant

# ----------------------------------------------------------------------------- pytrees
_LAYOUTS = (
    ("two layers (3, 5) and (5, 2), lam = 0.1", [(3, 5), (5, 2)], 1.0, 0.1),
    ("one output unit: a layer (4, 1), weights ~ 10, lam = 2.5", [(4, 1)], 10.0, 2.5),
    ("three layers (2, 6), (6, 6), (6, 1), weights ~ 0.01, lam = 0.001", [(2, 6), (6, 6), (6, 1)],
     0.01, 1e-3),
    ("a one-row layer (1, 3) then (3, 2), lam = 0.5", [(1, 3), (3, 2)], 1.0, 0.5),
)


def _penalty_cases(rng):
    """Layers as arrays ``W0, b0, W1, b1, ...`` with about a quarter of each W exactly zero."""
    cases = []
    for desc, shapes, scale, lam in _LAYOUTS:
        inputs = {"lam": np.asarray(lam)}
        for n, shape in enumerate(shapes):
            w = scale * rng.normal(size=shape)
            zeros = rng.choice(w.size, size=max(1, w.size // 4), replace=False)
            w.flat[zeros] = 0.0
            inputs[f"W{n}"] = w
            inputs[f"b{n}"] = scale * rng.normal(size=shape[1])
        cases.append((desc, inputs))
    return cases


def _layers(i):
    return sum(1 for k in i if k.startswith("W"))


def _run_penalty(fn_name):
    def run(fns, i):
        params = [{"W": i[f"W{n}"], "b": i[f"b{n}"]} for n in range(_layers(i))]
        penalty, grads = fns[fn_name](params, float(i["lam"]))
        out = {"penalty": penalty}
        for n in range(_layers(i)):
            layer = grads[n] if isinstance(grads, (list, tuple)) and n < len(grads) else {}
            for name in ("W", "b"):
                if isinstance(layer, dict) and name in layer:
                    out[f"grad_{name}{n}"] = layer[name]
        return out
    return run


def _weights(i):
    return [i[f"W{n}"] for n in range(_layers(i))]


def _grads(i, dw, db=lambda b: np.zeros_like(b)):
    """``grad_W<n> = dw(W<n>)`` and ``grad_b<n> = db(b<n>)`` for every layer."""
    out = {}
    for n in range(_layers(i)):
        out[f"grad_W{n}"] = dw(i[f"W{n}"])
        out[f"grad_b{n}"] = db(i[f"b{n}"])
    return out


def _count(i):
    return sum(w.size for w in _weights(i))


# ----------------------------------------------------------------------------- L2
def _l2_ref(i):
    lam = float(i["lam"])
    return {"penalty": 0.5 * lam * sum(np.sum(w ** 2) for w in _weights(i)),
            **_grads(i, lambda w: lam * w)}


def _with_grads(reference, dw):
    """``reference`` with every weight gradient replaced by ``dw(lam, W)``."""
    def outputs(i):
        out = dict(reference(i))
        out.update(_grads(i, lambda w: dw(float(i["lam"]), w)))
        return out
    return outputs


def _l2_grads(dw):
    return _with_grads(_l2_ref, dw)


def _l2_biases(i):
    lam = float(i["lam"])
    biases = [i[f"b{n}"] for n in range(_layers(i))]
    return {"penalty": _l2_ref(i)["penalty"] + 0.5 * lam * sum(np.sum(b ** 2) for b in biases),
            **_grads(i, lambda w: lam * w, lambda b: lam * b)}


def _l2_convention(i):
    lam = float(i["lam"])
    return {"penalty": 2 * _l2_ref(i)["penalty"], **_grads(i, lambda w: 2 * lam * w)}


def _l2_mean(i):
    lam, n = float(i["lam"]), _count(i)
    return {"penalty": _l2_ref(i)["penalty"] / n, **_grads(i, lambda w: lam * w / n)}


def _l2_mean_per_layer(i):
    lam = float(i["lam"])
    return {"penalty": 0.5 * lam * sum(np.mean(w ** 2) for w in _weights(i)),
            **_grads(i, lambda w: lam * w / w.size)}


L2_PENALTY = Question(
    name="l2_penalty_and_grad", functions=("l2_penalty_and_grad",),
    make_cases=_penalty_cases, run=_run_penalty("l2_penalty_and_grad"), reference=_l2_ref,
    rtol=1e-5, atol=1e-12,
    mistakes=(
        Mistake("convention_without_half", "that is the convention lam * sum(W**2) with the "
                "gradient 2 * lam * W; this exercise states (lam / 2) * sum(W**2), whose gradient "
                "is exactly lam * W (so lam is the weight-decay rate)", _l2_convention),
        Mistake("biases_penalised", "the biases are penalised too: the penalty sums the squares "
                "of the weight matrices W only, and every bias gradient is 0",
                _l2_biases),
        Mistake("mean_not_sum", "the penalty is a MEAN over the weights (divided by their "
                "number); it is a sum: (lam / 2) * sum of W**2 over every entry of every layer",
                _l2_mean),
        Mistake("mean_per_layer", "each layer's squares are averaged (np.mean) before adding the "
                "layers; the penalty is the plain sum of every squared weight, times lam / 2",
                _l2_mean_per_layer),
        Mistake("grad_factor_2_missing", "the gradient is lam * W / 2: the derivative of w**2 is "
                "2 * w, so the gradient of (lam / 2) * w**2 is lam * w (a factor 2 is missing)",
                _l2_grads(lambda lam, w: lam * w / 2)),
        Mistake("grad_doubled", "the gradient is 2 * lam * W: the 2 from the square cancels the "
                "1/2 of (lam / 2) * w**2, so the gradient is lam * W",
                _l2_grads(lambda lam, w: 2 * lam * w)),
        Mistake("penalty_missing_half", "the penalty is lam * sum(W**2), twice the stated "
                "(lam / 2) * sum(W**2): the 1/2 is missing",
                variant(_l2_ref, penalty=lambda i: 2 * _l2_ref(i)["penalty"])),
        Mistake("norm_not_squared", "the penalty uses the norm sqrt(sum W**2), not its square; "
                "L2 regularisation adds (lam / 2) * the SQUARED norm",
                variant(_l2_ref, penalty=lambda i: 0.5 * float(i["lam"]) * sum(
                    np.sqrt(np.sum(w ** 2)) for w in _weights(i)))),
        Mistake("grad_sign", "the gradient has the wrong sign: the penalty grows with |w|, so its "
                "gradient is +lam * W (the descent step then subtracts it, shrinking W)",
                _l2_grads(lambda lam, w: -lam * w)),
        Mistake("grad_without_lam", "the gradient is W itself: it is lam * W, the strength "
                "multiplies the gradient too", _l2_grads(lambda lam, w: w)),
    ),
)


# ----------------------------------------------------------------------------- L1
def _l1_ref(i):
    lam = float(i["lam"])
    return {"penalty": lam * sum(np.sum(np.abs(w)) for w in _weights(i)),
            **_grads(i, lambda w: lam * np.sign(w))}


def _l1_grads(dw):
    return _with_grads(_l1_ref, dw)


def _nan_at_zero(lam, w):
    with np.errstate(invalid="ignore", divide="ignore"):
        return lam * w / np.abs(w)


SIGN_AT_ZERO = ("at a weight that is exactly 0 the gradient must be 0 (the subgradient "
                "sign(0) = 0, jnp.sign's value), not +lam or -lam: jnp.where(W >= 0, 1, -1) and "
                "jax.grad(jnp.abs) at 0 (which gives 1) both push zero weights away from 0")


def _l1_biases(i):
    lam = float(i["lam"])
    biases = [i[f"b{n}"] for n in range(_layers(i))]
    return {"penalty": _l1_ref(i)["penalty"] + lam * sum(np.sum(np.abs(b)) for b in biases),
            **_grads(i, lambda w: lam * np.sign(w), lambda b: lam * np.sign(b))}


def _l1_mean(i):
    lam, n = float(i["lam"]), _count(i)
    return {"penalty": _l1_ref(i)["penalty"] / n, **_grads(i, lambda w: lam * np.sign(w) / n)}


def _l1_half(i):
    lam = float(i["lam"])
    return {"penalty": _l1_ref(i)["penalty"] / 2, **_grads(i, lambda w: lam * np.sign(w) / 2)}


L1_PENALTY = Question(
    name="l1_penalty_and_grad", functions=("l1_penalty_and_grad",),
    make_cases=_penalty_cases, run=_run_penalty("l1_penalty_and_grad"), reference=_l1_ref,
    rtol=1e-5, atol=1e-12,
    mistakes=(
        Mistake("sign_zero_plus", SIGN_AT_ZERO,
                _l1_grads(lambda lam, w: lam * np.where(w >= 0, 1.0, -1.0))),
        Mistake("sign_zero_minus", SIGN_AT_ZERO,
                _l1_grads(lambda lam, w: lam * np.where(w > 0, 1.0, -1.0))),
        Mistake("sign_zero_nan", "the gradient is nan where a weight is exactly 0 (w / |w| "
                "divides 0 by 0); use jnp.sign(W), which is 0 at 0", _l1_grads(_nan_at_zero)),
        Mistake("biases_penalised", "the biases are penalised too: the penalty sums |W| over "
                "the weight matrices only, and every bias gradient is 0", _l1_biases),
        Mistake("mean_not_sum", "the penalty is a MEAN over the weights (divided by their "
                "number); it is a sum: lam * sum of |W| over every entry of every layer",
                _l1_mean),
        Mistake("half_lam", "the penalty is (lam / 2) * sum|W|: the 1/2 belongs to the L2 "
                "convention; the L1 penalty is lam * sum|W|, with gradient lam * sign(W)",
                _l1_half),
        Mistake("l2_gradient", "the gradient is lam * W, the L2 penalty's; the L1 penalty's is "
                "lam * sign(W): the same pull for every nonzero weight, whatever its size",
                _l1_grads(lambda lam, w: lam * w)),
        Mistake("grad_sign", "the gradient has the wrong sign: it is +lam * sign(W) (the descent "
                "step subtracts it, pulling every weight towards 0)",
                _l1_grads(lambda lam, w: -lam * np.sign(w))),
        Mistake("squared_not_abs", "the penalty uses W**2: the L1 penalty is lam * sum|W|",
                variant(_l1_ref, penalty=lambda i: float(i["lam"]) * sum(
                    np.sum(w ** 2) for w in _weights(i)))),
    ),
)


# ----------------------------------------------------------------------------- early stopping
def _stopping(values, patience, *, strict=True, reset=True, late=0, previous=False):
    """``(stop_epoch, best_epoch)`` of the rule with optional slips (the reference has none)."""
    best, best_epoch, wait = np.inf, 0, 0
    for e, v in enumerate(values):
        if previous:
            improved = e == 0 or v < values[e - 1]
        else:
            improved = v < best if strict else v <= best
        if (v < best) if previous else improved:
            best, best_epoch = v, e
        if improved:
            wait = 0 if reset else wait
        else:
            wait += 1
            if wait >= patience + late:
                return e, best_epoch
    return len(values) - 1, best_epoch


def _curve(rng, n, turn, noise, decimals=3):
    """A validation loss that falls, bottoms out near ``turn`` and rises, with noise, rounded
    (so that equal values occur)."""
    e = np.arange(n, dtype=float)
    v = 0.3 + 0.6 * np.exp(-e / (0.3 * turn)) + 0.004 * np.maximum(e - turn, 0) ** 1.2
    return np.round(v + noise * rng.normal(size=n), decimals)


def _train_curve(rng, n):
    """A training loss that keeps falling, with the jitter of mini-batches."""
    e = np.arange(n, dtype=float)
    return np.round(0.9 * np.exp(-e / 8) + 0.02 + 0.01 * rng.normal(size=n) ** 2, 4)


def _stopping_cases(rng):
    n = 40
    u_shape = _curve(rng, n, 15, 0.01)
    after = u_shape.copy()
    after[-3] = float(np.min(u_shape)) - 0.05       # a lower value long after the stop
    ties = np.array([1.0, 0.8, 0.7, 0.7, 0.7, 0.75, 0.69, 0.7, 0.72, 0.74, 0.73, 0.76, 0.78])
    falling = np.round(np.sort(0.3 + rng.uniform(0, 1, size=25))[::-1], 4)
    noisy = _curve(rng, 30, 10, 0.02, decimals=2)
    cases = [("a U-shaped curve with noise, patience 3, and a lower value after the stop",
              after, 3),
             ("a plateau with exactly equal values, patience 2", ties, 2),
             ("a loss that keeps falling (the rule never fires), patience 5", falling, 5),
             ("a noisy curve rounded to 2 decimals, patience 1", noisy, 1),
             ("a slow U-shaped curve, patience 6", _curve(rng, 50, 20, 0.005), 6),
             ("a slow, steady improvement of 0.2% per epoch, patience 3",
              np.round(0.5 * 0.998 ** np.arange(30), 6), 3)]
    return [(desc, {"loss": _train_curve(rng, len(v)), "val_loss": v,
                    "patience": np.asarray(p)}) for desc, v, p in cases]


def _run_stopping(fns, i):
    history = {"loss": [float(v) for v in i["loss"]],
               "val_loss": [float(v) for v in i["val_loss"]]}
    out = fns["early_stopping"](history, int(i["patience"]))
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError("early_stopping must return a pair (stop_epoch, best_epoch)")
    return {"stop_epoch": out[0], "best_epoch": out[1]}


def _stop_ref(i, **slips):
    stop, best = _stopping(list(i["val_loss"]), int(i["patience"]), **slips)
    return {"stop_epoch": np.asarray(stop), "best_epoch": np.asarray(best)}


def _never_stops(i):
    v = list(i["val_loss"])
    return {"stop_epoch": np.asarray(len(v) - 1), "best_epoch": np.asarray(int(np.argmin(v)))}


EARLY_STOPPING = Question(
    name="early_stopping", functions=("early_stopping",), make_cases=_stopping_cases,
    run=_run_stopping, reference=_stop_ref, rtol=0.0, atol=0.1,
    mistakes=(
        Mistake("watches_training_loss", "the rule watches the TRAINING loss, which keeps "
                "falling while the network overfits; early stopping watches history['val_loss']",
                lambda i: _stop_ref({**i, "val_loss": i["loss"]})),
        Mistake("keeps_last", "best_epoch is the epoch where training stopped; the weights to "
                "keep are those of the best validation loss, `patience` epochs earlier",
                lambda i: {**_stop_ref(i), "best_epoch": _stop_ref(i)["stop_epoch"]}),
        Mistake("late_by_one", "training stops one epoch late: stop as soon as `patience` epochs "
                "in a row did not improve (wait >= patience), and return the 0-based index of "
                "the last epoch run, not the number of epochs",
                lambda i: _stop_ref(i, late=1)),
        Mistake("early_by_one", "training stops one epoch early: with patience p, stop at the "
                "p-th epoch in a row without an improvement, not the (p - 1)-th",
                lambda i: _stop_ref(i, late=-1)),
        Mistake("non_strict", "an epoch EQUAL to the best counted as an improvement (<=): it "
                "resets the patience and moves the best epoch to the later tie; only a strictly "
                "lower loss improves", lambda i: _stop_ref(i, strict=False)),
        Mistake("wait_not_reset", "the count of epochs without improvement is not reset to 0 "
                "when an epoch improves, so training stops after `patience` bad epochs in total "
                "instead of in a row", lambda i: _stop_ref(i, reset=False)),
        Mistake("previous_epoch", "each epoch is compared with the PREVIOUS epoch instead of the "
                "best so far: a small rebound after a bad epoch then resets the patience",
                lambda i: _stop_ref(i, previous=True)),
        Mistake("one_based", "the epochs are counted from 1; return 0-based indices (the first "
                "epoch is 0, as in history['val_loss'][0])",
                lambda i: {k: v + 1 for k, v in _stop_ref(i).items()}),
        Mistake("best_after_stop", "best_epoch is the minimum of the WHOLE list, including "
                "epochs after the stop that early stopping never runs; take the best among "
                "epochs 0..stop_epoch",
                lambda i: {**_stop_ref(i), "best_epoch": np.asarray(int(np.argmin(i["val_loss"])))}),
        Mistake("never_stops", "training never stops: after `patience` epochs in a row without "
                "an improvement, return that epoch as stop_epoch", _never_stops),
    ),
)


QUESTIONS = ()
LESSON_QUESTIONS = (L2_PENALTY, L1_PENALTY, EARLY_STOPPING)
