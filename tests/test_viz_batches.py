"""Batch vs stochastic vs mini-batch explorer: the paths are the algorithms they claim to be."""

import math

import numpy as np
import pytest

from nnlib.viz import batches as B


def _grad(p, x, y):
    r = p[0] * x + p[1] - y
    return np.array([2 * np.mean(r * x), 2 * np.mean(r)])


def test_batch_path_is_full_gradient_descent():
    st = B.descent_paths(batch_size=8, lr=0.1, epochs=3)
    x, y = (a.astype(np.float64) for a in B.regression_data())
    p = np.array(B.START, np.float64)
    want = [p]
    for _ in range(3):
        p = p - 0.1 * _grad(p, x, y)
        want.append(p)
    np.testing.assert_allclose(st["paths"]["batch (B = N)"], np.array(want), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("bs", [1, 8, 10, 64])
def test_steps_and_examples_seen_follow_the_batch_size(bs):
    st = B.descent_paths(batch_size=bs, lr=0.05, epochs=2)
    name = f"mini-batch (B = {bs})"
    per_epoch = math.ceil(64 / bs)
    assert len(st["paths"][name]) == 2 * per_epoch + 1
    assert st["seen"][name][-1] == 2 * 64 == st["seen"]["stochastic (B = 1)"][-1]
    assert len(st["losses"][name]) == len(st["paths"][name])


def test_every_stochastic_step_uses_exactly_one_example():
    st = B.descent_paths(batch_size=4, lr=0.05, epochs=1)
    x, y = (a.astype(np.float64) for a in B.regression_data())
    path = st["paths"]["stochastic (B = 1)"].astype(np.float64)
    used = []
    for k in range(len(path) - 1):
        p = path[k]
        steps = np.stack([p - 0.05 * _grad(p, x[n:n + 1], y[n:n + 1]) for n in range(64)])
        err = np.abs(steps - path[k + 1]).max(axis=1)
        assert err.min() < 1e-4
        used.append(int(err.argmin()))
    assert sorted(used) == list(range(64))        # one epoch: every example exactly once


def test_smaller_batches_get_closer_in_the_same_number_of_examples_at_a_moderate_rate():
    st = B.descent_paths(batch_size=8, lr=0.1, epochs=3)
    final = {k: v[-1] for k, v in st["losses"].items()}
    assert final["mini-batch (B = 8)"] < 0.1 * final["batch (B = N)"]
    opt_loss = np.mean((st["optimum"][0] * B.regression_data()[0] + st["optimum"][1]
                        - B.regression_data()[1]) ** 2)
    assert min(final.values()) >= opt_loss - 1e-6


def test_controls_drive_the_state_and_errors_name_the_problem():
    e = B.batch_size_explorer(batch_size=8, epochs=2)
    assert "mini-batch (B = 8)" in e.state["paths"]
    e.controls["batch_size"].value = 16
    assert "mini-batch (B = 16)" in e.state["paths"] and e.state["batch_size"] == 16
    assert "final loss" in e.status.value
    with pytest.raises(ValueError, match="batch_size must be in"):
        B.descent_paths(batch_size=0)
    with pytest.raises(ValueError, match="lr must be positive"):
        B.descent_paths(lr=0.0)
