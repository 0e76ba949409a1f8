"""Release (solution -> student version), drift, notebook validation and assembly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nnlib.grading import notebooks, specs

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "backprop" / "backprop.ipynb"
STUDENT = REPO / "assignments" / "backprop" / "backprop.ipynb"


def test_assignments_have_not_drifted_from_solutions(tmp_path):
    for src in sorted((REPO / "solutions").glob("*/*.ipynb")):
        fresh = notebooks.release_file(src, tmp_path / src.name)
        committed = REPO / "assignments" / src.parent.name / src.name
        assert committed.exists(), f"{committed} is missing: run `nnlib-grade release {src}`"
        assert fresh.read_text() == committed.read_text(), (
            f"{committed} differs from the release of {src}: run "
            f"`python -m nnlib.grading release {src.parent}`")


def test_release_stubs_solutions_and_removes_hidden_tests():
    text = STUDENT.read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "seed=101"):
        assert marker not in text
    nb = nbformat.read(str(STUDENT), as_version=4)
    answer = {notebooks.meta(c)["grade_id"]: c for c in nb.cells
              if notebooks.meta(c).get("solution")}
    assert 'raise NotImplementedError("dense_backward is not implemented yet")' in (
        answer["dense_backward"].source)
    assert answer["why_float64"].source == "YOUR ANSWER HERE"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    # nbgrader's metadata is kept, so the notebook works in an nbgrader deployment
    assert notebooks.meta(answer["dense_backward"]) == {
        "grade": False, "solution": True, "locked": False, "grade_id": "dense_backward",
        "schema_version": 3}


def test_release_keeps_indentation_and_text_outside_markers():
    src = ("def f(x):\n    \"\"\"Doc.\"\"\"\n    ### BEGIN SOLUTION\n    return x\n"
           "    ### END SOLUTION\n\nassert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 2\n"
           "### END HIDDEN TESTS")
    out = notebooks.release_source(src)
    assert out == ('def f(x):\n    """Doc."""\n    # YOUR CODE HERE\n'
                   '    raise NotImplementedError("f is not implemented yet")\n\nassert f(1) == 1')


@pytest.mark.parametrize("content,reason", [
    (b"", "empty"),
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "no list of cells"),
    (json.dumps({"nbformat": 3, "cells": []}).encode(), "nbformat 3"),
    (json.dumps({"nbformat": 4, "cells": [{"cell_type": "evil"}]}).encode(), "cell 0"),
    (json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": 3}]}).encode(),
     "invalid source"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_invalid_notebooks_are_named(tmp_path, content, reason):
    p = tmp_path / "x.ipynb"
    p.write_bytes(content)
    with pytest.raises(notebooks.InvalidNotebook, match=reason):
        notebooks.read_notebook(p)


def test_assemble_takes_only_the_answer_cells():
    release = notebooks.release(nbformat.read(str(SOLUTION), as_version=4))
    sub = nbformat.read(str(SOLUTION), as_version=4)
    sub.cells.insert(0, nbformat.v4.new_code_cell("EXTRA_CELL = 1"))
    for c in sub.cells:
        nbg = notebooks.meta(c)
        if nbg.get("grade_id") == "setup":
            c.source = "TAMPERED = 1"
        if nbg.get("grade_id") == "mlp":
            c.metadata["nbgrader"]["grade_id"] = "renamed"
    sub.cells.append(nbformat.v4.new_code_cell("DUP = 1", metadata={
        "nbgrader": {"grade_id": "relu", "solution": True}}))
    names = [q.name for q in specs.assignment("backprop").QUESTIONS]
    nb, manual, notes = notebooks.assemble(release, sub, "backprop", names)
    code = "\n".join(c.source for c in nb.cells)
    assert "EXTRA_CELL" not in code and "TAMPERED" not in code and "DUP = 1" not in code
    assert "jax_enable_x64" in code and "x @ W + b" in code
    assert 'raise NotImplementedError("mlp_forward is not implemented yet")' in code
    assert "check(" not in code  # visible checks are replaced by the probes
    assert [c.metadata.get("nnlib_probe") for c in nb.cells[-len(names):]] == names
    assert "central difference" not in manual["why_float64"] or manual["why_float64"]
    assert any("'mlp' is missing" in n for n in notes)
    assert any("'relu' appears more than once" in n for n in notes)


def test_release_command_line(tmp_path):
    env_path = str(REPO)
    out = subprocess.run([sys.executable, "-m", "nnlib.grading", "release",
                          str(SOLUTION.parent), "--out", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": env_path})
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "backprop" / "backprop.ipynb").read_text() == STUDENT.read_text()


def test_command_line_errors_are_short(tmp_path, capsys):
    from nnlib.grading import cli

    assert cli.main(["backprop", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert "submissions folder" in capsys.readouterr().err
    assert cli.main(["no_such_assignment", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err


def test_an_assignment_name_is_found_in_the_course_folder_not_beside_the_library(
        tmp_path, monkeypatch):
    from nnlib.grading import autograde

    nb = tmp_path / "solutions" / "demo" / "demo.ipynb"
    nb.parent.mkdir(parents=True)
    nb.write_text("{}")
    monkeypatch.delenv("NNLIB_COURSE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert autograde.resolve_source("demo") == nb.resolve()
    monkeypatch.chdir("/")
    assert not autograde.resolve_source("demo").exists()  # not looked up beside nnlib
    monkeypatch.setenv("NNLIB_COURSE", str(tmp_path))
    assert autograde.resolve_source("demo") == nb.resolve()
    assert autograde.resolve_source("backprop", course=REPO) == SOLUTION.resolve()
    assert autograde.resolve_source(nb.parent) == nb.resolve()


def test_the_student_version_keeps_the_rubric_out_and_says_how_to_hand_in():
    stu = nbformat.read(str(REPO / "assignments" / "backprop" / "backprop.ipynb"), as_version=4)
    text = "\n".join(c.source for c in stu.cells if c.cell_type == "markdown")
    assert "Rubric" not in text and "model answer" not in text.lower()
    assert "29 in all" in text and "Restart Kernel and Run All Cells" in text
    assert "`backprop.ipynb`" in text
    sol = nbformat.read(str(SOLUTION), as_version=4)
    assert "Rubric" in "\n".join(c.source for c in sol.cells)  # the instructors keep it
