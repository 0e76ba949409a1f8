"""The submissions folder: one safe, distinct student per entry; files read without trust."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nnlib.grading import notebooks, results, submissions


def _find(folder: Path):
    subs, skipped = submissions.find(folder, "backprop")
    return {s.original: s for s in subs}, skipped


def test_every_entry_but_hidden_folders_and_stray_files_is_a_student(tmp_path):
    for name in ("ada.ipynb", "..ipynb", ".hidden.ipynb", "grades.csv.ipynb", "ROSTER.md"):
        (tmp_path / name).write_text("{}")
    for d in ("bob", ".ipynb_checkpoints", ".git", "empty"):
        (tmp_path / d).mkdir()
    (tmp_path / "bob" / "notes.ipynb").write_text("{}")
    (tmp_path / "bob" / "backprop.ipynb").write_text("{}")
    os.mkfifo(tmp_path / "fifo.ipynb")
    os.mkfifo(tmp_path / "a_fifo")
    (tmp_path / "link.ipynb").symlink_to("/etc/passwd")
    (tmp_path / "linkdir").symlink_to(tmp_path / "bob")
    subs, skipped = _find(tmp_path)
    assert sorted(skipped) == [".git", ".ipynb_checkpoints", "ROSTER.md"]
    assert set(subs) == {"ada.ipynb", "..ipynb", ".hidden.ipynb", "grades.csv.ipynb", "bob",
                         "empty", "fifo.ipynb", "a_fifo", "link.ipynb", "linkdir"}
    assert subs["bob"].relpath == "bob/backprop.ipynb" and "notes.ipynb" in subs["bob"].notes[0]
    assert subs["empty"].problem == "the folder holds no .ipynb notebook"
    assert subs["fifo.ipynb"].problem == subs["a_fifo"].problem == \
        "refused: the submission is not a regular file"
    assert subs["link.ipynb"].problem == subs["linkdir"].problem == \
        "refused: the submission is a symbolic link"
    assert subs["ada.ipynb"].student == "ada" and subs["grades.csv.ipynb"].student == "grades.csv"
    ids = [s.student for s in subs.values()]
    assert len(set(ids)) == len(ids)
    for s in ids:  # safe as a folder name: no separator, no leading dot, not empty
        assert s and "/" not in s and not s.startswith(".") and len(s) <= 80


def test_names_that_collide_after_sanitising_are_kept_apart(tmp_path):
    for name in ("josé.ipynb", "josè.ipynb", "jos_.ipynb", "alice.ipynb"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "backprop.ipynb").write_text("{}")
    subs, _ = _find(tmp_path)
    ids = {k: s.student for k, s in subs.items()}
    assert len(set(ids.values())) == 5
    assert ids["jos_.ipynb"].startswith("jos_-") and ids["josé.ipynb"].startswith("jos_-")
    for k in ("alice.ipynb", "alice", "josé.ipynb", "josè.ipynb", "jos_.ipynb"):
        assert "another submission has the same name" in subs[k].notes[0], k
    again, _ = _find(tmp_path)  # stable from run to run: re-runs find the same rows
    assert {k: s.student for k, s in again.items()} == ids


def test_reading_refuses_what_find_did_not_see(tmp_path):
    (tmp_path / "eve.ipynb").write_text("{}")
    subs, _ = _find(tmp_path)
    eve = subs["eve.ipynb"]
    assert submissions.read(tmp_path, eve) == b"{}"
    (tmp_path / "eve.ipynb").unlink()  # swapped for a symlink after the folder was listed
    (tmp_path / "eve.ipynb").symlink_to("/etc/passwd")
    with pytest.raises(submissions.Unreadable, match="^refused: .* symbolic link"):
        submissions.read(tmp_path, eve)
    (tmp_path / "eve.ipynb").unlink()
    os.mkfifo(tmp_path / "eve.ipynb")  # a FIFO with no writer: must not block
    with pytest.raises(submissions.Unreadable, match="not a regular file"):
        submissions.read(tmp_path, eve)
    (tmp_path / "eve.ipynb").unlink()
    (tmp_path / "eve.ipynb").write_bytes(b" " * 2048)
    with pytest.raises(submissions.Unreadable, match="more than"):
        submissions.read(tmp_path, eve, max_bytes=1024)


def test_a_folder_swapped_for_a_symlink_is_refused(tmp_path):
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "backprop.ipynb").write_text("{}")
    subs, _ = _find(tmp_path)
    (tmp_path / "bob" / "backprop.ipynb").unlink()
    (tmp_path / "bob").rmdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "backprop.ipynb").write_text('{"secret": 1}')
    (tmp_path / "bob").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(submissions.Unreadable, match="refused"):
        submissions.read(tmp_path, subs["bob"])


@pytest.mark.parametrize("data,why", [
    (b"[" * 100 + b"]" * 100, "nested more than"),
    (b'{"cells": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested more than"),
    (b"\xff\xfe{}", "not valid JSON"),
])
def test_hostile_json_is_an_invalid_notebook_not_a_crash(data, why):
    with pytest.raises(notebooks.InvalidNotebook, match=why):
        notebooks.parse_notebook(data)


def test_lone_surrogates_are_cleaned_so_the_results_can_be_written(tmp_path):
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "a \ud800 b"}]}
    parsed = notebooks.parse_notebook(json.dumps(nb).encode())
    text = parsed.cells[0].source
    assert "\ud800" not in text and text.startswith("a ")
    res = results.results_json("s", [], "ok", ["note \udfff"], {"why": "x \ud800"}, {}, 0.0)
    results.write_student(tmp_path, "s", res)  # would raise UnicodeEncodeError unclean
    assert (tmp_path / "students" / "s" / "results.json").is_file()


def test_every_stored_text_is_capped():
    huge = "y" * 8_000_000
    tests = [{"name": "q", "score": 0.0, "max_score": 1.0, "status": "failed", "output": huge}]
    res = results.results_json(huge, tests, huge, [huge] * 1000, {huge: huge}, {}, 0.0,
                               flags=[huge], submission=huge)
    assert len(json.dumps(res)) < 200_000
    assert res["extra_data"]["notes"][-1] == "... and 970 more notes"


@pytest.mark.sandbox
def test_an_output_folder_inside_the_submissions_folder_is_not_a_student(tmp_path):
    from nnlib.grading import autograde

    repo = Path(__file__).resolve().parents[1]
    (tmp_path / "ada.ipynb").write_bytes(b"")  # invalid: graded without a kernel
    autograde.grade_all(repo / "solutions" / "backprop", tmp_path, tmp_path / "grades",
                        log=lambda *_: None, jax_cache=False)
    again: list[str] = []
    autograde.grade_all(repo / "solutions" / "backprop", tmp_path, tmp_path / "grades",
                        log=again.append, jax_cache=False)
    assert set(results.load_results(tmp_path / "grades")) == {"ada"}
    assert again[0].startswith("grading 0 submission")
