"""Runs a notebook's code cells in a fresh bubblewrap sandbox, talking to it over pipes.

Every submission gets its own sandbox (`bubblewrap <https://github.com/containers/bubblewrap>`_,
the sandbox Flatpak uses), made the same way whether the instructor is root or not:

* new user, pid, ipc, network, uts and cgroup namespaces (``--unshare-all``), no further user
  namespaces inside (``--disable-userns``), a new session, ``--die-with-parent``. There is no
  network at all: the kernel (:mod:`nnlib.grading.runner`) talks to the grader over its
  standard input and output in :mod:`nnlib.grading.wire` frames. When the kernel exits or is
  killed, the sandbox's first process exits and the kernel of Linux kills every process left in
  its pid namespace: nothing a submission starts outlives it, and no process outside is
  visible or reachable from inside. System V IPC dies with the ipc namespace.
* files: read-only binds of the system folders (``/usr``, ``/lib``...), of the Python
  installation and virtual environment, and of the ``nnlib`` package alone; the working folder
  (``/home/student``), ``/tmp``, ``/var/tmp`` and ``/dev/shm`` are size-limited tmpfs folders
  private to the sandbox. None of the host's writable folders, and nothing else of the
  course's checkout (solutions, tests, submissions, grades), is visible.
* limits: a cgroup for the whole submission (memory, processes, an equal CPU share) where the
  grader can make one (:mod:`nnlib.grading.cgroups`), and always per-process limits set by the
  kernel before any student code runs (address space, file size, CPU time, core dumps, and a
  process count that the sandbox's own user namespace keeps apart from everyone else's).
* as root, the sandbox is entered through a second, outer bubblewrap that only makes the
  interpreter's folders reachable (``/root`` is mode 0700) and ``setpriv`` from util-linux,
  which drops to an unprivileged uid (``nobody``), clears every capability and sets
  ``no_new_privs`` before the inner bubblewrap starts.

The grader never opens, follows or copies a path inside the sandbox: what comes back is frames
on a pipe, capped before they are decoded. ``Sandbox(isolate=False)`` (``--no-sandbox``) runs
the same kernel as a plain child process with the same limits, for machines without
bubblewrap; it is refused as root.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import fcntl
import functools
import os
import selectors
import shutil
import signal
import site
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from nnlib.grading import cgroups, seccomp, wire
from nnlib.grading.results import clip

WORK = "/home/student"  # the kernel's working folder and HOME inside the sandbox
SANDBOX_UID = 65534  # "nobody": the kernel's uid when the grader runs as root


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run on this machine; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one submission (seconds, bytes, counts).

    ``memory_bytes`` bounds the whole submission where a cgroup can be made, and each of its
    processes' address space always; ``tmp_bytes`` bounds each of its tmpfs folders;
    ``nproc`` counts its processes and threads; ``frame_bytes`` caps one message from the
    kernel (the outputs of one case).
    """

    cell_timeout: float = 60.0
    total_timeout: float = 600.0
    memory_bytes: int = 4 << 30
    file_bytes: int = 64 << 20
    tmp_bytes: int = 128 << 20
    output_bytes: int = 1 << 20
    nproc: int = 256
    startup_timeout: float = 60.0
    frame_bytes: int = 32 << 20


@dataclasses.dataclass
class CellRun:
    """What happened to one cell: ``status`` is ok / error / timeout / died / skipped."""

    index: int
    status: str
    detail: str = ""


@dataclasses.dataclass
class RunReport:
    """The outcome of :func:`run_cells`.

    ``outputs`` maps a question to ``{case: (header, arrays)}`` (the probe's frames, taken only
    while that question's probe cell ran); ``missing`` maps a question to the function names
    its probe did not find.
    """

    cells: list[CellRun]
    outputs: dict[str, dict[int, tuple[dict, dict]]] = dataclasses.field(default_factory=dict)
    missing: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    output_truncated: bool = False
    deadline_hit: bool = False
    start_error: str | None = None
    ignored_frames: int = 0
    cache: dict[str, bytes] = dataclasses.field(default_factory=dict)
    cgroup: int | None = None
    out_of_memory: bool = False

    def first_failure(self) -> CellRun | None:
        """The first cell that timed out or killed the kernel, if any."""
        return next((c for c in self.cells if c.status in ("timeout", "died")), None)


# --------------------------------------------------------------------------- the command
def package_dir() -> Path:
    """The ``nnlib`` package folder (the only part of the course the kernel sees)."""
    return Path(__file__).resolve().parents[1]


def exposed_paths() -> list[str]:
    """Host folders bound read-only into the sandbox: Python, its packages and ``nnlib``."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
            os.path.dirname(os.path.realpath(sys.executable)), str(package_dir())}
    dirs.update(site.getsitepackages())
    user = site.getusersitepackages()
    if user in sys.path and os.path.isdir(user):
        dirs.add(user)
    real = sorted({os.path.realpath(d) for d in dirs if os.path.isdir(d)})
    system = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
    real = [d for d in real if not any(d == s or d.startswith(s + "/") for s in system)]
    return [d for d in real if not any(d != o and d.startswith(o.rstrip("/") + "/")
                                       for o in real)]


def check_exposure(private: Sequence[str | Path]) -> None:
    """Raises ValueError if a private path (solutions, submissions, grades) would be visible."""
    shown = exposed_paths()
    for p in private:
        rp = os.path.realpath(p)
        for d in shown:
            if rp == d or rp.startswith(d.rstrip("/") + "/"):
                raise ValueError(
                    f"{p} lies inside {d}, which the grading sandbox shows to every "
                    f"submission (it holds Python or nnlib): move it elsewhere")


def kernel_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The kernel's whole environment: nothing of the grader's but where Python is."""
    home = WORK
    env = {
        "PATH": f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home, "USER": "student", "LOGNAME": "student",
        "IPYTHONDIR": f"{home}/.ipython", "MPLCONFIGDIR": f"{home}/.matplotlib",
        "LANG": "C.UTF-8", "PYTHONPATH": str(package_dir().parent),
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONWARNINGS": "ignore",
        "JAX_PLATFORMS": "cpu", "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3",
        # graded code is many tiny ops: XLA's cheapest codegen compiles them ~20% faster
        "XLA_FLAGS": "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true",
        "NNLIB_GRADING": "1",
    }
    env.update(extra or {})
    return env


@functools.lru_cache(maxsize=None)
def _bwrap_flags(bwrap: str) -> frozenset[str]:
    try:
        out = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(w for w in (out.stdout + out.stderr).split() if w.startswith("--"))


def _searchable(path: str, uid: int) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    return bool(st.st_mode & stat.S_IXOTH)


def reachable_args(paths: Sequence[str], uid: int) -> list[str]:
    """Outer bubblewrap arguments that make ``paths`` reachable for ``uid`` (root mode).

    Each highest folder on the way that ``uid`` may not enter (``/root``, a 0700 temporary
    folder) is covered with an empty tmpfs in which only the needed paths are bound back.
    """
    covers: dict[str, list[str]] = {}
    for p in paths:
        parts = Path(p).parts
        for i in range(2, len(parts)):
            anc = str(Path(*parts[:i]))
            if not _searchable(anc, uid):
                covers.setdefault(anc, []).append(p)
                break
    args: list[str] = []
    for anc, inside in sorted(covers.items()):
        args += ["--perms", "0755", "--tmpfs", anc]
        made = {anc}
        for p in sorted(inside):
            parts = Path(p).parts
            for i in range(len(Path(anc).parts) + 1, len(parts)):
                d = str(Path(*parts[:i]))
                if d not in made:
                    args += ["--perms", "0755", "--dir", d]
                    made.add(d)
            args += ["--bind", p, p]
    return args


@dataclasses.dataclass(frozen=True)
class Sandbox:
    """How kernels are started: in bubblewrap (the default), or, explicitly, unsandboxed.

    Attributes:
      isolate: False runs the kernel as a plain child process (``--no-sandbox``; refused as
        root): the limits hold, the isolation does not.
      bwrap: the bubblewrap executable.
      uid: the unprivileged uid the kernel runs as when the grader is root.
    """

    isolate: bool = True
    bwrap: str = "bwrap"
    uid: int = SANDBOX_UID

    @property
    def name(self) -> str:
        return "bubblewrap" if self.isolate else "unsandboxed"

    def command(self, binds: Mapping[str, str], argv: Sequence[str], tmp_bytes: int,
                seccomp_fd: int | None = None,
                env: Mapping[str, str] | None = None) -> list[str]:
        """The full command line that runs ``argv`` in a sandbox (see the module docstring).

        Args:
          binds: more read-only binds, sandbox path -> host path (the JAX cache).
          argv: what to run inside.
          tmp_bytes: the size of each tmpfs folder.
          seccomp_fd: a descriptor holding :func:`nnlib.grading.seccomp.program`, passed on
            to bubblewrap (no ``setsid`` inside, so the CPU is shared fairly).
        """
        if not self.isolate:
            return list(argv)
        bwrap = shutil.which(self.bwrap) or self.bwrap
        flags = _bwrap_flags(bwrap)
        inner = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent",
                 "--new-session", "--hostname", "sandbox", "--clearenv"]
        if "--disable-userns" in flags:
            inner.append("--disable-userns")
        if seccomp_fd is not None:
            inner += ["--seccomp", str(seccomp_fd)]
        for k, v in (env or {}).items():
            inner += ["--setenv", k, v]
        for d in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(d):
                inner += ["--symlink", os.readlink(d), d]
            elif os.path.isdir(d):
                inner += ["--ro-bind", d, d]
        for f in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                  "/etc/alternatives"):
            if os.path.exists(f):
                inner += ["--ro-bind", f, f]
        inner += ["--proc", "/proc", "--dev", "/dev"]
        size = str(int(tmp_bytes))
        for d in ("/tmp", "/var/tmp", "/dev/shm"):
            inner += ["--perms", "1777", "--size", size, "--tmpfs", d]
        inner += ["--perms", "0700", "--size", size, "--tmpfs", WORK]
        shown = exposed_paths()
        for d in shown:
            inner += ["--ro-bind", d, d]
        for inside, host in binds.items():
            inner += ["--ro-bind", host, inside]
        inner += ["--remount-ro", "/", "--chdir", WORK, "--", *argv]
        if os.geteuid() != 0:
            return inner
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        outer = [bwrap, "--dev-bind", "/", "/", "--die-with-parent",
                 *reachable_args([*shown, *binds.values()], self.uid)]
        drop = [setpriv, f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
        return [*outer, "--", *drop, "--", *inner]

    def check(self) -> None:
        """Raises :class:`SandboxUnavailable` (saying what to do) unless kernels can start."""
        _check(self)


@functools.lru_cache(maxsize=None)
def _check_cached(box: Sandbox, euid: int) -> str | None:
    if not box.isolate:
        if euid == 0:
            return ("refusing to grade without the sandbox as root: every submission would run "
                    "as root. Install bubblewrap, or grade as an ordinary user")
        return None
    if shutil.which(box.bwrap) is None:
        return ("bubblewrap (bwrap) is not installed, and the grader runs every submission in a "
                "bubblewrap sandbox. Install it (Debian/Ubuntu: apt-get install bubblewrap; "
                "Fedora: dnf install bubblewrap), or grade without isolation with --no-sandbox "
                "(not as root; a submission can then read the solutions and other submissions)")
    if euid == 0 and shutil.which("setpriv") is None and not os.path.exists("/usr/bin/setpriv"):
        return "setpriv (util-linux) is needed to drop root's privileges before the sandbox"
    fd = seccomp_fd()
    argv = box.command({}, [sys.executable, "-c", "import os, nnlib.grading.runner\n"
                            "try:\n    os.setsid()\nexcept PermissionError:\n    pass\n"
                            "else:\n    raise SystemExit('setsid was allowed')"], 1 << 20, fd)
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd="/",
                             env={"PATH": "/usr/bin:/bin"}, start_new_session=True,
                             pass_fds=(fd,))
    except (OSError, subprocess.SubprocessError) as e:
        return f"bubblewrap could not be started ({type(e).__name__}: {e})"
    finally:
        os.close(fd)
    if out.returncode != 0:
        return ("bubblewrap could not make a sandbox here: "
                f"{(out.stderr or out.stdout).strip()[-500:]}. Unprivileged user namespaces may "
                "be off (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > "
                "0), or a container's seccomp or AppArmor profile may forbid them (Docker: "
                "--security-opt seccomp=unconfined --security-opt apparmor=unconfined)")
    return None


def seccomp_fd() -> int:
    """A fresh descriptor, at offset 0, holding the sandbox's seccomp filter."""
    fd = os.memfd_create("nnlib-seccomp", 0)
    os.write(fd, seccomp.program())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _check(box: Sandbox) -> None:
    why = _check_cached(box, os.geteuid())
    if why:
        raise SandboxUnavailable(why)


# --------------------------------------------------------------------------- the process
# Joins the cgroup (writing 0 to each cgroup.procs descriptor moves the writer), then becomes
# the sandbox: everything the sandbox starts is born inside the group.
_TRAMPOLINE = ("import os, sys\n"
               "for fd in os.environ.pop('NNLIB_CGROUP_FDS').split():\n"
               "    os.write(int(fd), b'0')\n"
               "os.execvpe(sys.argv[1], sys.argv[1:], os.environ)")


class _Kernel:
    """The sandboxed kernel process and the grader's end of its pipes (never blocking)."""

    def __init__(self, argv: list[str], *, env: dict[str, str], cwd: str,
                 max_frame: int, max_total: int, cgroup_fds: Sequence[int] = (),
                 pass_fds: Sequence[int] = ()):
        if cgroup_fds:  # join the cgroup first, then become the sandbox (see cgroups)
            argv = [sys.executable, "-I", "-S", "-c", _TRAMPOLINE, *argv]
            env = {**env, "NNLIB_CGROUP_FDS": " ".join(str(fd) for fd in cgroup_fds)}
        pass_fds = (*cgroup_fds, *pass_fds)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=cwd,
                                     pass_fds=pass_fds, start_new_session=True)
        self.fd_in = self.proc.stdin.fileno()
        self.fd_out = self.proc.stdout.fileno()
        self.fd_err = self.proc.stderr.fileno()
        for fd in (self.fd_in, self.fd_out, self.fd_err):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.fd_out, selectors.EVENT_READ)
        self.sel.register(self.fd_err, selectors.EVENT_READ)
        self.reader = wire.Reader(max_frame)
        self.frames: collections.deque = collections.deque()
        self.stderr = bytearray()
        self.pending = b""
        self.eof = False
        self.received = 0
        self.max_total = max_total

    def _pump(self, deadline: float) -> None:
        """Waits until something happens or ``deadline``; moves bytes both ways."""
        want_write = bool(self.pending) and not self.eof
        if want_write:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.register(self.fd_in, selectors.EVENT_WRITE)
        try:
            events = self.sel.select(max(0.0, min(deadline - time.monotonic(), 1.0)))
        finally:
            if want_write:
                with contextlib.suppress(KeyError, ValueError):
                    self.sel.unregister(self.fd_in)
        for key, _mask in events:
            fd = key.fd
            if fd == self.fd_in:
                try:
                    n = os.write(fd, self.pending[:1 << 16])
                    self.pending = self.pending[n:]
                except BlockingIOError:
                    pass
                except (BrokenPipeError, OSError):
                    self.pending, self.eof = b"", True
            elif fd == self.fd_err:
                chunk = self._read(fd)
                if chunk is None:
                    self.sel.unregister(fd)
                elif len(self.stderr) < 4096:
                    self.stderr += chunk[:4096 - len(self.stderr)]
            else:
                chunk = self._read(fd)
                if chunk is None:
                    self.eof = True
                    self.sel.unregister(fd)
                    continue
                self.received += len(chunk)
                if self.received > self.max_total:
                    raise wire.ProtocolError(f"the kernel sent more than {self.max_total} bytes")
                self.frames.extend(self.reader.feed(chunk))

    @staticmethod
    def _read(fd: int) -> bytes | None:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return b""
        except OSError:
            return None
        return chunk or None

    def send(self, header: Mapping, arrays: Mapping | None, deadline: float) -> bool:
        """Queues a frame and writes it out by ``deadline``; False if it could not be sent."""
        self.pending += wire.encode(header, arrays)
        while self.pending and not self.eof and time.monotonic() < deadline:
            self._pump(deadline)
        return not self.pending

    def recv(self, deadline: float) -> tuple[dict, dict] | None:
        """The next frame, or None at ``deadline`` or when the kernel has gone (``eof``)."""
        while not self.frames and not self.eof and time.monotonic() < deadline:
            self._pump(deadline)
        return self.frames.popleft() if self.frames else None

    def close(self) -> None:
        """Kills the sandbox (its monitors; bubblewrap's --die-with-parent does the rest)."""
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.proc.wait(timeout=10)
        self.sel.close()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                f.close()


def run_cells(cells: Sequence[tuple[int, str]], *, sandbox: Sandbox, limits: Limits,
              inputs: Mapping[str, np.ndarray], probes: Mapping[int, str],
              forbidden: Sequence[str] = (), timeouts: Mapping[int, float] | None = None,
              skip: set[int] = frozenset(), binds: Mapping[str, str] | None = None,
              env: Mapping[str, str] | None = None, collect_cache: bool = False,
              cache_cap: int = 64 << 20) -> RunReport:
    """Executes ``cells`` (``(index, source)``, in order, except ``skip``) in a fresh sandbox.

    Args:
      cells: the code cells to run.
      sandbox: how to start the kernel.
      limits: the resource limits.
      inputs: the probes' inputs, flat (``"question/case/name" -> array``).
      probes: cell index -> question, for the grader's probe cells; a question's outputs are
        taken only while its probe cell runs.
      forbidden: every dotted name some question forbids (wrapped in the kernel, see honesty).
      timeouts: per-cell timeouts overriding ``limits.cell_timeout``.
      skip: indices of cells not to run.
      binds: more read-only folders, sandbox path -> host path.
      env: more environment variables for the kernel.
      collect_cache: ask the kernel, after the last cell, for its JAX cache files.
      cache_cap: the most bytes of cache files taken.

    Returns:
      A :class:`RunReport`. Never raises for anything the kernel does.
    """
    timeouts = timeouts or {}
    report = RunReport(cells=[])
    kenv = kernel_env(env)
    filt = seccomp_fd() if sandbox.isolate else None
    argv = sandbox.command(binds or {}, [sys.executable, "-m", "nnlib.grading.runner"],
                           limits.tmp_bytes, filt, kenv)
    start_limits = {"memory_bytes": limits.memory_bytes, "file_bytes": limits.file_bytes,
                    "cpu_seconds": int(limits.total_timeout * 2 + 60), "core": 0}
    scratch = None
    if sandbox.isolate:
        start_limits["nproc"] = limits.nproc  # counted in the sandbox's own user namespace
        cwd, run_env = "/", {"PATH": "/usr/bin:/bin"}
    else:
        scratch = tempfile.mkdtemp(prefix="nnlib-grade-")
        kenv = {k: v.replace(WORK, scratch) for k, v in kenv.items()}
        cwd, run_env = scratch, kenv
    cg = cgroups.create(limits.memory_bytes, limits.nproc + 16) if sandbox.isolate else None
    report.cgroup = cg.version if cg else None
    max_frame = max(limits.frame_bytes, cache_cap + (1 << 20) if collect_cache else 0)
    try:
        kernel = _Kernel(argv, env=run_env, cwd=cwd, max_frame=max_frame,
                         max_total=max_frame * 8 + (256 << 20),
                         cgroup_fds=cg.procs_fds if cg else (),
                         pass_fds=() if filt is None else (filt,))
    except BaseException:  # the process could not even start: leave nothing behind
        if cg is not None:
            cg.close()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    finally:
        if filt is not None:
            os.close(filt)
    current = -1
    t0 = time.monotonic()
    deadline = t0 + limits.total_timeout
    try:
        start = {"op": "start", "limits": start_limits, "forbidden": list(forbidden)}
        ready_by = min(deadline, t0 + limits.startup_timeout)
        frame = kernel.recv(ready_by) if kernel.send(start, inputs, ready_by) else None
        if frame is None or frame[0].get("op") != "ready":
            tail = bytes(kernel.stderr).decode("utf-8", "replace").strip()[-300:]
            report.start_error = clip(f"no answer from the kernel ({tail or 'no message'})")
            return report
        total_output = 0
        for index, source in cells:
            if index in skip:
                report.cells.append(CellRun(index, "skipped"))
                continue
            left = deadline - time.monotonic()
            if left <= 1:
                report.deadline_hit = True
                report.cells.append(CellRun(index, "timeout", "whole-notebook time limit"))
                break
            limit = min(timeouts.get(index, limits.cell_timeout), left)
            cell_deadline = time.monotonic() + limit
            current = index
            kernel.send({"op": "run", "index": index, "source": source}, None, cell_deadline)
            done = None
            while done is None:
                frame = kernel.recv(cell_deadline)
                if frame is None:
                    break
                header, arrays = frame
                op = header.get("op")
                if op == "done" and header.get("index") == index:
                    done = header
                elif op in ("case", "missing") and probes.get(index) == header.get("question"):
                    _keep(report, index, header, arrays, probes)
                else:
                    report.ignored_frames += 1
            if done is None:
                if kernel.eof:
                    report.cells.append(CellRun(index, "died"))
                else:
                    report.cells.append(CellRun(index, "timeout", f"{limit:.0f} s"))
                    report.deadline_hit = limit < timeouts.get(index, limits.cell_timeout)
                break
            size = done.get("output_bytes")
            total_output += size if isinstance(size, int) and size > 0 else 0
            if done.get("status") == "ok":
                report.cells.append(CellRun(index, "ok"))
            else:
                report.cells.append(CellRun(index, "error", clip(
                    f"{done.get('ename')}: {done.get('evalue')}", 200)))
        current = -1
        report.output_truncated = total_output > limits.output_bytes
        if collect_cache and not report.first_failure():
            by = time.monotonic() + 60
            if kernel.send({"op": "cache", "cap": cache_cap}, None, by):
                frame = kernel.recv(by)
                if frame is not None and frame[0].get("op") == "cache":
                    report.cache = {str(k): a.tobytes() for k, a in frame[1].items()
                                    if a.dtype == np.uint8 and a.ndim == 1}
        kernel.send({"op": "exit"}, None, time.monotonic() + 1)
    except wire.ProtocolError as e:
        report.cells.append(CellRun(current, "died", clip(f"broke the grading protocol: {e}")))
    finally:
        kernel.close()
        if cg is not None:
            report.out_of_memory = cg.oom_kills() > 0
            cg.close()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return report


def _keep(report: RunReport, index: int, header: dict, arrays: dict,
          probes: Mapping[int, str]) -> None:
    q = probes[index]
    if header.get("op") == "missing":
        names = header.get("functions")
        report.missing[q] = [clip(n, 60) for n in names][:10] if isinstance(names, list) else []
        return
    case = header.get("case")
    if isinstance(case, int) and 0 <= case < 1000:
        report.outputs.setdefault(q, {})[case] = (header, arrays)
