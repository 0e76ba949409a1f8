"""Writing grades: per-student ``results.json`` (Gradescope format), feedback and ``grades.csv``.

``OUT/<student>/results.json`` follows Gradescope's autograder specification: a top-level
``score``, and ``tests``, a list of ``{name, score, max_score, status, output}``; nnlib's own
fields (the status, the manual answers) go under ``extra_data``. Every file is written
atomically (a temporary file in the same folder, then ``os.replace``), so a grader killed at
any moment leaves either the old file or the new one, never half of one. ``grades.csv`` is
rebuilt from the per-student files, which are the only state.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
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


def results_json(student: str, tests: list[dict], status: str, notes: list[str],
                 manual: dict[str, str], manual_points: dict[str, float],
                 seconds: float) -> dict[str, Any]:
    """The Gradescope ``results.json`` object for one student."""
    score = round(sum(t["score"] for t in tests), 6)
    output = f"Status: {status}."
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
        "extra_data": {"student": student, "status": status, "notes": notes,
                       "manual_answers": manual, "manual_points": manual_points},
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
    d = out_dir / student
    atomic_write(d / "feedback.md", feedback_markdown(res))
    atomic_write(d / "results.json", json.dumps(res, indent=1))


def load_results(out_dir: Path) -> dict[str, dict]:
    """Every student's ``results.json`` under ``out_dir`` (unreadable ones are skipped)."""
    found = {}
    for p in sorted(out_dir.glob("*/results.json")):
        try:
            found[p.parent.name] = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
    return found


def write_csv(out_dir: Path, questions: list[str], max_scores: dict[str, float]) -> Path:
    """Rebuilds ``OUT/grades.csv``: student, one column per question, total, max, status."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["student", *questions, "total", "max_total", "status"])
    total_max = sum(max_scores.values())
    for student, res in load_results(out_dir).items():
        by_name = {t["name"]: t["score"] for t in res.get("tests", [])}
        w.writerow([student, *(f"{by_name.get(q, 0):g}" for q in questions),
                    f"{res.get('score', 0):g}", f"{total_max:g}",
                    res.get("extra_data", {}).get("status", "")])
    path = out_dir / "grades.csv"
    atomic_write(path, buf.getvalue())
    return path
