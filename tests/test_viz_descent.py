"""Learning-rate explorer, surfaces and the optimizer race: assertions on the drawn data."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nnlib import optim
from nnlib.viz import descent, surfaces


def test_gd_on_the_1d_quadratic_matches_the_closed_form():
    # f = x^2, grad = 2x: x_t = x0 (1 - 2 lr)^t
    for lr in (0.1, 0.3, 0.8, 1.2):
        path = surfaces.gd_trajectory("quadratic_1d", lr, 12)
        np.testing.assert_allclose(path[:, 0], 2.0 * (1 - 2 * lr) ** np.arange(13), rtol=1e-10)


def test_quadratic_regimes_around_the_stability_limit():
    s = surfaces.SURFACES["quadratic_2d"]
    assert s.stability_limit == pytest.approx(0.5)
    assert surfaces.quadratic_regime(0.1, 4.0) == "monotone"
    assert surfaces.quadratic_regime(0.4, 4.0) == "oscillating"
    assert surfaces.quadratic_regime(0.5, 4.0) == "bouncing"
    assert surfaces.quadratic_regime(0.6, 4.0) == "diverging"
    ok = surfaces.gd_trajectory(s, 0.45, 100)
    bad = surfaces.gd_trajectory(s, 0.55, 100)
    assert np.linalg.norm(ok[-1]) < 1e-3
    assert np.linalg.norm(bad[-1]) > 1e3


def test_lr_explorer_shows_convergence_oscillation_and_divergence():
    w = descent.lr_explorer("quadratic_1d", lr=0.2, steps=30)
    assert w.state["regime"] == "monotone"
    assert np.all(w.state["path"][:, 0] > 0)  # approaches from one side
    w.controls["lr"].value = 0.8
    x = w.state["path"][:, 0]
    assert w.state["regime"] == "oscillating"
    assert np.all(np.sign(x[1:]) == -np.sign(x[:-1]))  # sign flips every step
    assert abs(x[-1]) < 1e-3
    w.controls["lr"].value = 1.2
    assert w.state["regime"] == "diverging"
    assert abs(w.state["path"][-1, 0]) > 1e3
    assert "diverging" in w.status.value
    # the drawn data: the iterates on the curve, and the 2/L marker at lr = 1
    ax_path, _, ax_sweep = w.figure.axes
    iterates = next(l for l in ax_path.lines if l.get_label() == "iterates")
    np.testing.assert_allclose(iterates.get_xdata()[:3], w.state["path"][:3, 0])
    limit = next(l for l in ax_sweep.lines if l.get_label().startswith("2/L"))
    np.testing.assert_allclose(limit.get_xdata(), [1.0, 1.0])
    for ax in w.figure.axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_lr_sweep_jumps_at_two_over_L():
    st = descent.compute_lr("quadratic_2d", 0.1, 50)
    lrs, gap = st["sweep_lr"], st["sweep_gap"]
    assert np.all(gap[(lrs > 0.15) & (lrs < 0.45)] < 1e-3)
    assert np.all(gap[lrs > 0.55] > 1e3)


def test_surface_dropdown_resets_the_learning_rate_and_double_well_has_two_basins():
    w = descent.lr_explorer("quadratic_1d", lr=0.7)
    w.controls["surface"].value = "double_well"
    assert w.controls["lr"].value == pytest.approx(surfaces.SURFACES["double_well"].lr)
    w.set(steps=200)
    assert w.state["regime"] == "stuck in a local minimum"
    np.testing.assert_allclose(w.state["path"][-1], [0.96015, 0.0], atol=1e-3)
    left = surfaces.gd_trajectory("double_well", 0.05, 200, x0=(-1.5, 1.0))
    np.testing.assert_allclose(left[-1], surfaces.SURFACES["double_well"].minimum, atol=1e-3)


def test_optimizer_trajectory_equals_plain_gd_for_sgd_and_optax_for_adam():
    sgd = surfaces.optimizer_trajectory(optim.sgd(0.01), "ill_conditioned", 40)
    np.testing.assert_allclose(sgd, surfaces.gd_trajectory("ill_conditioned", 0.01, 40), rtol=1e-9)
    ours = surfaces.optimizer_trajectory(optim.adam(0.05), "rosenbrock", 60)
    ref = surfaces.optimizer_trajectory(optax.adam(0.05), "rosenbrock", 60)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-9)


def test_race_on_the_saddle_sgd_stalls_while_adaptive_methods_escape():
    st = descent.compute_race("saddle", 150, lr=0.01, adaptive_lr=0.01, momentum=0.9, b1=0.9,
                              b2=0.999, rho=0.9)
    paths = st["paths"]
    assert set(paths) == {"SGD", "momentum", "Nesterov", "RMSprop", "Adam"}
    assert abs(paths["SGD"][-1, 1]) < 0.05          # still at the saddle's level y ~ 0
    assert abs(paths["Adam"][-1, 1]) > 0.9          # reached a minimum at y = +-1
    assert abs(paths["RMSprop"][-1, 1]) > 0.9
    for p in paths.values():
        assert p.shape == (151, 2)


def test_race_on_the_ill_conditioned_quadratic_momentum_beats_sgd():
    st = descent.compute_race("ill_conditioned", 100, lr=0.03, adaptive_lr=0.05, momentum=0.9,
                              b1=0.9, b2=0.999, rho=0.9)
    assert st["gaps"]["momentum"][-1] < 0.01 * st["gaps"]["SGD"][-1]


class NumpyAdam:
    """A 'student' optimizer that cannot be traced (it converts to NumPy)."""

    def __init__(self, learning_rate, b1=0.9, b2=0.999):
        self.lr, self.b1, self.b2 = learning_rate, b1, b2

    def init(self, params):
        return (0, np.zeros_like(np.asarray(params)), np.zeros_like(np.asarray(params)))

    def update(self, grads, state, params=None):
        t, m, v = state
        g = np.asarray(grads)
        t, m, v = t + 1, self.b1 * m + (1 - self.b1) * g, self.b2 * v + (1 - self.b2) * g * g
        mh, vh = m / (1 - self.b1**t), v / (1 - self.b2**t)
        return jnp.asarray(-self.lr * mh / (np.sqrt(vh) + 1e-8)), (t, m, v)


def test_optimizer_race_draws_student_optimizers_beside_the_reference():
    w = descent.optimizer_race("rosenbrock", student={"my adam (factory)": NumpyAdam,
                                                      "optax adam": optax.adam(0.05)})
    st = w.state
    assert {"SGD", "Adam", "my adam (factory)", "optax adam"} <= set(st["paths"])
    # the factory got the adaptive learning-rate slider and the betas; it runs eagerly
    np.testing.assert_allclose(st["paths"]["my adam (factory)"], st["paths"]["Adam"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(st["paths"]["optax adam"], st["paths"]["Adam"], rtol=1e-4, atol=1e-6)
    drawn = {l.get_label(): l for l in w.figure.axes[0].lines}
    np.testing.assert_allclose(drawn["Adam"].get_xdata(), st["paths"]["Adam"][:, 0])
    # a slider moves the reference and the factory together, not the fixed object
    w.controls["adaptive_lr"].value = 0.01
    np.testing.assert_allclose(w.state["paths"]["my adam (factory)"], w.state["paths"]["Adam"], rtol=1e-4, atol=1e-6)
    assert not np.allclose(w.state["paths"]["optax adam"], w.state["paths"]["Adam"])


def test_optimizer_race_surface_dropdown_loads_that_surfaces_defaults():
    w = descent.optimizer_race("rosenbrock")
    w.controls["surface"].value = "saddle"
    lr, _, steps = descent.RACE_DEFAULTS["saddle"]
    assert (w.controls["lr"].value, w.controls["steps"].value) == (pytest.approx(lr), steps)
    assert w.state["surface"].name == "saddle" and w.state["paths"]["SGD"].shape == (steps + 1, 2)
    assert w.figure.axes[0].get_title() == surfaces.SURFACES["saddle"].formula


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="valid names are"):
        surfaces.gd_trajectory("bowl", 0.1, 10)
    with pytest.raises(ValueError, match=r"x0 must have shape \(2,\)"):
        surfaces.gd_trajectory("rosenbrock", 0.1, 10, x0=(1.0,))
    with pytest.raises(TypeError, match="init"):
        surfaces.optimizer_trajectory(object(), "rosenbrock", 10)
    with pytest.raises(ValueError, match="steps"):
        surfaces.gd_trajectory("quadratic_1d", 0.1, 0)
    with pytest.raises(ValueError, match="surface"):
        descent.optimizer_race("quadratic_1d")
