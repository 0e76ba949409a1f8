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
sandbox as ``nnlib-grade`` (the solutions and results folders hidden from the kernel) and
writes ``ROOT/results/results.json`` atomically. ``AUTOGRADER_ROOT`` and ``NNLIB_PYTHON``
override ``/autograder`` and the venv's Python (the tests run it in a scratch folder).
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
apt-get install -y -q python3 python3-venv python3-pip
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
    from nnlib.grading import autograde, results

    root = Path(root).resolve()
    sources = sorted((root / "source" / "solutions").glob("*/*.ipynb"))
    if len(sources) != 1:
        raise FileNotFoundError(f"expected one solution notebook under {root}/source/solutions")
    source = sources[0]
    subs = sorted((root / "submission").rglob("*.ipynb"))
    pick = next((s for s in subs if s.name == source.name), subs[0] if subs else None)
    out = root / "results"
    out.mkdir(parents=True, exist_ok=True)
    # Without mount namespaces (a container lacking CAP_SYS_ADMIN), permissions still keep
    # the sandbox uid out of the solutions and the results.
    for private in (source.parents[1], out):
        private.chmod(0o700)
    with tempfile.TemporaryDirectory() as tmp:
        if pick is None:
            pick = Path(tmp) / "missing.ipynb"
            pick.write_bytes(b"")
        hide = tuple(str(p) for p in (source.parent, out, Path(tmp), Path("/root")) if p.exists())
        res = autograde.grade_submission(source, pick, "submission", Path(tmp), hide=hide)
        if not subs:
            res["output"] = f"No .ipynb file was submitted.\n{res['output']}"
        results.atomic_write(out / "results.json", json.dumps(res, indent=1))
    return out / "results.json"


if __name__ == "__main__":
    print(run(Path(sys.argv[1] if len(sys.argv) > 1 else "/autograder")))
