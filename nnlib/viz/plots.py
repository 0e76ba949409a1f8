"""Static matplotlib helpers: each draws what it is given on the ``ax``/``fig`` it is given.

Every helper takes everything it draws as arguments (no notebook globals), labels both axes
and sets a title, and uses the Okabe-Ito colours (:data:`nnlib.viz.OKABE_ITO`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from nnlib.viz.explorer import label
from nnlib.viz.palette import CYCLE, DIVERGING_CMAP, OKABE_ITO, SEQUENTIAL_CMAP

__all__ = ["plot_history", "plot_paths", "plot_decision_boundary", "decision_grid",
           "plot_histograms", "image_grid"]


def plot_history(ax: Any, history: Mapping[str, Sequence[float]], metric: str = "loss", *,
                 title: str | None = None, log: bool = False) -> list:
    """Training curves: ``history[metric]`` (train) and ``history["val_" + metric]``.

    Args:
      ax: a matplotlib Axes.
      history: ``name -> per-epoch values`` (as ``nnlib.train.fit`` returns).
      metric: which metric to draw (``"loss"``, ``"accuracy"``, ...).
      title: the title; ``"<metric> per epoch"`` if None.
      log: a logarithmic y axis.

    Returns:
      The drawn ``Line2D`` objects (train first, then validation if present).
    """
    if metric not in history:
        raise ValueError(f"history has no {metric!r}; it has: {', '.join(sorted(history))}")
    lines = []
    for key, name, colour, style in ((metric, "train", OKABE_ITO["blue"], "-"),
                                     ("val_" + metric, "validation", OKABE_ITO["orange"], "--")):
        if key in history and len(history[key]):
            values = np.asarray(history[key], dtype=float)
            (line,) = ax.plot(np.arange(1, len(values) + 1), values, style, color=colour,
                              label=name, marker="o" if len(values) < 30 else None, ms=3)
            lines.append(line)
    if log:
        ax.set_yscale("log")
    ax.legend(loc="best")
    label(ax, title or f"{metric} per epoch", "epoch", metric)
    return lines


def plot_paths(ax: Any, grid: tuple[np.ndarray, np.ndarray, np.ndarray],
               paths: Mapping[str, np.ndarray], *, title: str = "loss surface",
               minimum: Sequence[float] | None = None, levels: int = 25,
               dashed: Sequence[str] = ()) -> dict:
    """Contours of a 2-D loss surface with optimisation paths on top.

    Args:
      ax: a matplotlib Axes.
      grid: ``(X, Y, Z)`` arrays of shape ``(n, n)`` (see ``surfaces.surface_grid``).
      paths: ``name -> (steps + 1, 2)`` iterates; non-finite points (divergence) are cut.
      title: the title.
      minimum: a point to mark with a star, or None.
      levels: the number of contour levels (spaced evenly in ``log(Z - min Z + 1e-3)``).
      dashed: names drawn dashed, wider and on top (a student's optimizer over the
        references: where it coincides with one, both stay visible).

    Returns:
      ``name -> Line2D`` of the drawn paths.
    """
    X, Y, Z = grid
    shifted = Z - Z.min() + 1e-3
    lv = np.geomspace(shifted.min(), shifted.max(), levels)
    ax.contour(X, Y, shifted, levels=lv, cmap=SEQUENTIAL_CMAP, linewidths=0.8)
    lines = {}
    for (name, path), colour in zip(paths.items(), CYCLE):
        p = np.asarray(path, dtype=float)
        finite = np.all(np.isfinite(p), axis=1) & np.all(np.abs(p) < 1e6, axis=1)
        end = int(np.argmin(finite)) if not finite.all() else len(p)
        p = p[:end]
        if name in dashed:
            (lines[name],) = ax.plot(p[:, 0], p[:, 1], "--", color=colour, lw=2.2, zorder=3,
                                     label=name)
        else:
            (lines[name],) = ax.plot(p[:, 0], p[:, 1], "-o" if len(p) <= 80 else "-",
                                     color=colour, ms=2.5, lw=1.3, label=name)
    if minimum is not None:
        ax.plot([minimum[0]], [minimum[1]], "*", color=OKABE_ITO["black"], ms=12,
                label="minimum")
    ax.set_xlim(X.min(), X.max())
    ax.set_ylim(Y.min(), Y.max())
    ax.legend(loc="best", fontsize="small")
    label(ax, title, "$x$", "$y$")
    return lines


def decision_grid(predict: Callable[[np.ndarray], Any], x: np.ndarray, resolution: int = 80,
                  margin: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X, Y, P)``: ``predict`` evaluated on a ``(resolution, resolution)`` grid around ``x``.

    ``predict`` maps points of shape ``(n, 2)`` to scores of shape ``(n,)`` (for example the
    probability of class 1).
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2), got {x.shape}")
    lo, hi = x.min(axis=0) - margin, x.max(axis=0) + margin
    X, Y = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    P = np.asarray(predict(np.stack([X.ravel(), Y.ravel()], axis=1))).reshape(X.shape)
    return X, Y, P


def plot_decision_boundary(ax: Any, grid: tuple[np.ndarray, np.ndarray, np.ndarray],
                           x: np.ndarray, y: np.ndarray, *, title: str = "decision boundary",
                           threshold: float = 0.5) -> Any:
    """Shades ``P`` from :func:`decision_grid`, draws the ``P = threshold`` line and the points.

    Class 0 points are blue circles, class 1 orange triangles (shape and colour both differ).

    Returns:
      The contour set of the boundary line.
    """
    X, Y, P = grid
    ax.contourf(X, Y, P, levels=np.linspace(0, 1, 11), cmap=DIVERGING_CMAP, alpha=0.5,
                vmin=0, vmax=1)
    boundary = ax.contour(X, Y, P, levels=[threshold], colors=OKABE_ITO["black"], linewidths=1.5)
    y = np.asarray(y).ravel()
    for cls, colour, marker in ((0, OKABE_ITO["blue"], "o"), (1, OKABE_ITO["orange"], "^")):
        pts = np.asarray(x)[y == cls]
        ax.scatter(pts[:, 0], pts[:, 1], s=14, color=colour, marker=marker,
                   edgecolors="black", linewidths=0.3, label=f"class {cls}")
    ax.legend(loc="best", fontsize="small")
    label(ax, title, "$x_1$", "$x_2$")
    return boundary


def plot_histograms(ax: Any, arrays: Mapping[str, Any], *, bins: int = 40,
                    title: str = "histogram", xlabel: str = "value") -> dict:
    """Overlaid step histograms of several arrays (weights or activations), on shared bins.

    Returns:
      ``name -> counts`` (NumPy arrays of shape ``(bins,)``).
    """
    flat = {k: np.asarray(v, dtype=float).ravel() for k, v in arrays.items()}
    allv = np.concatenate([v[np.isfinite(v)] for v in flat.values()] or [np.zeros(1)])
    lo, hi = (allv.min(), allv.max()) if allv.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    counts = {}
    for (name, v), colour in zip(flat.items(), CYCLE):
        counts[name], _, _ = ax.hist(v, bins=edges, histtype="step", color=colour, label=name,
                                     lw=1.4)
    ax.legend(loc="best", fontsize="small")
    label(ax, title, xlabel, "count")
    return counts


def image_grid(fig: Any, images: Any, labels: Sequence[Any] | None = None, *, ncols: int = 8,
               title: str = "images", cmap: str = "gray") -> list:
    """Draws ``images`` (shape ``(n, h, w)`` or NHWC ``(n, h, w, c)``) in a grid on ``fig``.

    Returns:
      The created Axes, one per image.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (n, h, w) or (n, h, w, c), got {images.shape}")
    n = len(images)
    nrows = max(1, -(-n // ncols))
    axes = []
    for i in range(n):
        ax = fig.add_subplot(nrows, min(ncols, n), i + 1)
        img = images[i]
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap=cmap if img.ndim == 2 else None)
        ax.set_xticks([])
        ax.set_yticks([])
        if labels is not None:
            ax.set_xlabel(str(labels[i]))
        axes.append(ax)
    fig.suptitle(title)
    return axes
