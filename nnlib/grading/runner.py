"""The grading kernel: ``python -m nnlib.grading.runner``, started by the grader in the sandbox.

It talks to the grader over two pipes (its standard input and output when it starts, moved to
private descriptors at once) in :mod:`nnlib.grading.wire` frames, and runs the cells the grader
sends in an IPython shell, one at a time::

    grader -> kernel   {"op": "start", "limits": {...}, "forbidden": [...]} + the inputs
    kernel -> grader   {"op": "ready"}
    grader -> kernel   {"op": "run", "index": i, "source": "..."}
    kernel -> grader   {"op": "case", ...} (from a probe cell, see nnlib.grading.probe)  ...
    kernel -> grader   {"op": "done", "index": i, "status": "ok" | "error", ...}
    grader -> kernel   {"op": "cache"}  ->  {"op": "cache"} + the JAX cache files (solution run)
    grader -> kernel   {"op": "exit"}

No network and no port is involved: the sandbox has none. Standard input, output and error
are /dev/null for everything the student's code starts, and what the cells print goes to a
counter (``output_bytes``) rather than anywhere the grader reads. Nothing here is trusted by
the grader: the student's code runs in this process and can rewrite any of it, which only
spoils the student's own results (the verdict is computed in the grader's process).
"""

from __future__ import annotations

import io
import os
import resource
import struct
import sys
from typing import Any, Mapping

import numpy as np

from nnlib.grading import wire

_CHANNEL: _Channel | None = None
INPUTS: dict[str, dict[int, dict[str, np.ndarray]]] = {}
TEXT_CAP = 300


class _Channel:
    def __init__(self, fd_in: int, fd_out: int):
        self.fd_in, self.fd_out = fd_in, fd_out
        self.reader = wire.Reader(max_payload=256 << 20)
        self.pending: list = []

    def send(self, header: Mapping[str, Any], arrays: Mapping[str, np.ndarray] | None = None):
        data = memoryview(wire.encode(header, arrays))
        while data:
            n = os.write(self.fd_out, data)
            data = data[n:]

    def recv(self) -> tuple[dict, dict[str, np.ndarray]]:
        while not self.pending:
            chunk = os.read(self.fd_in, 1 << 16)
            if not chunk:
                raise EOFError("the grader closed the channel")
            self.pending.extend(self.reader.feed(chunk))
        return self.pending.pop(0)


def send(header: Mapping[str, Any], arrays: Mapping[str, np.ndarray] | None = None) -> None:
    """Sends one frame to the grader (used by the probe cells)."""
    if _CHANNEL is None:
        raise RuntimeError("not running inside the grading kernel")
    _CHANNEL.send(header, arrays)


def clip(text: Any, n: int = TEXT_CAP) -> str:
    """``str(text)`` cut to ``n`` characters; never raises (a hostile ``__str__`` included)."""
    try:
        s = text if isinstance(text, str) else str(text)
    except BaseException:  # noqa: BLE001 - a student's __str__ may raise anything
        s = "<unprintable>"
    return s[:n]


class _Sink(io.TextIOBase):
    """Where ``print`` goes while a cell runs: counted, not kept."""

    def __init__(self):
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, s) -> int:
        n = len(s) if isinstance(s, (str, bytes)) else 0
        self.count += n
        return n

    def flush(self) -> None:
        return None


def _set_limits(limits: Mapping[str, int]) -> None:
    """Resource limits of everything the kernel runs (set before any student code runs).

    Inside the sandbox's own user namespace, RLIMIT_NPROC counts this sandbox's processes and
    threads only (the kernel keeps per-namespace counts), so a fork bomb here cannot take
    process slots from a student graded beside it.
    """
    table = {"memory_bytes": resource.RLIMIT_AS, "file_bytes": resource.RLIMIT_FSIZE,
             "cpu_seconds": resource.RLIMIT_CPU, "nproc": resource.RLIMIT_NPROC,
             "core": resource.RLIMIT_CORE, "open_files": resource.RLIMIT_NOFILE}
    for key, which in table.items():
        if key in limits:
            value = int(limits[key])
            _soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value))


def _shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.enabled = False
    cfg.InteractiveShell.colors = "nocolor"
    cfg.InteractiveShell.xmode = "plain"
    return InteractiveShell.instance(config=cfg)


def _run(shell, source: str, sink: _Sink) -> dict:
    before = sink.count
    result = shell.run_cell(source, store_history=False)
    err = result.error_before_exec or result.error_in_exec
    out = {"status": "ok" if err is None else "error", "output_bytes": sink.count - before}
    if err is not None:
        out["ename"] = clip(type(err).__name__, 80)
        out["evalue"] = clip(err)
    return out


def _cache_files(folder: str, cap: int) -> dict[str, np.ndarray]:
    """The JAX cache entries the solution run wrote, as uint8 arrays (at most ``cap`` bytes)."""
    entries, total = {}, 0
    if not os.path.isdir(folder):
        return entries
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not os.path.isfile(path) or os.path.islink(path):
            continue
        with open(path, "rb") as f:
            data = f.read(cap - total + 1)
        total += len(data)
        if total > cap:
            break
        entries[name] = np.frombuffer(data, dtype=np.uint8)
    return entries


def main() -> None:
    global _CHANNEL
    fd_in, fd_out = os.dup(0), os.dup(1)  # private (not inherited by anything started later)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    _CHANNEL = channel = _Channel(fd_in, fd_out)
    start, arrays = channel.recv()
    _set_limits(start.get("limits", {}))
    for key, arr in arrays.items():  # "question/case/name"
        question, case, name = key.split("/", 2)
        INPUTS.setdefault(question, {}).setdefault(int(case), {})[name] = arr
    if start.get("forbidden"):
        from nnlib.grading import honesty

        honesty.install(start["forbidden"])
    sink = _Sink()
    sys.stdout = sys.stderr = sink
    shell = _shell()
    channel.send({"op": "ready"})
    while True:
        try:
            msg, _ = channel.recv()
        except (EOFError, OSError, wire.ProtocolError, struct.error):
            break
        op = msg.get("op")
        if op == "run":
            reply = _run(shell, str(msg.get("source", "")), sink)
            channel.send({"op": "done", "index": msg.get("index"), **reply})
        elif op == "cache":
            folder = os.environ.get("JAX_COMPILATION_CACHE_DIR", "")
            channel.send({"op": "cache"}, _cache_files(folder, int(msg.get("cap", 64 << 20))))
        elif op == "exit":
            break
    os._exit(0)


if __name__ == "__main__":  # run as the importable module, whose state the probe reads
    from nnlib.grading import runner

    runner.main()
