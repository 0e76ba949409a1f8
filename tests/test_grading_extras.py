"""The demo class, the Gradescope package, and a grader killed mid-batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from nnlib.grading import autograde, demo, gradescope, notebooks, results, sandbox

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "backprop" / "backprop.ipynb"
STUDENT = REPO / "assignments" / "backprop" / "backprop.ipynb"
LIMITS = sandbox.Limits(cell_timeout=10, total_timeout=120, memory_bytes=3 << 30)
ENV = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHONPATH": str(REPO),
       "JAX_PLATFORMS": "cpu"}


def test_demo_mutations_still_match_the_solution():
    cells = {notebooks.meta(c).get("grade_id"): c.source
             for c in nbformat.read(str(SOLUTION), as_version=4).cells}
    for label, gid, old, _new in demo.MISTAKES["backprop"] + demo.BROKEN + demo.HOSTILE:
        assert old in cells[gid], f"demo mutation {label!r} no longer applies to {gid!r}"


@pytest.mark.slow
def test_demo_class_is_plausible_and_grades(tmp_path):
    paths = demo.make_class(SOLUTION, tmp_path / "class", n=30, seed=0)
    assert len(paths) == 30 and len({p.name for p in paths}) == 30
    roster = (tmp_path / "class" / "ROSTER.md").read_text()
    assert roster.count("| correct |") >= 3 and "empty file" in roster
    picked = tmp_path / "picked"
    picked.mkdir()
    for p in (paths[0], paths[1], paths[19]):  # correct, with mistakes, an empty file
        (picked / p.name).write_bytes(p.read_bytes())
    autograde.grade_all("backprop", picked, tmp_path / "out", jobs=2, limits=LIMITS,
                        log=lambda *_: None)
    got = results.load_results(tmp_path / "out")
    assert got[paths[0].stem]["score"] == 24
    assert 0 < got[paths[1].stem]["score"] < 24
    assert "Likely mistake" in (tmp_path / "out" / paths[1].stem / "feedback.md").read_text()
    assert got[paths[19].stem]["extra_data"]["status"].startswith("invalid notebook")


@pytest.mark.slow
def test_gradescope_package_runs_like_gradescope(tmp_path):
    z = gradescope.package(SOLUTION, tmp_path / "autograder.zip")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(z) as f:
        names = f.namelist()
        f.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "requirements.txt"} <= set(names)
    assert "solutions/backprop/backprop.ipynb" in names and "lib/nnlib/grading/cli.py" in names
    (root / "submission").mkdir()
    (root / "submission" / "backprop.ipynb").write_bytes(SOLUTION.read_bytes())
    run = root / "run_autograder"
    run.write_bytes((root / "source" / "run_autograder").read_bytes())
    run.chmod(0o755)
    out = subprocess.run([str(run)], env={**ENV, "AUTOGRADER_ROOT": str(root),
                                          "NNLIB_PYTHON": sys.executable},
                         capture_output=True, text=True, timeout=200)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads((root / "results" / "results.json").read_text())
    assert res["score"] == 24 and len(res["tests"]) == 9, res["output"]


@pytest.mark.slow
def test_killing_the_grader_mid_batch_loses_nothing(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    for i in range(3):
        (subs / f"s{i}.ipynb").write_bytes(STUDENT.read_bytes())
    cmd = [sys.executable, "-m", "nnlib.grading", "backprop", str(subs), "--out", str(out),
           "--jobs", "1", "--cell-timeout", "10", "--timeout", "60"]
    proc = subprocess.Popen(cmd, env=ENV, cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(out.glob("*/results.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = list(out.glob("*/results.json"))
    assert first, "no student was graded before the kill"
    for p in first:
        assert json.loads(p.read_text())["score"] == 0  # complete, valid JSON
    again = subprocess.run(cmd, env=ENV, cwd=REPO, capture_output=True, text=True, timeout=200)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"grading {3 - len(first)} submission(s)" in again.stdout
    rows = (out / "grades.csv").read_text().strip().splitlines()
    assert len(rows) == 4 and rows[0].startswith("student,dense_forward")
