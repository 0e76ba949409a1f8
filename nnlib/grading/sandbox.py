"""Runs a notebook's code cells in a fresh, limited, isolated kernel.

:func:`run_cells` executes cells one at a time in a new IPython kernel (nbclient) launched
through :mod:`nnlib.grading._launch`: the kernel's working folder is a scratch folder, its
environment is scrubbed, it has memory / file-size / CPU / process limits, and -- when the
grader runs as root -- its own mount namespace (the grader's folders hidden) and its own
unprivileged uid, taken from a pool of job slots (:class:`Slot`). Each cell has a timeout,
the whole run a deadline, the outputs a size cap. When the run ends, every process the
kernel started is killed: by uid when running as root (``kill(-1)`` from a child that became
that uid), else by process group and by a token placed in the kernel's environment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Iterator, Sequence

UID_BASE, UID_COUNT = 62000, 1000
SLOT_DIR = Path("/tmp/nnlib-grading-slots")


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's kernel (seconds, bytes)."""

    cell_timeout: float = 60.0
    total_timeout: float = 600.0
    memory_bytes: int = 4 << 30
    file_bytes: int = 64 << 20
    output_bytes: int = 1 << 20
    nproc: int = 512
    startup_timeout: float = 60.0


@dataclasses.dataclass
class CellRun:
    """What happened to one cell: ``status`` is ok / error / timeout / died / skipped."""

    index: int
    status: str
    detail: str = ""


@dataclasses.dataclass
class RunReport:
    """The outcome of :func:`run_cells`."""

    cells: list[CellRun]
    output_truncated: bool = False
    deadline_hit: bool = False
    start_error: str | None = None
    isolation: dict = dataclasses.field(default_factory=dict)

    def first_failure(self) -> CellRun | None:
        """The first cell that timed out or killed the kernel, if any."""
        return next((c for c in self.cells if c.status in ("timeout", "died")), None)


@dataclasses.dataclass(frozen=True)
class Slot:
    """A job slot: an unprivileged uid (None when not root) held under a file lock."""

    uid: int | None
    gid: int | None
    token: str


@contextlib.contextmanager
def acquire_slot() -> Iterator[Slot]:
    """Reserves a free sandbox uid for the duration of the ``with`` block (root only)."""
    token = f"nnlib-grade-{os.getpid()}-{time.monotonic_ns()}"
    if os.geteuid() != 0:
        yield Slot(None, None, token)
        return
    SLOT_DIR.mkdir(mode=0o700, exist_ok=True)
    for uid in range(UID_BASE, UID_BASE + UID_COUNT):
        fd = os.open(SLOT_DIR / f"{uid}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        try:
            kill_uid(uid)  # leftovers of a grader that was killed mid-job
            for stale in Path("/var/tmp").glob("nnlib-grade-*"):
                with contextlib.suppress(OSError):
                    if stale.stat().st_uid == uid:  # a killed grader's scratch folder
                        shutil.rmtree(stale, ignore_errors=True)
                        shutil.rmtree(f"{stale}.grader", ignore_errors=True)
            yield Slot(uid, uid, token)
        finally:
            os.close(fd)
        return
    raise RuntimeError("no free sandbox uid: too many graders running")


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _uid_of(pid: int) -> int | None:
    """The real uid of a live process (None for a zombie or a process gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("State:") and line.split()[1] in ("Z", "X"):
                    return None
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def kill_uid(uid: int, rounds: int = 20) -> None:
    """Kills every process whose real uid is ``uid`` (``kill(-1)`` as that uid, repeated)."""
    for _ in range(rounds):
        if not any(_uid_of(p) == uid for p in _pids()):
            return
        pid = os.fork()
        if pid == 0:  # child: become the uid, then signal everything it owns
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.02)


def kill_token(token: str, pgid: int | None) -> None:
    """Kills the kernel's process group and every process whose environment holds ``token``."""
    if pgid:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
    needle = token.encode()
    for pid in _pids():
        if pid == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read():
                    os.kill(pid, signal.SIGKILL)
        except OSError:
            continue


def kernel_env(workdir: Path, token: str, pythonpath: str) -> dict[str, str]:
    """A scrubbed environment: nothing of the grader's but PATH, the language and nnlib."""
    home = workdir / "home"
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home), "IPYTHONDIR": str(home / ".ipython"),
        "MPLCONFIGDIR": str(home / ".matplotlib"), "JUPYTER_RUNTIME_DIR": str(home / "rt"),
        "LANG": "C.UTF-8", "PYTHONPATH": pythonpath, "PYTHONDONTWRITEBYTECODE": "1",
        "JAX_PLATFORMS": "cpu", "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3",
        # graded code is many tiny ops: XLA's cheapest codegen compiles them ~20% faster
        "XLA_FLAGS": "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true",
        "PYTHONWARNINGS": "ignore", "NNLIB_GRADING_SANDBOX": token,
    }


def _interpreter_dirs() -> list[str]:
    """Folders the kernel must reach: the Python installation, the virtualenv and ``nnlib``.

    They are bound back into the folders the sandbox hides or empties (``/root``, ``/tmp``),
    so grading works wherever the checkout and its virtualenv live (a CI clone under
    ``/tmp``, say). Only the ``nnlib`` package itself is kept from the checkout: its
    ``solutions/`` and ``tests/`` stay hidden.
    """
    package = Path(__file__).resolve().parents[1]  # the nnlib package folder
    dirs = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
            str(package)}
    return sorted({os.path.realpath(d) for d in dirs})


def _client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """nbclient's client with a cap on the bytes of output kept."""

        output_budget = 1 << 20
        truncated = False

        def output(self, outs, msg, display_id, cell_index):
            size = len(json.dumps(msg.get("content", {}), default=str))
            self.output_budget -= size
            if self.output_budget < 0:
                self.truncated = True
                return None
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


def run_cells(nb, workdir: Path, *, slot: Slot, limits: Limits, hide: Sequence[str] = (),
              timeouts: dict[int, float] | None = None, skip: set[int] = frozenset(),
              pythonpath: str = "", extra_env: dict[str, str] | None = None) -> RunReport:
    """Executes ``nb``'s code cells (except ``skip``) in a sandboxed kernel in ``workdir``.

    Args:
      nb: an nbformat v4 notebook (modified in place: outputs are stored in its cells).
      workdir: the scratch folder (created by the caller, owned by ``slot.uid``).
      slot: the job slot (uid and kill token).
      limits: the resource limits.
      hide: folders to hide from the kernel (root only).
      timeouts: per-cell timeouts overriding ``limits.cell_timeout`` (cell index -> s).
      skip: indices of cells not to run.
      pythonpath: the kernel's PYTHONPATH (where ``nnlib`` is importable from).
      extra_env: more environment variables for the kernel (the JAX cache's).

    Returns:
      A :class:`RunReport`. Never raises for anything the notebook does.
    """
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_core.utils import run_sync
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    timeouts = timeouts or {}
    private = workdir.parent / (workdir.name + ".grader")
    private.mkdir(mode=0o700)
    if slot.uid is not None and os.path.isdir("/root"):
        hide = [*hide, "/root"]  # the grader's home: hidden, but the interpreter under it kept
    cfg = {"workdir": str(workdir), "uid": slot.uid, "gid": slot.gid, "hide": sorted(set(hide)),
           "memory_bytes": limits.memory_bytes, "file_bytes": limits.file_bytes,
           "cpu_seconds": int(limits.total_timeout * 2 + 60), "nproc": limits.nproc,
           "python": sys.executable, "expose": _interpreter_dirs()}
    (private / "launch.json").write_text(json.dumps(cfg))
    launcher = str(Path(__file__).with_name("_launch.py"))
    km = AsyncKernelManager(connection_file=str(private / "connection.json"))
    km._kernel_spec = KernelSpec(argv=[sys.executable, launcher, str(private / "launch.json"),
                                       "{connection_file}"], display_name="sandbox",
                                 language="python")
    client = _client_class()(nb, km=km, allow_errors=True, timeout=limits.cell_timeout,
                             startup_timeout=int(limits.startup_timeout),
                             interrupt_on_timeout=False, record_timing=False)
    client.output_budget = limits.output_bytes
    report = RunReport(cells=[])
    deadline = time.monotonic() + limits.total_timeout
    env = {**kernel_env(workdir, slot.token, pythonpath), **(extra_env or {})}
    pgid = None
    log = open(private / "kernel.log", "wb")  # noqa: SIM115 - closed in finally
    try:
        with client.setup_kernel(env=env, cwd=str(workdir), stdout=log, stderr=log):
            with contextlib.suppress(Exception):
                pgid = os.getpgid(km.provisioner.process.pid)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                if index in skip:
                    report.cells.append(CellRun(index, "skipped"))
                    continue
                left = deadline - time.monotonic()
                if left <= 1:
                    report.deadline_hit = True
                    report.cells.append(CellRun(index, "timeout", "whole-notebook time limit"))
                    break
                client.timeout = int(max(1, min(timeouts.get(index, limits.cell_timeout), left)))
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    report.cells.append(CellRun(index, "timeout", f"{client.timeout} s"))
                    break
                except DeadKernelError:
                    report.cells.append(CellRun(index, "died"))
                    break
                errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
                if errors:
                    e = errors[0]
                    report.cells.append(CellRun(index, "error",
                                                f"{e.get('ename')}: {str(e.get('evalue'))[:200]}"))
                else:
                    report.cells.append(CellRun(index, "ok"))
    except Exception as e:  # noqa: BLE001 - a kernel that cannot start or dies at start
        if not report.cells:
            log.flush()
            tail = (private / "kernel.log").read_bytes()[-300:].decode("utf-8", "replace")
            report.start_error = f"{type(e).__name__}: {str(e)[:200]} {tail.strip()}"
        else:
            report.cells.append(CellRun(-1, "died", f"{type(e).__name__}"))
    finally:
        with contextlib.suppress(Exception):
            run_sync(km.shutdown_kernel)(now=True)
        if slot.uid is not None:
            kill_uid(slot.uid)
        kill_token(slot.token, pgid)
        log.close()
        with contextlib.suppress(OSError, ValueError):
            report.isolation = json.loads((private / "isolation.json").read_text())
        with contextlib.suppress(OSError):
            for f in private.iterdir():
                f.unlink()
            private.rmdir()
    report.output_truncated = bool(getattr(client, "truncated", False))
    return report
