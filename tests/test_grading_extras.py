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
@pytest.mark.sandbox
def test_demo_class_is_plausible_and_grades(tmp_path):
    paths = demo.make_class(SOLUTION, tmp_path / "class", n=30, seed=0)
    assert len(paths) == 30 and len({p.name for p in paths}) == 30
    roster = (tmp_path / "class" / "ROSTER.md").read_text()
    assert roster.count("| correct |") >= 3 and "empty file" in roster
    picked = tmp_path / "picked"
    picked.mkdir()
    for p in (paths[0], paths[1], paths[19]):  # correct, with mistakes, an empty file
        (picked / p.name).write_bytes(p.read_bytes())
    autograde.grade_all("backprop", picked, tmp_path / "out", jobs=2, limits=LIMITS, course=REPO,
                        log=lambda *_: None)
    got = results.load_results(tmp_path / "out")
    assert got[paths[0].stem]["score"] == 27
    assert 0 < got[paths[1].stem]["score"] < 27
    feedback = tmp_path / "out" / "students" / paths[1].stem / "feedback.md"
    assert "Likely mistake" in feedback.read_text()
    assert got[paths[19].stem]["extra_data"]["status"].startswith("invalid notebook")


@pytest.mark.slow
@pytest.mark.sandbox
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
    assert res["score"] == 27 and len(res["tests"]) == 10, res["output"]


@pytest.mark.slow
@pytest.mark.sandbox
def test_killing_the_grader_mid_batch_loses_nothing(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    for i in range(3):
        (subs / f"s{i}.ipynb").write_bytes(STUDENT.read_bytes())
    cmd = [sys.executable, "-m", "nnlib.grading", "backprop", str(subs),
           "--course", str(REPO), "--out", str(out),
           "--jobs", "1", "--cell-timeout", "10", "--timeout", "60"]
    proc = subprocess.Popen(cmd, env=ENV, cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(out.glob("students/*/results.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = list(out.glob("students/*/results.json"))
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

    key = "0123456789abcdef" * 4
    sent = {name: b"entry " + name.encode()
            for name in (f"jit_matmul-{key}-cache", f"jit_step-{key}-cache", "notes.txt",
                         f"jit_exp-{key}-cache")}
    sent[f"jit_exp-{key}-cache"] = b"x" * (jaxcache.MAX_ENTRY + 1)  # over the cap
    names = jaxcache.solution_names(nbformat.read(str(SOLUTION), as_version=4))
    assert {"train_mlp", "step", "dense_forward"} <= names
    got = jaxcache.collect(sent, names)
    assert got == {f"jit_matmul-{key}-cache": f"entry jit_matmul-{key}-cache".encode()}
    path = jaxcache.install(got, tmp_path / "cache")
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
@pytest.mark.sandbox
def test_jax_cache_is_read_only_for_students_and_changes_no_mark(tmp_path):
    from nnlib.grading import jaxcache

    cfg = autograde.Config(limits=LIMITS)
    cache = autograde.build_jax_cache(SOLUTION, cfg)
    ops = {name.split("-")[0] for name in cache}
    assert {"jit_matmul", "jit_exp", "jit_maximum"} <= ops and "jit_step" not in ops
    folder = jaxcache.install(cache, tmp_path / "cache")
    nb = nbformat.read(str(SOLUTION), as_version=4)
    assert demo._edit(nb, "dense_backward", "x.T @ dy", "dy.T @ x")  # a mistake: a cache miss
    relu = next(c for c in nb.cells if notebooks.meta(c).get("grade_id") == "relu")
    relu.source += "\n" + _POISON  # after the definitions: relu still graded
    sub = tmp_path / "poison.ipynb"
    nbformat.write(nb, str(sub))
    with_cfg = autograde.Config(limits=LIMITS, cache_dir=str(folder))
    runs = [autograde.grade_submission(SOLUTION, sub, "p", tmp_path / "out", cfg=c, seed=7)
            for c in (with_cfg, cfg)]
    with_cache, without = runs
    on_disk = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert on_disk == cache  # the grader's copy is untouched whatever the kernel did
    notes = " ".join(with_cache["extra_data"]["notes"])
    assert "cache: 2 of 2 writes blocked" in notes, notes  # a read-only bind, root or not
    assert "cache: no cache" in " ".join(without["extra_data"]["notes"])
    status = {t["name"]: t["status"] for t in with_cache["tests"]}
    assert status["relu"] == "passed" and status["dense_backward"] == "failed"
    assert with_cache["score"] == without["score"] == 17  # dW also breaks mlp and train

    def marks(r):
        return [(t["name"], t["score"], t["status"], t["output"]) for t in r["tests"]]
    assert marks(with_cache) == marks(without)


def test_the_sandbox_shows_nnlib_and_python_but_not_the_checkout():
    # A checkout (and its venv) under /tmp or /root: the nnlib package and the interpreter
    # must be bound into the sandbox, or every submission fails to import nnlib and scores
    # zero (a CI clone under /tmp once showed exactly that); the rest of the checkout
    # (solutions/, tests/) must not be.
    import nnlib

    shown = sandbox.exposed_paths()
    assert os.path.realpath(os.path.dirname(nnlib.__file__)) in shown

    def covered(p):
        return any(p == d or p.startswith(d + "/") for d in shown)
    assert covered(os.path.realpath(sys.prefix))
    repo = os.path.realpath(os.path.dirname(os.path.dirname(nnlib.__file__)))
    assert not covered(repo) and not covered(str(SOLUTION))
    with pytest.raises(ValueError, match="shows to every submission"):
        sandbox.check_exposure([os.path.join(os.path.dirname(nnlib.__file__), "x")])


def test_without_bubblewrap_the_command_stops_and_says_how_to_install_it(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "a.ipynb").write_bytes(STUDENT.read_bytes())
    out = subprocess.run([sys.executable, "-m", "nnlib.grading", "backprop", str(subs),
                          "--course", str(REPO),
                          "--out", str(tmp_path / "out")], capture_output=True, text=True,
                         env={**ENV, "PATH": str(tmp_path)}, cwd=REPO, timeout=120)
    assert out.returncode == 3, out.stderr[-2000:]
    assert "apt-get install bubblewrap" in out.stderr and "--no-sandbox" in out.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()


@pytest.mark.slow
@pytest.mark.sandbox
def test_no_sandbox_is_refused_as_root_and_marked_in_every_row_otherwise(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from grading import harness

    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    out.mkdir()
    (subs / "solution.ipynb").write_bytes(SOLUTION.read_bytes())
    (subs / "student.ipynb").write_bytes(STUDENT.read_bytes())
    cmd = [sys.executable, "-m", "nnlib.grading", "backprop", str(subs),
           "--course", str(REPO), "--out", str(out),
           "--no-sandbox", "--cell-timeout", "30", "--timeout", "120"]
    for mode in harness.MODES:
        done = harness.run(cmd, mode, home=tmp_path / "home", readable=[subs],
                           writable=[out], timeout=300)
        if mode == "root":
            assert done.returncode == 3 and "as root" in done.stderr
            continue
        assert done.returncode == 0, done.stderr[-2000:]
        got = results.load_results(out)
        assert got["solution"]["score"] == 27 and got["student"]["score"] == 0
        assert all(r["extra_data"]["status"] == "ok; unsandboxed" for r in got.values())
        assert "unsandboxed" in (out / "grades.csv").read_text()
