"""The graded questions of the ``regularization`` assignment, and the lesson's dropout checker.

The assignment (``solutions/regularization/regularization.ipynb``) asks for:

* ``dropout_forward(x, *, rate, train, key) -> (y, cache)`` and ``dropout_backward(dy, cache)
  -> dx``: inverted dropout, a fresh mask per example and per key, identity at evaluation;
* ``l2_penalty(params, lam) -> (penalty, grads)``: ``lam/2`` times the sum of the squared
  entries of the weights (the entries whose name starts with ``W``), biases not penalised,
  gradient ``lam * W`` (zeros for the biases);
* ``early_stopping_fit(train_epoch, validate, params, *, max_epochs, patience)
  -> (best_params, val_losses)``: stop after ``patience`` epochs without a strict improvement
  of the validation loss, return the parameters of the best epoch;
* ``dropout_moments(x, rate) -> (mean, variance)`` of one inverted-dropout output (the
  derivation the notebook asks for);
* ``train_regularized(...)``: an over-parameterised network trained with the student's own
  dropout, penalty and early stopping.

The lesson's checker (feedback only, ``LESSON_QUESTIONS``):

* ``dropout(x, *, rate, train, key) -> y``: inverted dropout, ``rate`` the fraction dropped
  (Srivastava et al. 2014): at training time each unit is zeroed with probability ``rate`` and
  the survivors scaled by ``1 / (1 - rate)``; at evaluation time ``y = x``.
"""

from __future__ import annotations

import numpy as np

from nnlib.grading.core import GRADER, Mistake, Question, counting_calls, training_judge

ASSIGNMENT = "regularization"


# --------------------------------------------------------------------------- dropout
def _dropout_cases(rng):
    return [(f"x of shape (200, 50) with rate={r}",
             {"x": rng.uniform(0.5, 2.0, size=(200, 50)), "rate": np.asarray(r),
              "seed": np.asarray(int(rng.integers(0, 2**31 - 1)))}) for r in (0.5, 0.2)]


def _run_dropout(fns, i):
    import jax

    key, rate = jax.random.key(int(i["seed"])), float(i["rate"])
    return {"train": fns["dropout"](i["x"], rate=rate, train=True, key=key),
            "eval": fns["dropout"](i["x"], rate=rate, train=False, key=key)}


def _judge_dropout(i, outputs):
    x, rate = i["x"], float(i["rate"])
    ev = np.asarray(outputs.get("eval", np.zeros(0)), dtype=float)
    tr = np.asarray(outputs.get("train", np.zeros(0)), dtype=float)
    problems = []
    if ev.shape != x.shape or tr.shape != x.shape:
        return [f"outputs have shapes {tr.shape} (train) and {ev.shape} (eval), "
                f"expected {x.shape}"]
    if not np.allclose(ev, x, rtol=1e-6):
        problems.append("dropout is applied at evaluation time: with train=False return x "
                        "unchanged")
    dropped = float(np.mean(tr == 0))
    if abs(dropped - rate) > 0.05:
        problems.append(f"{dropped:.2f} of the units are dropped, expected about rate={rate}")
    kept = tr != 0
    if kept.any():
        if np.allclose(tr[kept], x[kept], rtol=1e-5):
            problems.append("dropout is not rescaled: multiply the kept units by "
                            "1 / (1 - rate) (inverted dropout) so the expected value is x")
        elif not np.allclose(tr[kept], x[kept] / (1 - rate), rtol=1e-5):
            problems.append("the kept units should equal x / (1 - rate)")
    return problems


DROPOUT = Question(name="dropout", functions=("dropout",), make_cases=_dropout_cases,
                   run=_run_dropout, judge=_judge_dropout)


LESSON_QUESTIONS = (DROPOUT,)


# =========================================================================== the assignment
# --------------------------------------------------------------------------- dropout, both passes
def _drop_cases(rng):
    def case(n, d, rate):
        return {"x": rng.uniform(0.5, 2.0, size=(n, d)), "dy": rng.normal(size=(n, d)),
                "rate": np.asarray(rate), "seed": np.asarray(int(rng.integers(0, 2**31 - 1)))}
    return [("x of shape (300, 40), rate 0.5", case(300, 40, 0.5)),
            ("x of shape (200, 60), rate 0.2", case(200, 60, 0.2)),
            ("x of shape (100, 80), rate 0.8", case(100, 80, 0.8))]


def _run_drop(fns, i):
    import jax

    rate = float(i["rate"])
    k1, k2 = jax.random.split(jax.random.key(int(i["seed"])))
    y1, c1 = fns["dropout_forward"](i["x"], rate=rate, train=True, key=k1)
    y2, _ = fns["dropout_forward"](i["x"], rate=rate, train=True, key=k2)
    ye, ce = fns["dropout_forward"](i["x"], rate=rate, train=False, key=k1)
    return {"train": y1, "train, another key": y2, "eval": ye,
            "backward": fns["dropout_backward"](i["dy"], c1),
            "backward at eval": fns["dropout_backward"](i["dy"], ce)}


def _judge_drop(i, o):
    x, dy, rate = i["x"], i["dy"], float(i["rate"])
    try:
        tr, tr2, ev, dx, dxe = (np.asarray(o[k], np.float64) for k in (
            "train", "train, another key", "eval", "backward", "backward at eval"))
    except (KeyError, TypeError, ValueError) as e:
        return [f"could not read the outputs ({type(e).__name__})"]
    for name, arr in (("y", tr), ("y (eval)", ev), ("dx", dx), ("dx (eval)", dxe)):
        if arr.shape != x.shape:
            return [f"{name} has shape {arr.shape}, expected {x.shape}"]
    problems = []
    if not np.allclose(ev, x):
        problems.append("with train=False dropout must return x unchanged (no mask, no scaling)")
        if np.allclose(ev, x / (1 - rate)) or np.allclose(ev[ev != 0], x[ev != 0] / (1 - rate)):
            problems.append("scaling at evaluation time: the 1/(1 - rate) belongs to training only")
    if not np.allclose(dxe, dy):
        problems.append("at evaluation the backward pass is the identity: dx = dy")
    kept = tr != 0
    dropped = 1.0 - kept.mean()
    if abs(dropped - rate) > 0.05:
        if abs(dropped - (1 - rate)) <= 0.05:
            problems.append(f"{dropped:.2f} of the units are dropped: rate was used as the keep "
                            f"probability; rate is the fraction DROPPED (here {rate})")
        else:
            problems.append(f"{dropped:.2f} of the units are dropped, expected about rate={rate}")
    if kept.any():
        if np.allclose(tr[kept], x[kept]):
            problems.append("no rescaling: the kept units must be divided by 1 - rate (inverted "
                            "dropout) so that the expected output is x")
        elif not np.allclose(tr[kept], x[kept] / (1 - rate)):
            problems.append("the kept units should equal x / (1 - rate)")
    if kept.shape[0] > 1 and (kept == kept[:1]).all():
        problems.append("every example gets the same mask: draw the mask with x's full shape, "
                        "not one row broadcast over the batch")
    if np.array_equal(tr != 0, tr2 != 0):
        problems.append("two different keys gave the same mask: the mask must come from the key "
                        "(reusing one key means the same units are dropped at every step)")
    if np.allclose(dx, dy):
        problems.append("the mask is not applied in the backward pass: dx = dy * mask / (1 - rate)")
    elif not np.allclose(dx, np.where(kept, dy / (1 - rate), 0.0)):
        if np.allclose(dx, np.where(kept, dy, 0.0)):
            problems.append("the backward pass applies the mask but not the 1/(1 - rate) scaling")
        else:
            problems.append("dx must be dy where the forward kept a unit (times 1/(1 - rate)) "
                            "and 0 where it dropped one: use the mask saved in the cache")
    return problems


DROPOUT_LAYER = Question(
    name="dropout_layer", functions=("dropout_forward", "dropout_backward"), points=3,
    test_cell="test_dropout_layer", forbidden=(*GRADER, "nnlib.layers"),
    make_cases=_drop_cases, run=_run_drop, judge=_judge_drop,
)


# --------------------------------------------------------------------------- L2 penalty
def _l2_cases(rng):
    def params(shapes):
        return {k: rng.normal(size=s) for k, s in shapes.items()}
    return [("W1 (3, 4), b1 (4,), W2 (4, 2), b2 (2,), lam 0.1",
             {**{f"p {k}": v for k, v in params({"W1": (3, 4), "b1": (4,), "W2": (4, 2),
                                                 "b2": (2,)}).items()}, "lam": np.asarray(0.1)}),
            ("one weight matrix W (5, 5) and b (5,), lam 2.0",
             {**{f"p {k}": v for k, v in params({"W": (5, 5), "b": (5,)}).items()},
              "lam": np.asarray(2.0)})]


def _params(i):
    return {k[2:]: v for k, v in i.items() if k.startswith("p ")}


def _run_l2(fns, i):
    penalty, grads = fns["l2_penalty"](_params(i), float(i["lam"]))
    return {"penalty": penalty, **{f"grad {k}": v for k, v in grads.items()}}


def _l2_ref(i, *, half=True, biases=False, grad_factor=1.0, sign=1.0):
    lam, out, total = float(i["lam"]), {}, 0.0
    for k, v in _params(i).items():
        weight = k.startswith("W") or biases
        total += np.sum(v**2) if weight else 0.0
        out[f"grad {k}"] = sign * grad_factor * lam * v if weight else np.zeros_like(v)
    out["penalty"] = (0.5 if half else 1.0) * lam * total
    return out


L2_PENALTY = Question(
    name="l2_penalty", functions=("l2_penalty",), points=2, test_cell="test_l2_penalty",
    forbidden=(*GRADER, "jax.grad", "nnlib.optim"), make_cases=_l2_cases, run=_run_l2,
    reference=_l2_ref,
    mistakes=(
        Mistake("biases_penalised", "the biases are penalised too; the task penalises the weights "
                "only (the entries whose name starts with W): their gradient is 0",
                lambda i: _l2_ref(i, biases=True)),
        Mistake("no_half", "the penalty is (lam / 2) * sum of squares: the 1/2 is missing",
                lambda i: {**_l2_ref(i), "penalty": _l2_ref(i, half=False)["penalty"]}),
        Mistake("grad_2lam", "with the 1/2 in the penalty the gradient is lam * W, not 2 lam W",
                lambda i: {**_l2_ref(i), **{k: v for k, v in _l2_ref(i, grad_factor=2.0).items()
                                           if k != "penalty"}}),
        Mistake("sign", "sign error in the gradient: it is +lam * W (the penalty grows with |W|)",
                lambda i: {**_l2_ref(i), **{k: v for k, v in _l2_ref(i, sign=-1.0).items()
                                           if k != "penalty"}}),
    ),
)


# --------------------------------------------------------------------------- early stopping
def _es_cases(rng):
    def case(losses, patience, max_epochs):
        return {"losses": np.asarray(losses, np.float64), "patience": np.asarray(patience),
                "max_epochs": np.asarray(max_epochs)}
    noisy = 1.0 / np.arange(1, 41) + 0.05 * np.abs(rng.normal(size=40))
    return [("falls, then rises from epoch 6; patience 3",
             case([1.0, 0.8, 0.6, 0.5, 0.45, 0.42, 0.44, 0.47, 0.5, 0.55, 0.6, 0.65], 3, 12)),
            ("a tie with the best at epoch 5; patience 2",
             case([0.9, 0.7, 0.5, 0.5, 0.6, 0.7, 0.8, 0.9], 2, 8)),
            ("never stops early; patience 5", case(list(np.linspace(1.0, 0.1, 10)), 5, 10)),
            ("a noisy curve; patience 4", case(list(noisy), 4, 40))]


def _es_sim(i, *, keep="best", patience_shift=0, ties=False):
    losses, patience = list(i["losses"]), int(i["patience"]) + patience_shift
    best, best_epoch, wait, seen = np.inf, 0, 0, []
    for epoch in range(1, int(i["max_epochs"]) + 1):
        v = losses[epoch - 1]
        seen.append(v)
        if v < best or (ties and v == best):
            best, best_epoch, wait = v, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                break
    returned = best_epoch if keep == "best" else len(seen)
    return {"epoch of the returned parameters": np.asarray(returned),
            "validation losses seen": np.asarray(seen)}


def _run_es(fns, i):
    losses = [float(v) for v in i["losses"]]

    def train_epoch(params):
        return {"epoch": params["epoch"] + 1}

    def validate(params):
        return losses[int(params["epoch"]) - 1]

    best, seen = fns["early_stopping_fit"](train_epoch, validate, {"epoch": 0},
                                           max_epochs=int(i["max_epochs"]),
                                           patience=int(i["patience"]))
    return {"epoch of the returned parameters": np.asarray(int(best["epoch"])),
            "validation losses seen": np.asarray(seen, np.float64).reshape(-1)}


EARLY_STOPPING = Question(
    name="early_stopping_fit", functions=("early_stopping_fit",), points=3,
    test_cell="test_early_stopping_fit", forbidden=(*GRADER, "nnlib.train"),
    make_cases=_es_cases, run=_run_es, reference=_es_sim,
    mistakes=(
        Mistake("keeps_last", "the parameters returned are the last ones, not those of the best "
                "validation epoch: keep a copy of the best parameters and return it",
                lambda i: _es_sim(i, keep="last")),
        Mistake("patience_one_early", "training stops one epoch too early: stop when `patience` "
                "epochs in a row have not improved on the best",
                lambda i: _es_sim(i, patience_shift=-1)),
        Mistake("patience_one_late", "training stops one epoch too late: stop as soon as "
                "`patience` epochs in a row have not improved on the best",
                lambda i: _es_sim(i, patience_shift=1)),
        Mistake("ties_improve", "an equal validation loss counted as an improvement; only a "
                "strictly lower loss resets the patience and becomes the best",
                lambda i: _es_sim(i, ties=True)),
    ),
)


# --------------------------------------------------------------------------- a derivation
def _moment_cases(rng):
    return [(f"x of shape {s}, rate {r}", {"x": rng.normal(size=s), "rate": np.asarray(r)})
            for s, r in [((5,), 0.5), ((2, 3), 0.2), ((1,), 0.9)]]


def _moments_ref(i, *, var="right", mean="right"):
    x, r = i["x"], float(i["rate"])
    m = x if mean == "right" else x * (1 - r)
    v = {"right": x**2 * r / (1 - r), "unscaled": x**2 * r * (1 - r), "rate": x**2 * r}[var]
    return {"mean": m, "variance": v}


DROPOUT_MOMENTS = Question(
    name="dropout_moments", functions=("dropout_moments",), points=2,
    test_cell="test_dropout_moments", forbidden=GRADER, make_cases=_moment_cases,
    run=lambda fns, i: dict(zip(("mean", "variance"), fns["dropout_moments"](
        i["x"], float(i["rate"])), strict=True)),
    reference=_moments_ref, rtol=1e-9,
    mistakes=(
        Mistake("variance_unscaled", "that is the variance of x * mask without the 1/(1 - rate): "
                "inverted dropout scales the kept value to x / (1 - rate)",
                lambda i: _moments_ref(i, var="unscaled")),
        Mistake("variance_rate", "the variance is E[y^2] - E[y]^2 = x^2 / (1 - rate) - x^2",
                lambda i: _moments_ref(i, var="rate")),
        Mistake("mean_not_inverted", "inverted dropout keeps the mean: E[y] = x (the 1/(1 - rate) "
                "compensates the dropped units)", lambda i: _moments_ref(i, mean="scaled")),
    ),
)


# --------------------------------------------------------------------------- training
OWN = ("dropout_forward", "l2_penalty", "early_stopping_fit")
MIN_ACCURACY = 0.80
"""train_regularized's least validation accuracy (python -m nnlib.grading.margins: the
margin)."""


def _train_cases(rng):
    return [("the digits: 150 training and 600 validation images, a fresh split",
             {"seed": np.asarray(int(rng.integers(0, 2**31 - 1)))})]


def _run_train(fns, i):
    import jax

    from nnlib import data

    k_split, k_fit = jax.random.split(jax.random.key(int(i["seed"])))
    x, y = data.load_digits()
    x = data.standardize(x)[0]
    order = np.asarray(jax.random.permutation(k_split, len(y)))
    (x_tr, y_tr), (x_val, y_val) = ((x[r], y[r]) for r in (order[:150], order[150:750]))
    train = fns["train_regularized"]
    with counting_calls(train, OWN) as calls:
        _, accuracy, _ = train(x_tr, y_tr, x_val, y_val, dropout_rate=0.3, l2=1e-3, patience=20,
                               key=k_fit)
    return {"accuracy": np.asarray(float(accuracy)),
            **{f"used {n}": np.asarray(calls[n] > 0) for n in OWN}}


TRAIN_REGULARIZED = Question(
    name="train_regularized", functions=("train_regularized",), points=3,
    test_cell="test_train_regularized", forbidden=GRADER, make_cases=_train_cases,
    run=_run_train,
    judge=training_judge("train_regularized", OWN, MIN_ACCURACY,
                         "dropout_rate=0.3, l2=1e-3, patience=20"),
    timeout=120.0, accuracy_floor=MIN_ACCURACY,
)


QUESTIONS = (DROPOUT_LAYER, L2_PENALTY, EARLY_STOPPING, DROPOUT_MOMENTS, TRAIN_REGULARIZED)
MANUAL = {"which_regularizer": 3}
"""Manually graded answer cells (grade_id -> points), left for the instructor's rubric."""
