"""Shared test setup: float64 for gradient checks, warnings the library owns are errors."""

import os
import shutil

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``sandbox`` need bubblewrap: skipped without it outside CI, run in CI
    (which installs it, and where they must pass)."""
    if shutil.which("bwrap") or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="bubblewrap is not installed (apt-get install bubblewrap); "
                                   "CI installs it and runs these tests")
    for item in items:
        if "sandbox" in item.keywords:
            item.add_marker(skip)
