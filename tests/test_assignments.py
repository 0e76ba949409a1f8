"""The assignments written after backprop, end to end (backprop has its own, larger suite).

For each: its notebook agrees with its spec, the student version keeps the rubric out and says
how to hand it in, the stored solution's checks all pass, and the real grader (sandboxed)
gives the solution full marks, the student version zero, and a submission with two classic
mistakes loses exactly the tasks that use them, with the diagnosis in its feedback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nnlib.grading import results, specs

REPO = Path(__file__).resolve().parents[1]

# name -> (functions to write, [(answer cell, old text, new text)], tasks lost, {task: diagnosis})
CASES = {
    "gradient_descent": (
        7,
        [("gradient_descent", "w - learning_rate * dw, b - learning_rate * db",
          "w + learning_rate * dw, b + learning_rate * db"),
         ("minibatch_sgd", "jax.random.permutation(epoch_key, n)", "jax.random.permutation(key, n)")],
        # the sweep runs the student's own gradient_descent, so the sign error costs it too
        {"gradient_descent", "minibatch_sgd", "learning_rate_sweep"},
        {"gradient_descent": "sign error in the update",
         "minibatch_sgd": "same order in every epoch"}),
    "losses": (
        5,
        [("bce_loss_and_grad", "return loss, (p - t) / z.size", "return loss, p - t"),
         ("softmax_ce_loss_and_grad", "(np.exp(log_p) - onehot) / n", "np.exp(log_p) / n")],
        # train_logistic runs the student's own bce_loss_and_grad
        {"bce_loss_and_grad", "softmax_ce_loss_and_grad", "train_logistic"},
        {"bce_loss_and_grad": "missing the 1/N", "softmax_ce_loss_and_grad": "subtract the one-hot"}),
    "optimizers": (
        5,
        [("adam", "t = t + 1", "t = t + 0"),
         ("rmsprop", "decay * s + (1 - decay) * g**2", "(1 - decay) * s + decay * g**2")],
        # train_digits trains with the student's own adam
        {"adam", "rmsprop", "train_digits"},
        {"adam": "divides by 1 - b**0 = 0", "rmsprop": "swapped"}),
    "regularization": (
        6,
        [("dropout_layer", "return jnp.where(keep, dy * scale, 0.0)", "return dy"),
         ("early_stopping_fit", "return best_params, losses", "return params, losses")],
        # train_regularized still learns with the last instead of the best weights
        {"dropout_layer", "early_stopping_fit"},
        {"dropout_layer": "mask is not applied in the backward pass",
         "early_stopping_fit": "not those of the best"}),
    "cnn": (
        7,
        [("conv2d_naive", 'np.einsum("nack,acko->no", patch, w)',
          'np.einsum("nack,acko->no", patch, w[::-1, ::-1])'),
         ("maxpool2d", "return np.where(is_max, dy[:, :, None, :, None, :], 0.0).reshape(x.shape)",
          "return np.broadcast_to(dy[:, :, None, :, None, :], windows.shape).reshape(x.shape)")],
        # train_cnn uses conv2d_im2col and the forward pooling, both still right
        {"conv2d_naive", "maxpool2d"},
        {"conv2d_naive": "kernel is flipped", "maxpool2d": "every position of the window"}),
}
NAMES = sorted(CASES)


def _paths(name):
    return (REPO / "solutions" / name / f"{name}.ipynb",
            REPO / "assignments" / name / f"{name}.ipynb")


def _cells(path):
    return nbformat.read(str(path), as_version=4).cells


@pytest.mark.parametrize("name", NAMES)
def test_spec_points_match_the_notebook(name):
    solution, student = _paths(name)
    spec = specs.assignment(name)
    meta = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]
            for c in _cells(solution) if "nbgrader" in c.metadata}
    for q in spec.QUESTIONS:
        assert q.name in meta and meta[q.name]["solution"], q.name
        assert meta[q.test_cell]["points"] == q.points, q.name
    for gid, points in spec.MANUAL.items():
        assert meta[gid]["points"] == points and meta[gid]["solution"]
    auto = sum(q.points for q in spec.QUESTIONS)
    text = "\n".join(c.source for c in _cells(student) if c.cell_type == "markdown")
    assert f"{auto:g} points are graded automatically" in text
    assert f"{auto + sum(spec.MANUAL.values()):g} in all" in text


@pytest.mark.parametrize("name", NAMES)
def test_the_student_version_keeps_the_rubric_out_and_says_how_to_hand_in(name):
    solution, student = _paths(name)
    text = "\n".join(c.source for c in _cells(student) if c.cell_type == "markdown")
    assert "Rubric" not in text and "model answer" not in text.lower()
    assert "Restart Kernel and Run All Cells" in text and f"`{name}.ipynb`" in text
    assert "Rubric" in "\n".join(c.source for c in _cells(solution))
    code = "\n".join(c.source for c in _cells(student) if c.cell_type == "code")
    assert "BEGIN SOLUTION" not in code and "HIDDEN TESTS" not in code
    assert code.count("raise NotImplementedError") == CASES[name][0]


@pytest.mark.parametrize("name", NAMES)
def test_every_check_in_the_stored_solution_passes(name):
    outs = ["".join(o.get("text", "") for o in c.get("outputs", []))
            for c in _cells(_paths(name)[0]) if c.cell_type == "code"]
    checks = [line for out in outs for line in out.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(checks) == len(specs.assignment(name).QUESTIONS)
    assert all(line.startswith("PASS") for line in checks), checks


def _mutate(path: Path, gid: str, old: str, new: str) -> None:
    nb = json.loads(path.read_text())
    hits = 0
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == gid:
            src = "".join(cell["source"])
            hits += old in src
            cell["source"] = src.replace(old, new)
    assert hits == 1, (gid, old)
    path.write_text(json.dumps(nb))


@pytest.fixture(scope="module", params=NAMES)
def graded(request, tmp_path_factory):
    name = request.param
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is needed to grade (apt-get install bubblewrap)")
    solution, student = _paths(name)
    root = tmp_path_factory.mktemp(name)
    subs = root / "subs"
    subs.mkdir()
    shutil.copy(solution, subs / "solution.ipynb")
    shutil.copy(student, subs / "student.ipynb")
    shutil.copy(solution, subs / "two_mistakes.ipynb")
    for gid, old, new in CASES[name][1]:
        _mutate(subs / "two_mistakes.ipynb", gid, old, new)
    out = root / "out"
    done = subprocess.run([sys.executable, "-m", "nnlib.grading", name, str(subs), "--course",
                           str(REPO), "--out", str(out), "--jobs", "2"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return name, results.load_results(out)


def test_the_solution_scores_full_marks(graded):
    name, res = graded
    full = sum(q.points for q in specs.assignment(name).QUESTIONS)
    sol = res["solution"]
    assert sol["score"] == full and sol["extra_data"]["status"] == "ok", sol["output"]
    assert all(t["score"] == t["max_score"] for t in sol["tests"])


def test_the_student_version_scores_zero_without_crashing(graded):
    _, res = graded
    stu = res["student"]
    assert stu["score"] == 0 and stu["extra_data"]["status"] == "ok"
    assert all("not implemented yet" in t["output"] for t in stu["tests"])


def test_two_mistakes_cost_exactly_their_tasks_and_are_named(graded):
    name, res = graded
    _, _, lost_expected, messages = CASES[name]
    sub = res["two_mistakes"]
    by_name = {t["name"].split(" ")[0].split(":")[0]: t for t in sub["tests"]}
    lost = {q for q, t in by_name.items() if t["score"] < t["max_score"]}
    assert lost == lost_expected, lost
    points = {q.name: q.points for q in specs.assignment(name).QUESTIONS}
    assert sub["score"] == sum(points.values()) - sum(points[q] for q in lost_expected)
    for q, text in messages.items():
        assert text in by_name[q]["output"], by_name[q]["output"]
