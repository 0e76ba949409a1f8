"""Regularization explorer: L2 and dropout against over-fitting, on a small noisy set."""

import numpy as np
import pytest

from nnlib.viz import regularization as R


@pytest.fixture(scope="module")
def explorer():
    return R.regularization_explorer()


def test_without_regularization_the_network_overfits(explorer):
    explorer.set(l2=0.0, rate=0.0, epoch=R.EPOCHS)
    train_loss, val_loss, train_acc, _ = explorer.state["history"][-1]
    assert train_loss < 0.05 and train_acc == 1.0
    assert val_loss > train_loss + 0.3  # large generalisation gap
    assert explorer.state["history"].shape == (R.EPOCHS, 4)


def test_moderate_l2_closes_the_gap_and_too_much_underfits(explorer):
    explorer.set(l2=0.0, rate=0.0)
    final = explorer.state["final"]  # (10, 4): one row per L2 value
    i0, i_mid, i_big = R.L2_VALUES.index(0.0), R.L2_VALUES.index(3e-3), R.L2_VALUES.index(1.0)
    assert final[i_mid, 1] < final[i0, 1] - 0.2            # better validation loss
    assert final[i_mid, 1] - final[i_mid, 0] < 0.2         # small gap
    assert final[i_big, 0] == pytest.approx(np.log(2), abs=0.02)  # predicts 1/2 everywhere
    explorer.controls["l2"].value = 3e-3
    np.testing.assert_allclose(explorer.state["history"][-1], final[i_mid])


def test_dropout_lowers_the_validation_loss(explorer):
    explorer.set(l2=0.0, rate=0.0)
    no_drop = explorer.state["history"][-1, 1]
    explorer.controls["rate"].value = 0.5
    assert explorer.state["rate"] == 0.5
    assert explorer.state["history"][-1, 1] < no_drop - 0.2


def test_epoch_slider_shows_the_boundary_at_that_snapshot(explorer):
    explorer.set(l2=0.0, rate=0.0, epoch=R.EPOCHS)
    late = explorer.state["grid"][2].copy()
    explorer.controls["epoch"].value = R.EPOCHS // R.SNAPSHOTS
    st = explorer.state
    assert st["epoch"] == R.EPOCHS // R.SNAPSHOTS
    assert np.all((st["grid"][2] >= 0) & (st["grid"][2] <= 1))
    assert np.abs(st["grid"][2] - late).max() > 0.2
    # the drawn data: curves over every epoch, the snapshot marker, the training points
    ax_curves, _, ax_boundary = explorer.figure.axes
    np.testing.assert_allclose(ax_curves.lines[0].get_ydata(), st["history"][:, 0])
    np.testing.assert_allclose(ax_curves.lines[2].get_xdata(), [st["epoch"]] * 2)
    scatters = [c for c in ax_boundary.collections if type(c).__name__ == "PathCollection"]
    assert sorted(len(c.get_offsets()) for c in scatters) == sorted(
        [int(np.sum(st["y"] == 0)), int(np.sum(st["y"] == 1))])
    for ax in explorer.figure.axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_bad_values_are_rejected():
    with pytest.raises(ValueError, match="l2 must be one of"):
        R.compute_regularization(0.5, 0.0, R.EPOCHS)
    with pytest.raises(ValueError, match="rate"):
        R.regularization_runs(1.0)
