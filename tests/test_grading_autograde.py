"""The autograder end to end: full marks, zero, and the adversarial suite, in one batch.

One batch (``--jobs 2``) grades the solution, the generated student version and every attack
of ``tests/grading/attacks.py``; each test then reads the grades it is about. Needs a
working Jupyter kernel; run as root it also exercises the per-job uid and mount isolation.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from nnlib.grading import autograde, results, sandbox

sys.path.insert(0, str(Path(__file__).parent))
from grading.attacks import FULL, MARKER, build_all  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "backprop" / "backprop.ipynb"
STUDENT = REPO / "assignments" / "backprop" / "backprop.ipynb"
LIMITS = sandbox.Limits(cell_timeout=10, total_timeout=150, memory_bytes=3 << 30)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    subs, out = root / "subs", root / "out"
    expected = build_all(subs, SOLUTION, STUDENT, repo=REPO, out_dir=out)
    shutil.copy(SOLUTION, subs / "solution.ipynb")
    shutil.copy(STUDENT, subs / "student.ipynb")
    (subs / "nested").mkdir()
    shutil.copy(SOLUTION, subs / "nested" / "backprop.ipynb")
    log: list[str] = []
    csv_path = autograde.grade_all("backprop", subs, out, jobs=2, limits=LIMITS, log=log.append)
    return {"subs": subs, "out": out, "csv": csv_path, "expected": expected, "log": log,
            "results": results.load_results(out)}


def test_solution_scores_full_marks(batch):
    for student in ("solution", "nested"):
        res = batch["results"][student]
        assert res["score"] == FULL, res["output"]
        assert res["extra_data"]["status"] == "ok"
        assert all(t["score"] == t["max_score"] for t in res["tests"])


def test_student_version_scores_zero_with_friendly_feedback(batch):
    res = batch["results"]["student"]
    assert res["score"] == 0 and res["extra_data"]["status"] == "ok"
    assert all("not implemented yet" in t["output"] for t in res["tests"])


def test_the_suite_covers_the_listed_attacks(batch):
    names = set(batch["expected"])
    assert len(names) >= 20
    assert {"patch_allclose", "redefine_checker", "print_fake_score", "fake_results_json",
            "write_output_folder", "read_solution_file", "os_exit_last_cell", "sys_exit",
            "kill_kernel", "infinite_loop", "memory_bomb", "megabytes_of_output",
            "delete_test_cells", "edit_locked_cells_and_points", "hardcode_visible_answers",
            "malformed_json", "wrong_nbformat", "missing_function", "renamed_function",
            "empty_file"} <= names


def test_every_attack_gets_its_stated_score(batch):
    wrong = []
    for name, (score, status) in batch["expected"].items():
        res = batch["results"][name]
        st = res["extra_data"]["status"]
        if res["score"] != score or status not in st:
            wrong.append(f"{name}: score {res['score']} (want {score}), status {st!r} "
                         f"(want {status!r})")
    assert not wrong, "\n".join(wrong)


def test_hostile_writes_did_not_reach_the_grader(batch):
    out = batch["out"]
    assert not (out / "fake_results_json" / "results.json").read_text().count("1000")
    with open(batch["csv"]) as f:
        rows = list(csv.DictReader(f))
    assert {r["student"] for r in rows} == set(batch["results"])
    assert not Path("/var/tmp/results.json").exists()


def test_no_process_outlives_its_submission(batch):
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if MARKER.encode() in cmd:
            left.append(cmd)
    assert not left
    if os.geteuid() == 0:
        uids = range(sandbox.UID_BASE, sandbox.UID_BASE + 4)
        assert not [p for p in sandbox._pids() if sandbox._uid_of(p) in uids]


def test_results_json_is_gradescope_format(batch):
    res = json.loads((batch["out"] / "solution" / "results.json").read_text())
    assert isinstance(res["score"], float) and isinstance(res["tests"], list)
    for t in res["tests"]:
        assert set(t) >= {"name", "score", "max_score", "output"}
    assert res["score"] == sum(t["score"] for t in res["tests"])
    assert (batch["out"] / "solution" / "feedback.md").read_text().startswith("# Feedback")
    assert "why_float64" in res["extra_data"]["manual_answers"]


def test_csv_has_one_row_per_student_and_a_column_per_question(batch):
    with open(batch["csv"]) as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert rows["solution"]["total"] == str(FULL) and rows["solution"]["status"] == "ok"
    assert rows["solution"]["dense_backward"] == "3" and rows["student"]["total"] == "0"
    assert rows["empty_file"]["status"].startswith("invalid notebook")


def test_resume_skips_graded_students_and_force_regrades(batch, tmp_path):
    log: list[str] = []
    before = (batch["out"] / "solution" / "results.json").stat().st_mtime_ns
    autograde.grade_all("backprop", batch["subs"], batch["out"], jobs=2, limits=LIMITS,
                        log=log.append)
    assert log[0].startswith("grading 0 submission")
    assert (batch["out"] / "solution" / "results.json").stat().st_mtime_ns == before
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(batch["subs"] / "student.ipynb", one / "student.ipynb")
    shutil.copytree(batch["out"] / "student", tmp_path / "out" / "student")
    log.clear()
    autograde.grade_all("backprop", one, tmp_path / "out", limits=LIMITS, force=True,
                        log=log.append)
    assert log[0].startswith("grading 1 submission")
