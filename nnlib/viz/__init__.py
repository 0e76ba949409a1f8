"""Plots and interactive explorers for the course (matplotlib + ipywidgets).

Every explorer is a function returning an :class:`Explorer` (an ``ipywidgets.VBox``): its
controls feed a pure ``compute_*`` function whose result (``explorer.state``) a pure
``draw_*`` function draws on one reused matplotlib figure, shown as a PNG. Tests set
``explorer.controls[name].value`` (or call ``explorer.set(...)``) and assert on
``explorer.state``; no browser is needed.

Explorers:
  :func:`lr_explorer`, :func:`batch_size_explorer`, :func:`optimizer_race`, :func:`graph_stepper`,
  :func:`activation_explorer`, :func:`depth_explorer`, :func:`dropout_viewer`,
  :func:`regularization_explorer`, :func:`conv_explorer`, :func:`loss_explorer`,
  :func:`robust_fit_explorer`, :func:`schedule_explorer`, the
  :class:`TrainingMonitor` callback for ``nnlib.train.fit(..., callbacks=[monitor])``, and
  the :class:`BoundaryMonitor` (decision boundary + loss while training, with a scrub slider).

Static plots (:mod:`nnlib.viz.plots`): :func:`plot_history`, :func:`plot_paths`,
:func:`plot_decision_boundary`, :func:`plot_histograms`, :func:`image_grid`.

Colours come from the Okabe-Ito palette (:data:`OKABE_ITO`, in :mod:`nnlib.viz.palette`), safe
for colour-blind readers. The :class:`Explorer` machinery is in :mod:`nnlib.viz.explorer`.
"""

from nnlib.viz.activations import activation_explorer, compute_activation
from nnlib.viz.batches import batch_size_explorer, descent_paths
from nnlib.viz.boundary import BoundaryMonitor, boundary_state, draw_boundary_monitor
from nnlib.viz.conv import conv_explorer, convolve2d
from nnlib.viz.depth import deep_mlp_stats, depth_explorer
from nnlib.viz.descent import (
    compute_lr,
    compute_race,
    lr_explorer,
    optimizer_race,
    reference_optimizers,
)
from nnlib.viz.dropout import dropout_forward, dropout_viewer
from nnlib.viz.explorer import Explorer, figure_png, new_figure
from nnlib.viz.graph import Node, graph_state, graph_stepper
from nnlib.viz.losses import (
    compute_loss_curves,
    compute_robust_fit,
    loss_explorer,
    robust_fit_explorer,
)
from nnlib.viz.monitor import TrainingMonitor
from nnlib.viz.palette import CYCLE, DIVERGING_CMAP, GREY, OKABE_ITO, SEQUENTIAL_CMAP
from nnlib.viz.plots import (
    decision_grid,
    image_grid,
    plot_decision_boundary,
    plot_histograms,
    plot_history,
    plot_paths,
)
from nnlib.viz.regularization import compute_regularization, regularization_explorer
from nnlib.viz.schedules import compute_schedule, schedule_explorer
from nnlib.viz.surfaces import SURFACES, Surface, gd_trajectory, optimizer_trajectory, race

__all__ = [
    "OKABE_ITO", "CYCLE", "GREY", "SEQUENTIAL_CMAP", "DIVERGING_CMAP", "Explorer", "new_figure",
    "figure_png",
    "plot_history", "plot_paths", "plot_decision_boundary", "decision_grid", "plot_histograms",
    "image_grid",
    "Surface", "SURFACES", "gd_trajectory", "optimizer_trajectory", "race",
    "lr_explorer", "compute_lr", "batch_size_explorer", "descent_paths", "optimizer_race", "compute_race", "reference_optimizers",
    "graph_stepper", "graph_state", "Node",
    "activation_explorer", "compute_activation",
    "depth_explorer", "deep_mlp_stats",
    "dropout_viewer", "dropout_forward",
    "regularization_explorer", "compute_regularization",
    "TrainingMonitor",
    "BoundaryMonitor", "boundary_state", "draw_boundary_monitor",
    "conv_explorer", "convolve2d",
    "loss_explorer", "compute_loss_curves", "robust_fit_explorer", "compute_robust_fit",
    "schedule_explorer", "compute_schedule",
]
