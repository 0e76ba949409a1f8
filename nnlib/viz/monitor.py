"""Training monitor: a live loss/metric plot that ``nnlib.train.fit`` updates every epoch.

    monitor = TrainingMonitor()
    display(monitor)                                    # the widget
    fit(model, params, x, y, ..., callbacks=[monitor])  # monitor(epoch, logs) after each epoch
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets

from nnlib.viz.explorer import StaticView, figure_png, new_figure
from nnlib.viz.plots import plot_history

__all__ = ["TrainingMonitor", "draw_monitor"]


def draw_monitor(fig: Any, history: Mapping[str, Sequence[float]],
                 metrics: Sequence[str] = ("loss", "accuracy"), *, log_loss: bool = False) -> list:
    """One panel per metric in ``metrics`` that ``history`` has (train and ``val_`` curves).

    Returns:
      The Axes drawn, in order.
    """
    present = [m for m in metrics if m in history or f"val_{m}" in history]
    axes = []
    for i, m in enumerate(present):
        ax = fig.add_subplot(1, len(present), i + 1)
        hist = dict(history)
        if m not in hist:  # only a validation curve: plot_history needs the train key
            hist[m] = []
        plot_history(ax, hist, m, log=log_loss and m == "loss")
        axes.append(ax)
    return axes


class TrainingMonitor(StaticView, widgets.VBox):
    """A widget and a ``fit`` callback: ``monitor(epoch, logs)`` appends ``logs`` and redraws.

    Args:
      metrics: which metrics get a panel (missing ones are skipped), train and validation
        curves together.
      every: redraw every ``every`` epochs (the history is recorded every epoch).
      log_loss: a logarithmic y axis for the loss.

    Attributes:
      history: ``name -> list of per-epoch values`` received so far.
      epochs: the epoch indices received.
      figure, image, status: as in :class:`~nnlib.viz.explorer.Explorer`.
      redraws: how many times the figure was drawn.
    """

    def __init__(self, metrics: Sequence[str] = ("loss", "accuracy"), *, every: int = 1,
                 log_loss: bool = False) -> None:
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.metrics, self.every, self.log_loss = tuple(metrics), int(every), log_loss
        self.figure = new_figure((4.2 * max(1, len(self.metrics)), 3.2))
        self.image = widgets.Image(format="png")
        self.status = widgets.HTML("waiting for the first epoch")
        self.history: dict[str, list[float]] = {}
        self.epochs: list[int] = []
        self.redraws = 0
        super().__init__([self.image, self.status])
        self._watch_static()

    def __call__(self, epoch: int, logs: Mapping[str, float]) -> None:
        """Records one epoch's ``logs`` (a dict of floats) and redraws; never stops training."""
        if not isinstance(logs, Mapping):
            raise TypeError(f"logs must be a dict of floats, got {type(logs).__name__}")
        self.epochs.append(int(epoch))
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))
        if len(self.epochs) % self.every == 0:
            self.redraw()

    def reset(self) -> None:
        """Forgets the history (for a new run)."""
        self.history, self.epochs = {}, []
        self.status.value = "waiting for the first epoch"

    def redraw(self) -> None:
        """Draws the current history (pure in ``history``) and refreshes the image."""
        self.figure.clear()
        draw_monitor(self.figure, self.history, self.metrics, log_loss=self.log_loss)
        self.image.value = figure_png(self.figure)
        last = ", ".join(f"{k} {v[-1]:.4g}" for k, v in self.history.items())
        self.status.value = f"epoch {self.epochs[-1] + 1 if self.epochs else 0}: {last}"
        self.redraws += 1
