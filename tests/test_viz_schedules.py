"""The schedule explorer: its pure compute function and the widget's state (no browser)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnlib import viz
from nnlib.viz import schedules as vs


def test_exported_from_viz():
    assert viz.schedule_explorer is vs.schedule_explorer
    assert viz.compute_schedule is vs.compute_schedule
    assert "schedule_explorer" in viz.__all__ and "compute_schedule" in viz.__all__


def test_rates_follow_each_schedule_formula():
    T, W, base = 200, 20, 0.4
    s = vs.compute_schedule("warmup_cosine", base, T, W)
    assert s["steps"].shape == s["lr"].shape == (T + 1,)
    assert s["lr"][0] == pytest.approx(0.0, abs=1e-9)
    assert s["lr"][W // 2] == pytest.approx(base / 2, rel=1e-5)          # linear from 0
    assert s["lr"][W] == pytest.approx(base, rel=1e-5) and s["peak"] == pytest.approx(base, rel=1e-5)
    mid = W + (T - W) // 2
    assert s["lr"][mid] == pytest.approx(base / 2, rel=1e-4)             # half way down the cosine
    assert s["lr"][T] == pytest.approx(0.0, abs=1e-7)
    cos = vs.compute_schedule("cosine", base, T)["lr"]
    assert cos[0] == pytest.approx(base) and cos[T // 2] == pytest.approx(base / 2, rel=1e-5)
    assert cos[T] == pytest.approx(0.0, abs=1e-7)
    step = vs.compute_schedule("step", base, T, decay=0.1, every=50)["lr"]
    np.testing.assert_allclose(step[[0, 49, 50, 99, 100, 150]],
                               base * np.array([1, 1, 0.1, 0.1, 0.01, 0.001]), rtol=1e-5)
    expo = vs.compute_schedule("exponential", base, T, decay=0.5, every=40)["lr"]
    np.testing.assert_allclose(expo[[0, 20, 40, 80]],
                               base * np.array([1, math.sqrt(0.5), 0.5, 0.25]), rtol=1e-5)
    np.testing.assert_allclose(vs.compute_schedule("constant", base, T)["lr"], base)


def test_warmup_is_clipped_to_the_run():
    s = vs.compute_schedule("warmup_cosine", 0.1, 100, 400)
    assert s["warmup_steps"] == 99
    assert s["lr"][99] == pytest.approx(0.1, rel=1e-5)


def test_a_decaying_schedule_goes_below_the_noise_floor_of_a_constant_rate():
    s = vs.compute_schedule("cosine", 0.1, 500, train=True)
    assert s["loss"].shape == s["loss_constant"].shape == (501,)
    assert s["loss"][0] == pytest.approx(s["loss_constant"][0])            # the same start
    assert np.all(np.isfinite(s["loss"]))
    assert s["final"] < 0.2 * s["final_constant"], (s["final"], s["final_constant"])
    const = vs.compute_schedule("constant", 0.1, 500, train=True)
    assert const["final"] == pytest.approx(const["final_constant"], rel=1e-6)


def test_a_rate_beyond_the_limit_diverges_and_is_reported_as_inf():
    s = vs.compute_schedule("constant", 1.0, 300, train=True)
    assert not np.isfinite(s["final"]) or s["final"] > 1e6


def test_schedule_run_checks_its_input():
    with pytest.raises(ValueError, match="1-D array"):
        vs.schedule_run(np.zeros((2, 3)))
    assert vs.schedule_run(np.zeros(3)).shape == (4,)
    np.testing.assert_allclose(vs.schedule_run(np.zeros(3)), vs.schedule_run(np.zeros(3))[0])


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="schedule"):
        vs.compute_schedule("linear", 0.1, 100)
    with pytest.raises(ValueError, match="total_steps"):
        vs.compute_schedule("cosine", 0.1, 1)
    with pytest.raises(ValueError):
        vs.make_schedule("cosine", -0.1, 100)


def test_the_widget_redraws_from_its_controls():
    e = viz.schedule_explorer("cosine", base_lr=0.1, total_steps=300, train=False)
    assert set(e.controls) == {"schedule", "base_lr", "total_steps", "warmup_steps", "decay",
                               "every", "train"}
    assert "loss" not in e.state and e.state["lr"][0] == pytest.approx(0.1)
    assert e.image.value[:4] == b"\x89PNG"
    before = e.redraws
    e.set(schedule="step", decay=0.5, every=100)
    assert e.redraws == before + 1
    assert e.state["lr"][150] == pytest.approx(0.05, rel=1e-5)
    e.controls["train"].value = True
    assert e.state["final"] < e.state["final_constant"]
    assert "constant rate" in e.status.value
    e.controls["schedule"].value = "warmup_cosine"
    assert e.state["lr"][0] == pytest.approx(0.0, abs=1e-9)
