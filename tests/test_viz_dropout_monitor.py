"""Dropout viewer and the training monitor."""

import jax
import numpy as np
import pytest
from matplotlib.colors import to_hex

from nnlib import layers, viz
from nnlib.viz import dropout


# ----------------------------------------------------------------- dropout
def _grey_units(ax):
    return sum(1 for c in ax.collections if to_hex(c.get_facecolor()[0]).upper() == viz.GREY)


def test_dropout_viewer_greys_exactly_the_dropped_units_and_rescales_the_rest():
    w = dropout.dropout_viewer(0.5, seed=3)
    st = w.state
    assert st["n_dropped"] == sum(int(m.sum()) for m in st["masks"]) > 0
    assert _grey_units(w.figure.axes[0]) == st["n_dropped"]
    for before, after, mask in zip(st["before"], st["after"], st["masks"]):
        np.testing.assert_allclose(after[mask], 0.0)
        np.testing.assert_allclose(after[~mask], before[~mask] / (1 - 0.5), rtol=1e-6)
    assert st["scale"] == pytest.approx(2.0)
    assert "×2" in [t.get_text() for t in w.figure.axes[0].texts]
    np.testing.assert_allclose(st["expected"], st["before"][0], rtol=0.25)  # E[y] = x


def test_resample_draws_a_new_mask_reproducibly():
    w = dropout.dropout_viewer(0.5, seed=0)
    first = [m.copy() for m in w.state["masks"]]
    w.buttons[0].click()
    assert w.extra["seed"] == 1
    assert any(not np.array_equal(a, b) for a, b in zip(first, w.state["masks"]))
    again = dropout.dropout_forward(0.5, seed=1)
    for a, b in zip(again["masks"], w.state["masks"]):
        np.testing.assert_array_equal(a, b)


def test_drop_rate_slider_and_eval_mode():
    fractions = [np.mean(np.concatenate(dropout.dropout_forward(0.3, seed=s)["masks"])) for s in range(60)]
    assert np.mean(fractions) == pytest.approx(0.3, abs=0.06)
    w = dropout.dropout_viewer(0.5)
    w.controls["rate"].value = 0.0
    assert w.state["n_dropped"] == 0 and _grey_units(w.figure.axes[0]) == 0
    w.set(rate=0.8, train=False)
    assert w.state["n_dropped"] == 0
    np.testing.assert_allclose(w.state["after"][0], w.state["before"][0])


def test_a_student_dropout_without_rescaling_shows_unscaled_units():
    def no_rescale(x, rate, *, key):
        return x * jax.random.bernoulli(key, 1 - rate, x.shape)

    st = dropout.dropout_forward(0.5, seed=0, dropout=no_rescale)
    kept = ~st["masks"][0]
    np.testing.assert_allclose(st["after"][0][kept], st["before"][0][kept], rtol=1e-6)
    assert np.mean(st["expected"]) < 0.75 * np.mean(st["before"][0])  # biased: E[y] = x/2


# ----------------------------------------------------------------- training monitor
def test_monitor_records_and_draws_each_epoch():
    m = viz.TrainingMonitor(every=1)
    logs = [{"loss": 1.0, "accuracy": 0.5, "val_loss": 1.2, "val_accuracy": 0.4},
            {"loss": 0.6, "accuracy": 0.7, "val_loss": 0.9, "val_accuracy": 0.6}]
    for epoch, row in enumerate(logs):
        assert m(epoch, row) is None  # never asks fit to stop
    assert m.history["loss"] == [1.0, 0.6] and m.redraws == 2
    ax_loss, ax_acc = m.figure.axes
    np.testing.assert_allclose(ax_loss.lines[1].get_ydata(), [1.2, 0.9])
    assert ax_acc.get_ylabel() == "accuracy" and "epoch 2" in m.status.value
    sparse = viz.TrainingMonitor(every=3)
    for e in range(4):
        sparse(e, {"loss": 1.0 / (e + 1)})
    assert sparse.redraws == 1 and len(sparse.history["loss"]) == 4
    with pytest.raises(TypeError, match="logs"):
        m(2, [0.1])


def test_monitor_as_a_fit_callback():
    from nnlib import train

    model = layers.Sequential([layers.Dense(8, activation="tanh"), layers.Dense(1)])
    key = jax.random.key(0)
    params, _ = model.init(key, (2,))
    x = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    y = (x[:, :1] * 2 - x[:, 1:]).astype(np.float32)
    m = viz.TrainingMonitor(metrics=("loss",))
    res = train.fit(model, params, x, y, loss="mse", optimizer="adam", epochs=4, batch_size=16,
                    key=key, validation_split=0.25, progress=False, callbacks=[m])
    assert m.epochs == [0, 1, 2, 3]
    np.testing.assert_allclose(m.history["loss"], res.history["loss"])
    np.testing.assert_allclose(m.history["val_loss"], res.history["val_loss"])
    np.testing.assert_allclose(m.figure.axes[0].lines[0].get_ydata(), res.history["loss"])
