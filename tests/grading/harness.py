"""Runs the grader as an instructor would: as root, or as an unprivileged user.

CI runs as root; an unprivileged instructor is then simulated exactly: the command starts
under bubblewrap (as root, only to make the interpreter, the virtual environment, the
checkout and the test folders reachable, since ``/root`` and pytest's temporary folders are
mode 0700) and ``setpriv``, which becomes ``nobody`` with no capabilities and
``no_new_privs``. From there the grader makes its own unprivileged sandboxes, as it would on
an instructor's laptop.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from nnlib.grading import sandbox

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534
MODES = ("root", "user") if os.geteuid() == 0 else ("user",)


def grader_env(home: Path) -> dict[str, str]:
    """A plain environment for the grader's command line."""
    return {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home), "MPLCONFIGDIR": str(home / ".matplotlib"),
            "PYTHONDONTWRITEBYTECODE": "1", "JAX_PLATFORMS": "cpu", "LANG": "C.UTF-8"}


def run(cmd: list[str], mode: str, *, home: Path, readable: list[Path], writable: list[Path],
        timeout: float) -> subprocess.CompletedProcess:
    """Runs ``cmd`` as root (``mode == "root"``) or as an unprivileged user."""
    home.mkdir(parents=True, exist_ok=True)
    env = grader_env(home)
    if mode == "root" or os.geteuid() != 0:
        return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True,
                              timeout=timeout)
    for w in [*writable, home]:
        for d, _dirs, files in os.walk(w):
            os.chown(d, NOBODY, NOBODY)
            for f in files:
                os.chown(os.path.join(d, f), NOBODY, NOBODY, follow_symlinks=False)
    for r in readable:
        r.chmod(r.stat().st_mode | 0o055)
    paths = [*sandbox.exposed_paths(), str(REPO), *(str(p) for p in [*readable, *writable, home])]
    bwrap = shutil.which("bwrap") or "bwrap"
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    wrapped = [bwrap, "--dev-bind", "/", "/", "--die-with-parent",
               *sandbox.reachable_args(paths, NOBODY), "--",
               setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
               "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", *cmd]
    return subprocess.run(wrapped, env=env, cwd="/", capture_output=True, text=True,
                          timeout=timeout)
