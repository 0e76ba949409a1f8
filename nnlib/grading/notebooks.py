"""Notebook handling: validation, the student release, and the graded notebook's assembly.

nbgrader's conventions are kept so the course drops into an nbgrader deployment: cell metadata
``nbgrader = {grade, grade_id, locked, points, solution, schema_version}``, and the markers
``### BEGIN SOLUTION`` / ``### END SOLUTION`` and ``### BEGIN HIDDEN TESTS`` /
``### END HIDDEN TESTS`` in the solution notebook (the source).

* :func:`release` makes the student version: each solution region becomes
  ``raise NotImplementedError("<function> is not implemented yet")`` (markdown answer cells
  become "YOUR ANSWER HERE"), hidden-test regions are removed, outputs are cleared.
* :func:`assemble` builds the notebook the autograder runs: the grader's own copy of every
  cell, except that each *answer* cell (``solution: true``) takes the student's text, found
  by ``grade_id``. Nothing else is taken from the submission: not its points, not its test
  cells, not its extra cells, not its kernelspec. The graded test cells are replaced by the
  grader's probe cells (:mod:`nnlib.grading.probe`).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import nbformat

MAX_BYTES = 20 << 20
MAX_DEPTH = 64
_SOL = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION[^\n]*(\n|$)",
                  re.M | re.S)
_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*(\n|$)",
                     re.M | re.S)
_DEF = re.compile(r"^\s*def\s+(\w+)\s*\(", re.M)


class InvalidNotebook(ValueError):
    """The submission is not a notebook the grader can read; the message says why."""


def _clean(obj, depth: int = 0):
    """The parsed JSON with lone surrogates replaced, refusing nesting deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise InvalidNotebook(f"the JSON is nested more than {MAX_DEPTH} levels deep")
    if isinstance(obj, str):
        return obj.encode("utf-8", "replace").decode("utf-8")
    if isinstance(obj, list):
        return [_clean(x, depth + 1) for x in obj]
    if isinstance(obj, dict):
        return {_clean(k, depth + 1): _clean(v, depth + 1) for k, v in obj.items()}
    return obj


def parse_notebook(data: bytes) -> nbformat.NotebookNode:
    """Checks and parses a notebook file's bytes (nbformat 4), or raises InvalidNotebook.

    Whatever the bytes are (empty, huge, not UTF-8, not JSON, deeply nested, lone surrogate
    escapes, cells of the wrong shape), the answer is a notebook or an InvalidNotebook whose
    message says what is wrong.
    """
    if not data:
        raise InvalidNotebook("the file is empty")
    if len(data) > MAX_BYTES:
        raise InvalidNotebook(f"the file is {len(data) >> 20} MiB, more than {MAX_BYTES >> 20} MiB")
    try:
        raw = _clean(json.loads(data.decode("utf-8")))
    except RecursionError:
        raise InvalidNotebook(f"the JSON is nested more than {MAX_DEPTH} levels deep") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidNotebook(f"not valid JSON ({str(e)[:80]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise InvalidNotebook("not a Jupyter notebook (no list of cells)")
    if raw.get("nbformat") != 4:
        raise InvalidNotebook(f"nbformat {str(raw.get('nbformat'))[:20]} is not supported "
                              "(expected 4)")
    for i, cell in enumerate(raw["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise InvalidNotebook(f"cell {i} is not a valid cell")
        src = cell.get("source", "")
        if not (isinstance(src, str) or (isinstance(src, list)
                                         and all(isinstance(s, str) for s in src))):
            raise InvalidNotebook(f"cell {i} has an invalid source")
        meta = cell.get("metadata", {})
        if not isinstance(meta, dict) or not isinstance(meta.get("nbgrader", {}), dict):
            raise InvalidNotebook(f"cell {i} has invalid metadata")
    return nbformat.from_dict(raw)


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Reads and checks a notebook file of the grader's own (see :func:`parse_notebook`)."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise InvalidNotebook(f"cannot read the file ({e.strerror})") from e
    if size > MAX_BYTES:
        raise InvalidNotebook(f"the file is {size >> 20} MiB, more than {MAX_BYTES >> 20} MiB")
    return parse_notebook(path.read_bytes())


def source(cell: Any) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def meta(cell: Any) -> dict:
    """A cell's nbgrader metadata (``{}`` if none)."""
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def _stub(match: re.Match, text: str) -> str:
    indent = match.group(1)
    names = _DEF.findall(text[: match.start()])
    what = f"{names[-1]} is not implemented yet" if names else "this part is not implemented yet"
    return f'{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError("{what}")\n'


def release_source(text: str) -> str:
    """The student version of one code cell's text."""
    text = _HIDDEN.sub("", text)
    while (m := _SOL.search(text)) is not None:
        text = text[: m.start()] + _stub(m, text) + text[m.end():]
    return text.rstrip("\n")


def release(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student version of a solution notebook (see the module docstring)."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        nbg = meta(cell)
        if cell.cell_type == "code":
            cell.source = release_source(source(cell))
            cell.outputs = []
            cell.execution_count = None
        elif nbg.get("solution") and cell.cell_type == "markdown":
            cell.source = "YOUR ANSWER HERE"
        keep = {k: v for k, v in cell.metadata.items() if k in ("nbgrader", "tags", "deletable",
                                                                 "editable")}
        cell.metadata = keep
    out.metadata = {k: v for k, v in out.metadata.items() if k in ("kernelspec", "language_info")}
    return out


def release_file(src: str | Path, dest: str | Path) -> Path:
    """Writes the student version of the notebook ``src`` to ``dest`` (a file path)."""
    nb = nbformat.read(str(src), as_version=4)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(nbformat.writes(release(nb)) + "\n")
    return dest


def student_answers(sub: nbformat.NotebookNode) -> tuple[dict[str, str], list[str]]:
    """``grade_id -> text`` of the submission's cells (first copy wins) and notes."""
    answers: dict[str, str] = {}
    notes = []
    for cell in sub.cells:
        gid = meta(cell).get("grade_id")
        if not isinstance(gid, str):
            continue
        if gid in answers:
            notes.append(f"cell id {gid!r} appears more than once; the first copy was graded")
            continue
        answers[gid] = source(cell)
    return answers, notes


def probe_cell(assignment: str, question: str) -> nbformat.NotebookNode:
    """The grader's cell that runs ``question`` on the student's functions (``grading.probe``)."""
    code = ("import nnlib.grading.probe as _nnlib_grading_probe\n"
            f"_nnlib_grading_probe.run({assignment!r}, {question!r}, globals())")
    return nbformat.v4.new_code_cell(code, metadata={"nnlib_probe": question})


def assemble(release_nb: nbformat.NotebookNode, sub: nbformat.NotebookNode, assignment: str,
             questions: list[str]) -> tuple[nbformat.NotebookNode, dict[str, str], list[str]]:
    """The notebook to run: grader's cells + the student's answers + probe cells.

    Args:
      release_nb: the grader's own student version (from the solution notebook).
      sub: the submission.
      assignment: the assignment's name.
      questions: the auto-graded questions, in order.

    Returns:
      ``(notebook, manual_answers, notes)``: manual answers map the grade_id of each markdown
      answer cell to the student's text; notes list what was ignored or missing.
    """
    answers, notes = student_answers(sub)
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(release_nb.metadata))
    manual: dict[str, str] = {}
    for cell in release_nb.cells:
        nbg = meta(cell)
        gid = nbg.get("grade_id")
        if nbg.get("solution"):
            text = answers.get(gid)
            if text is None:
                notes.append(f"answer cell {gid!r} is missing from the submission; "
                             "the unanswered stub was graded")
                text = source(cell)
            if cell.cell_type == "markdown":
                manual[gid] = text
                continue
            nb.cells.append(nbformat.v4.new_code_cell(text, metadata={"nbgrader": nbg}))
        elif nbg.get("grade") and cell.cell_type == "code":
            continue  # visible checks are feedback for the student; the probes grade
        elif cell.cell_type == "code":
            nb.cells.append(nbformat.v4.new_code_cell(source(cell), metadata={"nbgrader": nbg}))
    for q in questions:
        nb.cells.append(probe_cell(assignment, q))
    return nb, manual, notes
