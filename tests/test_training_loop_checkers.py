"""Lesson 07's checkers (train/validation split, accuracy, confusion matrix): right answers
pass on two seeds, correct answers written differently pass, every catalogued mistake gets its
diagnosis, and wrong answers outside the catalogue fail."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from checks import fails_with, passes_on_seeds
from nnlib.grading import check, specs


# ------------------------------------------------------------------ right answers
def train_val_split(n, val_fraction, key):
    perm = jax.random.permutation(key, n)
    n_train = n - round(val_fraction * n)
    return perm[:n_train], perm[n_train:]


def accuracy(scores, labels):
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = labels.argmax(axis=-1)
    return np.mean(np.asarray(scores).argmax(axis=-1) == labels)


def confusion_matrix(predicted, labels, n_classes, normalize=False):
    c = np.zeros((n_classes, n_classes))
    for t, p in zip(np.asarray(labels), np.asarray(predicted)):
        c[t, p] += 1
    if normalize:
        c = c / np.maximum(c.sum(axis=1, keepdims=True), 1)
    return c


RIGHT = {"train_val_split": train_val_split, "accuracy": accuracy,
         "confusion_matrix": confusion_matrix}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_answers_pass(name):
    passes_on_seeds(name, (RIGHT[name],), (0, 7))


def test_the_checkers_are_registered_as_lesson_questions():
    assert "training_loop" in specs.CHECK_MODULES
    assert set(RIGHT) <= set(specs.all_questions())


def test_correct_answers_written_differently_pass():
    def split_numpy_sorted(n, val_fraction, key):      # NumPy generator seeded from the key
        seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
        perm = np.random.default_rng(seed).permutation(n)
        n_val = int(np.rint(val_fraction * n))
        return np.sort(perm[n_val:]), list(perm[:n_val])

    assert check("train_val_split", split_numpy_sorted, verbose=False)

    def accuracy_jnp(scores, labels):
        labels = jnp.asarray(labels)
        classes = jnp.argmax(labels, -1) if labels.ndim == 2 else labels
        return jnp.sum(jnp.argmax(scores, -1) == classes) / scores.shape[0]

    assert check("accuracy", accuracy_jnp, verbose=False)

    def confusion_bincount(predicted, labels, n_classes, normalize=False):
        flat = np.asarray(labels) * n_classes + np.asarray(predicted)
        c = np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
        if not normalize:
            return c                                  # integer counts are fine
        rows = c.sum(axis=1, keepdims=True)
        return np.divide(c, rows, out=np.zeros(c.shape), where=rows > 0)

    assert check("confusion_matrix", confusion_bincount, verbose=False)

    def confusion_jnp(predicted, labels, n_classes, normalize=False):
        c = jnp.zeros((n_classes, n_classes)).at[labels, predicted].add(1.0)
        return c / jnp.maximum(c.sum(1, keepdims=True), 1.0) if normalize else c

    assert check("confusion_matrix", confusion_jnp, verbose=False)


# ------------------------------------------------------------------ the catalogue, one by one
def _split(overlap=False, shuffle=True, rounding=round, swapped=False, global_rng=False,
           fixed_key=False, replace=False):
    def split(n, val_fraction, key):
        if fixed_key:
            key = jax.random.key(0)
        if global_rng:
            perm = np.random.default_rng().permutation(n)
        elif replace:
            perm = np.asarray(jax.random.randint(key, (n,), 0, n))
        elif shuffle:
            perm = np.asarray(jax.random.permutation(key, n))
        else:
            perm = np.arange(n)
        n_val = rounding(val_fraction * n)
        n_train = n - n_val
        if swapped:
            n_train = n_val
        train = perm[:n_train + 1] if overlap else perm[:n_train]
        return train, perm[n_train:]
    return split


@pytest.mark.parametrize("fn, expect", [
    (_split(overlap=True), "the two parts overlap"),
    (_split(shuffle=False), "not shuffled: the validation part is the last"),
    (_split(rounding=int), "its size was rounded down"),
    (_split(swapped=True), "the parts are swapped"),
    (_split(global_rng=True), "the same key gave two different splits"),
    (_split(fixed_key=True), "two different keys gave the same split"),
    (_split(replace=True), "draws with replacement"),
])
def test_split_mistakes(fn, expect):
    fails_with("train_val_split", fn, expect=expect)


def test_a_split_that_loses_examples_is_told_so():
    fails_with("train_val_split", lambda n, f, key: train_val_split(n - 1, f, key),
               expect="every example goes to exactly one part")


@pytest.mark.parametrize("fn, expect", [
    (lambda s, y: np.mean(np.argmax(s, axis=0) == y), "argmax over the wrong axis"),
    (lambda s, y: np.mean(np.argmax(s, axis=1) == y), "one-hot labels compared with class indices"),
    (lambda s, y: np.mean(np.eye(s.shape[1])[s.argmax(1)] ==
                          (y if np.ndim(y) == 2 else np.eye(s.shape[1])[y])), "entry by entry"),
    (lambda s, y: len(s) * accuracy(s, y), "the number of correct predictions"),
    (lambda s, y: np.sum(np.argmax(s, -1) == (np.argmax(y, -1) if np.ndim(y) == 2 else y)),
     "the number of correct predictions"),
    (lambda s, y: 100 * accuracy(s, y), "a percentage"),
    (lambda s, y: 1 - accuracy(s, y), "the error rate"),
])
def test_accuracy_mistakes(fn, expect):
    fails_with("accuracy", fn, expect=expect)


def _confusion(transpose=False, axis=1, size=None, naive=False):
    def cm(predicted, labels, n_classes, normalize=False):
        k = size(predicted, labels, n_classes) if size else n_classes
        c = np.zeros((k, k))
        for t, p in zip(labels, predicted):
            c[(p, t) if transpose else (t, p)] += 1
        if not normalize:
            return c
        if naive:
            with np.errstate(invalid="ignore", divide="ignore"):
                return c / c.sum(axis=1, keepdims=True)
        if axis is None:
            return c / c.sum()
        return c / np.maximum(c.sum(axis=axis, keepdims=True), 1)
    return cm


@pytest.mark.parametrize("fn, expect", [
    (_confusion(transpose=True), "rows and columns are swapped"),
    (_confusion(axis=0), "normalised by the wrong axis"),
    (_confusion(axis=None), "normalised by the total count"),
    (_confusion(size=lambda p, t, k: k + 1), "one row and one column too large"),
    (_confusion(size=lambda p, t, k: int(max(p.max(), t.max())) + 1), "the size comes from the data"),
    (_confusion(naive=True), "0/0 = nan"),
])
def test_confusion_matrix_mistakes(fn, expect):
    fails_with("confusion_matrix", fn, expect=expect)


def test_the_size_mistakes_are_named_however_the_rows_are_divided():
    fails_with("confusion_matrix", _confusion(size=lambda p, t, k: k + 1, naive=True),
               expect="one row and one column too large")


def test_the_diagnosis_comes_in_the_first_cases_reported():
    """The summary lists three failing cases and their hints: each mistake must show there."""
    for name, fn in [("accuracy", lambda s, y: np.mean(np.argmax(s, axis=0) == y)),
                     ("accuracy", lambda s, y: np.mean(np.argmax(s, axis=1) == y))]:
        res = check(name, fn, verbose=False)
        assert "Likely mistake" in res.report, res.report


def test_own_wrong_implementations_beyond_the_catalogue_all_fail():
    """Wrong answers nobody catalogued: each must fail (named or not)."""
    wrong = [
        ("train_val_split", lambda n, f, key: (jnp.arange(n), jax.random.permutation(key, n)[:round(f * n)])),
        ("train_val_split", lambda n, f, key: tuple(np.split(np.asarray(jax.random.permutation(key, n)),
                                                              [int(np.ceil((1 - f) * n))]))),
        ("accuracy", lambda s, y: np.mean(np.argmin(s, axis=-1) == (np.argmax(y, -1) if np.ndim(y) == 2 else y))),
        ("accuracy", lambda s, y: np.mean(s.argmax(-1)[:, None] == np.eye(s.shape[1])[y])
                                  if np.ndim(y) == 1 else accuracy(s, y)),          # broadcast (N, K)
        ("confusion_matrix", lambda p, t, k, normalize=False: _confusion()(t, t, k, normalize)),
        ("confusion_matrix", lambda p, t, k, normalize=False: _confusion()(p, t, k, False)),  # no normalising
    ]
    for name, fn in wrong:
        assert not check(name, fn, verbose=False).passed, name


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 7])
@pytest.mark.parametrize("fn, wrongly", [
    (lambda s, y: 1 - accuracy(s, y), "argmax over the wrong axis"),
    (lambda s, y: np.mean(np.argmin(s, axis=-1) == (np.argmax(y, -1) if np.ndim(y) == 2 else y)),
     "argmax over the wrong axis"),
])
def test_other_slips_are_not_named_as_the_wrong_axis(fn, wrongly, seed):
    res = check("accuracy", fn, seed=seed, verbose=False)
    assert not res.passed and wrongly not in res.report, res.report
