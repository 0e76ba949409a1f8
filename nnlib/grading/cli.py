"""``nnlib-grade``: the instructor's command line (also ``python -m nnlib.grading``).

Grade a class (the default command)::

    nnlib-grade ASSIGNMENT SUBMISSIONS_DIR --out OUT_DIR [--jobs N] [--timeout S]
                [--cell-timeout S] [--memory MB] [--force] [--no-sandbox]

ASSIGNMENT is a name (``backprop`` -> ``solutions/backprop/backprop.ipynb`` in the course
folder: ``--course DIR``, else ``$NNLIB_COURSE``, else the current folder), a folder or a
solution notebook. SUBMISSIONS_DIR holds ``<student>.ipynb`` or ``<student>/<name>.ipynb``.
OUT_DIR gets ``grades.csv``, the class report (``report.csv``, ``report.html``) and, per
student, ``students/<student>/results.json`` (Gradescope format) and ``feedback.md``. Students
already graded are skipped unless ``--force`` (rows the grader itself failed are redone).
Every submission runs in a bubblewrap sandbox; without bubblewrap the command stops and says
how to install it, and ``--no-sandbox`` (refused as root) grades without isolation.

Other commands::

    nnlib-grade release SOLUTION_NOTEBOOK_OR_DIR [--out assignments/]
        write the student version (solution regions stubbed, hidden tests removed)
    nnlib-grade demo-class ASSIGNMENT OUT_DIR [--n 30] [--seed 0]
        write a folder of plausible submissions (correct, partly right, broken, hostile)
    nnlib-grade gradescope ASSIGNMENT --out autograder.zip
        package the assignment as a Gradescope autograder (setup.sh + run_autograder)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _grade(argv: list[str]) -> int:
    from nnlib.grading import autograde, sandbox

    p = _assignment_parser("nnlib-grade")
    p.description = "Grade a folder of notebooks."
    p.add_argument("submissions", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--timeout", type=float, default=600.0, help="whole notebook, seconds")
    p.add_argument("--cell-timeout", type=float, default=120.0, help="one cell, seconds")
    p.add_argument("--memory", type=int, default=4096,
                   help="memory of a whole submission (and of each of its processes), MiB")
    p.add_argument("--force", action="store_true", help="re-grade students already graded")
    p.add_argument("--no-jax-cache", action="store_true",
                   help="do not pre-compile the solution's JAX ops for the student kernels")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run submissions without bubblewrap (refused as root; not isolated: "
                        "a submission can read the solutions); recorded in each row's status")
    a = p.parse_args(argv)
    limits = sandbox.Limits(cell_timeout=a.cell_timeout, total_timeout=a.timeout,
                            memory_bytes=a.memory << 20)
    box = sandbox.Sandbox(isolate=not a.no_sandbox)
    csv_path = autograde.grade_all(a.assignment, a.submissions, a.out, jobs=a.jobs,
                                   limits=limits, force=a.force, jax_cache=not a.no_jax_cache,
                                   box=box, course=a.course)
    print(f"wrote {csv_path}")
    return 0


def _assignment_parser(prog: str, what: str = "assignment") -> argparse.ArgumentParser:
    """A parser whose first argument names an assignment, with ``--course``."""
    p = argparse.ArgumentParser(prog=prog)
    p.add_argument(what)
    p.add_argument("--course", type=Path, default=None,
                   help="the course folder holding solutions/ (default: $NNLIB_COURSE or .)")
    return p


def _source(a: argparse.Namespace, what: str = "assignment") -> Path:
    from nnlib.grading import autograde

    return autograde.resolve_source(getattr(a, what), a.course)


def _release(argv: list[str]) -> int:
    from nnlib.grading import notebooks

    p = _assignment_parser("nnlib-grade release", "solution")
    p.add_argument("--out", type=Path, default=None, help="default: assignments/ beside solutions/")
    a = p.parse_args(argv)
    src = _source(a, "solution")
    out = a.out or src.parents[2] / "assignments"
    dest = notebooks.release_file(src, out / src.stem / src.name)
    print(f"wrote {dest}")
    return 0


def _demo(argv: list[str]) -> int:
    from nnlib.grading import demo

    p = _assignment_parser("nnlib-grade demo-class")
    p.add_argument("out", type=Path)
    p.add_argument("--n", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    paths = demo.make_class(_source(a), a.out, n=a.n, seed=a.seed)
    print(f"wrote {len(paths)} submissions to {a.out}")
    return 0


def _gradescope(argv: list[str]) -> int:
    from nnlib.grading import gradescope

    p = _assignment_parser("nnlib-grade gradescope")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    print(f"wrote {gradescope.package(_source(a), a.out)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``nnlib-grade``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"release": _release, "demo-class": _demo, "gradescope": _gradescope}
    try:
        if argv and argv[0] in commands:
            return commands[argv[0]](argv[1:])
        return _grade(argv)
    except (FileNotFoundError, ValueError) as e:
        print(f"nnlib-grade: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - SandboxUnavailable and kin: say it plainly
        from nnlib.grading.sandbox import SandboxUnavailable

        if not isinstance(e, SandboxUnavailable):
            raise
        print(f"nnlib-grade: error: {e}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
