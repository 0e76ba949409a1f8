"""Benchmark scripts still run (``--quick`` smoke runs), and their checks can fail. nnlib's own
figures are not judged here: speed and memory targets live in the benchmarks' exit status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _bench(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args],
                          check=False, capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "JAX_PLATFORMS": "cpu",
                               "PYTHONPATH": str(REPO)})


@pytest.mark.slow
def test_bench_memory_quick_reports_every_workload():
    out = _bench("bench_memory.py", "--quick")
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| workload |"))
    for column in ("baseline", "epoch 1", "later max", "peak (HWM)", "slope KiB/epoch"):
        assert column in header
    for name, examples in (("mlp-digits", 256), ("cnn-28x28", 256)):
        row = next((line for line in lines if line.startswith(f"| {name} |")), None)
        assert row is not None, f"no row for {name}:\n{out.stdout}"
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == header.count("|") - 1 and cells[1] == str(examples)
        assert all(float(c) > 0 for c in cells[3:10]), row  # MiB figures were measured
        assert any(line.strip().startswith(name) and "MiB" in line for line in lines)  # curve
    assert "slope check: not judged" in out.stdout


@pytest.mark.slow
def test_bench_memory_exits_1_on_a_leak():
    """The slope check catches a leak of 1 MiB per epoch (kept on purpose by the benchmark)."""
    out = _bench("bench_memory.py", "--workloads", "mlp-digits", "--epochs", "21",
                 "--simulate-leak", "1024")
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-2000:]
    assert "slope check: FAILED for mlp-digits" in out.stdout
