"""Static plot helpers and the Explorer machinery shared by every widget."""

import ipywidgets as widgets
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_hex

from nnlib import viz
from nnlib.viz import plots
from nnlib.viz.explorer import Explorer, new_figure


def test_okabe_ito_palette_is_the_published_one():
    assert viz.OKABE_ITO["orange"] == "#E69F00"
    assert viz.OKABE_ITO["vermillion"] == "#D55E00"
    assert len(set(viz.CYCLE)) == len(viz.CYCLE) == 8
    assert to_hex(viz.DIVERGING_CMAP(0.0)).upper() == viz.OKABE_ITO["blue"]
    assert to_hex(viz.DIVERGING_CMAP(1.0)).upper() == viz.OKABE_ITO["orange"]


def test_plot_history_draws_train_and_validation_with_labels():
    fig = new_figure()
    ax = fig.add_subplot()
    hist = {"loss": [1.0, 0.5, 0.25], "val_loss": [1.1, 0.7, 0.6]}
    train, val = plots.plot_history(ax, hist)
    np.testing.assert_allclose(train.get_ydata(), hist["loss"])
    np.testing.assert_allclose(val.get_ydata(), hist["val_loss"])
    np.testing.assert_allclose(train.get_xdata(), [1, 2, 3])
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss" and ax.get_title()
    assert to_hex(train.get_color()).upper() == viz.OKABE_ITO["blue"]
    with pytest.raises(ValueError, match="accuracy"):
        plots.plot_history(ax, hist, "accuracy")


def test_plot_paths_cuts_a_diverging_path_at_its_first_non_finite_point():
    fig = new_figure()
    ax = fig.add_subplot()
    grid = viz.surfaces.surface_grid("quadratic_2d", n=20)
    path = np.array([[1.0, 1.0], [-2.0, 2.0], [np.inf, 3.0], [1.0, 1.0]])
    lines = plots.plot_paths(ax, grid, {"gd": path}, minimum=(0, 0))
    np.testing.assert_allclose(lines["gd"].get_xdata(), [1.0, -2.0])
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_decision_grid_and_boundary():
    x = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]])
    X, Y, P = plots.decision_grid(lambda p: (p[:, 0] > 1.0).astype(float), x, resolution=11)
    assert X.shape == Y.shape == P.shape == (11, 11)
    np.testing.assert_array_equal(P, (X > 1.0).astype(float))
    fig = new_figure()
    ax = fig.add_subplot()
    plots.plot_decision_boundary(ax, (X, Y, P), x, np.array([0, 1, 1]))
    assert ax.get_xlabel() == "$x_1$" and ax.get_title() == "decision boundary"
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plots.decision_grid(lambda p: p[:, 0], np.zeros((3, 3)))


def test_plot_histograms_counts_every_value_on_shared_bins():
    fig = new_figure()
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    counts = plots.plot_histograms(ax, {"W1": rng.normal(size=100), "W2": rng.normal(size=(5, 10))}, bins=7)
    assert counts["W1"].sum() == 100 and counts["W2"].sum() == 50
    assert len(counts["W1"]) == 7 and ax.get_ylabel() == "count"


def test_image_grid_makes_one_axes_per_image():
    fig = new_figure()
    axes = plots.image_grid(fig, np.zeros((5, 8, 8, 1)), labels=list("abcde"), ncols=3)
    assert len(axes) == 5 and axes[4].get_xlabel() == "e"
    np.testing.assert_array_equal(axes[0].images[0].get_array(), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="shape"):
        plots.image_grid(fig, np.zeros((8, 8)))


def _toy_explorer():
    controls = {"a": widgets.FloatSlider(value=1.0, min=0, max=5), "b": widgets.IntSlider(value=2)}

    def compute(a, b, offset):
        if a > 4:
            raise ValueError("a is too large")
        return {"y": np.arange(b) * a + offset}

    def draw(fig, state):
        ax = fig.add_subplot()
        ax.plot(state["y"])
        return f"sum {state['y'].sum():g}"

    return Explorer(controls, compute, draw, extra={"offset": 10.0})


def test_explorer_redraws_on_change_reuses_one_figure_and_leaks_none():
    plt.close("all")
    w = _toy_explorer()
    fig, png = w.figure, w.image.value
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and w.status.value == "sum 21"
    w.controls["a"].value = 3.0
    assert w.figure is fig and len(fig.axes) == 1 and w.redraws == 2
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [10.0, 13.0])
    assert w.image.value != png
    w.set(a=2.0, b=3)  # one redraw for two controls
    assert w.redraws == 3 and w.status.value == "sum 36"
    assert plt.get_fignums() == []  # nothing registered with pyplot
    assert matplotlib.get_backend().lower() == "agg"


def test_explorer_reports_errors_in_the_status_line_and_raises():
    w = _toy_explorer()
    with pytest.raises(ValueError, match="too large"):
        w.controls["a"].value = 4.5
    assert "too large" in w.status.value
    with pytest.raises(ValueError, match="valid names are: a, b"):
        w.set(c=1)
