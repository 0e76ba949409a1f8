"""Build (and execute) the lesson notebooks from their Python sources.

Each lesson's cells live in ``docs/notebook_sources/lessons_NN_topic.py`` as a list ``CELLS`` of
``md(...)`` / ``code(...)`` entries, so the text can be edited, diffed and reviewed as plain
Python. This script turns one or more of them into ``notebooks/NN_topic.ipynb`` with
deterministic cell ids, then executes the notebook in place (restart-and-run-all) with
nbclient, so the stored outputs are always the ones execution produced.

Usage::

    .venv/bin/python docs/notebook_sources/lessons_build.py            # build + execute every lesson
    .venv/bin/python docs/notebook_sources/lessons_build.py 01         # only lessons whose name starts 01
    .venv/bin/python docs/notebook_sources/lessons_build.py --no-exec  # write the notebooks unexecuted

It prints the wall-clock seconds each execution took (the budget is 90 s on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "docs" / "notebook_sources"
NOTEBOOKS = ROOT / "notebooks"


def md(text: str) -> nbformat.NotebookNode:
    """A markdown cell; leading/trailing blank lines are dropped."""
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(text: str) -> nbformat.NotebookNode:
    """A code cell; leading/trailing blank lines are dropped."""
    return nbformat.v4.new_code_cell(text.strip("\n"))


def _load_source(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(path: Path) -> Path:
    """Write ``notebooks/<name>.ipynb`` from ``docs/notebook_sources/lessons_<name>.py``; return its path."""
    module = _load_source(path)
    name = path.stem.removeprefix("lessons_")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(module.CELLS):
        cell["id"] = f"{name[:2]}-{i:03d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    out = NOTEBOOKS / f"{name}.ipynb"
    out.parent.mkdir(exist_ok=True)
    nbformat.write(nb, out)
    return out


def execute(nb_path: Path, timeout: int = 600) -> float:
    """Execute a notebook in place from a fresh kernel; return the wall-clock seconds."""
    nb = nbformat.read(nb_path, as_version=4)
    # The kernel inherits this environment: make the in-tree nnlib importable even when the
    # package is not installed, and keep JAX on the CPU where no GPU is meant to be used.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(nb_path.parent)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        seconds = time.perf_counter() - start
        nbformat.write(nb, nb_path)
        _report_slow_cells(nb)
    return seconds


def _report_slow_cells(nb: nbformat.NotebookNode, top: int = 5) -> None:
    """Prints the slowest cells (nbclient records start/end times in each cell's metadata)."""
    from datetime import datetime

    timings = []
    for cell in nb.cells:
        t = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in t and "shell.execute_reply" in t:
            begin = datetime.fromisoformat(t["iopub.execute_input"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(t["shell.execute_reply"].replace("Z", "+00:00"))
            timings.append(((end - begin).total_seconds(), cell["id"], cell["source"][:50]))
    for sec, cid, src in sorted(timings, reverse=True)[:top]:
        print(f"  {sec:6.1f} s  {cid}  {src.splitlines()[0] if src else ''}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefixes", nargs="*", help="lesson name prefixes, e.g. 00 01")
    parser.add_argument("--no-exec", action="store_true", help="write without executing")
    args = parser.parse_args(argv)
    sources = sorted(SCRIPTS.glob("lessons_[0-9][0-9]_*.py"))
    if args.prefixes:
        sources = [
            s for s in sources
            if any(s.stem.removeprefix("lessons_").startswith(p) for p in args.prefixes)
        ]
    if not sources:
        print("no lesson sources matched", file=sys.stderr)
        return 1
    for src in sources:
        nb_path = build(src)
        if args.no_exec:
            print(f"wrote {nb_path.relative_to(ROOT)} (not executed)")
            continue
        seconds = execute(nb_path)
        print(f"executed {nb_path.relative_to(ROOT)} in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
