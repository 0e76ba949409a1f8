"""Builds the course's stored notebooks from their MyST Markdown sources, and executes them.

Every notebook the course ships is generated from a MyST Markdown file (read with jupytext)
at the same path under ``docs/``::

    docs/notebooks/00_jax_primer.md        ->  notebooks/00_jax_primer.ipynb
    docs/notebooks/widgets_gallery.md      ->  notebooks/widgets_gallery.ipynb
    docs/solutions/backprop/backprop.md    ->  solutions/backprop/backprop.ipynb

An author edits the ``.md`` (plain Markdown, code in ```` ```{code-cell} ```` blocks, cell
metadata such as nbgrader's in the block's YAML header; JupyterLab opens it as a notebook with
"Open With > Jupytext Notebook") and runs::

    .venv/bin/python docs/build.py                 # every notebook, executed
    .venv/bin/python docs/build.py 01 backprop     # those whose name starts with 01 or backprop
    .venv/bin/python docs/build.py --no-exec       # the cells only, unexecuted

Each notebook is executed top to bottom in a fresh kernel, in its own folder, and stored with
its outputs; the seconds it took are printed (the budget is 90 s on 2 CPU cores). Cell ids come
from the cells' content (``md-<hash>`` / ``code-<hash>``, ``-2``, ``-3`` on repeats), so
inserting or editing one cell changes no other cell's id; no execution timing is recorded, so
rebuilding an unchanged source changes only what the outputs themselves change.
``tests/test_notebooks.py`` fails when a stored notebook differs from its source. Student
versions of the assignments (``assignments/``) are generated from the built solutions by
``nnlib-grade release``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SOURCE_DIRS = ("notebooks", "solutions")  # under docs/, mirroring the repository
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def sources() -> list[Path]:
    """Every MyST source of a stored notebook."""
    return sorted(p for d in SOURCE_DIRS for p in (DOCS / d).rglob("*.md"))


def target(source: Path) -> Path:
    """The stored notebook built from ``source``."""
    return ROOT / source.relative_to(DOCS).with_suffix(".ipynb")


def cell_ids(cells) -> list[str]:
    """Content-derived ids: ``<kind>-<first 8 hex of sha1(source)>``, numbered on repeats."""
    seen: dict[str, int] = {}
    ids = []
    for cell in cells:
        kind = "md" if cell.cell_type == "markdown" else cell.cell_type
        base = f"{kind}-{hashlib.sha1(cell.source.encode()).hexdigest()[:8]}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return ids


def notebook(source: Path) -> nbformat.NotebookNode:
    """The unexecuted notebook of ``source``: its cells, their metadata and content ids."""
    text = jupytext.read(source, fmt="md:myst")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for cell, cid in zip(text.cells, cell_ids(text.cells), strict=True):
        maker = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell,
                 "raw": nbformat.v4.new_raw_cell}[cell.cell_type]
        new = maker(cell.source, metadata=dict(cell.metadata))
        new["id"] = cid
        nb.cells.append(new)
    nbformat.validate(nb)
    return nb


def execute(nb: nbformat.NotebookNode, folder: Path, timeout: int = 600) -> float:
    """Runs ``nb`` in place from a fresh kernel in ``folder``; returns the seconds it took."""
    from nbclient import NotebookClient

    # The kernel inherits this environment: the in-tree nnlib importable even where it is not
    # installed, JAX on the CPU unless a GPU is wanted, figures as inline PNGs.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    # Always inline, whatever the caller exported (with MPLBACKEND=Agg, as the test script sets,
    # the kernel would draw every figure and store none).
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(folder)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def build(source: Path, *, run: bool = True) -> tuple[Path, float | None]:
    """Writes ``target(source)`` (executed unless ``run`` is False); returns it and the seconds."""
    out = target(source)
    nb = notebook(source)
    seconds = execute(nb, out.parent) if run else None
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return out, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook name prefixes, e.g. 01 backprop")
    parser.add_argument("--no-exec", action="store_true", help="write without executing")
    args = parser.parse_args(argv)
    todo = [s for s in sources() if not args.names or any(s.stem.startswith(n)
                                                          for n in args.names)]
    if not todo:
        print(f"no source under docs/{{{','.join(SOURCE_DIRS)}}} matches {args.names}",
              file=sys.stderr)
        return 1
    for src in todo:
        out, seconds = build(src, run=not args.no_exec)
        how = "not executed" if seconds is None else f"executed in {seconds:.1f} s"
        print(f"wrote {out.relative_to(ROOT)} from {src.relative_to(ROOT)} ({how})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
