"""What a saved notebook keeps of a widget and a progress bar, run in a real kernel (nbclient)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
WIDGET = "application/vnd.jupyter.widget-view+json"


def _run(*cells: str) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    env = {"PYTHONPATH": str(ROOT), "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           "JAX_PLATFORMS": "cpu"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def _displays(cell) -> list[dict]:
    return [o["data"] for o in cell.outputs if o.get("output_type") == "display_data"]


@pytest.mark.slow
def test_a_widget_stores_its_figure_and_follows_changes_made_by_code():
    nb = _run("from nnlib import viz\ne = viz.lr_explorer('quadratic_1d', lr=0.1)\ne",
              "first = e.image.value\ne.set(lr=0.9)\nprint(e.status.value[:9])",
              "m = viz.TrainingMonitor()\ndisplay(m)\n"
              "for i in range(3):\n    m(i, {'loss': 1.0 / (i + 1), 'accuracy': 0.5 + 0.1 * i})")
    (explorer,) = _displays(nb.cells[0])
    assert WIDGET in explorer and explorer["text/plain"].startswith("[Explorer] lr = 0.9")
    png = base64.b64decode(explorer["image/png"])
    assert png.startswith(b"\x89PNG") and len(png) > 2000
    (monitor,) = _displays(nb.cells[2])
    assert monitor["text/plain"] == "[TrainingMonitor] epoch 3: loss 0.3333, accuracy 0.7"
    assert "image/png" in monitor


@pytest.mark.slow
def test_a_finished_progress_bar_leaves_one_line():
    nb = _run("from nnlib.progress import progress\n"
              "for i in progress(range(40), desc='demo loop', unit='step'):\n    pass",
              "for i in progress(range(40), desc='stopped', unit='step'):\n"
              "    if i == 9:\n        break")
    (done,) = _displays(nb.cells[0])
    assert list(done) == ["text/plain"]
    assert done["text/plain"].startswith("demo loop: 40 steps in ")
    (stopped,) = _displays(nb.cells[1])
    assert stopped["text/plain"].startswith("stopped: 9 of 40 steps (stopped early) in")


def test_outside_a_kernel_nothing_is_marked_for_a_stored_copy():
    from nnlib import viz
    from nnlib.viz import explorer

    e = viz.lr_explorer("quadratic_1d")
    e._static_handles.append(object())  # as if displayed
    e.set(lr=0.5)
    assert e not in explorer._STALE  # no kernel running a cell: a browser-driven change
    bundle = e.static_bundle()
    assert WIDGET in bundle and "image/png" in bundle
    assert bundle["text/plain"].startswith("[Explorer] lr = 0.5")
