"""The student's JupyterLab (``bash .ci/start-course``) hides nbgrader's instructor tools and the
news pop-up; ``--instructor`` keeps them. Each server is started for real on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "nnlib-test-token"
pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 - loopback only
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


def _serve(*args: str):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = ["bash", str(ROOT / ".ci" / "start-course"), *args, "--no-browser",
           f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, "HOME": "/tmp"})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if _get(f"{base}/api/status?token={TOKEN}")[0] == 200:
                return proc, base
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"start-course exited with {proc.returncode}")
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("JupyterLab did not start in 120 s")


def _lab(*args: str) -> tuple[dict, int]:
    proc, base = _serve(*args)
    try:
        status, page = _get(f"{base}/lab?token={TOKEN}")
        assert status == 200
        raw = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                        page, re.S)
        formgrader = _get(f"{base}/formgrader?token={TOKEN}")[0]
        return json.loads(raw.group(1)), formgrader
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_the_student_lab_has_no_instructor_tools_and_no_news():
    config, formgrader = _lab()
    disabled = set(config.get("disabledExtensions", []))
    assert "@jupyter/nbgrader" in disabled
    assert "@jupyterlab/apputils-extension:announcements" in disabled
    assert formgrader == 404  # nbgrader's server extension is off too


def test_the_instructor_switch_keeps_nbgrader():
    config, formgrader = _lab("--instructor")
    assert "@jupyter/nbgrader" not in set(config.get("disabledExtensions", []))
    assert formgrader != 404
