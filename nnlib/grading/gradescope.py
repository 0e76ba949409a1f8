"""Packaging an assignment as a Gradescope autograder, and the runner inside it.

Gradescope runs one container per submission: ``setup.sh`` once when the image is built,
then ``/autograder/run_autograder`` with the student's files in ``/autograder/submission/``;
it reads the verdict from ``/autograder/results/results.json``. ``package(solution, zip)``
writes such a zip::

    setup.sh                  installs Python and the pinned requirements into a venv
    run_autograder            runs ``python -m nnlib.grading.gradescope ROOT``
    requirements.txt          pins taken from the packaging environment
    lib/nnlib/...             the nnlib package (checkers, specs, sandbox)
    solutions/<name>/<name>.ipynb

The runner (:func:`run`) grades the one notebook in ``ROOT/submission`` with the same
bubblewrap sandbox as ``nnlib-grade`` (``setup.sh`` installs bubblewrap; the sandbox shows the
kernel Python and ``nnlib`` only) and writes ``ROOT/results/results.json`` atomically. Where
the sandbox cannot run, the results say so (score 0) instead of grading unsandboxed.
``AUTOGRADER_ROOT`` and ``NNLIB_PYTHON`` override ``/autograder`` and the venv's Python (the
tests run it in a scratch folder).
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
import tempfile
import zipfile
from pathlib import Path

REQUIREMENTS = ("jax", "jaxlib", "numpy", "scipy", "ml_dtypes", "opt_einsum", "nbclient",
                "nbformat", "ipykernel", "jupyter_client", "jupyter_core", "ipython",
                "matplotlib", "scikit-learn", "tqdm", "mnist1d", "ipywidgets")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope image setup: Python, a virtualenv and the pinned requirements.
set -euo pipefail
apt-get update -q
apt-get install -y -q python3 python3-venv python3-pip bubblewrap
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -q -r /autograder/source/requirements.txt
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Grades /autograder/submission/*.ipynb into /autograder/results/results.json.
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${NNLIB_PYTHON:-$ROOT/venv/bin/python}"
export PYTHONPATH="$ROOT/source/lib"
exec "$PY" -m nnlib.grading.gradescope "$ROOT"
"""


def _pins() -> str:
    lines = []
    for name in REQUIREMENTS:
        try:
            lines.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return "\n".join(lines) + "\n"


def package(solution: Path, out: Path) -> Path:
    """Writes the Gradescope autograder zip for the solution notebook ``solution``."""
    solution = Path(solution).resolve()
    if not solution.is_file():
        raise FileNotFoundError(f"solution notebook {solution} not found")
    lib = Path(__file__).resolve().parents[1]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            z.writestr(info, text)
        z.writestr("requirements.txt", _pins())
        for f in sorted(lib.rglob("*.py")):
            z.write(f, f"lib/nnlib/{f.relative_to(lib)}")
        z.write(solution, f"solutions/{solution.stem}/{solution.name}")
    return out


def run(root: Path) -> Path:
    """Grades ``root/submission``'s notebook; writes ``root/results/results.json``."""
    from nnlib.grading import autograde, results, sandbox, submissions

    root = Path(root).resolve()
    sources = sorted((root / "source" / "solutions").glob("*/*.ipynb"))
    if len(sources) != 1:
        raise FileNotFoundError(f"expected one solution notebook under {root}/source/solutions")
    source = sources[0]
    folder = root / "submission"
    found, _ = submissions.find(folder, source.stem) if folder.is_dir() else ([], [])
    pick = next((s for s in found if s.original == source.name), found[0] if found else None)
    out = root / "results"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            sandbox.Sandbox().check()
            if pick is None:
                res = autograde.grade_notebook(source, None, "submission", autograde.Config(),
                                       problem="no .ipynb file was submitted")[0]
            else:
                pick.student = "submission"
                res = autograde.grade_entry(source, folder, pick, Path(tmp), autograde.Config())
        except sandbox.SandboxUnavailable as e:
            res = autograde.grade_notebook(source, None, "submission", autograde.Config(),
                                   problem=f"the grading sandbox cannot run: {e}")[0]
            res["extra_data"]["retry"] = True
        results.atomic_write(out / "results.json", json.dumps(res, indent=1))
    return out / "results.json"


if __name__ == "__main__":
    print(run(Path(sys.argv[1] if len(sys.argv) > 1 else "/autograder")))
