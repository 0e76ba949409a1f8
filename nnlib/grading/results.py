"""Writing grades: per-student ``results.json`` (Gradescope format), feedback and ``grades.csv``.

Layout of the output folder::

    OUT/grades.csv                     one row per submission (see write_csv)
    OUT/report.csv, OUT/report.html    the class report (nnlib.grading.report)
    OUT/students/<student>/results.json, feedback.md

Per-student folders live under ``students/`` so that no student's name (``grades.csv``, say)
can collide with the grader's own files. ``results.json`` follows Gradescope's autograder
specification: a top-level ``score``, and ``tests``, a list of ``{name, score, max_score,
status, output}``; nnlib's own fields go under ``extra_data`` (the run's status, the honesty
flags, the manual answers, ``retry`` when the grader itself failed). Every text that came from
a submission or its kernel is cut to a fixed length and cleaned of invalid Unicode before it
is stored (:func:`clip`). Every file is written atomically (a temporary file in the same
folder, then ``os.replace``), so a grader killed at any moment leaves either the old file or
the new one; ``grades.csv`` is rebuilt from the per-student files, which are the only state.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterable

STUDENTS = "students"
MAX_NOTES = 30
MAX_MANUAL = 20_000
MAX_OUTPUT = 4_000


def clip(text: Any, n: int = 300) -> str:
    """``text`` as a string of at most ``n`` characters, valid UTF-8 (lone surrogates replaced)."""
    s = text if isinstance(text, str) else str(text)
    if len(s) > n:
        s = s[: max(0, n - 1)] + "…"
    return s.encode("utf-8", "replace").decode("utf-8")


def _real_dir(path: Path) -> None:
    """Creates ``path`` (and parents); refuses a symbolic link in its place."""
    path.mkdir(parents=True, exist_ok=True)
    if stat.S_ISLNK(os.lstat(path).st_mode):
        raise OSError(f"{path} is a symbolic link; refusing to write there")


def atomic_write(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` atomically (never through a symlink at ``path``)."""
    _real_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def student_dir(out_dir: Path, student: str) -> Path:
    """The folder of one student's results."""
    return Path(out_dir) / STUDENTS / student


def results_json(student: str, tests: list[dict], status: str, notes: list[str],
                 manual: dict[str, str], manual_points: dict[str, float], seconds: float, *,
                 flags: Iterable[str] = (), submission: str = "", retry: bool = False,
                 sandbox: str = "") -> dict[str, Any]:
    """The Gradescope ``results.json`` object for one student (every text capped)."""
    notes = [clip(n) for n in notes[:MAX_NOTES]] + (
        [f"... and {len(notes) - MAX_NOTES} more notes"] if len(notes) > MAX_NOTES else [])
    status, flags = clip(status, 500), [clip(f, 300) for f in flags]
    manual = {clip(k, 100): clip(v, MAX_MANUAL) for k, v in list(manual.items())[:20]}
    for t in tests:
        t["output"] = clip(t.get("output", ""), MAX_OUTPUT)
    score = round(sum(t["score"] for t in tests), 6)
    output = f"Status: {status}."
    if flags:
        output += "\nScored 0 for calling what a by-hand task forbids: " + "; ".join(flags)
    if notes:
        output += "\n" + "\n".join(f"- {n}" for n in notes)
    if manual_points:
        output += "\nWritten answers are graded by hand: " + ", ".join(
            f"{k} ({v:g} points)" for k, v in manual_points.items())
    return {
        "score": score,
        "execution_time": round(seconds, 2),
        "output": output,
        "tests": tests,
        "extra_data": {"student": clip(student, 100), "submission": clip(submission, 200),
                       "status": status, "flags": flags, "notes": notes,
                       "manual_answers": manual, "manual_points": manual_points,
                       "retry": retry, "sandbox": sandbox},
    }


def feedback_markdown(res: dict[str, Any]) -> str:
    """A readable feedback page for the student from a ``results.json`` object."""
    max_total = sum(t["max_score"] for t in res["tests"])
    lines = [f"# Feedback for {res['extra_data']['student']}", "",
             f"**Score: {res['score']:g} / {max_total:g}** (auto-graded part)", "",
             res["output"], ""]
    for t in res["tests"]:
        mark = "passed" if t["score"] >= t["max_score"] else "failed"
        lines += [f"## {t['name']}: {t['score']:g} / {t['max_score']:g} ({mark})", "",
                  "```", t["output"], "```", ""]
    for gid, text in res["extra_data"]["manual_answers"].items():
        lines += [f"## {gid} (graded by hand)", "", text, ""]
    return "\n".join(lines)


def write_student(out_dir: Path, student: str, res: dict[str, Any]) -> None:
    """Writes ``results.json`` and ``feedback.md`` for one student (results.json last)."""
    d = student_dir(out_dir, student)
    atomic_write(d / "feedback.md", feedback_markdown(res))
    atomic_write(d / "results.json", json.dumps(res, indent=1))


def load_results(out_dir: Path) -> dict[str, dict]:
    """Every student's ``results.json`` under ``out_dir`` (unreadable ones are skipped)."""
    found = {}
    for p in sorted((Path(out_dir) / STUDENTS).glob("*/results.json")):
        try:
            found[p.parent.name] = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
    return found


def _cell(text: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    s = clip(text, 500)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def write_csv(out_dir: Path, questions: list[str], max_scores: dict[str, float]) -> Path:
    """Rebuilds ``OUT/grades.csv``.

    Columns: student, one per question, total, max_total, status, flags (questions scored 0
    for calling what a by-hand task forbids) and submission (the entry's original name).
    """
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["student", *questions, "total", "max_total", "status", "flags", "submission"])
    total_max = sum(max_scores.values())
    for student, res in load_results(out_dir).items():
        by_name = {t.get("name"): t.get("score", 0) for t in res.get("tests", [])}
        extra = res.get("extra_data", {})
        w.writerow([_cell(student), *(f"{by_name.get(q, 0):g}" for q in questions),
                    f"{res.get('score', 0):g}", f"{total_max:g}", _cell(extra.get("status", "")),
                    _cell("; ".join(extra.get("flags", []))), _cell(extra.get("submission", ""))])
    path = Path(out_dir) / "grades.csv"
    atomic_write(path, buf.getvalue())
    return path
