"""The autograder: grade one submission, or a folder of them in parallel.

For each submission (:func:`grade_submission`):

1. read and check the notebook (an empty, malformed or wrong-nbformat file gets a zero row
   and a status saying why);
2. assemble the notebook to run (:func:`nnlib.grading.notebooks.assemble`): the grader's cells,
   the student's answer cells only, and one probe cell per question;
3. draw fresh random inputs for this run (``secrets``-seeded) and write them, without the
   grader-only keys, to ``inputs/<question>.npz`` in a scratch folder outside the repository;
4. run the notebook in a sandboxed kernel (:mod:`nnlib.grading.sandbox`). If a cell hangs or
   kills the kernel, the run is repeated without that cell (at most ``MAX_ATTEMPTS`` runs in
   the whole-notebook time budget), so the marks earned by the other cells survive;
5. load each ``outputs/<question>.npz`` (``allow_pickle=False``, regular files only, size
   capped), judge the arrays against the references *in this process*, and write
   ``results.json`` and ``feedback.md`` atomically.

:func:`grade_all` grades a folder with ``jobs`` worker processes, skips students already
graded (unless ``force``), and rebuilds ``grades.csv`` from the per-student results.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from nnlib.grading import core, jaxcache, notebooks, results, sandbox, specs

MAX_ATTEMPTS = 3
MAX_OUTPUT_FILE = 32 << 20
REPO = Path(__file__).resolve().parents[2]


def resolve_source(assignment: str | Path) -> Path:
    """The solution notebook of ``assignment``: a name, a folder or a notebook path."""
    p = Path(assignment)
    if p.is_file():
        return p.resolve()
    if p.is_dir():
        return (p / f"{p.resolve().name}.ipynb").resolve()
    return (REPO / "solutions" / str(assignment) / f"{assignment}.ipynb").resolve()


def find_submissions(folder: Path, name: str) -> dict[str, Path]:
    """``student -> notebook`` for ``folder/<student>.ipynb`` and ``folder/<student>/*.ipynb``."""
    subs: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):  # .ipynb_checkpoints and other hidden entries
            continue
        if p.is_file() and p.suffix == ".ipynb":
            subs[p.stem] = p
        elif p.is_dir():
            nbs = sorted(q for q in p.glob("*.ipynb") if q.is_file())
            pick = next((q for q in nbs if q.stem == name), nbs[0] if nbs else None)
            if pick is not None:
                subs[p.name] = pick
    return {re.sub(r"[^A-Za-z0-9._-]", "_", s).lstrip(".") or "_": p for s, p in subs.items()}


def _load_outputs(path: Path) -> dict[str, np.ndarray]:
    """Loads an outputs file written by the student's kernel, trusting nothing about it."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_OUTPUT_FILE:
            raise ValueError("not a regular file of acceptable size")
        with os.fdopen(fd, "rb") as f:
            fd = -1
            import io
            data = np.load(io.BytesIO(f.read()), allow_pickle=False)
            return {k: data[k] for k in data.files}
    finally:
        if fd >= 0:
            os.close(fd)


def _judge(q: core.Question, cases: list, outdir: Path, failure: str | None) -> dict:
    path = outdir / f"{q.name}.npz"
    if not path.exists():
        why = failure or "the notebook stopped before this question could be graded"
        return {"name": q.name, "score": 0.0, "max_score": float(q.points), "status": "failed",
                "output": f"{q.name}: no result ({why})."}
    try:
        data = _load_outputs(path)
    except Exception as e:  # noqa: BLE001 - a corrupt or hostile file earns nothing
        return {"name": q.name, "score": 0.0, "max_score": float(q.points), "status": "failed",
                "output": f"{q.name}: the outputs could not be read ({type(e).__name__})."}
    if "missing" in data:
        missing = ", ".join(str(x) for x in np.atleast_1d(data["missing"]))
        return {"name": q.name, "score": 0.0, "max_score": float(q.points), "status": "failed",
                "output": f"{q.name}: function(s) not defined: {missing}."}
    found = []
    for i, (desc, inputs) in enumerate(cases):
        pre = f"c{i}."
        err = data.get(pre + "__error__")
        outs = {k[len(pre):]: v for k, v in data.items() if k.startswith(pre)}
        if err is None and not outs:
            found.append((desc, [f"no result ({failure or 'the case did not finish'})"]))
            continue
        error = str(err) if err is not None and err.dtype.kind == "U" else None
        found.append((desc, core.evaluate_case(q, inputs, None if error else outs, error)))
    passed, text = core.summarize(q, found)
    return {"name": q.name, "score": float(q.points) if passed else 0.0,
            "max_score": float(q.points), "status": "passed" if passed else "failed",
            "output": text}


def _where(nb, index: int) -> str:
    """Names a cell of the assembled notebook for the student: its answer cell's grade_id."""
    gid = nb.cells[index].metadata.get("nbgrader", {}).get("grade_id") if index >= 0 else None
    return f"answer cell {gid!r}" if gid else f"cell {index}"


def _scratch(slot: sandbox.Slot, root: Path | None) -> Path:
    base = root or (Path("/var/tmp") if os.geteuid() == 0 and Path("/var/tmp").is_dir() else None)
    work = Path(tempfile.mkdtemp(prefix="nnlib-grade-", dir=base))
    for sub in ("outputs", "home"):
        (work / sub).mkdir()
    (work / "inputs").mkdir(mode=0o755)
    if slot.uid is not None:
        for p in (work, work / "outputs", work / "home"):
            os.chown(p, slot.uid, slot.gid)
    work.chmod(0o700)
    return work


def grade_submission(source: Path, sub_path: Path, student: str, out_dir: Path, *,
                     limits: sandbox.Limits | None = None, hide: tuple | None = None,
                     scratch_root: Path | None = None, seed: int | None = None,
                     jax_cache: dict[str, bytes] | None = None,
                     _cache_sink: tuple[dict, set] | None = None) -> dict[str, Any]:
    """Grades one submission and writes its results; returns the results.json object.

    ``jax_cache`` (from :func:`nnlib.grading.jaxcache.build`) is installed read-only in the
    kernel's scratch folder as its JAX compilation cache. ``_cache_sink`` is for
    :func:`~nnlib.grading.jaxcache.build` only: a writable cache whose entries are collected.
    """
    t0 = time.monotonic()
    limits = limits or sandbox.Limits()
    if hide is None:
        hide = _hide_list(source, sub_path.parent, out_dir)
    spec = specs.assignment(source.stem)
    questions = list(spec.QUESTIONS)
    release_nb = notebooks.release(notebooks.read_notebook(source))
    notes: list[str] = []
    try:
        sub = notebooks.read_notebook(sub_path)
    except notebooks.InvalidNotebook as e:
        tests = [_judge(q, [], Path("/nonexistent"), f"invalid notebook: {e}") for q in questions]
        res = results.results_json(student, tests, f"invalid notebook: {e}", [], {},
                                   dict(spec.MANUAL), time.monotonic() - t0)
        results.write_student(out_dir, student, res)
        return res
    nb, manual, notes = notebooks.assemble(release_nb, sub, source.stem,
                                           [q.name for q in questions])
    probe_index = {i: c.metadata["nnlib_probe"] for i, c in enumerate(nb.cells)
                   if "nnlib_probe" in c.metadata}
    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)
    cases = {q.name: q.make_cases(rng) for q in questions}
    status: list[str] = []
    failures: dict[str, str] = {}
    with sandbox.acquire_slot() as slot:
        work = _scratch(slot, scratch_root)
        cache_env: dict[str, str] = {}
        if _cache_sink is not None:  # the grader's own solution run: a writable cache
            (work / jaxcache.DIRNAME).mkdir(mode=0o700)
            if slot.uid is not None:
                os.chown(work / jaxcache.DIRNAME, slot.uid, slot.gid)
            cache_env = jaxcache.kernel_env(work / jaxcache.DIRNAME, writable=True)
        elif jax_cache:
            cache_env = jaxcache.kernel_env(jaxcache.install(jax_cache, work), writable=False)
        for i, name in probe_index.items():  # absolute: a student's os.chdir changes nothing
            nb.cells[i].source = notebooks.probe_cell(source.stem, name, str(work)).source
        try:
            for q in questions:
                np.savez(work / "inputs" / f"{q.name}.npz",
                         **{f"c{i}.{k}": v for i, (_, inp) in enumerate(cases[q.name])
                            for k, v in inp.items() if not k.startswith("_")})
            timeouts = {i: next(q.timeout for q in questions if q.name == name)
                        for i, name in probe_index.items()}
            skip: set[int] = set()
            started_once = False
            budget_end = t0 + limits.total_timeout
            pythonpath = str(REPO)
            for _attempt in range(MAX_ATTEMPTS):
                left = budget_end - time.monotonic()
                if left < 5:
                    status.append("out of time")
                    break
                run_limits = sandbox.Limits(**{**limits.__dict__, "total_timeout": left})
                done = {i for i, n in probe_index.items()
                        if (work / "outputs" / f"{n}.npz").exists()}
                report = sandbox.run_cells(nb, work, slot=slot, limits=run_limits, hide=hide,
                                           timeouts=timeouts, skip=skip | done,
                                           pythonpath=pythonpath, extra_env=cache_env)
                if (os.geteuid() == 0 and report.isolation.get("files") is False
                        and "files not isolated" not in status):
                    status.append("files not isolated")
                if report.output_truncated and "output truncated" not in status:
                    status.append("output truncated")
                if report.start_error:
                    if not started_once:  # one more try: a start can fail for passing reasons
                        started_once = True
                        continue
                    status.append(f"kernel failed to start ({report.start_error})")
                    break
                started_once = True
                for c in report.cells:
                    if c.status == "error" and c.index not in probe_index:
                        notes.append(f"{_where(nb, c.index)} raised {c.detail}")
                bad = report.first_failure()
                if bad is None:
                    break
                what = "timed out" if bad.status == "timeout" else "killed the kernel"
                if report.deadline_hit:
                    status.append("whole-notebook time limit reached")
                    break
                if bad.index in probe_index:
                    failures[probe_index[bad.index]] = f"grading it {what}"
                    status.append(f"{probe_index[bad.index]}: {what}")
                else:
                    status.append(f"{_where(nb, bad.index)} {what}; re-run without it")
                if bad.index < 0:
                    break
                skip.add(bad.index)
            tests = [_judge(q, cases[q.name], work / "outputs", failures.get(q.name))
                     for q in questions]
            if _cache_sink is not None:
                _cache_sink[0].update(jaxcache.collect(work / jaxcache.DIRNAME, _cache_sink[1]))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    res = results.results_json(student, tests, "; ".join(status) or "ok", notes, manual,
                               dict(spec.MANUAL), time.monotonic() - t0)
    results.write_student(out_dir, student, res)
    return res


def _hide_list(source: Path, subs_dir: Path, out_dir: Path) -> tuple[str, ...]:
    paths = {REPO / "solutions", REPO / "tests", REPO / ".git", source.parent, subs_dir,
             out_dir, Path("/root")}
    return tuple(sorted(str(p.resolve()) for p in paths if p.exists()))


_JAX_CACHE: dict[str, bytes] = {}


def _init_worker(cache: dict[str, bytes]) -> None:
    _JAX_CACHE.clear()
    _JAX_CACHE.update(cache)


def _worker(args: tuple) -> tuple[str, str]:
    source, sub, student, out_dir, limits, hide, scratch_root = args
    try:
        res = grade_submission(source, sub, student, out_dir, limits=limits, hide=hide,
                               scratch_root=scratch_root, jax_cache=_JAX_CACHE)
        return student, res["extra_data"]["status"]
    except Exception as e:  # noqa: BLE001 - one student's failure must not stop the batch
        return student, f"grader error: {type(e).__name__}: {e}"


def grade_all(assignment: str | Path, subs_dir: Path, out_dir: Path, *, jobs: int = 1,
              limits: sandbox.Limits | None = None, force: bool = False,
              scratch_root: Path | None = None, log=print, jax_cache: bool = True) -> Path:
    """Grades every submission in ``subs_dir`` into ``out_dir``; returns ``grades.csv``.

    With ``jax_cache`` (the default), the grader first runs its own solution once to fill a
    JAX compilation cache that every student kernel then reads (:mod:`.jaxcache`).
    """
    source = resolve_source(assignment)
    limits = limits or sandbox.Limits()
    if not source.is_file():
        raise FileNotFoundError(f"assignment source {source} not found")
    spec = specs.assignment(source.stem)
    subs_dir, out_dir = Path(subs_dir).resolve(), Path(out_dir).resolve()
    if not subs_dir.is_dir():
        raise FileNotFoundError(f"submissions folder {subs_dir} not found")
    out_dir.mkdir(parents=True, exist_ok=True)
    hide = _hide_list(source, subs_dir, out_dir)
    todo = [(source, p, s, out_dir, limits, hide, scratch_root)
            for s, p in find_submissions(subs_dir, source.stem).items()
            if force or not (out_dir / s / "results.json").exists()]
    log(f"grading {len(todo)} submission(s) with {jobs} job(s)")
    cache: dict[str, bytes] = {}
    if jax_cache and todo:
        try:
            cache = jaxcache.build(source, limits=limits, hide=hide, scratch_root=scratch_root)
        except Exception as e:  # noqa: BLE001 - without the cache grading is only slower
            log(f"compilation cache not built: {type(e).__name__}: {e}")
        log(f"compilation cache: {len(cache)} entries from the solution run")
    if jobs <= 1:
        _init_worker(cache)
        for args in todo:
            log("{}: {}".format(*_worker(args)))
    else:
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                                    initargs=(cache,)) as pool:
            for student, st in pool.map(_worker, todo):
                log(f"{student}: {st}")
    return results.write_csv(out_dir, [q.name for q in spec.QUESTIONS],
                             {q.name: q.points for q in spec.QUESTIONS})
