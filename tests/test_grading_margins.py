"""A correct answer must not lose points by the luck of the autograder's draw.

The grader judges every submission on fresh random inputs. These tests run the stored
solutions through :mod:`nnlib.grading.margins` on a fixed set of draws (so the test itself is
deterministic): no draw may fail, and a training task's accuracy must stay at least 4
standard deviations above its floor (``python -m nnlib.grading.margins --draws 1000`` is the
thorough measure; its default bar is 5). The tool itself is tested on a question whose floor
sits too close to what a correct answer reaches: it must say so. Checks that compare random
draws skip the cases where a correct answer's draws coincide by chance (``core.CHANCE``), and
every lesson checker that judges random draws is sampled with the lesson's own answer.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from nnlib.grading import core, margins, specs

REPO = Path(__file__).resolve().parents[1]
DRAWS = 16


@pytest.fixture(scope="module", params=specs.ASSIGNMENTS)
def sampled(request):
    name = request.param
    done = subprocess.run([sys.executable, "-m", "nnlib.grading.margins", name, "--json",
                           "--draws", str(DRAWS), "--seed", "20261202"],
                          capture_output=True, text=True, cwd=REPO, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return name, json.loads(done.stdout.strip().splitlines()[-1])[name]


def test_the_solution_passes_every_draw(sampled):
    name, rows = sampled
    assert [r["question"] for r in rows] == [q.name for q in specs.assignment(name).QUESTIONS]
    failed = {r["question"]: r["failures"][:2] for r in rows if r["failures"]}
    assert not failed, failed


def test_training_tasks_clear_their_floor_by_a_margin(sampled):
    name, rows = sampled
    floors = {q.name: q.accuracy_floor for q in specs.assignment(name).QUESTIONS}
    for r in rows:
        if floors[r["question"]] is None:
            assert r["margin"] is None and not r["accuracies"]
            continue
        assert len(r["accuracies"]) == r["cases"] == DRAWS * (r["cases"] // DRAWS)
        assert r["margin"] >= 4.0, (r["question"], r["margin"], min(r["accuracies"]))


@pytest.mark.parametrize("name", specs.ASSIGNMENTS)
def test_the_notebook_states_the_floor_the_grader_uses(name):
    text = "\n".join(c.source for c in nbformat.read(
        str(REPO / "assignments" / name / f"{name}.ipynb"), as_version=4).cells
        if c.cell_type == "markdown")
    for q in specs.assignment(name).QUESTIONS:
        if q.accuracy_floor is not None:
            stated = {float(x) for x in re.findall(r"at\s+least\s+\**(0\.\d\d)", text)}
            assert stated == {q.accuracy_floor}, (q.name, stated)


def _noisy_question(floor: float, mean: float, sd: float) -> core.Question:
    """A training question whose 'accuracy' is mean + sd * normal noise, judged at floor."""
    return core.Question(
        name="noisy", functions=("f",), accuracy_floor=floor,
        make_cases=lambda rng: [("a draw", {"noise": np.asarray(rng.normal())})],
        run=lambda fns, i: {"accuracy": np.asarray(mean + sd * float(i["noise"])),
                            "used f": np.asarray(True)},
        judge=core.training_judge("noisy", ("f",), floor, "the test setting"))


def test_a_floor_too_close_to_a_correct_answer_is_reported():
    # mean 0.924, sd 0.013, floor 0.90: train_cnn's numbers before its floor was lowered
    close = margins.sample(_noisy_question(0.90, 0.924, 0.013), {}, draws=400, seed=1)
    assert close["margin"] == pytest.approx(24 / 13, rel=0.1)
    assert 0 < len(close["failures"]) < 20  # about 3 % of draws fail a correct answer
    assert all(f[2].startswith("accuracy 0.") for f in close["failures"])
    _, ok = margins.report_row("demo", close, min_margin=5.0)
    assert not ok
    safe = margins.sample(_noisy_question(0.85, 0.924, 0.013), {}, draws=400, seed=1)
    assert not safe["failures"] and safe["margin"] == pytest.approx(74 / 13, rel=0.1)
    assert margins.report_row("demo", safe, min_margin=5.0)[1]


def test_bad_arguments_name_the_problem(tmp_path, capsys):
    with pytest.raises(ValueError, match="draws must be at least 1"):
        margins.sample(_noisy_question(0.5, 0.9, 0.01), {}, draws=0, seed=0)
    with pytest.raises(ValueError, match="no question nope.*train_cnn"):
        margins.check_assignment("cnn", draws=1, seed=0, questions=["nope"])
    with pytest.raises(ValueError, match="assignment"):
        margins.main(["no_such_assignment"])
    with pytest.raises(SystemExit):
        margins.main(["cnn", "--course", str(tmp_path)])
    assert "no solutions/cnn/cnn.ipynb under" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        margins.main(["cnn", "--draws", "0"])
    assert "--draws must be at least 1, got 0" in capsys.readouterr().err


# ------------------------------------------- checks that compare random draws (core.CHANCE)
def _case(question, prefix):
    cases = question.make_cases(np.random.default_rng(3))
    return next(inputs for desc, inputs in cases if desc.startswith(prefix))


def _judged(question, fn, inputs):
    outputs, error = core.run_case(question, {question.functions[0]: fn}, inputs)
    return core.evaluate_case(question, inputs, outputs, error)


def _sgd_shuffling_with(orders):
    """A correct mini-batch SGD whose shuffles came out as ``orders`` (one per epoch)."""
    def minibatch_sgd(grad, X, y, w, b, learning_rate, epochs, batch_size, key):
        for e in range(epochs):
            order = orders[e % len(orders)]
            for start in range(0, len(y), batch_size):
                rows = order[start:start + batch_size]
                dw, db = grad(X[rows], y[rows], w, b)
                w, b = w - learning_rate * dw, b - learning_rate * db
        return w, b
    return minibatch_sgd


def test_a_shuffle_that_repeats_by_chance_is_not_called_a_mistake():
    from nnlib.grading.specs import gradient_descent as gd
    q = gd.MINIBATCH_SGD
    # N=6 in 2 epochs: a correct shuffle repeats with chance 1/720, so the rule is not applied
    same = np.random.default_rng(0).permutation(6)
    assert _judged(q, _sgd_shuffling_with([same]), _case(q, "N=6")) == []
    assert _judged(q, _sgd_shuffling_with([np.arange(6)]), _case(q, "N=6")) == []
    # N=10 in 3 epochs: chance (1/10!)**2, so the same order every epoch is the mistake
    problems = _judged(q, _sgd_shuffling_with([np.random.default_rng(0).permutation(10)]),
                       _case(q, "N=10"))
    assert any("same order in every epoch" in p for p in problems), problems
    problems = _judged(q, _sgd_shuffling_with([np.arange(10)]), _case(q, "N=10"))
    assert any("never shuffled" in p for p in problems), problems


def test_two_keys_giving_one_order_by_chance_is_not_called_a_mistake():
    from nnlib.grading.specs import gradient_descent as gd
    q = gd.MINIBATCHES
    fixed = {n: np.random.default_rng(n).permutation(n) for n in (7, 10)}

    def minibatches(n, batch_size, key):  # the same order for every key
        return [fixed[n][s:s + batch_size] for s in range(0, n, batch_size)]
    assert _judged(q, minibatches, _case(q, "n=7,")) == []  # chance 1/5040
    problems = _judged(q, minibatches, _case(q, "n=10,"))  # chance 1/10!
    assert any("same order" in p for p in problems), problems


def test_a_split_that_looks_unshuffled_by_chance_is_not_called_a_mistake():
    from nnlib.grading.specs import training_loop as tl
    q = tl.TRAIN_VAL_SPLIT

    def last_part(n, val_fraction, key):  # the last round(f n) examples for validation
        n_val = round(val_fraction * n)
        return np.arange(n - n_val), np.arange(n - n_val, n)
    assert _judged(q, last_part, _case(q, "n=10,")) == []  # chance 2 / C(10, 3) = 1.7 %
    problems = _judged(q, last_part, _case(q, "n=1797,"))
    assert any("not shuffled" in p for p in problems), problems


def _lesson_answers():
    import jax

    def minibatches(n, batch_size, key):  # lesson 02's
        order = jax.random.permutation(key, n)
        return [order[start:start + batch_size] for start in range(0, n, batch_size)]

    def train_val_split(n, val_fraction, key):  # lesson 07's
        perm = jax.random.permutation(key, n)
        n_train = n - round(val_fraction * n)
        return perm[:n_train], perm[n_train:]
    def he_normal(key, fan_in, fan_out):  # lesson 05's three initializers
        return jax.random.normal(key, (fan_in, fan_out)) * (2.0 / fan_in) ** 0.5

    def glorot_normal(key, fan_in, fan_out):
        return jax.random.normal(key, (fan_in, fan_out)) * (2.0 / (fan_in + fan_out)) ** 0.5

    def glorot_uniform(key, fan_in, fan_out):
        a = (6.0 / (fan_in + fan_out)) ** 0.5
        return jax.random.uniform(key, (fan_in, fan_out), minval=-a, maxval=a)

    def dropout(x, *, rate, train, key):  # lesson 06's
        if not train:
            return x
        keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
        return jax.numpy.where(keep, x / (1.0 - rate), 0.0)
    return {"minibatches": minibatches, "train_val_split": train_val_split,
            "he_normal": he_normal, "glorot_normal": glorot_normal,
            "glorot_uniform": glorot_uniform, "dropout": dropout}


LESSON_JUDGED = ["minibatches", "train_val_split", "he_normal", "glorot_normal",
                 "glorot_uniform", "dropout"]


def test_every_judged_lesson_checker_is_sampled():
    judged = {n for n, q in specs.all_questions().items() if q.judge is not None}
    graded = {q.name for a in specs.ASSIGNMENTS for q in specs.assignment(a).QUESTIONS}
    assert judged - graded == set(LESSON_JUDGED)


@pytest.mark.parametrize("name", LESSON_JUDGED)
def test_the_lessons_answers_pass_every_draw(name):
    q = specs.all_questions()[name]
    out = margins.sample(q, _lesson_answers(), draws=200, seed=7)
    assert out["failures"] == [], out["failures"][:3]


def test_accuracy_of_reads_either_form():
    y = np.array([0, 1, 1, 0])
    scores = np.array([[2.0, 1.0], [0.0, 3.0], [5.0, 1.0], [1.0, 0.5]])  # 3 of 4 right
    assert core.accuracy_of({"_y_test": y}, {"scores": scores}) == pytest.approx(0.75)
    assert core.accuracy_of({}, {"accuracy": np.asarray(0.5)}) == 0.5
    assert core.accuracy_of({}, {"scores": scores}) is None  # no labels: nothing to measure
    assert core.accuracy_of({"_y_test": y}, None) is None


def _outputs_at(assignment, q, inputs, accuracy):
    """Outputs of a training question that are right in every way but show ``accuracy``."""
    module = specs.assignment(assignment)
    if q.name == "train":  # backprop: scores on the held-out points
        y = np.asarray(inputs["_y_test"])
        right = int(np.ceil(accuracy * len(y)))
        predicted = np.where(np.arange(len(y)) < right, y, 1 - y)
        from nnlib.grading.specs import backprop_network
        return {"scores": np.eye(2)[predicted],
                **{f"used_{n}": np.asarray(True) for n in backprop_network.OWN_GRADIENTS}}
    if q.name == "train_digits":
        return {"accuracy": np.asarray(accuracy), "losses": np.linspace(2.0, 0.5, 8),
                "updates": np.asarray(300)}
    return {"accuracy": np.asarray(accuracy),
            **{f"used {n}": np.asarray(True) for n in module.OWN}}


@pytest.mark.parametrize("name", specs.ASSIGNMENTS)
def test_the_judge_applies_the_declared_floor(name):
    # accuracy_floor and the judge's own threshold are given separately: they must agree
    for q in specs.assignment(name).QUESTIONS:
        if q.accuracy_floor is None:
            continue
        inputs = q.make_cases(np.random.default_rng(0))[0][1]
        assert q.judge(inputs, _outputs_at(name, q, inputs, q.accuracy_floor + 0.01)) == []
        below = q.judge(inputs, _outputs_at(name, q, inputs, q.accuracy_floor - 0.01))
        assert len(below) == 1 and "accuracy" in below[0], (q.name, below)
