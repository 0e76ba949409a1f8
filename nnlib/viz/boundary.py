"""Boundary monitor: the decision boundary and the loss curve, live while a network trains.

A binary classifier on 2-D inputs is watched during training::

    monitor = BoundaryMonitor(predict, x, y)          # predict(params, pts (m, 2)) -> (m,)
    display(monitor)
    for step in range(steps):                         # your own training loop
        params, loss = train_step(params)
        monitor.update(step + 1, params, loss)        # redraws (every ``every`` updates)

or, with ``nnlib.train``, as a callback: ``fit(model, params, x, y, ..., callbacks=[monitor])``
calls ``monitor(epoch, logs, params=params)`` after each epoch (``fit`` passes the params to
callbacks that take a ``params`` keyword) and ``monitor.on_train_end()`` when training ends,
which draws the last epoch if ``every`` skipped it.

Each snapshot keeps the class-1 probability on a ``resolution x resolution`` grid around the
data, computed by **one** jitted call of ``predict`` on all grid points (see
:func:`~nnlib.viz.plots.decision_grid`). The figure is a pure function of one snapshot, the
data and the loss history (:func:`boundary_state` then :func:`draw_boundary_monitor`), so
after training the **step** slider scrubs back through the whole evolution, and tests check
the drawn data without a browser.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import jax
import jax.numpy as jnp
import numpy as np

from nnlib import validation
from nnlib.viz.explorer import StaticView, figure_png, label, new_figure
from nnlib.viz.palette import OKABE_ITO
from nnlib.viz.plots import decision_grid, plot_decision_boundary

__all__ = ["BoundaryMonitor", "boundary_state", "draw_boundary_monitor"]

_MISSING = object()  # BoundaryMonitor.__call__ without params (None is a valid pytree)


def boundary_state(grid: tuple[np.ndarray, np.ndarray, np.ndarray], x: np.ndarray,
                   y: np.ndarray, steps: Sequence[int], losses: Sequence[float], step: int, *,
                   threshold: float = 0.5) -> dict:
    """What one frame of the monitor draws (pure: NumPy in, NumPy out).

    Args:
      grid: ``(X, Y, P)``, each of shape ``(r, r)``: grid coordinates and the class-1
        probability there (from :func:`~nnlib.viz.plots.decision_grid`).
      x: the data points, shape ``(n, 2)``; y: their labels in {0, 1}, shape ``(n,)``.
      steps, losses: the whole loss history, same length ``T`` (steps increasing).
      step: the step this snapshot was taken at.
      threshold: the probability where the class changes (the drawn boundary level).

    Returns:
      A dict with ``X, Y, P, x, y, step, threshold``, ``steps`` and ``losses`` (arrays of
      shape ``(T,)``), ``loss`` (the last loss at or before ``step``, NaN if none) and
      ``class1_fraction``: the fraction of grid points with ``P > threshold``.
    """
    X, Y, P = (np.asarray(a, dtype=float) for a in grid)
    steps_a = np.asarray(steps, dtype=float)
    losses_a = np.asarray(losses, dtype=float)
    upto = np.flatnonzero(steps_a <= step)
    return {"X": X, "Y": Y, "P": P, "x": np.asarray(x), "y": np.asarray(y), "step": int(step),
            "threshold": float(threshold), "steps": steps_a, "losses": losses_a,
            "loss": float(losses_a[upto[-1]]) if upto.size else float("nan"),
            "class1_fraction": float(np.mean(P > threshold))}


def draw_boundary_monitor(fig: Any, state: dict, *, step_label: str = "step",
                          log_loss: bool = False) -> Any:
    """Draws ``state`` (from :func:`boundary_state`) on ``fig``: boundary left, loss right.

    Left: the class-1 probability shaded blue (0) to orange (1), the ``P = threshold`` line in
    black and the data points. Right: the loss history, blue up to the snapshot's step and
    grey after it (when scrubbing back), with a dotted line at the step.

    Returns:
      The contour set of the boundary line (``get_paths()`` gives its vertices).
    """
    ax1, ax2 = fig.subplots(1, 2)
    step = state["step"]
    boundary = plot_decision_boundary(
        ax1, (state["X"], state["Y"], state["P"]), state["x"], state["y"],
        title=f"decision boundary after {step} {step_label}s", threshold=state["threshold"])
    steps, losses = state["steps"], state["losses"]
    seen = steps <= step
    if not seen.all():  # scrubbed back: the rest of the run in grey, joined at the step
        later = steps >= (steps[seen][-1] if seen.any() else steps[0])
        ax2.plot(steps[later], losses[later], "-", color=OKABE_ITO["black"], alpha=0.25,
                 label="later")
    ax2.plot(steps[seen], losses[seen], "-", color=OKABE_ITO["blue"], lw=1.5, label="loss")
    if np.isfinite(state["loss"]):
        ax2.plot([step], [state["loss"]], "o", color=OKABE_ITO["vermillion"], ms=5,
                 label=f"{step_label} {step}")
    ax2.axvline(step, color=OKABE_ITO["black"], lw=0.8, ls=":")
    if log_loss and np.all(losses[np.isfinite(losses)] > 0):
        ax2.set_yscale("log")
    ax2.legend(loc="best", fontsize="small")
    label(ax2, "training loss", step_label, "loss")
    return boundary


def _class1(scores: Any, n: int) -> jax.Array:
    """``predict``'s output as class-1 scores of shape ``(n,)``: ``(n,)``, ``(n, 1)`` or ``(n, 2)``."""
    s = jnp.asarray(scores)
    if s.shape in ((n,), (n, 1)):
        return s.reshape(n)
    if s.shape == (n, 2):  # two softmax outputs: class 1 is the second
        return s[:, 1]
    raise ValueError(f"predict(params, points) must return shape ({n},), ({n}, 1) or ({n}, 2) "
                     f"for {n} points of shape ({n}, 2), got {tuple(s.shape)}")


def _check_data(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(validation.float_array(x, "x", ndim=2))
    if x.shape[1] != 2 or x.shape[0] < 1:
        raise ValueError(f"x must have shape (n, 2) with n >= 1 (2-D points), got {x.shape}")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape ({x.shape[0]},) or ({x.shape[0]}, 1) to match x "
                         f"{x.shape}, got {y.shape}")
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError(f"y must hold class labels 0 and 1, got values {np.unique(y)[:5]}")
    return x, y.astype(np.int32)


class BoundaryMonitor(StaticView, widgets.VBox):
    """A widget that shows a classifier's decision boundary and loss while it trains.

    Args:
      predict: ``predict(params, points)`` with points of shape ``(m, 2)``, returning the
        class-1 probability of shape ``(m,)`` or ``(m, 1)`` (or two softmax outputs
        ``(m, 2)``), e.g. ``model.apply``. It is jitted once and called once per snapshot on
        all grid points.
      x: the points to draw, shape ``(n, 2)``, floating point; the grid covers them.
      y: their labels in {0, 1}, shape ``(n,)`` or ``(n, 1)``.
      resolution: grid points per axis (the grid has ``resolution ** 2`` points).
      margin: how far the grid extends past the data on each side.
      every: redraw every ``every`` updates (each update still records its loss and a
        snapshot: ``resolution ** 2`` float32 values, 40 KB at 100; :meth:`finish` draws
        the last one).
      threshold: the probability drawn as the boundary (``P = threshold``).
      logits: ``predict`` returns logits ``z``; the monitor shows ``sigmoid(z)``.
      step_label: what a step is called on the axes ("step", "epoch", ...).
      log_loss: a logarithmic loss axis.
      jit: jit ``predict`` (turn off for a ``predict`` that JAX cannot trace).

    Attributes:
      snapshots: one ``(step, P)`` per update, ``P`` float32 ``(resolution, resolution)``.
      steps, losses: every recorded step and loss.
      slider: the ``ipywidgets.IntSlider`` over steps; moving it shows the latest snapshot at
        or before its value.
      state: the last drawn frame (:func:`boundary_state`) plus ``boundary``, the ``(k, 2)``
        vertices of the drawn ``P = threshold`` line.
      figure, image, status, redraws: as in :class:`~nnlib.viz.TrainingMonitor`.

    Raises:
      TypeError: ``predict`` is not callable, ``x`` is not floating point.
      ValueError: ``x`` is not ``(n, 2)``, ``y`` does not match it or is not 0/1, bad sizes.

    Example:
      >>> monitor = BoundaryMonitor(model.apply, x_train, y_train, step_label="epoch")
      >>> display(monitor)
      >>> result = nnlib.train.fit(model, params, x_train, y_train[:, None], loss="mse",
      ...                          optimizer="adam", epochs=50, batch_size=32, key=key,
      ...                          callbacks=[monitor])
      >>> monitor.steps[-1]   # one snapshot per epoch, numbered from 1
      50
    """

    def __init__(self, predict: Callable[[Any, Any], Any], x: Any, y: Any, *,
                 resolution: int = 100, margin: float = 0.5, every: int = 1,
                 threshold: float = 0.5, logits: bool = False, step_label: str = "step",
                 log_loss: bool = False, jit: bool = True) -> None:
        if not callable(predict):
            raise TypeError(f"predict must be a function predict(params, points), got "
                            f"{type(predict).__name__}")
        self.x, self.y = _check_data(x, y)
        if isinstance(resolution, bool) or not isinstance(resolution, int) or not 10 <= resolution <= 400:
            raise ValueError(f"resolution must be an int in [10, 400], got {resolution!r}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an int >= 1, got {every!r}")
        validation.in_range(threshold, "threshold", 0.0, 1.0)
        validation.positive(margin, "margin", allow_zero=True)
        self.resolution, self.margin, self.every = resolution, float(margin), every
        self.threshold, self.step_label, self.log_loss = float(threshold), step_label, log_loss

        def scores(params, pts):
            s = _class1(predict(params, pts), pts.shape[0])
            return jax.nn.sigmoid(s) if logits else s

        self._scores = jax.jit(scores) if jit else scores
        # the grid layout of plots.decision_grid, fixed once; grid() then fills in P per snapshot
        self._X, self._Y, _ = decision_grid(lambda pts: np.zeros(len(pts)), self.x,
                                            resolution, self.margin)
        self.snapshots: list[tuple[int, np.ndarray]] = []
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.state: dict = {}
        self.redraws = 0
        self._holding = False
        self._start = 0  # the step before the current fit run's epoch 0 (see __call__)
        self.figure = new_figure((8.4, 3.6))
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.status = widgets.HTML("waiting for the first update")
        self.slider = widgets.IntSlider(value=0, min=0, max=0, description=step_label,
                                        continuous_update=False, disabled=True,
                                        layout=widgets.Layout(width="420px"))
        self.slider.observe(self._on_slide, names="value")
        self.slider.add_class("nnlib-control-step")
        self.image.add_class("nnlib-plot")
        self.status.add_class("nnlib-status")
        super().__init__([self.slider, self.image, self.status])
        self._watch_static()

    # ------------------------------------------------------------ recording
    def grid(self, params: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(X, Y, P)`` for ``params``: class-1 probability on the grid, one jitted call."""
        pts = jnp.asarray(np.stack([self._X.ravel(), self._Y.ravel()], axis=1), self.x.dtype)
        P = np.asarray(self._scores(params, pts), dtype=float).reshape(self._X.shape)
        return self._X, self._Y, P

    def update(self, step: int, params: Any, loss: Any) -> None:
        """Records ``loss`` and a snapshot of ``params``' grid at ``step``; redraws every ``every``.

        Args:
          step: the step (or epoch) count, an int larger than the previous one.
          params: the current parameters (whatever ``predict`` takes).
          loss: the current loss, a scalar (NaN/inf is recorded and not drawn).
        """
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
            raise TypeError(f"step must be an int, got {type(step).__name__}")
        if self.steps and step <= self.steps[-1]:
            raise ValueError(f"step must increase: got {step} after {self.steps[-1]}")
        loss_a = np.asarray(loss)
        if loss_a.size != 1 or not np.issubdtype(loss_a.dtype, np.number):
            raise ValueError(f"loss must be a scalar number, got shape {loss_a.shape} "
                             f"dtype {loss_a.dtype}")
        _, _, P = self.grid(params)
        self.steps.append(int(step))
        self.losses.append(float(loss_a.reshape(())))
        self.snapshots.append((self.steps[-1], P.astype(np.float32)))
        self._holding = True
        try:  # the slider follows the newest snapshot
            self.slider.max = self.steps[-1]
            self.slider.min = self.steps[0]
            self.slider.value = self.steps[-1]
            self.slider.disabled = len(self.snapshots) < 2
        finally:
            self._holding = False
        if (len(self.steps) - 1) % self.every == 0:
            self.show(-1)

    def finish(self) -> None:
        """Draws the last snapshot if ``every`` skipped it (call once after training)."""
        if self.snapshots and self.state.get("step") != self.snapshots[-1][0]:
            self.show(-1)

    on_train_end = finish  # nnlib.train.fit calls it once when training ends

    def __call__(self, epoch: int, logs: Any, params: Any = _MISSING) -> None:
        """The ``nnlib.train.fit`` callback: ``update(start + epoch + 1, params, logs["loss"])``.

        ``fit`` calls it as ``monitor(epoch, logs, params=params)`` after each epoch (epoch
        0-based, so the snapshots are numbered 1, 2, ...), and ``monitor.on_train_end()``
        (:meth:`finish`) when training ends. ``start`` is 0 for the first run; epoch 0 of a
        later ``fit`` with the same monitor continues after the last recorded step (so a
        second run of 5 epochs after 4 records steps 5..9); :meth:`reset` starts over.

        Args:
          epoch: the epoch index, 0-based.
          logs: the epoch's logs, a mapping with a ``"loss"`` entry.
          params: the parameters after that epoch (whatever ``predict`` takes).

        Raises:
          TypeError: ``params`` is missing (a loop that passes only ``(epoch, logs)``).
        """
        if params is _MISSING:
            raise TypeError(
                "BoundaryMonitor needs the current params to draw the boundary, but it was "
                "called as monitor(epoch, logs) without params: pass it to "
                "nnlib.train.fit(..., callbacks=[monitor]), which gives it params=, or call "
                "monitor.update(step, params, loss) from a hand-written training loop")
        if int(epoch) == 0:  # a new fit run: continue after what is recorded
            self._start = self.steps[-1] if self.steps else 0
        self.update(self._start + int(epoch) + 1, params, logs["loss"])

    def reset(self) -> None:
        """Forgets every snapshot and loss (for a new run)."""
        self.snapshots, self.steps, self.losses, self.state = [], [], [], {}
        self._start = 0
        self._holding = True
        self.slider.min, self.slider.max, self.slider.value = 0, 0, 0
        self.slider.disabled = True
        self._holding = False
        self.status.value = "waiting for the first update"

    # ------------------------------------------------------------ drawing
    def _on_slide(self, change: Any) -> None:
        if not self._holding and self.snapshots:
            self.show_step(change["new"])

    def show_step(self, step: int) -> None:
        """Draws the latest snapshot taken at or before ``step`` (the first if none)."""
        taken = np.array([s for s, _ in self.snapshots])
        self.show(max(int(np.searchsorted(taken, step, side="right")) - 1, 0))

    def show(self, index: int) -> None:
        """Draws snapshot ``index`` (negative counts from the end) and moves the slider to it."""
        step, P = self.snapshots[index]
        state = boundary_state((self._X, self._Y, P), self.x, self.y, self.steps, self.losses, step,
                               threshold=self.threshold)
        self.figure.clear()
        contour = draw_boundary_monitor(self.figure, state, step_label=self.step_label,
                                        log_loss=self.log_loss)
        paths = [p.vertices for p in contour.get_paths() if len(p.vertices)]
        state["boundary"] = np.concatenate(paths) if paths else np.zeros((0, 2))
        self.state = state
        self.image.value = figure_png(self.figure)
        if self.slider.value != step:
            self._holding = True
            self.slider.value = step
            self._holding = False
        self.status.value = (f"{self.step_label} {step}: loss {state['loss']:.4g}, "
                             f"{100 * state['class1_fraction']:.0f}% of the plane predicted "
                             f"class 1 ({len(self.snapshots)} snapshots)")
        self.redraws += 1
