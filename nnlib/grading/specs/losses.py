"""The graded questions of the ``losses`` assignment, and the checkers of lesson 03's exercises.

The assignment (``solutions/losses/losses.ipynb``) asks for each loss together with its
gradient with respect to the network's output (logits for the cross-entropies):

* ``mse_loss_and_grad(pred, target) -> (loss, grad)``: the mean over all entries;
* ``bce_loss_and_grad(logits, labels) -> (loss, grad)``: binary cross-entropy on logits;
* ``softmax_ce_loss_and_grad(logits, labels) -> (loss, grad)``: integer labels;
* ``weighted_bce_loss_and_grad(logits, labels, pos_weight) -> (loss, grad)``: the positive
  class's term weighted by ``pos_weight`` (its gradient is the derivation the notebook asks for);
* ``train_logistic(X, y, loss, *, learning_rate, steps, w0=None, b0=0.0) -> (w, b, losses)``:
  logistic regression trained by gradient descent with the student's own losses.

Lesson 03's checkers (feedback only, ``LESSON_QUESTIONS``):


* ``softmax(z) -> p`` over the last axis, stable for large logits (subtract the row's max).
* ``logsumexp(z)``: :math:`\\log\\sum_k e^{z_k}` over the last axis, shape ``z.shape[:-1]``,
  stable for logits of either sign far from zero (``m + log sum exp(z - m)``, ``m`` the row's
  max).
* ``bce_with_logits(z, t) -> loss`` and ``bce_with_logits_grad(z, t) -> dL/dz``: binary
  cross-entropy of logits ``z`` ``(N,)`` against labels ``t`` in {0, 1}, the mean over the
  batch, finite at logits of +-1000; the gradient is ``(sigmoid(z) - t) / N``.
* ``categorical_cross_entropy(logits, labels) -> loss``: softmax cross-entropy of logits
  ``(N, K)`` against integer labels ``(N,)``, the mean over the batch of
  ``logsumexp(z_n) - z_n[labels_n]``.

Every case set has a batch of one, non-square shapes and logits near +-1000, so that each
catalogued mistake moves the output far beyond the tolerance in at least one case.
"""

from __future__ import annotations

import numpy as np

from nnlib.grading.core import AUTODIFF, GRADER, Mistake, Question, variant

ASSIGNMENT = "losses"


# --------------------------------------------------------------------------- softmax
def _softmax_ref(i):
    z = i["z"] - i["z"].max(axis=-1, keepdims=True)
    e = np.exp(z)
    return {"p": e / e.sum(axis=-1, keepdims=True)}


def _overflow_hint(i, outputs):
    p = np.asarray(outputs.get("p", 0.0))
    if p.dtype != object and np.max(np.abs(i["z"])) > 100 and not np.all(np.isfinite(p)):
        return ("softmax overflowed: exp of a large logit is inf. Subtract the row's max first, "
                "softmax(z) = softmax(z - max(z)), which changes nothing mathematically")
    return None


SOFTMAX = Question(
    name="softmax", functions=("softmax",),
    make_cases=lambda rng: [("logits of shape (4, 3)", {"z": rng.normal(size=(4, 3))}),
                            ("a batch of one", {"z": rng.normal(size=(1, 5))}),
                            ("large logits (~1000)", {"z": 1000 + 300 * rng.normal(size=(3, 4))})],
    run=lambda fns, i: {"p": fns["softmax"](i["z"])}, reference=_softmax_ref,
    hints=(_overflow_hint,),
)




# --------------------------------------------------------------------------- shared helpers
def _lse(z, axis=-1):
    m = z.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def _quiet(f):
    """A wrong variant computed with NumPy's overflow/log(0) warnings silenced."""
    def out(i):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
            return f(i)
    return out


def _blows_up(i, outputs, key, what):
    """Recognises an overflow: +inf or nan in ``key`` on logits far from zero (any float width)."""
    value = np.asarray(outputs.get(key, 0.0))
    if value.dtype == object or np.max(np.abs(i["z"])) < 100:
        return None
    value = value.astype(np.float64)
    if np.any(np.isnan(value)) or np.any(value == np.inf):
        return what
    return None


# --------------------------------------------------------------------------- logsumexp
def _lse_cases(rng):
    rows = np.where(np.arange(2)[:, None] == 0, 800.0, -800.0)     # one row near +800, one near -800
    return [("logits of shape (4, 3)", {"z": rng.normal(size=(4, 3))}),
            ("a batch of one, 5 classes", {"z": rng.normal(size=(1, 5))}),
            ("large logits (~1000), shape (3, 4)", {"z": 1000 + 5 * rng.normal(size=(3, 4))}),
            ("rows near +800 and -800, shape (2, 3)", {"z": rows + 3 * rng.normal(size=(2, 3))})]


def _lse_hint(i, outputs):
    return _blows_up(i, outputs, "lse", (
        "logsumexp overflowed: exp of a logit near 1000 is inf. Subtract the row's max m first "
        "and add it back: logsumexp(z) = m + log(sum(exp(z - m)))"))


LOGSUMEXP = Question(
    name="logsumexp", functions=("logsumexp",), make_cases=_lse_cases,
    run=lambda fns, i: {"lse": fns["logsumexp"](i["z"])},
    reference=lambda i: {"lse": _lse(i["z"])}, hints=(_lse_hint,),
    mistakes=(
        Mistake("max_not_added_back", "the row's max m was subtracted inside the exp but not "
                "added back: logsumexp(z) = m + log(sum(exp(z - m)))",
                lambda i: {"lse": _lse(i["z"]) - i["z"].max(axis=-1)}),
        Mistake("only_the_max", "that is only the max m of each row; the log-sum term "
                "log(sum(exp(z - m))) is missing (max is a lower bound, not logsumexp)",
                lambda i: {"lse": i["z"].max(axis=-1)}),
        Mistake("global_max", "the max was taken over the whole array instead of each row, so a "
                "row far below the largest logit underflows to log(0) = -inf; take "
                "max(axis=-1, keepdims=True)",
                _quiet(lambda i: {"lse": i["z"].max() + np.log(np.exp(i["z"] - i["z"].max()).sum(-1))})),
        Mistake("mean_not_sum", "that is the log of the MEAN of exp(z) (off by log K); "
                "logsumexp sums over the K classes",
                lambda i: {"lse": _lse(i["z"]) - np.log(i["z"].shape[-1])}),
        Mistake("wrong_axis", "reduced over axis 0 (the batch); the classes are the last axis",
                lambda i: {"lse": _lse(i["z"], axis=0)}),
        Mistake("kept_dims", "the result keeps the class axis as size 1 (keepdims=True); return "
                "shape z.shape[:-1]", lambda i: {"lse": _lse(i["z"])[..., None]}),
    ),
)


# --------------------------------------------------------------------------- BCE on logits
def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow at any z


def _bce_cases(rng):
    def case(z):
        return {"z": z, "t": rng.integers(0, 2, size=z.shape).astype(np.float64)}
    big = 1000.0 * np.array([1.0, -1.0, 1.0, -1.0, 0.5])
    large = {"z": big + rng.normal(size=5), "t": np.array([0.0, 1.0, 1.0, 0.0, 0.0])}
    return [("7 logits", case(2 * rng.normal(size=7))),
            ("a batch of one", case(rng.normal(size=1))),
            ("logits near +-1000, some confidently wrong", large),
            ("10 logits", case(3 * rng.normal(size=10)))]


def _bce_ref(i):
    z, t = i["z"], i["t"]
    return {"loss": np.mean(np.logaddexp(0.0, z) - z * t), "grad": (_sigmoid(z) - t) / z.size}


def _bce_hint(i, outputs):
    return _blows_up(i, outputs, "loss", (
        "the loss is inf or nan on logits near +-1000: sigmoid(z) rounds to exactly 0 or 1, so "
        "log(p) or log(1 - p) is log(0) (or exp(z) overflows in log(1 + exp(z))). Compute it "
        "from the logits: max(z, 0) - z*t + log(1 + exp(-|z|))"))


def _bce_clip_hint(i, outputs):
    """A loss computed from a probability clipped to [eps, 1 - eps], for the usual eps values."""
    loss = np.asarray(outputs.get("loss", np.nan))
    if loss.dtype == object or loss.shape != () or np.max(np.abs(i["z"])) < 100:
        return None
    p = _sigmoid(i["z"])
    for eps in (1e-7, 1e-8, 1e-10, 1e-12, 1e-15, 1e-6, 1e-5):
        q = np.clip(p, eps, 1 - eps)
        clipped = -np.mean(i["t"] * np.log(q) + (1 - i["t"]) * np.log(1 - q))
        if abs(float(loss) - clipped) <= 1e-3 * max(1.0, abs(clipped)):
            return (f"the probability was clipped to [{eps:g}, 1 - {eps:g}], which caps the loss "
                    f"of a confidently wrong logit at -log({eps:g}) = {-np.log(eps):.1f} instead "
                    "of about |z|; compute the loss from the logits, not from sigmoid(z)")
    return None


BCE_WITH_LOGITS = Question(
    name="bce_with_logits", functions=("bce_with_logits", "bce_with_logits_grad"),
    make_cases=_bce_cases, reference=_bce_ref,
    run=lambda fns, i: {name: fns[f](i["z"], i["t"]) for name, f in
                        (("loss", "bce_with_logits"), ("grad", "bce_with_logits_grad"))}, rtol=1e-5, atol=1e-6,
    hints=(_bce_hint, _bce_clip_hint),
    mistakes=(
        Mistake("loss_sum", "the loss is the SUM over the batch; take the mean (divide by N)",
                variant(_bce_ref, loss=lambda i: _bce_ref(i)["loss"] * i["z"].size)),
        Mistake("grad_missing_1_over_n", "the gradient is missing the 1/N of the batch mean: "
                "dL/dz = (sigmoid(z) - t) / N",
                variant(_bce_ref, grad=lambda i: _sigmoid(i["z"]) - i["t"])),
        Mistake("loss_sign", "the loss is negative: cross-entropy is MINUS the mean "
                "log-likelihood, -[t log p + (1 - t) log(1 - p)]",
                variant(_bce_ref, loss=lambda i: -_bce_ref(i)["loss"])),
        Mistake("grad_sign", "sign error: the gradient is sigmoid(z) - t, not t - sigmoid(z)",
                variant(_bce_ref, grad=lambda i: -_bce_ref(i)["grad"])),
        Mistake("labels_swapped", "t and 1 - t are swapped: the loss rewards the wrong class "
                "(log p goes with t, log(1 - p) with 1 - t)",
                variant(_bce_ref, loss=lambda i: _bce_ref({"z": i["z"], "t": 1 - i["t"]})["loss"])),
        Mistake("grad_wrt_p", "that is dL/dp, the gradient with respect to the probability; "
                "through the sigmoid the factor p(1 - p) cancels: dL/dz = (p - t) / N",
                _quiet(variant(_bce_ref, grad=lambda i: (_sigmoid(i["z"]) - i["t"]) / (
                    _sigmoid(i["z"]) * (1 - _sigmoid(i["z"]))) / i["z"].size))),
        Mistake("grad_mse_on_sigmoid", "that gradient, 2(p - t) p(1 - p) / N, is the MSE's on a "
                "sigmoid output; for cross-entropy the factor p(1 - p) cancels: (p - t) / N",
                variant(_bce_ref, grad=lambda i: 2 * (_sigmoid(i["z"]) - i["t"]) * _sigmoid(i["z"])
                             * (1 - _sigmoid(i["z"])) / i["z"].size)),
    ),
)


# --------------------------------------------------------------------------- integer labels
def _cce_cases(rng):
    def case(n, k, scale=1.0, offset=0.0):
        return {"z": offset + scale * rng.normal(size=(n, k)),
                "labels": rng.integers(0, k, size=n)}
    return [("5 examples, 3 classes", case(5, 3, 2.0)),
            ("a batch of one, 4 classes", case(1, 4, 2.0)),
            ("logits near 1000, 4 examples, 6 classes", case(4, 6, 3.0, 1000.0)),
            ("logits near -1000, 3 examples, 2 classes", case(3, 2, 3.0, -1000.0))]


def _log_softmax(z, axis=-1):
    return z - np.expand_dims(_lse(z, axis), axis)


def _picked(i, logp):
    return logp[np.arange(len(i["labels"])), i["labels"]]


def _cce_ref(i):
    return {"loss": -np.mean(_picked(i, _log_softmax(i["z"])))}


def _cce_hint(i, outputs):
    return _blows_up(i, outputs, "loss", (
        "the loss is inf or nan on logits near +-1000: exp overflowed (or underflowed to 0 and "
        "was divided or logged). Use log_softmax(z) = z - logsumexp(z), with the row's max "
        "subtracted inside logsumexp"))


CATEGORICAL_CE = Question(
    name="categorical_cross_entropy", functions=("categorical_cross_entropy",),
    make_cases=_cce_cases, reference=_cce_ref, hints=(_cce_hint,),
    run=lambda fns, i: {"loss": fns["categorical_cross_entropy"](i["z"], i["labels"])},
    mistakes=(
        Mistake("sum_not_mean", "the loss is the SUM over the batch; take the mean over the N "
                "examples", lambda i: {"loss": _cce_ref(i)["loss"] * len(i["z"])}),
        Mistake("mean_over_classes", "divided by N*K: that is the mean over every entry of "
                "onehot * log p; sum over the K classes, then average over the N examples",
                lambda i: {"loss": _cce_ref(i)["loss"] / i["z"].shape[-1]}),
        Mistake("sign", "the loss is negative: cross-entropy is MINUS the mean log-probability "
                "of the true class", lambda i: {"loss": -_cce_ref(i)["loss"]}),
        Mistake("columns_for_every_row", "logp[:, labels] picks every label's column for EVERY "
                "row (an (N, N) array): integer labels are not one-hot; pick one entry per row, "
                "logp[arange(N), labels]",
                lambda i: {"loss": -np.mean(_log_softmax(i["z"])[:, i["labels"]])}),
        Mistake("labels_as_weights", "the integer labels were multiplied into log p as if they "
                "were one-hot rows; turn them into one-hot rows first, or pick "
                "logp[arange(N), labels]",
                lambda i: {"loss": -np.mean(np.sum(i["labels"][:, None] * _log_softmax(i["z"]),
                                                   axis=-1))}),
        Mistake("max_not_added_back", "logsumexp lost the row's max: log p = z - (m + "
                "log(sum(exp(z - m)))) with m added back",
                lambda i: {"loss": _cce_ref(i)["loss"] - np.mean(i["z"].max(axis=-1))}),
        Mistake("softmax_over_batch", "softmax was normalised over the batch (axis 0); "
                "normalise each row over the classes (the last axis)",
                _quiet(lambda i: {"loss": -np.mean(_picked(i, _log_softmax(i["z"], axis=0)))})),
    ),
)

LESSON_QUESTIONS = (SOFTMAX, LOGSUMEXP, BCE_WITH_LOGITS, CATEGORICAL_CE)


# =========================================================================== the assignment
_NO_AUTODIFF = (*AUTODIFF, *GRADER, "nnlib.losses")


def _pair(function, *args):
    """A ``run`` calling ``function(*inputs[args]) -> (loss, grad)`` (0-d inputs as floats)."""
    def run(fns, i):
        values = [float(i[a]) if np.ndim(i[a]) == 0 else i[a] for a in args]
        loss, grad = fns[function](*values)
        return {"loss": loss, "grad": grad}
    return run


# --------------------------------------------------------------------------- MSE
def _mse_cases(rng):
    return [("predictions of shape (6,)", {"pred": rng.normal(size=6), "target": rng.normal(size=6)}),
            ("a batch of one", {"pred": rng.normal(size=1), "target": rng.normal(size=1)}),
            ("predictions of shape (4, 3) (N=4 examples, K=3 outputs)",
             {"pred": rng.normal(size=(4, 3)), "target": rng.normal(size=(4, 3))}),
            ("large values (~1e3), shape (5, 2)",
             {"pred": 1e3 * rng.normal(size=(5, 2)), "target": 1e3 * rng.normal(size=(5, 2))})]


def _mse_ref(i, *, scale=1.0, factor=2.0, per_example=False):
    r = i["pred"] - i["target"]
    n = len(r) if per_example else r.size
    return {"loss": np.sum(r**2) / n * scale, "grad": factor * r / n}


MSE_PAIR = Question(
    name="mse_loss_and_grad", functions=("mse_loss_and_grad",), points=2,
    test_cell="test_mse_loss_and_grad", forbidden=_NO_AUTODIFF, make_cases=_mse_cases,
    run=_pair("mse_loss_and_grad", "pred", "target"),
    reference=_mse_ref,
    mistakes=(
        Mistake("sum", "the loss is the SUM of the squared errors; the mean divides by the "
                "number of entries", variant(_mse_ref, loss=lambda i: np.sum((i["pred"] - i["target"]) ** 2))),
        Mistake("grad_sum", "the gradient is missing the 1/(number of entries) of the mean",
                variant(_mse_ref, grad=lambda i: 2 * (i["pred"] - i["target"]))),
        Mistake("missing_2", "the gradient of r**2 is 2 r: the factor 2 is missing",
                lambda i: _mse_ref(i, factor=1.0)),
        Mistake("sign", "sign error in the gradient: it is 2 (pred - target) / n",
                lambda i: _mse_ref(i, factor=-2.0)),
        Mistake("per_example_mean", "divided by the number of examples N only; the mean is over "
                "all N*K entries (or divide both the loss and the gradient by the same count)",
                lambda i: _mse_ref(i, per_example=True)),
    ),
)


# --------------------------------------------------------------------------- BCE on logits
BCE_PAIR = Question(
    name="bce_loss_and_grad", functions=("bce_loss_and_grad",), points=3,
    test_cell="test_bce_loss_and_grad", forbidden=_NO_AUTODIFF, make_cases=_bce_cases,
    run=_pair("bce_loss_and_grad", "z", "t"),
    reference=_bce_ref, rtol=1e-5, atol=1e-6, hints=(_bce_hint, _bce_clip_hint),
    mistakes=BCE_WITH_LOGITS.mistakes,
)


# --------------------------------------------------------------------------- softmax CE, integer labels
def _sce_ref(i):
    z, labels = i["z"], i["labels"]
    p = np.exp(_log_softmax(z))
    onehot = np.eye(z.shape[1])[labels]
    return {"loss": _cce_ref(i)["loss"], "grad": (p - onehot) / len(z)}


def _sce_hint(i, outputs):
    return _cce_hint(i, outputs) or _blows_up(i, outputs, "grad", (
        "the gradient is inf or nan on logits near +-1000: compute softmax with the row's max "
        "subtracted"))


SOFTMAX_CE_PAIR = Question(
    name="softmax_ce_loss_and_grad", functions=("softmax_ce_loss_and_grad",), points=3,
    test_cell="test_softmax_ce_loss_and_grad", forbidden=_NO_AUTODIFF, make_cases=_cce_cases,
    run=_pair("softmax_ce_loss_and_grad", "z", "labels"),
    reference=_sce_ref, hints=(_sce_hint,),
    mistakes=(*(Mistake(m.name, m.message, variant(_sce_ref, loss=lambda i, m=m: m.outputs(i)["loss"]))
                for m in CATEGORICAL_CE.mistakes),
              Mistake("grad_missing_1_over_n", "the gradient is missing the 1/N of the batch "
                      "mean: (softmax(z) - onehot) / N",
                      variant(_sce_ref, grad=lambda i: _sce_ref(i)["grad"] * len(i["z"]))),
              Mistake("grad_sign", "sign error: the gradient is softmax(z) - onehot(labels)",
                      variant(_sce_ref, grad=lambda i: -_sce_ref(i)["grad"])),
              Mistake("grad_no_labels", "the gradient is softmax(z) / N alone: subtract the "
                      "one-hot labels, (p - y) / N",
                      variant(_sce_ref, grad=lambda i: np.exp(_log_softmax(i["z"])) / len(i["z"]))),
              Mistake("grad_labels_not_onehot", "the integer labels were subtracted as numbers; "
                      "turn them into one-hot rows first: (p - onehot(labels)) / N",
                      variant(_sce_ref, grad=lambda i: (np.exp(_log_softmax(i["z"]))
                                                        - i["labels"][:, None]) / len(i["z"])))),
)


# --------------------------------------------------------------------------- weighted BCE
def _softplus(x):
    return np.logaddexp(0.0, x)


def _wbce_cases(rng):
    out = []
    for desc, (case_desc, c) in zip(("pos_weight 3", "pos_weight 0.5", "pos_weight 3",
                                     "pos_weight 10"), _bce_cases(rng)):
        w = float(desc.split()[-1])
        out.append((f"{case_desc}, {desc}", {**c, "w": np.asarray(w)}))
    return out


def _wbce_ref(i, *, weight_neg=False, weight_both=False):
    z, t, w = i["z"], i["t"], float(i["w"])
    wp, wn = (1.0, w) if weight_neg else ((w, w) if weight_both else (w, 1.0))
    loss = np.mean(wp * t * _softplus(-z) + wn * (1 - t) * _softplus(z))
    p = _sigmoid(z)
    grad = (wp * t * (p - 1) + wn * (1 - t) * p) / z.size
    return {"loss": loss, "grad": grad}


def _wbce_hint(i, outputs):
    return _blows_up(i, outputs, "loss", (
        "the loss is inf or nan on logits near +-1000: write log sigmoid(z) = -softplus(-z) and "
        "log(1 - sigmoid(z)) = -softplus(z), with softplus(x) = max(x, 0) + log(1 + exp(-|x|))"))


WEIGHTED_BCE_PAIR = Question(
    name="weighted_bce_loss_and_grad", functions=("weighted_bce_loss_and_grad",), points=3,
    test_cell="test_weighted_bce_loss_and_grad", forbidden=_NO_AUTODIFF, make_cases=_wbce_cases,
    run=_pair("weighted_bce_loss_and_grad", "z", "t", "w"),
    reference=_wbce_ref, rtol=1e-5, atol=1e-6, hints=(_wbce_hint,),
    mistakes=(
        Mistake("grad_unweighted", "that is the unweighted gradient (p - t)/N: the weight "
                "multiplies the positive term, so dL/dz = (w t (p - 1) + (1 - t) p) / N",
                variant(_wbce_ref, grad=lambda i: (_sigmoid(i["z"]) - i["t"]) / i["z"].size)),
        Mistake("weight_both", "pos_weight multiplies both terms; it weights only the positive "
                "examples' term t log p", lambda i: _wbce_ref(i, weight_both=True)),
        Mistake("weight_negatives", "pos_weight went on the negative examples' term; it weights "
                "t log p, the positive one", lambda i: _wbce_ref(i, weight_neg=True)),
        Mistake("loss_sum", "the loss is the SUM over the batch; take the mean",
                variant(_wbce_ref, loss=lambda i: _wbce_ref(i)["loss"] * i["z"].size)),
        Mistake("grad_sign", "sign error in the gradient",
                variant(_wbce_ref, grad=lambda i: -_wbce_ref(i)["grad"])),
    ),
)


# --------------------------------------------------------------------------- training
def _logistic_cases(rng):
    def data(n):
        X = rng.normal(size=(n, 2))
        y = (X @ np.array([2.0, -1.0]) + 0.3 * rng.normal(size=n) > 0).astype(np.float64)
        return X, y
    out = []
    for desc, loss, n, w0 in [("cross-entropy, 40 examples, from zero", "bce", 40, None),
                              ("MSE on the sigmoid, 40 examples, from zero", "mse", 40, None),
                              ("cross-entropy from a confidently wrong start", "bce", 30, (-6.0, 3.0)),
                              ("MSE from a confidently wrong start", "mse", 30, (-6.0, 3.0))]:
        X, y = data(n)
        c = {"X": X, "y": y, "loss": np.asarray(0 if loss == "bce" else 1),
             "lr": np.asarray(0.5), "steps": np.asarray(25)}
        if w0 is not None:
            c["w0"] = np.asarray(w0)
        out.append((desc, c))
    return out


def _logistic_sim(i, *, slope=True, sign=1.0, record_after=False, extra_mean=False):
    X, y, steps, lr = i["X"], i["y"], int(i["steps"]), float(i["lr"])
    w = np.array(i["w0"], np.float64) if "w0" in i else np.zeros(X.shape[1])
    b = 0.0
    losses = []
    bce = int(i["loss"]) == 0

    def loss_grad(w, b):
        z = X @ w + b
        if bce:
            return _bce_ref({"z": z, "t": y})["loss"], _bce_ref({"z": z, "t": y})["grad"]
        p = _sigmoid(z)
        r = _mse_ref({"pred": p, "target": y})
        return r["loss"], r["grad"] * (p * (1 - p) if slope else 1.0)

    for _ in range(steps):
        loss, dz = loss_grad(w, b)
        if extra_mean:
            dz = dz / len(y)
        w, b = w - sign * lr * (X.T @ dz), b - sign * lr * dz.sum()
        losses.append(loss_grad(w, b)[0] if record_after else loss)
    return {"w": w, "b": np.asarray(b), "losses": np.asarray(losses)}


def _run_logistic(fns, i):
    kw = {"w0": i["w0"].copy()} if "w0" in i else {}
    w, b, losses = fns["train_logistic"](i["X"], i["y"], "bce" if int(i["loss"]) == 0 else "mse",
                                         learning_rate=float(i["lr"]), steps=int(i["steps"]), **kw)
    return {"w": w, "b": b, "losses": np.asarray(losses, dtype=np.float64).reshape(-1)}


TRAIN_LOGISTIC = Question(
    name="train_logistic", functions=("train_logistic",), points=3, test_cell="test_train_logistic",
    forbidden=_NO_AUTODIFF, make_cases=_logistic_cases, run=_run_logistic,
    reference=_logistic_sim, rtol=1e-6, atol=1e-9,
    mistakes=(
        Mistake("mse_no_sigmoid_slope", "with the MSE on p = sigmoid(z), the gradient with "
                "respect to z carries the sigmoid's slope: dL/dz = dL/dp * p (1 - p)",
                lambda i: _logistic_sim(i, slope=False)),
        Mistake("sign", "sign error in the update: w - learning_rate * dL/dw",
                lambda i: _logistic_sim(i, sign=-1.0)),
        Mistake("loss_after_step", "each recorded loss must be the one BEFORE the step (the "
                "first entry is the loss at the starting point)",
                lambda i: _logistic_sim(i, record_after=True)),
        Mistake("mean_twice", "the gradient was divided by N again: your loss's gradient already "
                "carries the 1/N of the mean, so dL/dw = X.T @ dL/dz",
                lambda i: _logistic_sim(i, extra_mean=True)),
    ),
)


QUESTIONS = (MSE_PAIR, BCE_PAIR, SOFTMAX_CE_PAIR, WEIGHTED_BCE_PAIR, TRAIN_LOGISTIC)
MANUAL = {"mse_vs_cross_entropy": 3}
"""Manually graded answer cells (grade_id -> points), left for the instructor's rubric."""
