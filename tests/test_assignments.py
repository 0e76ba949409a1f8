"""The gradient_descent assignment end to end: its notebook agrees with its spec, the real
grader (sandboxed) gives the solution full marks, the student version zero, and a submission
with two classic mistakes loses exactly the tasks that use them, with the diagnosis in its
feedback."""

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
NAME = "gradient_descent"
SOLUTION = REPO / "solutions" / NAME / f"{NAME}.ipynb"
STUDENT = REPO / "assignments" / NAME / f"{NAME}.ipynb"


def _cells(path):
    return nbformat.read(str(path), as_version=4).cells


def test_spec_points_match_the_notebook():
    spec = specs.assignment(NAME)
    meta = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]
            for c in _cells(SOLUTION) if "nbgrader" in c.metadata}
    for q in spec.QUESTIONS:
        assert q.name in meta and meta[q.name]["solution"], q.name
        assert meta[q.test_cell]["points"] == q.points, q.name
    for gid, points in spec.MANUAL.items():
        assert meta[gid]["points"] == points and meta[gid]["solution"]
    auto = sum(q.points for q in spec.QUESTIONS)
    manual = sum(spec.MANUAL.values())
    text = "\n".join(c.source for c in _cells(STUDENT) if c.cell_type == "markdown")
    assert f"{auto:g} points are graded automatically" in text
    assert f"{auto + manual:g} in all" in text


def test_the_student_version_keeps_the_rubric_out_and_says_how_to_hand_in():
    text = "\n".join(c.source for c in _cells(STUDENT) if c.cell_type == "markdown")
    assert "Rubric" not in text and "model answer" not in text.lower()
    assert "Restart Kernel and Run All Cells" in text and f"`{NAME}.ipynb`" in text
    assert "Rubric" in "\n".join(c.source for c in _cells(SOLUTION))
    code = "\n".join(c.source for c in _cells(STUDENT) if c.cell_type == "code")
    assert "BEGIN SOLUTION" not in code and "HIDDEN TESTS" not in code
    assert code.count("raise NotImplementedError") == 7      # 7 functions to write


def test_every_check_in_the_stored_solution_passes():
    outs = ["".join(o.get("text", "") for o in c.get("outputs", []))
            for c in _cells(SOLUTION) if c.cell_type == "code"]
    checks = [line for out in outs for line in out.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(checks) == len(specs.assignment(NAME).QUESTIONS)
    assert all(line.startswith("PASS") for line in checks), checks


def _mutate(path: Path, gid: str, old: str, new: str) -> None:
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == gid:
            src = "".join(cell["source"])
            assert old in src, (gid, old)
            cell["source"] = src.replace(old, new)
    path.write_text(json.dumps(nb))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is needed to grade (apt-get install bubblewrap)")
    root = tmp_path_factory.mktemp("gd")
    subs = root / "subs"
    subs.mkdir()
    shutil.copy(SOLUTION, subs / "solution.ipynb")
    shutil.copy(STUDENT, subs / "student.ipynb")
    shutil.copy(SOLUTION, subs / "two_mistakes.ipynb")
    _mutate(subs / "two_mistakes.ipynb", "gradient_descent",
            "w - learning_rate * dw, b - learning_rate * db",
            "w + learning_rate * dw, b + learning_rate * db")
    _mutate(subs / "two_mistakes.ipynb", "minibatch_sgd",
            "jax.random.permutation(epoch_key, n)", "jax.random.permutation(key, n)")
    out = root / "out"
    done = subprocess.run([sys.executable, "-m", "nnlib.grading", NAME, str(subs), "--course",
                           str(REPO), "--out", str(out), "--jobs", "2"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return results.load_results(out)


def test_the_solution_scores_full_marks(graded):
    res = graded["solution"]
    assert res["score"] == 17 and res["extra_data"]["status"] == "ok", res["output"]
    assert all(t["score"] == t["max_score"] for t in res["tests"])


def test_the_student_version_scores_zero_without_crashing(graded):
    res = graded["student"]
    assert res["score"] == 0 and res["extra_data"]["status"] == "ok"
    assert all("not implemented yet" in t["output"] for t in res["tests"])


def test_two_mistakes_cost_exactly_their_tasks_and_are_named(graded):
    res = graded["two_mistakes"]
    by_name = {t["name"].split(" ")[0].split(":")[0]: t for t in res["tests"]}
    lost = {name for name, t in by_name.items() if t["score"] < t["max_score"]}
    # the sweep runs the student's own gradient_descent, so the sign error costs it too
    assert lost == {"gradient_descent", "minibatch_sgd", "learning_rate_sweep"}, lost
    assert res["score"] == 17 - 3 - 4 - 2
    assert "sign error in the update" in by_name["gradient_descent"]["output"]
    assert "same order in every epoch" in by_name["minibatch_sgd"]["output"]
