"""A real browser moves a slider of a widget served by Voila, and the plot changes.

Voila serves ``tests/browser/widget_demo.ipynb`` (the learning-rate explorer) on 127.0.0.1;
Debian's headless Chromium, driven by Playwright's Python package (no browser download),
focuses the learning-rate slider, presses the right-arrow key and checks that the kernel
redrew the plot: the status line names the new learning rate and the plot's pixels changed.
Every request that is not to the loopback address is blocked. Screenshots go to
``test-artifacts/browser/``.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "tests" / "browser" / "widget_demo.ipynb"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]

def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is absent (apt-get install chromium)"
    if importlib.util.find_spec("voila") is None:
        return "voila is not installed (pip install voila)"
    return None


# Outside CI a machine without Debian's chromium skips this test, saying why; in CI (which
# installs chromium, see .ci/apt-packages) a missing browser is a failure, never a silent skip.
_REASON = _missing()
_IN_CI = bool(os.environ.get("CI"))

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(_REASON is not None and not _IN_CI, reason=_REASON or "")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def voila_url():
    if _REASON:
        pytest.fail(f"the browser test cannot run in CI: {_REASON}")
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               JAX_PLATFORMS="cpu", MPLBACKEND="Agg")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / "voila.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}",
         "--Voila.ip=127.0.0.1", "--show_tracebacks=True"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"voila exited with code {proc.returncode}; see {ARTIFACTS / 'voila.log'}")
            try:  # a TCP connection: the server listens (a GET of the page would start a kernel)
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"voila did not start within 30 s; see {ARTIFACTS / 'voila.log'}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _png_pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_moving_the_learning_rate_slider_redraws_the_plot(voila_url):
    from playwright.sync_api import sync_playwright

    start = time.monotonic()
    blocked: list[str] = []

    def only_loopback(route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost", "::1"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", only_loopback)
            page.goto(voila_url, wait_until="domcontentloaded", timeout=30_000)
            plot = page.locator("img.nnlib-plot")
            status = page.locator(".nnlib-status")
            plot.wait_for(state="visible", timeout=45_000)  # kernel started, widget rendered
            page.wait_for_function(
                "() => { const i = document.querySelector('img.nnlib-plot');"
                " return i && i.complete && i.naturalWidth > 0; }", timeout=15_000)
            before_status = status.inner_text()
            assert re.search(r"lr = 0\.1\b.*monotone", before_status), before_status
            before_png = plot.screenshot()
            before_src = plot.get_attribute("src")
            page.screenshot(path=str(ARTIFACTS / "before.png"), full_page=True)
            (ARTIFACTS / "plot_before.png").write_bytes(before_png)

            handle = page.locator(".nnlib-control-lr .noUi-handle")
            handle.focus()
            for _ in range(5):  # five keyboard steps of 10**0.02 each: 0.1 -> 0.126
                page.keyboard.press("ArrowRight")
            want = f"lr = {0.1 * 10 ** (5 * 0.02):.3g},"  # the status after the last key press
            page.wait_for_function(
                "(want) => { const s = document.querySelector('.nnlib-status');"
                " return s && s.innerText.includes(want); }", arg=want, timeout=20_000)
            page.wait_for_function(  # the PNG sent just before that status has been decoded
                "(old) => { const i = document.querySelector('img.nnlib-plot');"
                " return i.src !== old && i.complete && i.naturalWidth > 0; }",
                arg=before_src, timeout=10_000)
            page.wait_for_timeout(200)
            after_status = status.inner_text()
            after_png = plot.screenshot()
            page.screenshot(path=str(ARTIFACTS / "after.png"), full_page=True)
            (ARTIFACTS / "plot_after.png").write_bytes(after_png)
            readout = page.locator(".nnlib-control-lr .widget-readout").inner_text()
        finally:
            browser.close()

    lr = float(re.search(r"lr = ([0-9.]+)", after_status).group(1))
    assert lr == pytest.approx(0.1 * 10 ** (5 * 0.02), rel=0.02), after_status
    assert float(readout) == pytest.approx(lr, rel=0.02)
    a, b = _png_pixels(before_png), _png_pixels(after_png)
    assert a.shape == b.shape
    changed = np.mean(np.any(a != b, axis=-1))
    assert changed > 0.002, f"only {changed:.4%} of the plot's pixels changed"
    assert all(urlparse(u).hostname not in ("127.0.0.1", "localhost") for u in blocked)
    assert time.monotonic() - start < 60
