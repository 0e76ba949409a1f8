"""Checkers of lesson 07's exercises (the full training loop on the digits).

* ``train_val_split(n, val_fraction, key) -> (train_idx, val_idx)``: a random partition of the
  indices ``0..n-1`` into a training part and a validation part of
  ``n_val = round(val_fraction * n)`` indices (rounded to the nearest integer), drawn from
  ``key``. The cases avoid exact ties (``x.5``), so the tie rule does not matter.
* ``accuracy(scores, labels) -> float``: the fraction of the ``N`` examples whose highest score
  (over the class axis of ``scores (N, K)``) is the true class; ``labels`` are integer classes
  ``(N,)`` or one-hot rows ``(N, K)``, the two forms Keras's cross-entropies take.
* ``confusion_matrix(predicted, labels, n_classes, normalize=False) -> (K, K)``: ``C[i, j]``
  counts the examples of true class ``i`` predicted as class ``j`` (rows are true classes);
  with ``normalize=True`` each row is divided by its sum (the fraction of class ``i`` predicted
  as ``j``; a class without examples keeps a row of zeros).

Every case set has a batch of one (or the smallest split), non-square shapes and a larger
size, and the cases are built so that each catalogued mistake moves the output far beyond the
tolerance in at least one of the first cases reported.
"""

from __future__ import annotations

import math

import numpy as np

from nnlib.grading.core import CHANCE, Mistake, Question, variant


# --------------------------------------------------------------------------- train/val split
_SPLIT_CASES = (  # (n, val_fraction): none of them has val_fraction * n at an exact .5
    (10, 0.27), (1797, 0.15), (50, 0.2), (3, 0.4), (23, 0.33))


def _split_cases(rng):
    return [(f"n={n}, val_fraction={f}", {"n": np.asarray(n), "val_fraction": np.asarray(f),
                                          "seed": np.asarray(int(rng.integers(0, 2**31 - 1)))})
            for n, f in _SPLIT_CASES]


def _as_indices(part) -> np.ndarray:
    arr = np.asarray(part)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"the parts must be integer index arrays, got dtype {arr.dtype}")
    return arr.reshape(-1).astype(np.int64)


def _run_split(fns, i):
    import jax

    n, f, seed = int(i["n"]), float(i["val_fraction"]), int(i["seed"])
    out = {}
    keys = {"a": jax.random.key(seed), "again": jax.random.key(seed),
            "other": jax.random.key(seed + 1)}
    for name, key in keys.items():
        got = fns["train_val_split"](n, f, key)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise TypeError("train_val_split must return two index arrays (train_idx, val_idx)")
        out[f"train {name}"], out[f"val {name}"] = (_as_indices(p) for p in got)
    return out


def _judge_split(i, o):
    n, f = int(i["n"]), float(i["val_fraction"])
    n_val = round(f * n)
    tr, va = np.asarray(o["train a"]), np.asarray(o["val a"])
    if ((tr < 0) | (tr >= n)).any() or ((va < 0) | (va >= n)).any():
        return [f"the indices must lie in 0..{n - 1}"]
    if len(np.unique(tr)) != len(tr) or len(np.unique(va)) != len(va):
        return ["an index appears twice within one part: take the indices from a permutation "
                "of 0..n-1, not from draws with replacement"]
    shared = np.intersect1d(tr, va)
    if shared.size:
        return [f"the two parts overlap ({shared.size} index(es) in both): an example used for "
                "training then also scores the model. Cut one permutation into two disjoint "
                "pieces, perm[:n_train] and perm[n_train:]"]
    if len(tr) + len(va) != n:
        return [f"the parts hold {len(tr) + len(va)} indices in all, expected all n={n}: every "
                "example goes to exactly one part"]
    if len(va) != n_val:
        if len(va) == int(f * n):
            return [f"the validation part has {len(va)} indices, expected round({f} * {n}) = "
                    f"{n_val}: its size was rounded down (int() truncates {f * n:.2f}; or the "
                    "training part's size was rounded up) instead of rounded to the nearest"]
        if len(va) == n - n_val:
            return [f"the parts are swapped: the validation part has {len(va)} indices and the "
                    f"training part {len(tr)}; val_fraction is the validation part's share"]
        return [f"the validation part has {len(va)} indices, expected round({f} * {n}) = {n_val}"]
    # A correct split is the first or the last n_val examples with chance 2 / C(n, n_val), and
    # two keys give the same validation part with chance 1 / C(n, n_val): judged only where
    # that is negligible.
    splits = math.comb(n, n_val)
    if splits >= 2 / CHANCE:
        tail, head = set(range(n - n_val, n)), set(range(n_val))
        if set(va.tolist()) in (tail, head):
            where = "last" if set(va.tolist()) == tail else "first"
            return [f"the split is not shuffled: the validation part is the {where} {n_val} "
                    "examples. A data file is often ordered (by writer, by date, by class); draw "
                    "a random permutation with the key first"]
    if (set(tr.tolist()), set(va.tolist())) != (set(np.asarray(o["train again"]).tolist()),
                                                set(np.asarray(o["val again"]).tolist())):
        return ["the same key gave two different splits: draw the permutation from the key "
                "(jax.random.permutation(key, n)), not from a global random generator"]
    if splits >= 1 / CHANCE and set(va.tolist()) == set(np.asarray(o["val other"]).tolist()):
        return ["two different keys gave the same split: the permutation must come from the key"]
    return []


TRAIN_VAL_SPLIT = Question(name="train_val_split", functions=("train_val_split",),
                           make_cases=_split_cases, run=_run_split, judge=_judge_split)


# --------------------------------------------------------------------------- accuracy
def _scores(rng, n, k, n_right, *, one_hot=False, avoid_zero=False):
    """Scores ``(n, k)`` whose argmax is the label on exactly ``n_right`` rows, and labels."""
    low = 1 if avoid_zero and k > 1 else 0
    labels = rng.integers(low, k, size=n)
    scores = rng.normal(size=(n, k))
    right = rng.permutation(n) < n_right
    for row in range(n):
        top = labels[row] if right[row] else (labels[row] + rng.integers(1, k)) % k
        scores[row, top] = scores[row].max() + 0.5 + rng.uniform()
    y = np.eye(k)[labels] if one_hot else labels
    return {"scores": scores, "labels": y}


def _square_case(rng):
    """10 examples, 10 classes, 7 right; redrawn (about 80 draws on average) until the argmax
    over the wrong axis scores at least 0.4 and differs from the right answer and the error
    rate. Other slips mostly score near 0 here, so the wrong axis is named only when it is the
    mistake."""
    while True:
        case = _scores(rng, 10, 10, 7)
        wrong = _wrong_axis(case)
        if wrong >= 0.4 and not np.isclose(wrong, [0.3, 0.7]).any():
            return case


def _accuracy_cases(rng):
    return [
        ("10 examples and 10 classes, integer labels", _square_case(rng)),
        ("a batch of one, 4 classes", _scores(rng, 1, 4, 1, avoid_zero=True)),
        ("25 examples and 4 classes, integer labels", _scores(rng, 25, 4, 18)),
        ("6 examples and 6 classes, one-hot labels", _scores(rng, 6, 6, 4, one_hot=True)),
        ("40 examples and 3 classes, one-hot labels", _scores(rng, 40, 3, 30, one_hot=True)),
    ]


def _run_accuracy(fns, i):
    return {"accuracy": fns["accuracy"](i["scores"], i["labels"])}


def _classes(labels):
    labels = np.asarray(labels)
    return labels.argmax(axis=-1) if labels.ndim == 2 else labels


def _accuracy_ref(i):
    return {"accuracy": np.mean(i["scores"].argmax(axis=1) == _classes(i["labels"]))}


def _several(fn):
    """A variant not diagnosed on a batch of one, where it is a 0 or a 1 that many other slips
    give too (a variant that raises matches nothing)."""
    def outputs(i):
        if len(i["scores"]) == 1:
            raise ValueError("not diagnosed on a batch of one")
        return fn(i)
    return outputs


@_several
def _wrong_axis(i):
    return np.mean(i["scores"].argmax(axis=0) == _classes(i["labels"]))


def _direct_one_hot(i):
    if np.ndim(i["labels"]) != 2:
        raise ValueError("integer labels: this mistake cannot happen")
    return np.mean(i["scores"].argmax(axis=1) == i["labels"])


def _entrywise_one_hot(i):
    k = i["scores"].shape[1]
    pred = np.eye(k)[i["scores"].argmax(axis=1)]
    return np.mean(pred == np.eye(k)[_classes(i["labels"])])


ACCURACY = Question(
    name="accuracy", functions=("accuracy",), make_cases=_accuracy_cases, run=_run_accuracy,
    reference=_accuracy_ref, rtol=1e-6, atol=1e-9,
    mistakes=(
        Mistake("wrong_axis", "argmax over the wrong axis: scores are (N, K), one row per "
                "example, so the predicted class is scores.argmax(axis=1) (or axis=-1); axis=0 "
                "picks, for each class, the example that scores it highest",
                variant(_accuracy_ref, accuracy=_wrong_axis)),
        Mistake("one_hot_labels", "one-hot labels compared with class indices: turn rows like "
                "[0, 0, 1] back into classes with labels.argmax(axis=-1) before comparing "
                "(labels.ndim == 2 tells the two forms apart)",
                variant(_accuracy_ref, accuracy=_direct_one_hot)),
        Mistake("entrywise_one_hot", "one-hot rows compared entry by entry: the K - 1 matching "
                "zeros of every row count as hits, so a wrong prediction still scores "
                "(K - 2)/K. Compare one class index per example",
                variant(_accuracy_ref, accuracy=_entrywise_one_hot)),
        Mistake("count", "this is the number of correct predictions, not the fraction: divide "
                "by the number of examples (np.mean of the comparison does both)",
                variant(_accuracy_ref, accuracy=lambda i: len(i["scores"]) * _accuracy_ref(i)["accuracy"])),
        Mistake("error_rate", "this is the error rate, the fraction of wrong predictions: "
                "accuracy is the fraction of right ones",
                variant(_accuracy_ref,
                        accuracy=_several(lambda i: 1.0 - _accuracy_ref(i)["accuracy"]))),
        Mistake("percent", "this is a percentage: accuracy is the fraction in [0, 1]",
                variant(_accuracy_ref, accuracy=lambda i: 100.0 * _accuracy_ref(i)["accuracy"])),
    ),
)


# --------------------------------------------------------------------------- confusion matrix
def _confusion_cases(rng):
    def case(n, k, *, missing=False):
        top = k - 1 if missing else k                  # the last class never occurs
        labels = rng.integers(0, top, size=n)
        noisy = rng.uniform(size=n) < 0.4
        predicted = np.where(noisy, rng.integers(0, top, size=n), labels)
        if top > 1:                                    # at least one asymmetric confusion
            predicted[0], labels[0] = 0, 1
        return {"predicted": predicted, "labels": labels, "n_classes": np.asarray(k)}

    return [("30 examples, 4 classes", case(30, 4)),
            ("a batch of one, 3 classes", {"predicted": np.array([2]), "labels": np.array([0]),
                                           "n_classes": np.asarray(3)}),
            ("200 examples, 10 classes", case(200, 10)),
            ("40 examples, 5 classes, class 4 never occurs", case(40, 5, missing=True))]


def _run_confusion(fns, i):
    args = (i["predicted"], i["labels"], int(i["n_classes"]))
    return {"counts": fns["confusion_matrix"](*args),
            "normalized": fns["confusion_matrix"](*args, normalize=True)}


def _counts(predicted, labels, size):
    c = np.zeros((size, size))
    np.add.at(c, (labels, predicted), 1)
    return c


def _divide(c, sums):
    return c / np.where(sums == 0, 1.0, sums)


def _confusion_ref(i, *, size=None, transpose=False, axis=1):
    k = int(i["n_classes"]) if size is None else size(i)
    c = _counts(i["predicted"], i["labels"], k)
    if transpose:
        c = c.T
    if axis is None:
        norm = c / c.sum()
    else:
        norm = _divide(c, c.sum(axis=axis, keepdims=True))
    return {"counts": c, "normalized": norm}


def _from_data(i):
    return int(max(i["predicted"].max(), i["labels"].max())) + 1


def _counts_only(size):
    """A size mistake's variant: only the counts are compared (its normalised matrix may
    hold 0/0 in the extra or missing rows, however the student divides)."""
    return lambda i: {"counts": _confusion_ref(i, size=size)["counts"]}


def _empty_row_hint(i, outputs):
    got = outputs.get("normalized")
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    want = _confusion_ref(i)
    empty = want["counts"].sum(axis=1) == 0
    if got.shape == want["normalized"].shape and empty.any() and np.isnan(got[empty]).any():
        return ("a class without examples gives a row of 0/0 = nan: keep its row at zeros, "
                "e.g. divide by np.maximum(C.sum(axis=1, keepdims=True), 1)")
    return None


CONFUSION_MATRIX = Question(
    name="confusion_matrix", functions=("confusion_matrix",), make_cases=_confusion_cases,
    run=_run_confusion, reference=_confusion_ref, rtol=1e-6, atol=1e-9,
    mistakes=(
        Mistake("transposed", "rows and columns are swapped: the convention is C[true, "
                "predicted], one row per true class (C[labels[n], predicted[n]] += 1)",
                lambda i: _confusion_ref(i, transpose=True)),
        Mistake("column_normalized", "normalised by the wrong axis: each row (a true class) "
                "must sum to 1, so divide by C.sum(axis=1, keepdims=True), not by the column "
                "sums", lambda i: _confusion_ref(i, axis=0)),
        Mistake("total_normalized", "normalised by the total count: each row (a true class) "
                "must sum to 1, so divide by the row sums C.sum(axis=1, keepdims=True)",
                lambda i: _confusion_ref(i, axis=None)),
        Mistake("one_too_large", "the matrix is one row and one column too large: classes "
                "0..n_classes-1 need an n_classes x n_classes matrix",
                _counts_only(lambda i: int(i["n_classes"]) + 1)),
        Mistake("size_from_data", "the size comes from the data (max label + 1): a class that "
                "never occurs in this batch then disappears. Use n_classes",
                _counts_only(_from_data)),
    ),
    hints=(_empty_row_hint,),
)


QUESTIONS = ()
LESSON_QUESTIONS = (TRAIN_VAL_SPLIT, ACCURACY, CONFUSION_MATRIX)
