"""The class report beside ``grades.csv``: what to re-teach.

:func:`write` reads every ``results.json`` and writes

* ``OUT/report.csv``, one count a row (``question, item, count``): for each question how many
  students passed, failed, left it unimplemented or were flagged for a forbidden call, how
  many made each diagnosed mistake (``mistake: <message>``), and the distribution of the
  total score (``total, score=<k>``);
* ``OUT/report.html``, the same on one page with two plots (the score distribution, and the
  diagnosed mistakes per question), the images embedded, no script.
"""

from __future__ import annotations

import base64
import collections
import csv
import html
import io
from pathlib import Path

from nnlib.grading import results


def tally(res_by_student: dict[str, dict], questions: list[str]) -> dict:
    """Counts per question (outcomes and mistakes) and the totals' distribution."""
    outcome = {q: collections.Counter() for q in questions}
    mistakes = {q: collections.Counter() for q in questions}
    totals: collections.Counter = collections.Counter()
    for res in res_by_student.values():
        totals[float(res.get("score", 0))] += 1
        for t in res.get("tests", []):
            q = t.get("name")
            if q not in outcome:
                continue
            extra = t.get("extra_data", {})
            if extra.get("flags"):
                outcome[q]["flagged"] += 1
            elif t.get("score", 0) >= t.get("max_score", 0) > 0:
                outcome[q]["passed"] += 1
            elif "not implemented yet" in t.get("output", ""):
                outcome[q]["not implemented"] += 1
            else:
                outcome[q]["failed"] += 1
            for m in extra.get("mistakes", []):
                mistakes[q][results.clip(m, 200)] += 1
    return {"outcome": outcome, "mistakes": mistakes, "totals": totals,
            "students": len(res_by_student)}


def _plots(t: dict, questions: list[str], max_total: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.6))
    xs = sorted(t["totals"])
    a1.bar([f"{x:g}" for x in xs], [t["totals"][x] for x in xs], color="#4C72B0")
    a1.set_xlabel(f"total score (of {max_total:g})")
    a1.set_ylabel("students")
    a1.set_title("Score distribution")
    counts = [sum(t["mistakes"][q].values()) for q in questions]
    a2.barh(questions, counts, color="#DD8452")
    a2.invert_yaxis()
    a2.set_xlabel("diagnosed mistakes (all kinds)")
    a2.set_title("Mistakes per question")
    a1.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of students
    a2.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def write(out_dir: Path, questions: list[str], points: dict[str, float]) -> tuple[Path, Path]:
    """Writes ``report.csv`` and ``report.html`` in ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    t = tally(results.load_results(out_dir), questions)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["question", "item", "count"])
    for q in questions:
        for item in ("passed", "failed", "not implemented", "flagged"):
            w.writerow([q, item, t["outcome"][q][item]])
        for m, n in t["mistakes"][q].most_common():
            w.writerow([q, f"mistake: {m}", n])
    for score in sorted(t["totals"]):
        w.writerow(["total", f"score={score:g}", t["totals"][score]])
    csv_path = out_dir / "report.csv"
    results.atomic_write(csv_path, buf.getvalue())

    max_total = sum(points.values())
    rows = []
    for q in questions:
        o = t["outcome"][q]
        ms = "".join(f"<li>{n} &times; {html.escape(m)}</li>"
                     for m, n in t["mistakes"][q].most_common())
        rows.append(f"<tr><td>{html.escape(q)}</td><td>{points[q]:g}</td><td>{o['passed']}</td>"
                    f"<td>{o['failed']}</td><td>{o['not implemented']}</td>"
                    f"<td>{o['flagged']}</td><td><ul>{ms}</ul></td></tr>")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Class report</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;
vertical-align:top;text-align:left}}ul{{margin:0;padding-left:1.2em}}</style></head><body>
<h1>Class report</h1>
<p>{t['students']} submissions; maximum {max_total:g} points (auto-graded).</p>
<img alt="score distribution and mistakes per question"
 src="data:image/png;base64,{_plots(t, questions, max_total)}">
<table><tr><th>question</th><th>points</th><th>passed</th><th>failed</th>
<th>not implemented</th><th>flagged</th><th>diagnosed mistakes</th></tr>
{''.join(rows)}</table></body></html>
"""
    html_path = out_dir / "report.html"
    results.atomic_write(html_path, page)
    return csv_path, html_path
