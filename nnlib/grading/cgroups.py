"""One control group per sandbox, where the grader may make one: memory, processes and CPU share.

A sandboxed submission as a whole is bounded by its cgroup: ``memory`` (everything its
processes and its tmpfs folders hold), ``pids`` (processes and threads) and an equal CPU
share (``cpu.weight`` / ``cpu.shares``), so 400 busy processes in one sandbox get the same CPU
as the one process of the student graded beside it. Both kernel interfaces are handled:

* cgroup v2: under ``NNLIB_GRADING_CGROUP`` (a folder an administrator delegated to the
  grader, with ``memory pids cpu`` in its ``cgroup.subtree_control`` and no process of its
  own), else under the v2 root when the grader is root and that root has the controllers;
* cgroup v1 (older hosts, and this project's CI machines): a group in each of the
  ``memory``, ``pids`` and ``cpu`` hierarchies, under the grader's own group, when the grader
  may write there (root).

Where neither works (an ordinary user on a host without delegation, or a container whose
cgroup file system is read-only), :func:`create` returns None and the sandbox falls back on
per-process limits (see :mod:`nnlib.grading.sandbox`). A process joins the group by writing
``0`` to the ``cgroup.procs`` descriptors of :attr:`JobCgroup.procs_fds` before it starts
the sandbox; the descriptors were opened by the grader, whose rights the kernel checks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import time
from pathlib import Path

ENV_PARENT = "NNLIB_GRADING_CGROUP"
PREFIX = "nnlib-grade-"
_COUNTER = itertools.count()


@dataclasses.dataclass
class JobCgroup:
    """The cgroup folder(s) of one sandbox."""

    version: int
    dirs: list[Path]
    procs_fds: list[int] = dataclasses.field(default_factory=list)

    def oom_kills(self) -> int:
        """How many processes the kernel killed for reaching the memory limit."""
        n = 0
        for d in self.dirs:
            for name in ("memory.events", "memory.oom_control"):  # v2, v1
                with contextlib.suppress(OSError, ValueError):
                    for line in (d / name).read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "oom_kill":
                            n += int(value)
        return n

    def close(self) -> None:
        """Closes the descriptors and removes the folders (after every process in them ended)."""
        for fd in self.procs_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.procs_fds = []
        for d in self.dirs:
            _remove(d)


def _remove(d: Path, wait: float = 2.0) -> None:
    end = time.monotonic() + wait
    while True:
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > end:
                return  # left for the next run's sweep (see _sweep)
            time.sleep(0.02)


def _mounts() -> list[tuple[str, str, set[str]]]:
    """``(mount point, fstype, options)`` of the cgroup file systems."""
    out = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or len(rest) < 3 or rest[0] not in ("cgroup", "cgroup2"):
            continue
        out.append((fields[4].replace("\\040", " "), rest[0], set(rest[2].split(","))))
    return out


def _own() -> dict[str, str]:
    """The grader's own cgroup paths: controller (or "" for v2) -> path."""
    out = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _hid, ctrls, path = line.split(":", 2)
            for c in (ctrls.split(",") if ctrls else [""]):
                out[c] = path
    return out


def _sweep(parent: Path) -> None:
    """Removes empty job groups a killed grader left behind (their grader pid is gone)."""
    with contextlib.suppress(OSError):
        for d in parent.iterdir():
            if d.name.startswith(PREFIX) and d.is_dir():
                pid = d.name[len(PREFIX):].split("-")[0]
                if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                    with contextlib.suppress(OSError):
                        d.rmdir()


def _v2_parent() -> Path | None:
    configured = os.environ.get(ENV_PARENT)
    if configured:
        return Path(configured)
    if os.geteuid() != 0:
        return None
    for point, fstype, _opts in _mounts():
        if fstype == "cgroup2" and _own().get("") == "/":
            root = Path(point)
            with contextlib.suppress(OSError):
                have = set((root / "cgroup.controllers").read_text().split())
                if {"memory", "pids", "cpu"} <= have:
                    return root
    return None


def _create_v2(parent: Path, name: str, memory_bytes: int, pids: int) -> JobCgroup | None:
    try:
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
        missing = {"memory", "pids", "cpu"} - enabled
        if missing:
            (parent / "cgroup.subtree_control").write_text(
                " ".join(f"+{c}" for c in sorted(missing)))
        d = parent / name
        d.mkdir()
    except OSError:
        return None
    job = JobCgroup(2, [d])
    try:
        (d / "memory.max").write_text(str(memory_bytes))
        with contextlib.suppress(OSError):
            (d / "memory.swap.max").write_text("0")
        (d / "pids.max").write_text(str(pids))
        job.procs_fds = [os.open(d / "cgroup.procs", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC)]
    except OSError:
        job.close()
        return None
    return job


def _create_v1(name: str, memory_bytes: int, pids: int) -> JobCgroup | None:
    own = _own()
    points = {}
    for point, fstype, opts in _mounts():
        if fstype == "cgroup":
            for c in ("memory", "pids", "cpu"):
                if c in opts:
                    points[c] = Path(point)
    if set(points) != {"memory", "pids", "cpu"}:
        return None
    job = JobCgroup(1, [])
    try:
        for c in ("memory", "pids", "cpu"):
            parent = points[c] / own.get(c, "/").lstrip("/")
            _sweep(parent)
            d = parent / name
            d.mkdir()
            job.dirs.append(d)
            if c == "memory":
                (d / "memory.limit_in_bytes").write_text(str(memory_bytes))
                with contextlib.suppress(OSError):  # no swap either, where swap is accounted
                    (d / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
            elif c == "pids":
                (d / "pids.max").write_text(str(pids))
            job.procs_fds.append(os.open(d / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC))
    except OSError:
        job.close()
        return None
    return job


def create(memory_bytes: int, pids: int) -> JobCgroup | None:
    """A fresh cgroup for one sandbox with these limits, or None where none can be made."""
    name = f"{PREFIX}{os.getpid()}-{next(_COUNTER)}"
    parent = _v2_parent()
    if parent is not None:
        _sweep(parent)
        job = _create_v2(parent, name, memory_bytes, pids)
        if job is not None:
            return job
    return _create_v1(name, memory_bytes, pids)


def job_groups() -> list[Path]:
    """The job groups (``nnlib-grade-*``) present under the grader's own cgroups, v1 and v2."""
    own = _own()
    found: list[Path] = []
    parents = {Path(os.environ[ENV_PARENT])} if os.environ.get(ENV_PARENT) else set()
    for point, fstype, opts in _mounts():
        ctrls = [""] if fstype == "cgroup2" else [c for c in opts if c in own]
        for c in ctrls:
            parents.add(Path(point) / own.get(c, "/").lstrip("/"))
    for parent in parents:
        with contextlib.suppress(OSError):
            found += [p for p in parent.iterdir() if p.name.startswith(PREFIX)]
    return sorted(found)
