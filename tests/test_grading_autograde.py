"""The autograder end to end: full marks, zero, the adversarial suite and hostile files.

One batch (``nnlib-grade ... --jobs 2``, the instructor's command) grades the solution, the
generated student version, every attack of ``tests/grading/attacks.py`` and a folder of
hostile entries (symlinks, a FIFO, names that collide, deep JSON, lone surrogates...). The
batch runs once per kind of instructor (``harness.MODES``): as root, and as an unprivileged
user; when the tests run as root, as in CI, both run, and every test below runs for each.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import sys
import sysconfig
import threading
import time
from pathlib import Path

import nbformat
import pytest

from nnlib.grading import cgroups, results, submissions

sys.path.insert(0, str(Path(__file__).parent))
from grading import harness  # noqa: E402
from grading.attacks import FLAGGED, FULL, MARKER, SHM_KEY, Targets, build_all  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "backprop" / "backprop.ipynb"
STUDENT = REPO / "assignments" / "backprop" / "backprop.ipynb"
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


def _serve_solution_code() -> tuple[int, socket.socket]:
    """A TCP server on the host's 127.0.0.1 that hands out the solution's answer cells."""
    sol = nbformat.read(str(SOLUTION), as_version=4)
    code = "\n".join(c.source for c in sol.cells if c.cell_type == "code"
                     and c.metadata.get("nbgrader", {}).get("solution")).encode()
    srv = socket.create_server(("127.0.0.1", 0))

    def loop():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.sendall(code)

    threading.Thread(target=loop, daemon=True).start()
    return srv.getsockname()[1], srv


def _hostile_entries(subs: Path, aside: Path) -> dict[str, tuple[float, str]]:
    """Writes the hostile folder entries; returns ``original name -> (score, status)``."""
    sol_bytes = SOLUTION.read_bytes()
    (subs / "grades.csv.ipynb").write_bytes(sol_bytes)
    (subs / "josé.ipynb").write_bytes(sol_bytes)
    (subs / "josè.ipynb").write_bytes(sol_bytes)
    (subs / "alice.ipynb").write_bytes(sol_bytes)
    (subs / "alice").mkdir()
    (subs / "alice" / "backprop.ipynb").write_bytes(STUDENT.read_bytes())
    os.mkfifo(subs / "fifo.ipynb")
    (subs / "..ipynb").write_bytes(sol_bytes)
    (subs / "link_to_solution.ipynb").symlink_to(SOLUTION)
    (aside / "folder").mkdir(parents=True)
    (aside / "folder" / "backprop.ipynb").write_bytes(sol_bytes)
    (subs / "linked_folder").symlink_to(aside / "folder")
    (subs / "deep.ipynb").write_text('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}")
    nb = json.loads(sol_bytes)
    for c in nb["cells"]:
        gid = c["metadata"].get("nbgrader", {}).get("grade_id")
        if gid == "why_float64":
            c["source"] = "Lone surrogates: \ud800 and \udfff."
        elif gid == "dense_forward":
            c["source"] = "# a comment with \udc80\n" + "".join(c["source"])
    (subs / "surrogate.ipynb").write_text(json.dumps(nb))  # ASCII: the surrogates escaped
    (subs / "not_utf8.ipynb").write_bytes(b"\xff\xfe{\x00")
    (subs / "huge.ipynb").write_bytes(b" " * (21 << 20))
    (subs / "empty_folder").mkdir()
    (subs / "unreadable.ipynb").write_bytes(sol_bytes)
    (subs / "unreadable.ipynb").chmod(0)
    (subs / "ROSTER.md").write_text("not a submission\n")
    return {
        "grades.csv.ipynb": (FULL, "ok"), "josé.ipynb": (FULL, "ok"), "josè.ipynb": (FULL, "ok"),
        "alice.ipynb": (FULL, "ok"), "alice": (0, "ok"), "..ipynb": (FULL, "ok"),
        "fifo.ipynb": (0, "refused: the submission is not a regular file"),
        "link_to_solution.ipynb": (0, "refused: the submission is a symbolic link"),
        "linked_folder": (0, "refused"),
        "deep.ipynb": (0, "invalid notebook: the JSON is nested more than"),
        "surrogate.ipynb": (FULL, "ok"), "not_utf8.ipynb": (0, "invalid notebook"),
        "huge.ipynb": (0, "more than 20 MiB"), "empty_folder": (0, "holds no .ipynb"),
    }


@pytest.fixture(scope="module", params=harness.MODES)
def batch(request, tmp_path_factory):
    mode = request.param
    root = tmp_path_factory.mktemp(f"grading-{mode}")
    subs, out, aside = root / "subs", root / "out", root / "aside"
    out.mkdir()
    port, server = _serve_solution_code()
    held = socket.create_server(("127.0.0.1", 0))
    site = Path(sysconfig.get_paths()["purelib"])
    targets = Targets(solution_port=port, held_port=held.getsockname()[1],
                      canary=out / "canary", site_packages=site)
    expected = build_all(subs, SOLUTION, STUDENT, repo=REPO, out_dir=out, targets=targets)
    shutil.copy(SOLUTION, subs / "solution.ipynb")
    shutil.copy(STUDENT, subs / "student.ipynb")
    (subs / "nested").mkdir()
    shutil.copy(SOLUTION, subs / "nested" / "backprop.ipynb")
    files = _hostile_entries(subs, aside)
    cmd = [sys.executable, "-m", "nnlib.grading", "backprop", str(subs),
           "--course", str(REPO), "--out", str(out),
           "--jobs", "2", "--cell-timeout", "10", "--timeout", "150", "--memory", "3072"]
    t0 = time.monotonic()
    try:
        done = harness.run(cmd, mode, home=root / "home", readable=[subs], writable=[out],
                           timeout=1500)
    finally:
        server.close()
    seconds = time.monotonic() - t0
    held.close()
    assert done.returncode == 0, done.stderr[-3000:]
    found, skipped = submissions.find(subs, "backprop")
    ids = {s.original: s.student for s in found}
    return {"mode": mode, "subs": subs, "out": out, "csv": out / "grades.csv",
            "expected": expected, "files": files, "ids": ids, "skipped": skipped,
            "log": done.stdout, "seconds": seconds, "targets": targets,
            "results": results.load_results(out)}


def test_solution_scores_full_marks(batch):
    for student in ("solution", "nested"):
        res = batch["results"][student]
        assert res["score"] == FULL, res["output"]
        assert res["extra_data"]["status"] == "ok"
        assert res["extra_data"]["flags"] == [] and res["extra_data"]["sandbox"] == "bubblewrap"
        assert all(t["score"] == t["max_score"] for t in res["tests"])


def test_student_version_scores_zero_with_friendly_feedback(batch):
    res = batch["results"]["student"]
    assert res["score"] == 0 and res["extra_data"]["status"] == "ok"
    assert all("not implemented yet" in t["output"] for t in res["tests"])


def test_the_suite_covers_the_listed_attacks(batch):
    names = set(batch["expected"])
    assert len(names) >= 40
    assert {"patch_allclose", "redefine_checker", "print_fake_score", "fake_results_json",
            "write_output_folder", "read_solution_file", "os_exit_last_cell", "sys_exit",
            "kill_kernel", "infinite_loop", "memory_bomb", "megabytes_of_output",
            "delete_test_cells", "edit_locked_cells_and_points", "hardcode_visible_answers",
            "malformed_json", "wrong_nbformat", "missing_function", "renamed_function",
            "empty_file", "symlink_trap_then_die", "network_fetch_solution", "hold_ports",
            "pid_hopper", "stop_everything", "cpu_hog", "fill_the_disk", "leave_traces",
            "huge_frame_claim", "bomb_frames", "pickled_frames", "string_outputs",
            "huge_error_text", "vjp_backwards", "hidden_vjp", "grader_reference"} <= names


def test_every_attack_gets_its_stated_score(batch):
    wrong = []
    for name, (score, status) in batch["expected"].items():
        res = batch["results"][name]
        st = res["extra_data"]["status"]
        if res["score"] != score or status not in st:
            wrong.append(f"{name}: score {res['score']} (want {score}), status {st!r} "
                         f"(want {status!r}); notes {res['extra_data']['notes']}")
    assert not wrong, "\n".join(wrong)


def test_every_entry_of_the_folder_gets_exactly_one_row(batch):
    ids, res = batch["ids"], batch["results"]
    assert batch["skipped"] == ["ROSTER.md"]
    assert len(set(ids.values())) == len(ids), "two entries share a student id"
    assert set(ids.values()) == set(res), "an entry has no results, or a result no entry"
    with open(batch["csv"]) as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["student"] for r in rows) == sorted(ids.values())
    assert (batch["out"] / "grades.csv").is_file()  # not clobbered by grades.csv.ipynb
    wrong = []
    for original, (score, status) in batch["files"].items():
        r = res[ids[original]]
        st = r["extra_data"]["status"]
        if r["score"] != score or status not in st:
            wrong.append(f"{original}: score {r['score']} (want {score}), status {st!r}")
    assert not wrong, "\n".join(wrong)
    unreadable = res[ids["unreadable.ipynb"]]
    if batch["mode"] == "root":  # root reads a mode-000 file; an ordinary user cannot
        assert unreadable["score"] == FULL
    else:
        assert unreadable["extra_data"]["status"].startswith("cannot be read")


def test_names_that_collide_are_kept_apart_and_reported(batch):
    ids, res = batch["ids"], batch["results"]
    jose = {ids["josé.ipynb"], ids["josè.ipynb"]}
    assert len(jose) == 2 and all(res[s]["score"] == FULL for s in jose)
    assert ids["alice.ipynb"] != ids["alice"]
    assert res[ids["alice.ipynb"]]["score"] == FULL and res[ids["alice"]]["score"] == 0
    for original in ("alice.ipynb", "alice"):
        notes = " ".join(res[ids[original]]["extra_data"]["notes"])
        assert "another submission has the same name" in notes
    assert res[ids["grades.csv.ipynb"]]["extra_data"]["submission"] == "grades.csv.ipynb"


def test_by_hand_tasks_answered_with_autodiff_or_references_are_flagged(batch):
    wrong = []
    for name, want in FLAGGED.items():
        res = batch["results"][name]
        got = {t["name"] for t in res["tests"] if t.get("extra_data", {}).get("flags")}
        if got != want:
            wrong.append(f"{name}: flagged {sorted(got)}, want {sorted(want)}")
        for t in res["tests"]:
            if t["name"] in want and (t["score"] != 0 or "by hand" not in t["output"]):
                wrong.append(f"{name}/{t['name']}: score {t['score']}, output {t['output']!r}")
    assert not wrong, "\n".join(wrong)
    flags = {r["student"]: r["flags"] for r in csv.DictReader(open(batch["csv"]))}
    assert "dense_backward" in flags["vjp_backwards"] and "jax.vjp" in flags["vjp_backwards"]
    assert "nnlib.grading.specs" in flags["grader_reference"]
    assert flags["solution"] == flags["honest_selfcheck"] == ""


def test_notes_show_the_isolation_held(batch):
    def notes(name):
        return " ".join(batch["results"][name]["extra_data"]["notes"])
    assert "read_solution_file: solution hidden" in notes("read_solution_file")
    assert "read_other_submissions: 0 found" in notes("read_other_submissions")
    assert "network unreachable" in notes("network_fetch_solution")
    assert "the host's port is free here" in notes("hold_ports")
    wrote = int(notes("fill_the_disk").split("wrote ")[1].split(" MiB")[0])
    assert 0 < wrote <= 4 * 128, wrote  # four tmpfs folders of 128 MiB, nothing on the disk


def test_hostile_writes_did_not_reach_the_grader_or_the_host(batch):
    out, t = batch["out"], batch["targets"]
    assert "1000" not in (out / "students" / "fake_results_json" / "results.json").read_text()
    assert not t.canary.exists() and not os.path.lexists(t.canary)
    assert not (t.site_packages / "nnlib_pwned.pth").exists()
    assert not Path("/tmp/nnlib-pwned").exists()
    for d in ("/run/lock", "/tmp", "/var/tmp", "/dev/shm"):
        assert not Path(d, f"nnlib-trace-{MARKER}").exists(), d
    with open("/proc/sysvipc/shm") as f:
        keys = [line.split()[0] for line in f.readlines()[1:]]
    assert str(SHM_KEY) not in keys


def test_results_stay_small_whatever_the_kernel_says(batch):
    for student in batch["results"]:
        p = batch["out"] / "students" / student / "results.json"
        assert p.stat().st_size < 100_000, (student, p.stat().st_size)


def test_no_process_or_cgroup_outlives_its_submission(batch):
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if MARKER.encode() in cmd:
            left.append(cmd)
    assert not left
    assert not cgroups.job_groups()


def test_a_cpu_hog_does_not_slow_its_neighbours_into_a_timeout(batch):
    # The hog's cell (up to 400 busy processes, some calling setsid) ran for a whole cell
    # timeout while the other job graded its own submissions: every solution-based
    # submission still kept its marks (test_every_attack_gets_its_stated_score), and none
    # took longer than it would without the hog by more than the hog's 10 s.
    times = [r["execution_time"] for s, r in batch["results"].items()
             if r["score"] == FULL and r["extra_data"]["status"] == "ok"]
    assert times and max(times) < 30, sorted(times)[-5:]


def test_results_json_is_gradescope_format(batch):
    res = json.loads((batch["out"] / "students" / "solution" / "results.json").read_text())
    assert isinstance(res["score"], float) and isinstance(res["tests"], list)
    for t in res["tests"]:
        assert set(t) >= {"name", "score", "max_score", "output"}
    assert res["score"] == sum(t["score"] for t in res["tests"])
    feedback = (batch["out"] / "students" / "solution" / "feedback.md").read_text()
    assert feedback.startswith("# Feedback")
    assert "why_float64" in res["extra_data"]["manual_answers"]


def test_csv_has_one_row_per_student_and_a_column_per_question(batch):
    with open(batch["csv"]) as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert rows["solution"]["total"] == str(FULL) and rows["solution"]["status"] == "ok"
    assert rows["solution"]["dense_backward"] == "3" and rows["student"]["total"] == "0"
    assert rows["empty_file"]["status"].startswith("invalid notebook")


def test_class_report_counts_mistakes_and_scores(batch):
    with open(batch["out"] / "report.csv") as f:
        rows = list(csv.DictReader(f))
    count = {(r["question"], r["item"]): int(r["count"]) for r in rows}
    n = len(batch["results"])
    assert sum(v for (q, item), v in count.items() if q == "total") == n
    assert count[("dense_backward", "flagged")] >= 3  # vjp, hidden vjp, grader reference
    assert count[("dense_forward", "not implemented")] >= 1
    page = (batch["out"] / "report.html").read_text()
    assert "data:image/png;base64," in page and "dense_backward" in page


def test_resume_skips_graded_students_and_redoes_grader_errors(batch, tmp_path):
    out = tmp_path / "out"
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(batch["subs"] / "student.ipynb", one / "student.ipynb")
    shutil.copy(batch["subs"] / "student.ipynb", one / "other.ipynb")
    shutil.copytree(batch["out"] / "students" / "student", out / "students" / "student")
    shutil.copytree(batch["out"] / "students" / "student", out / "students" / "other")
    p = out / "students" / "other" / "results.json"
    res = json.loads(p.read_text())
    res["extra_data"].update(retry=True, status="grader error: injected")
    p.write_text(json.dumps(res))
    cmd = [sys.executable, "-m", "nnlib.grading", "backprop", str(one), "--out", str(out),
           "--course", str(REPO),
           "--cell-timeout", "10", "--timeout", "60"]
    done = harness.run(cmd, batch["mode"], home=tmp_path / "home", readable=[one],
                       writable=[out], timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "grading 1 submission" in done.stdout and "other: ok" in done.stdout
    again = results.load_results(out)
    assert again["other"]["extra_data"]["retry"] is False
