"""The autograder: grade one submission, or a folder of them in parallel.

For each submission (:func:`grade_submission`):

1. read the notebook without trusting the file (:mod:`nnlib.grading.submissions`: no symlink,
   no FIFO, size capped) and check it (:func:`nnlib.grading.notebooks.parse_notebook`); what
   cannot be graded still gets a zero row with a status saying why;
2. assemble the notebook to run (:func:`nnlib.grading.notebooks.assemble`): the grader's cells,
   the student's answer cells only, and one probe cell per question;
3. draw fresh random inputs for this run (``secrets``-seeded); the grader-only keys (held-out
   labels) never leave this process;
4. run the notebook in a fresh sandbox (:mod:`nnlib.grading.sandbox`), sending the inputs and
   receiving each probe's outputs over the sandbox's pipes. If a cell hangs or kills the
   kernel, the run is repeated without that cell (at most ``MAX_ATTEMPTS`` runs in the
   whole-notebook time budget), so the marks earned by the other cells survive;
5. judge the outputs against the references *in this process*; score 0 any question whose
   answer calls what its by-hand task forbids (:mod:`nnlib.grading.honesty`, from the source
   here and from what the probe reached); write ``results.json`` and ``feedback.md``.

:func:`grade_all` grades a folder with ``jobs`` worker processes: one row per entry whatever it
is, students already graded skipped (unless ``force``) except rows the grader itself failed
(``retry``), then ``grades.csv`` and the class report (:mod:`nnlib.grading.report`).
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from nnlib.grading import (core, honesty, jaxcache, notebooks, report, results, sandbox, specs,
                           submissions)

MAX_ATTEMPTS = 3
COURSE_ENV = "NNLIB_COURSE"  # the course folder (holding solutions/), if not the current one
CACHE_INSIDE = "/opt/nnlib-jaxcache"  # where a sandbox sees the read-only JAX cache


@dataclasses.dataclass(frozen=True)
class Config:
    """How submissions are graded.

    Attributes:
      limits: the resource limits of each submission.
      sandbox: how kernels are started (bubblewrap, or explicitly unsandboxed).
      cache_dir: the host folder of the read-only JAX cache (None: no cache).
    """

    limits: sandbox.Limits = dataclasses.field(default_factory=sandbox.Limits)
    sandbox: sandbox.Sandbox = dataclasses.field(default_factory=sandbox.Sandbox)
    cache_dir: str | None = None

    def cache_env(self) -> tuple[dict[str, str], dict[str, str]]:
        """``(kernel environment, binds)`` for a student kernel reading the cache."""
        if not self.cache_dir:
            return {}, {}
        if not self.sandbox.isolate:
            return jaxcache.kernel_env(self.cache_dir, writable=False), {}
        return (jaxcache.kernel_env(CACHE_INSIDE, writable=False),
                {CACHE_INSIDE: self.cache_dir})


def resolve_source(assignment: str | Path, course: str | Path | None = None) -> Path:
    """The solution notebook of ``assignment``.

    Args:
      assignment: a notebook path, a folder holding ``<folder name>.ipynb``, or an assignment
        name, looked up as ``<course>/solutions/<name>/<name>.ipynb``.
      course: the course folder; default ``$NNLIB_COURSE``, else the current folder. (The
        library never looks for the course relative to where it is installed.)

    Returns:
      The path, resolved; it may not exist (callers say so).
    """
    p = Path(assignment)
    if p.is_file():
        return p.resolve()
    if p.is_dir():
        return (p / f"{p.resolve().name}.ipynb").resolve()
    root = Path(course or os.environ.get(COURSE_ENV) or Path.cwd())
    return (root / "solutions" / str(assignment) / f"{assignment}.ipynb").resolve()


# --------------------------------------------------------------------------- judging
def _test(q: core.Question, score: float, status: str, output: str,
          mistakes: list[str] | None = None) -> dict:
    return {"name": q.name, "score": score, "max_score": float(q.points), "status": status,
            "output": output, "extra_data": {"mistakes": mistakes or []}}


def _judge(q: core.Question, cases: list, got: dict[int, tuple[dict, dict]],
           missing: list[str] | None, failure: str | None) -> tuple[dict, set[str]]:
    """The test entry of one question, and the forbidden names its probe reported reaching."""
    if missing:
        return _test(q, 0.0, "failed", f"{q.name}: function(s) not defined: "
                                       f"{', '.join(missing)}."), set()
    if not got:
        why = failure or "the notebook stopped before this question could be graded"
        return _test(q, 0.0, "failed", f"{q.name}: no result ({why})."), set()
    found, reached = [], set()
    for i, (desc, inputs) in enumerate(cases):
        if i not in got:
            found.append((desc, [f"no result ({failure or 'the case did not finish'})"]))
            continue
        header, arrays = got[i]
        err = header.get("error")
        error = results.clip(err) if isinstance(err, str) else None
        names = header.get("reached")
        if isinstance(names, list):
            reached.update(results.clip(n, 120) for n in names[:50] if isinstance(n, str))
        try:
            problems = core.evaluate_case(q, inputs, None if error else arrays, error)
        except Exception as e:  # noqa: BLE001 - an output the checks did not foresee
            problems = [f"the output could not be judged ({type(e).__name__}: "
                        f"{results.clip(e, 120)})"]
        found.append((desc, problems))
    passed, text = core.summarize(q, found)
    mistakes = sorted({p[len(core.LIKELY):] for _, ps in found for p in ps
                       if p.startswith(core.LIKELY)})
    return _test(q, float(q.points) if passed else 0.0, "passed" if passed else "failed", text,
                 mistakes), reached


def _where(nb, index: int) -> str:
    """Names a cell of the assembled notebook for the student: its answer cell's grade_id."""
    gid = nb.cells[index].metadata.get("nbgrader", {}).get("grade_id") if index >= 0 else None
    return f"answer cell {gid!r}" if gid else f"cell {index}"


# --------------------------------------------------------------------------- running
@dataclasses.dataclass
class _Run:
    outputs: dict[str, dict[int, tuple[dict, dict]]] = dataclasses.field(default_factory=dict)
    missing: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    failures: dict[str, str] = dataclasses.field(default_factory=dict)
    status: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    cache: dict[str, bytes] = dataclasses.field(default_factory=dict)
    retry: bool = False


def _execute(nb, questions: list[core.Question], cases: dict, cfg: Config, t0: float, *,
             env: dict[str, str], binds: dict[str, str], collect_cache: bool = False) -> _Run:
    """Runs the assembled notebook, re-running without a cell that hangs or kills the kernel."""
    run = _Run()
    probes = {i: c.metadata["nnlib_probe"] for i, c in enumerate(nb.cells)
              if "nnlib_probe" in c.metadata}
    by_name = {q.name: q for q in questions}
    inputs = {f"{q.name}/{i}/{k}": v for q in questions
              for i, (_, inp) in enumerate(cases[q.name])
              for k, v in inp.items() if not k.startswith("_")}
    forbidden = sorted({p for q in questions for p in q.forbidden})
    cells = [(i, notebooks.source(c)) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    timeouts = {i: by_name[name].timeout for i, name in probes.items()}
    skip: set[int] = set()
    started_once = False
    budget_end = t0 + cfg.limits.total_timeout
    for _attempt in range(MAX_ATTEMPTS):
        left = budget_end - time.monotonic()
        if left < 5:
            run.status.append("out of time")
            break
        limits = dataclasses.replace(cfg.limits, total_timeout=left)
        done = {i for i, n in probes.items() if n in run.outputs or n in run.missing}
        rep = sandbox.run_cells(cells, sandbox=cfg.sandbox, limits=limits, inputs=inputs,
                                probes=probes, forbidden=forbidden, timeouts=timeouts,
                                skip=skip | done, binds=binds, env=env,
                                collect_cache=collect_cache)
        for q, got in rep.outputs.items():
            run.outputs.setdefault(q, {}).update(got)
        run.missing.update(rep.missing)
        run.cache.update(rep.cache)
        if rep.output_truncated and "output truncated" not in run.status:
            run.status.append("output truncated")
        if rep.out_of_memory and "memory limit reached" not in run.status:
            run.status.append("memory limit reached")
        if rep.ignored_frames and not any("ignored" in n for n in run.notes):
            run.notes.append(f"{rep.ignored_frames} message(s) from the kernel outside a "
                             "probe were ignored")
        if rep.start_error:
            if not started_once:  # one more try: a start can fail for passing reasons
                started_once = True
                continue
            run.status.append(f"kernel failed to start ({rep.start_error})")
            run.retry = True  # the grader's or the machine's fault: grade again next run
            break
        started_once = True
        for c in rep.cells:
            if c.status == "error" and c.index not in probes:
                run.notes.append(f"{_where(nb, c.index)} raised {c.detail}")
        bad = rep.first_failure()
        if bad is None:
            break
        what = "timed out" if bad.status == "timeout" else "killed the kernel"
        if bad.detail.startswith("broke the grading protocol"):
            what = bad.detail
        if rep.deadline_hit:
            run.status.append("whole-notebook time limit reached")
            break
        if bad.index in probes:
            run.failures[probes[bad.index]] = f"grading it {what}"
            run.status.append(f"{probes[bad.index]}: {what}")
        else:
            run.status.append(f"{_where(nb, bad.index)} {what}; re-run without it")
        if bad.index < 0:
            break
        skip.add(bad.index)
    return run


def grade_notebook(source: Path, data: bytes | None, student: str, cfg: Config, *,
           seed: int | None = None, problem: str | None = None, submission: str = "",
           notes: list[str] | None = None, collect_cache: bool = False,
           env: dict[str, str] | None = None,
           binds: dict[str, str] | None = None) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Grades one notebook's bytes; returns ``(results.json object, JAX cache entries)``."""
    t0 = time.monotonic()
    spec = specs.assignment(source.stem)
    questions = list(spec.QUESTIONS)
    notes = list(notes or [])
    box = cfg.sandbox.name

    def zero(status: str) -> dict[str, Any]:
        if not cfg.sandbox.isolate:
            status += "; unsandboxed"
        tests = [_test(q, 0.0, "failed", f"{q.name}: no result ({status}).") for q in questions]
        return results.results_json(student, tests, status, notes, {}, dict(spec.MANUAL),
                                    time.monotonic() - t0, submission=submission, sandbox=box)

    if problem is not None or data is None:
        return zero(problem or "no notebook"), {}
    try:
        sub = notebooks.parse_notebook(data)
    except notebooks.InvalidNotebook as e:
        return zero(f"invalid notebook: {e}"), {}
    release_nb = notebooks.release(notebooks.read_notebook(source))
    nb, manual, more = notebooks.assemble(release_nb, sub, source.stem, [q.name for q in questions])
    notes += more
    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)
    cases = {q.name: q.make_cases(rng) for q in questions}
    if env is None or binds is None:
        env, binds = cfg.cache_env()
    run = _execute(nb, questions, cases, cfg, t0, env=env, binds=binds,
                   collect_cache=collect_cache)
    answers = [notebooks.source(c) for c in nb.cells
               if c.cell_type == "code" and notebooks.meta(c).get("solution")]
    tests, flags = [], []
    for q in questions:
        test, reached = _judge(q, cases[q.name], run.outputs.get(q.name, {}),
                               run.missing.get(q.name), run.failures.get(q.name))
        static = honesty.static_findings(answers, q.functions, q.forbidden)
        runtime = honesty.findings_from_run(reached, q.forbidden)
        if static or runtime:
            test.update(score=0.0, status="failed",
                        output=honesty.describe(q.name, static, runtime) + "\n" + test["output"])
            test["extra_data"]["flags"] = [*static, *runtime]
            flags.append(f"{q.name} ({', '.join([*static, *runtime])})")
        tests.append(test)
    status = "; ".join(run.status) or "ok"
    if not cfg.sandbox.isolate:
        status += "; unsandboxed"
    res = results.results_json(student, tests, status, run.notes + notes, manual,
                               dict(spec.MANUAL), time.monotonic() - t0, flags=flags,
                               submission=submission, retry=run.retry, sandbox=box)
    return res, run.cache


def grade_submission(source: Path, sub_path: Path, student: str, out_dir: Path, *,
                     cfg: Config | None = None, seed: int | None = None) -> dict[str, Any]:
    """Grades the notebook file ``sub_path`` as ``student``; writes and returns its results.

    The file is read as a submission is (symlinks and non-regular files refused).
    """
    cfg = cfg or Config()
    sub_path = Path(sub_path)
    entry = submissions.Submission(student, sub_path.name, sub_path.name)
    return grade_entry(source, sub_path.parent, entry, Path(out_dir), cfg, seed=seed)


def grade_entry(source: Path, folder: Path, sub: submissions.Submission, out_dir: Path,
                 cfg: Config, seed: int | None = None) -> dict[str, Any]:
    data, problem = None, sub.problem
    if problem is None:
        try:
            data = submissions.read(folder, sub)
        except submissions.Unreadable as e:
            problem = str(e)
    res, _ = grade_notebook(source, data, sub.student, cfg, seed=seed, problem=problem,
                    submission=sub.original, notes=sub.notes)
    results.write_student(out_dir, sub.student, res)
    return res


def build_jax_cache(source: Path, cfg: Config) -> dict[str, bytes]:
    """Grades the solution ``source`` once with a writable JAX cache; returns its entries.

    Returns ``{}`` when the solution did not earn full marks in that run (a cache is then not
    worth trusting) or the kernel sent none.
    """
    writable = f"{sandbox.WORK}/.jaxcache"
    env = jaxcache.kernel_env(writable, writable=True)
    res, cache = grade_notebook(source, Path(source).read_bytes(), "_jaxcache", cfg,
                        collect_cache=True, env=env, binds={})
    if res["score"] != sum(t["max_score"] for t in res["tests"]):
        return {}
    return jaxcache.collect(cache, jaxcache.solution_names(notebooks.read_notebook(source)))


# --------------------------------------------------------------------------- a class
def _worker(args: tuple) -> tuple[str, str]:
    source, folder, sub, out_dir, cfg = args
    try:
        res = grade_entry(source, folder, sub, out_dir, cfg)
        return sub.student, res["extra_data"]["status"]
    except Exception as e:  # noqa: BLE001 - one student's failure must not stop the batch
        status = results.clip(f"grader error: {type(e).__name__}: {e}", 300)
        try:
            spec = specs.assignment(source.stem)
            tests = [_test(q, 0.0, "failed", f"{q.name}: not graded ({status}); it is graded "
                           "again on the next run.") for q in spec.QUESTIONS]
            res = results.results_json(sub.student, tests, status, sub.notes, {},
                                       dict(spec.MANUAL), 0.0, submission=sub.original,
                                       retry=True, sandbox=cfg.sandbox.name)
            results.write_student(out_dir, sub.student, res)
        except Exception:  # noqa: BLE001 - the row is best effort; the log says what failed
            pass
        return sub.student, status


def grade_all(assignment: str | Path, subs_dir: Path, out_dir: Path, *, jobs: int = 1,
              limits: sandbox.Limits | None = None, force: bool = False, log=print,
              jax_cache: bool = True, box: sandbox.Sandbox | None = None,
              course: str | Path | None = None) -> Path:
    """Grades every submission in ``subs_dir`` into ``out_dir``; returns ``grades.csv``.

    Every entry of ``subs_dir`` gets exactly one row (see :mod:`.submissions`). Students with a
    row are skipped unless ``force``, except rows marked ``retry`` (the grader failed, not the
    submission). With ``jax_cache`` (the default), the grader first runs its own solution once
    to fill a JAX compilation cache that every student kernel then reads (:mod:`.jaxcache`).
    ``assignment`` and ``course`` are as for :func:`resolve_source`.

    Raises:
      FileNotFoundError: the assignment or the submissions folder does not exist.
      SandboxUnavailable: the sandbox cannot run here (the message says how to fix it).
      ValueError: a private folder lies where the sandbox would show it.
    """
    source = resolve_source(assignment, course)
    if not source.is_file():
        raise FileNotFoundError(f"assignment source {source} not found (give the solution "
                                "notebook or its folder, or run from the course folder)")
    spec = specs.assignment(source.stem)
    subs_dir, out_dir = Path(subs_dir).resolve(), Path(out_dir).resolve()
    subs, skipped = submissions.find(subs_dir, source.stem)
    subs = [s for s in subs if subs_dir / s.original != out_dir]  # OUT inside the folder
    box = box or sandbox.Sandbox()
    box.check()
    if box.isolate:
        sandbox.check_exposure([source.parent, subs_dir, out_dir])
    out_dir.mkdir(parents=True, exist_ok=True)
    if skipped:
        log(f"skipped {len(skipped)} entries that are not submissions: {', '.join(skipped)[:300]}")
    before = results.load_results(out_dir)
    todo = [s for s in subs if force or s.student not in before
            or before[s.student].get("extra_data", {}).get("retry")]
    log(f"grading {len(todo)} submission(s) with {jobs} job(s)")
    cfg = Config(limits=limits or sandbox.Limits(), sandbox=box)
    with tempfile.TemporaryDirectory(prefix="nnlib-grade-") as tmp:
        if jax_cache and any(s.problem is None for s in todo):
            try:
                entries = build_jax_cache(source, cfg)
            except Exception as e:  # noqa: BLE001 - without the cache grading is only slower
                log(f"compilation cache not built: {type(e).__name__}: {e}")
                entries = {}
            log(f"compilation cache: {len(entries)} entries from the solution run")
            if entries:
                cfg = dataclasses.replace(cfg, cache_dir=str(jaxcache.install(
                    entries, Path(tmp) / "jaxcache")))
        work = [(source, subs_dir, s, out_dir, cfg) for s in todo]
        if jobs <= 1:
            for args in work:
                log("{}: {}".format(*_worker(args)))
        else:
            ctx = multiprocessing.get_context("spawn")
            with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                for student, st in pool.map(_worker, work):
                    log(f"{student}: {st}")
    questions = [q.name for q in spec.QUESTIONS]
    points = {q.name: q.points for q in spec.QUESTIONS}
    csv_path = results.write_csv(out_dir, questions, points)
    report.write(out_dir, questions, points)
    return csv_path
