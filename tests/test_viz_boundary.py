"""BoundaryMonitor: the live decision boundary + loss widget (nnlib.viz.boundary)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnlib import layers, train, viz
from nnlib.viz.boundary import boundary_state, draw_boundary_monitor

# Points symmetric about both axes: the grid spans [-2.5, 2.5]^2 with the default margin.
X_SYM = np.array([[-2.0, -2.0], [-2.0, 2.0], [2.0, -2.0], [2.0, 2.0], [-1.0, 0.5], [1.0, -0.5]],
                 dtype=np.float32)
Y_SYM = np.array([0, 0, 1, 1, 0, 1])


def linear(params, pts):
    """Class-1 probability of a logistic model: sigmoid(pts @ w + b), shape (m,)."""
    return jax.nn.sigmoid(pts @ params["w"] + params["b"])


def lin(w0, w1, b=0.0):
    return {"w": jnp.array([w0, w1], jnp.float32), "b": jnp.array(b, jnp.float32)}


def spacing(monitor):
    return float(monitor.state["X"][0, 1] - monitor.state["X"][0, 0])


def test_linear_boundary_x0_is_zero_is_drawn_where_it_should_be():
    m = viz.BoundaryMonitor(linear, X_SYM, Y_SYM, resolution=60)
    m.update(1, lin(4.0, 0.0), 0.69)
    st = m.state
    assert st["P"].shape == (60, 60)
    assert st["class1_fraction"] == pytest.approx(0.5, abs=1 / 60)
    # the drawn P = 0.5 line is the vertical line x0 = 0, spanning the grid vertically
    assert st["boundary"].shape[0] >= 2
    assert np.max(np.abs(st["boundary"][:, 0])) < 1e-5
    assert st["boundary"][:, 1].min() == pytest.approx(-2.5, abs=1e-5)
    assert st["boundary"][:, 1].max() == pytest.approx(2.5, abs=1e-5)
    # P matches the model on the grid, and the figure is labelled
    expected = np.asarray(linear(lin(4.0, 0.0), np.stack([st["X"].ravel(), st["Y"].ravel()], 1)))
    np.testing.assert_allclose(st["P"].ravel(), expected, rtol=1e-5, atol=1e-6)
    ax1, ax2 = m.figure.axes[:2]
    assert "after 1 step" in ax1.get_title() and ax1.get_xlabel() and ax1.get_ylabel()
    assert ax2.get_xlabel() == "step" and ax2.get_ylabel() == "loss" and ax2.get_title()
    assert m.image.value[:4] == b"\x89PNG" and m.redraws == 1


def test_boundary_moves_between_snapshots_and_the_slider_restores_earlier_ones():
    m = viz.BoundaryMonitor(linear, X_SYM, Y_SYM, resolution=50, step_label="epoch")
    m.update(1, lin(4.0, 0.0), 0.7)           # boundary x0 = 0
    m.update(2, lin(0.0, 4.0), 0.5)           # boundary x1 = 0
    m.update(5, lin(4.0, 0.0, b=-4.0), 0.3)   # boundary x0 = 1: a fifth of the way from the right
    assert [s for s, _ in m.snapshots] == [1, 2, 5] and m.steps == [1, 2, 5]
    assert m.state["step"] == 5 and m.slider.value == 5
    assert (m.slider.min, m.slider.max) == (1, 5) and not m.slider.disabled
    assert m.state["class1_fraction"] == pytest.approx(1.5 / 5, abs=1 / 50)
    assert np.max(np.abs(m.state["boundary"][:, 0] - 1.0)) < 0.1 * spacing(m)
    last_P = m.state["P"].copy()

    m.slider.value = 2                         # scrub back
    assert m.state["step"] == 2 and m.state["loss"] == pytest.approx(0.5)
    assert np.max(np.abs(m.state["boundary"][:, 1])) < 1e-5
    np.testing.assert_array_equal(m.state["P"], m.snapshots[1][1])
    assert np.max(np.abs(m.state["P"] - last_P)) > 0.5
    # the loss panel: seen part up to step 2 in blue, the later part in grey
    seen = next(ln for ln in m.figure.axes[1].lines if ln.get_label() == "loss")
    later = next(ln for ln in m.figure.axes[1].lines if ln.get_label() == "later")
    np.testing.assert_allclose(seen.get_ydata(), [0.7, 0.5])
    np.testing.assert_allclose(later.get_xdata(), [2, 5])

    m.slider.value = 4                         # between snapshots: the one at or before
    assert m.state["step"] == 2 and m.slider.value == 2
    m.slider.value = 1
    np.testing.assert_array_equal(m.state["P"], m.snapshots[0][1])
    assert "after 1 epoch" in m.figure.axes[0].get_title()
    m.slider.value = 5                         # back to the end: no "later" curve
    assert [ln.get_label() for ln in m.figure.axes[1].lines].count("later") == 0


def test_every_throttles_redraws_not_snapshots_and_finish_draws_the_last():
    m = viz.BoundaryMonitor(linear, X_SYM, Y_SYM, resolution=20, every=3)
    for step in range(1, 6):
        m.update(step, lin(1.0, 0.1 * step), 1.0 / step)
    assert len(m.snapshots) == 5 and m.redraws == 2 and m.state["step"] == 4
    m.finish()
    assert m.redraws == 3 and m.state["step"] == 5
    m.finish()                                 # nothing new: no redraw
    assert m.redraws == 3
    m.reset()
    assert m.snapshots == [] and m.steps == [] and m.slider.disabled


def test_pure_state_and_draw_without_a_widget():
    X, Y = np.meshgrid(np.linspace(-1, 1, 30), np.linspace(-1, 1, 30))
    P = (X > 0.5).astype(float)
    st = boundary_state((X, Y, P), X_SYM, Y_SYM, [1, 2, 3], [0.9, 0.4, 0.2], 2)
    assert st["loss"] == pytest.approx(0.4)
    assert st["class1_fraction"] == pytest.approx(np.mean(X > 0.5))
    fig = viz.new_figure()
    contour = draw_boundary_monitor(fig, st, log_loss=True)
    verts = np.concatenate([p.vertices for p in contour.get_paths()])
    assert np.all((verts[:, 0] > 0.4) & (verts[:, 0] < 0.6))
    assert fig.axes[1].get_yscale() == "log"
    assert np.isnan(boundary_state((X, Y, P), X_SYM, Y_SYM, [5], [1.0], 2)["loss"])  # none yet


def test_output_shapes_logits_and_two_class_softmax():
    logits = viz.BoundaryMonitor(lambda p, x: (x @ p["w"] + p["b"])[:, None], X_SYM, Y_SYM,
                                 resolution=20, logits=True)
    logits.update(1, lin(2.0, 0.0), 0.5)
    assert logits.state["P"].min() >= 0 and logits.state["P"].max() <= 1
    assert logits.state["class1_fraction"] == pytest.approx(0.5, abs=0.05)
    soft = viz.BoundaryMonitor(lambda p, x: jax.nn.softmax(
        jnp.stack([-x[:, 1], x[:, 1]], axis=1) * p, axis=1), X_SYM, Y_SYM, resolution=20)
    soft.update(1, jnp.float32(3.0), 0.5)      # class 1 above x1 = 0
    assert np.all(soft.state["P"][soft.state["Y"] > 0.2] > 0.5)


def _moons_model():
    from nnlib import data

    x, y = data.make_moons(120, key=jax.random.key(0), noise=0.1)
    model = layers.Sequential([layers.Dense(16, activation="tanh"),
                               layers.Dense(1, activation="sigmoid")])
    params, _ = model.init(jax.random.key(1), (2,))
    return model, params, x, y


def _train(model, params, x, y, **kw):
    kw = {"loss": "binary_crossentropy", "optimizer": "adam", "batch_size": 40,
          "metrics": ["accuracy"], "progress": False, **kw}
    return train.fit(model, params, x, y[:, None].astype(np.float32), **kw)


def test_it_is_a_plain_fit_callback_next_to_others():
    model, params, x, y = _moons_model()
    m = viz.BoundaryMonitor(model.apply, x, y, resolution=30, every=3, step_label="epoch")
    seen = []
    result = _train(model, params, x, y, epochs=4, key=jax.random.key(2),
                    callbacks=[m, lambda e, logs: seen.append((e, logs))])
    assert m.steps == [1, 2, 3, 4] and len(m.snapshots) == 4
    assert [e for e, _ in seen] == [0, 1, 2, 3]
    np.testing.assert_allclose(m.losses, result.history["loss"])
    assert len(result.history["accuracy"]) == 4
    assert result.history["loss"][-1] < result.history["loss"][0]
    # every=3 drew epochs 1 and 4 live; on_train_end found nothing left to draw
    assert m.redraws == 2 and m.state["step"] == 4
    # the last snapshot is the trained model's prediction on the grid
    pts = np.stack([m.state["X"].ravel(), m.state["Y"].ravel()], 1).astype(np.float32)
    np.testing.assert_allclose(m.snapshots[-1][1].ravel(),
                               np.asarray(model.apply(result.params, pts))[:, 0], atol=1e-5)
    assert not np.allclose(m.snapshots[0][1], m.snapshots[-1][1])
    # a callback returning True stops; a second fit continues the step count, and
    # on_train_end draws the last epoch that every=3 skipped (6 is not 1 + 3k)
    more = _train(model, result.params, x, y, epochs=5, key=jax.random.key(3),
                  callbacks=[m, lambda e, logs: e == 1])
    assert len(more.history["loss"]) == 2 and m.steps == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(m.losses[4:], more.history["loss"])
    assert m.state["step"] == 6 and m.redraws == 3 and m.slider.value == 6


def test_with_patience_it_snapshots_every_epoch_run_and_draws_the_last():
    model, params, x, y = _moons_model()
    m = viz.BoundaryMonitor(model.apply, x, y, resolution=20, every=100)
    # validation labels flipped: val_loss rises as training fits y, so patience stops early
    r = _train(model, params, x, y, epochs=30, key=jax.random.key(4), patience=2,
               optimizer="sgd", validation_data=(x, 1.0 - y[:, None].astype(np.float32)),
               callbacks=[m])
    run = len(r.history["loss"])
    assert run < 30 and m.steps == list(range(1, run + 1))
    np.testing.assert_allclose(m.losses, r.history["loss"])
    assert m.redraws == 2 and m.state["step"] == run  # epoch 1, then on_train_end


def test_without_params_the_callback_explains_what_to_do():
    model, params, x, y = _moons_model()
    m = viz.BoundaryMonitor(model.apply, x, y, resolution=20)
    with pytest.raises(TypeError, match=r"without params.*callbacks=\[monitor\].*monitor\.update"):
        m(0, {"loss": 0.25})
    assert m.steps == [] and m.snapshots == []
    m(0, {"loss": 0.25}, params)               # with params, the callback form works
    assert m.steps == [1] and m.losses == [0.25] and len(m.snapshots) == 1
    assert not hasattr(viz.BoundaryMonitor, "fit")


@pytest.mark.parametrize("x, y, match", [
    (np.zeros((6, 3), np.float32), Y_SYM, r"x must have shape \(n, 2\).*\(6, 3\)"),
    (np.zeros((6,), np.float32), Y_SYM, "x must have 2 dimensions"),
    (X_SYM, Y_SYM[:4], r"y must have shape \(6,\).*got \(4,\)"),
    (X_SYM, np.array([0, 1, 2, 0, 1, 0]), "labels 0 and 1"),
])
def test_bad_data_is_a_clear_value_error(x, y, match):
    with pytest.raises(ValueError, match=match):
        viz.BoundaryMonitor(linear, x, y)


def test_bad_arguments_and_updates():
    with pytest.raises(TypeError, match="floating-point"):
        viz.BoundaryMonitor(linear, X_SYM.astype(np.int32), Y_SYM)
    with pytest.raises(TypeError, match="predict must be a function"):
        viz.BoundaryMonitor("linear", X_SYM, Y_SYM)
    with pytest.raises(ValueError, match="resolution"):
        viz.BoundaryMonitor(linear, X_SYM, Y_SYM, resolution=3)
    with pytest.raises(ValueError, match="every"):
        viz.BoundaryMonitor(linear, X_SYM, Y_SYM, every=0)
    bad = viz.BoundaryMonitor(lambda p, x: x.T, X_SYM, Y_SYM, resolution=20)
    with pytest.raises(ValueError, match=r"must return shape \(400,\).*got \(2, 400\)"):
        bad.update(1, None, 0.5)
    assert bad.steps == [] and bad.snapshots == []
    m = viz.BoundaryMonitor(linear, X_SYM, Y_SYM, resolution=20)
    m.update(3, lin(1.0, 0.0), 0.5)
    with pytest.raises(ValueError, match="step must increase: got 3 after 3"):
        m.update(3, lin(1.0, 0.0), 0.4)
    with pytest.raises(TypeError, match="step must be an int"):
        m.update(4.0, lin(1.0, 0.0), 0.4)
    with pytest.raises(ValueError, match="loss must be a scalar"):
        m.update(4, lin(1.0, 0.0), np.ones(3))
    assert m.steps == [3] and len(m.snapshots) == 1
