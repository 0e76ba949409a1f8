"""The course under nbgrader itself (nbgrader is pinned in requirements.txt, so this runs in
CI): ``generate_assignment`` and ``autograde`` with the repository's ``nbgrader_config.py``
give the solution full marks (24 automatic of 26; 2 are graded by hand) and the student
version zero."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbgrader", reason="nbgrader is not installed (it is in requirements.txt)")
REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_nbgrader_generate_assignment_and_autograde(tmp_path):
    shutil.copytree(REPO / "solutions", tmp_path / "solutions")
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    # nbgrader shells out to alembic, so its environment's bin must be on PATH
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PYTHONPATH": str(REPO)}

    def nbgrader(*args):
        out = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]

    nbgrader("generate_assignment", "backprop", "--force")
    released = tmp_path / "assignments" / "backprop" / "backprop.ipynb"
    assert "BEGIN SOLUTION" not in released.read_text()
    for student, src in (("alice", REPO / "solutions"), ("bob", tmp_path / "assignments")):
        d = tmp_path / "submitted" / student / "backprop"
        d.mkdir(parents=True)
        shutil.copy(src / "backprop" / "backprop.ipynb", d)
        nbgrader("db", "student", "add", student)
    nbgrader("autograde", "backprop", "--force")
    nbgrader("export")
    with open(tmp_path / "grades.csv") as f:
        scores = {r["student_id"]: float(r["raw_score"]) for r in csv.DictReader(f)}
    assert scores == {"alice": 27.0, "bob": 0.0}
