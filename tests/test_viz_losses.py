"""Loss explorer and robust-fit explorer: gradients against jax.grad, outliers, controls."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnlib import losses
from nnlib.viz import losses as vl


def _grad_by_jax(f, x, t):
    return np.asarray(jax.vmap(jax.grad(lambda xi: f(xi[None], jnp.asarray([t]))))(jnp.asarray(x)))


@pytest.mark.parametrize("name", list(vl.LOSS_CURVES))
def test_every_curve_gradient_matches_jax_grad(name):
    st = vl.compute_loss_curves(name, target=0.75, delta=0.7)
    fns = {"mse": losses.mse, "mae": losses.mae,
           "huber": lambda y, t: losses.huber(y, t, 0.7),
           "bce_probability": losses.binary_cross_entropy,
           "bce_logit": losses.sigmoid_binary_cross_entropy,
           "mse_on_sigmoid": lambda z, t: losses.mse(jax.nn.sigmoid(z), t)}
    want = _grad_by_jax(fns[name], st["x"], 0.75)
    keep = np.abs(st["x"] - 0.75) > 1e-6  # MAE/Huber kinks at the target: subgradients differ
    np.testing.assert_allclose(st["grads"][name][keep], want[keep], rtol=1e-4, atol=1e-6)
    assert st["kind"] == vl.LOSS_CURVES[name]
    assert set(st["values"]) == {k for k, v in vl.LOSS_CURVES.items() if v == st["kind"]}


def test_curves_have_their_minimum_at_the_target_and_known_values():
    st = vl.compute_loss_curves("mse", target=0.5, span=2.0)
    assert st["best"] == pytest.approx(0.5, abs=0.011)
    np.testing.assert_allclose(st["values"]["mse"], (st["x"] - 0.5) ** 2, rtol=1e-5, atol=1e-6)
    huber = st["grads"]["huber"]
    assert huber.max() == pytest.approx(1.0) and huber.min() == pytest.approx(-1.0)
    bce = vl.compute_loss_curves("bce_probability", target=0.3)
    assert bce["best"] == pytest.approx(0.3, abs=0.003)  # cross-entropy is smallest at p = t


def test_mse_on_a_sigmoid_learns_slowly_when_confidently_wrong():
    st = vl.compute_loss_curves("mse_on_sigmoid", target=1.0, span=4.0)  # logits in [-8, 8]
    assert st["x"][0] == -8.0
    bce_slope, mse_slope = st["grads"]["bce_logit"][0], st["grads"]["mse_on_sigmoid"][0]
    assert bce_slope == pytest.approx(-1.0, abs=1e-3)          # sigma(z) - t
    assert abs(mse_slope) < 1e-3 * abs(bce_slope)              # 2 (s - t) s (1 - s)


def test_loss_explorer_controls_change_the_state_and_the_plot():
    w = vl.loss_explorer("huber", target=0.0, delta=1.0)
    first = w.redraws
    assert w.state["grads"]["huber"].max() == pytest.approx(1.0)
    w.controls["delta"].value = 0.5
    assert w.state["grads"]["huber"].max() == pytest.approx(0.5) and w.redraws == first + 1
    w.set(loss="bce_logit", target=1.0)
    assert w.state["kind"] == "logit" and "bce_logit" in w.status.value
    ax_loss, ax_grad = w.figure.axes
    assert {l.get_label() for l in ax_grad.lines} >= {"bce_logit", "mse_on_sigmoid"}


def test_a_custom_loss_is_drawn_with_its_jax_gradient():
    log_cosh = ("value", lambda y, t: jnp.mean(jnp.log(jnp.cosh(y - t))))
    st = vl.compute_loss_curves("log_cosh", target=0.0, custom={"log_cosh": log_cosh})
    np.testing.assert_allclose(st["grads"]["log_cosh"], np.tanh(st["x"]), rtol=1e-5, atol=1e-6)
    assert "mse" in st["values"]


def test_bad_names_and_targets_are_clear_errors():
    with pytest.raises(ValueError, match="valid names are: .*bce_logit.*huber"):
        vl.compute_loss_curves("hinge")
    with pytest.raises(ValueError, match=r"probability in \[0, 1\]"):
        vl.compute_loss_curves("bce_logit", target=2.0)
    with pytest.raises(ValueError, match="valid names are: mae, mse, huber|valid names"):
        vl.robust_line_fit([0, 1], [0, 1], "l3")
    with pytest.raises(ValueError, match="n_outliers"):
        vl.robust_data(10, 8, key=jax.random.key(0))


# ----------------------------------------------------------------- robust fits
def _mean_loss(name, a, b, x, y, delta=1.0):
    r = y - (a * x + b)
    return {"mse": np.mean(r ** 2), "mae": np.mean(np.abs(r)),
            "huber": np.mean(np.where(np.abs(r) <= delta, 0.5 * r ** 2,
                                      delta * (np.abs(r) - 0.5 * delta)))}[name]


@pytest.mark.parametrize("name", vl.ROBUST_LOSSES)
def test_each_fit_minimises_its_loss(name):
    d = vl.robust_data(40, 5, 12.0, key=jax.random.key(3))
    a, b = vl.robust_line_fit(d["x"], d["y"], name, delta=1.0)
    best = _mean_loss(name, a, b, d["x"], d["y"])
    for da, db in [(0.02, 0), (-0.02, 0), (0, 0.02), (0, -0.02), (0.01, -0.01)]:
        assert best <= _mean_loss(name, a + da, b + db, d["x"], d["y"]) + 1e-6
    if name == "mse":
        np.testing.assert_allclose((a, b), np.polyfit(d["x"], d["y"], 1), rtol=1e-4)


def test_mae_and_huber_are_pulled_far_less_by_outliers_than_mse():
    st = vl.compute_robust_fit(n_outliers=6, outlier_size=15.0, delta=1.0)
    err = st["slope_error"]
    assert err["mse"] > 5.0                       # least squares tilts towards the outliers
    assert err["mae"] < err["mse"] / 5 and err["huber"] < err["mse"] / 5
    clean = vl.compute_robust_fit(n_outliers=0)
    assert max(clean["slope_error"].values()) < 0.3  # without outliers all three agree


def test_robust_explorer_controls_change_the_fits():
    w = vl.robust_fit_explorer(n_outliers=0)
    before = w.state["slope_error"]["mse"]
    w.controls["n_outliers"].value = 6
    assert w.state["slope_error"]["mse"] > before + 1.0
    assert int(w.state["outlier"].sum()) == 6 and "slope error" in w.status.value
    w.set(outlier_size=0.0)
    assert w.state["slope_error"]["mse"] == pytest.approx(before, abs=1e-6)
