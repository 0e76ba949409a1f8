"""The demo class, the Gradescope package, and a grader killed mid-batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from nnlib.grading import autograde, demo, gradescope, notebooks, results, sandbox

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "backprop" / "backprop.ipynb"
STUDENT = REPO / "assignments" / "backprop" / "backprop.ipynb"
LIMITS = sandbox.Limits(cell_timeout=10, total_timeout=120, memory_bytes=3 << 30)
ENV = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHONPATH": str(REPO),
       "JAX_PLATFORMS": "cpu"}


def test_demo_mutations_still_match_the_solution():
    cells = {notebooks.meta(c).get("grade_id"): c.source
             for c in nbformat.read(str(SOLUTION), as_version=4).cells}
    for label, gid, old, _new in demo.MISTAKES["backprop"] + demo.BROKEN + demo.HOSTILE:
        assert old in cells[gid], f"demo mutation {label!r} no longer applies to {gid!r}"


@pytest.mark.slow
def test_demo_class_is_plausible_and_grades(tmp_path):
    paths = demo.make_class(SOLUTION, tmp_path / "class", n=30, seed=0)
    assert len(paths) == 30 and len({p.name for p in paths}) == 30
    roster = (tmp_path / "class" / "ROSTER.md").read_text()
    assert roster.count("| correct |") >= 3 and "empty file" in roster
    picked = tmp_path / "picked"
    picked.mkdir()
    for p in (paths[0], paths[1], paths[19]):  # correct, with mistakes, an empty file
        (picked / p.name).write_bytes(p.read_bytes())
    autograde.grade_all("backprop", picked, tmp_path / "out", jobs=2, limits=LIMITS,
                        log=lambda *_: None)
    got = results.load_results(tmp_path / "out")
    assert got[paths[0].stem]["score"] == 24
    assert 0 < got[paths[1].stem]["score"] < 24
    assert "Likely mistake" in (tmp_path / "out" / paths[1].stem / "feedback.md").read_text()
    assert got[paths[19].stem]["extra_data"]["status"].startswith("invalid notebook")


@pytest.mark.slow
def test_gradescope_package_runs_like_gradescope(tmp_path):
    z = gradescope.package(SOLUTION, tmp_path / "autograder.zip")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(z) as f:
        names = f.namelist()
        f.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "requirements.txt"} <= set(names)
    assert "solutions/backprop/backprop.ipynb" in names and "lib/nnlib/grading/cli.py" in names
    (root / "submission").mkdir()
    (root / "submission" / "backprop.ipynb").write_bytes(SOLUTION.read_bytes())
    run = root / "run_autograder"
    run.write_bytes((root / "source" / "run_autograder").read_bytes())
    run.chmod(0o755)
    out = subprocess.run([str(run)], env={**ENV, "AUTOGRADER_ROOT": str(root),
                                          "NNLIB_PYTHON": sys.executable},
                         capture_output=True, text=True, timeout=200)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads((root / "results" / "results.json").read_text())
    assert res["score"] == 24 and len(res["tests"]) == 9, res["output"]


@pytest.mark.slow
def test_killing_the_grader_mid_batch_loses_nothing(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    for i in range(3):
        (subs / f"s{i}.ipynb").write_bytes(STUDENT.read_bytes())
    cmd = [sys.executable, "-m", "nnlib.grading", "backprop", str(subs), "--out", str(out),
           "--jobs", "1", "--cell-timeout", "10", "--timeout", "60"]
    proc = subprocess.Popen(cmd, env=ENV, cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(out.glob("*/results.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = list(out.glob("*/results.json"))
    assert first, "no student was graded before the kill"
    for p in first:
        assert json.loads(p.read_text())["score"] == 0  # complete, valid JSON
    again = subprocess.run(cmd, env=ENV, cwd=REPO, capture_output=True, text=True, timeout=200)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"grading {3 - len(first)} submission(s)" in again.stdout
    rows = (out / "grades.csv").read_text().strip().splitlines()
    assert len(rows) == 4 and rows[0].startswith("student,dense_forward")


def test_jax_cache_keeps_library_ops_only_and_installs_read_only(tmp_path):
    from nnlib.grading import jaxcache

    run = tmp_path / "run"
    run.mkdir()
    key = "0123456789abcdef" * 4
    for name in (f"jit_matmul-{key}-cache", f"jit_step-{key}-cache", "notes.txt"):
        (run / name).write_bytes(b"entry " + name.encode())
    (run / f"jit_exp-{key}-cache").symlink_to("/etc/passwd")
    names = jaxcache.solution_names(nbformat.read(str(SOLUTION), as_version=4))
    assert {"train_mlp", "step", "dense_forward"} <= names
    got = jaxcache.collect(run, names)
    assert got == {f"jit_matmul-{key}-cache": f"entry jit_matmul-{key}-cache".encode()}
    work = tmp_path / "work"
    work.mkdir()
    path = jaxcache.install(got, work)
    assert stat_mode(path) == 0o755 and stat_mode(path / f"jit_matmul-{key}-cache") == 0o644
    assert path.stat().st_uid == os.geteuid()
    env = jaxcache.kernel_env(path, writable=False)
    assert float(env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]) > 1e9  # never writes
    writer = jaxcache.kernel_env(path, writable=True)
    assert writer["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"


def stat_mode(p: Path) -> int:
    return p.stat().st_mode & 0o7777


_POISON = '''
import os as _os
_d = _os.environ.get("JAX_COMPILATION_CACHE_DIR")
_outcome = "no cache"
if _d:
    _blocked = 0
    _targets = ((sorted(_os.listdir(_d))[0], "r+b"), ("jit_add-" + "0" * 32 + "-cache", "wb"))
    for _name, _mode in _targets:
        try:
            with open(_os.path.join(_d, _name), _mode) as _f:
                _f.write(b"poison")
        except OSError:
            _blocked += 1
    _outcome = f"{_blocked} of 2 writes blocked"
raise RuntimeError(f"cache: {_outcome}")
'''


@pytest.mark.slow
def test_jax_cache_is_read_only_for_students_and_changes_no_mark(tmp_path):
    from nnlib.grading import jaxcache

    hide = autograde._hide_list(SOLUTION, tmp_path, tmp_path / "out")
    cache = jaxcache.build(SOLUTION, limits=LIMITS, hide=hide)
    ops = {name.split("-")[0] for name in cache}
    assert {"jit_matmul", "jit_exp", "jit_maximum"} <= ops and "jit_step" not in ops
    before = dict(cache)
    nb = nbformat.read(str(SOLUTION), as_version=4)
    assert demo._edit(nb, "dense_backward", "x.T @ dy", "dy.T @ x")  # a mistake: a cache miss
    relu = next(c for c in nb.cells if notebooks.meta(c).get("grade_id") == "relu")
    relu.source += "\n" + _POISON  # after the definitions: relu still graded
    sub = tmp_path / "poison.ipynb"
    nbformat.write(nb, str(sub))
    runs = [autograde.grade_submission(SOLUTION, sub, "p", tmp_path / "out", limits=LIMITS,
                                       hide=hide, seed=7, jax_cache=c) for c in (cache, None)]
    with_cache, without = runs
    assert cache == before  # the grader's copy is untouched whatever the kernel did
    notes = " ".join(with_cache["extra_data"]["notes"])
    if os.geteuid() == 0:  # the kernel runs as a sandbox uid: the grader's files are read-only
        assert "cache: 2 of 2 writes blocked" in notes, notes
    assert "cache: no cache" in " ".join(without["extra_data"]["notes"])
    status = {t["name"]: t["status"] for t in with_cache["tests"]}
    assert status["relu"] == "passed" and status["dense_backward"] == "failed"
    assert with_cache["score"] == without["score"] == 14  # dW also breaks mlp and train
    def marks(r):
        return [(t["name"], t["score"], t["status"], t["output"]) for t in r["tests"]]
    assert marks(with_cache) == marks(without)


def test_the_kernel_keeps_nnlib_wherever_the_checkout_lives():
    # A checkout (and its venv) under /tmp or /root sits in a folder the sandbox empties or
    # hides; the nnlib package and the interpreter must be bound back, or every submission
    # fails to import nnlib and scores zero (a CI clone under /tmp showed exactly that).
    import nnlib
    from nnlib.grading import sandbox

    kept = sandbox._interpreter_dirs()
    assert os.path.realpath(os.path.dirname(nnlib.__file__)) in kept
    assert os.path.realpath(sys.prefix) in kept
    repo = os.path.realpath(os.path.dirname(os.path.dirname(nnlib.__file__)))
    assert repo not in kept, "the whole checkout (with solutions/ and tests/) must stay hidden"
