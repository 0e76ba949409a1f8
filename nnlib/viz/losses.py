r"""Loss explorers: each loss and its gradient against the prediction; robust line fits.

:func:`loss_explorer` draws, for one target :math:`t`, the loss of a single prediction and its
gradient, the signal backpropagation starts from. Losses of the same kind of prediction are
drawn together: a value :math:`\hat y` (MSE, MAE, Huber), a probability :math:`p` (binary
cross-entropy on a probability) or a logit :math:`z` (binary cross-entropy on the logit, and
MSE on the sigmoid output :math:`\sigma(z)`, which saturates: its gradient
:math:`2(\sigma(z) - t)\,\sigma(z)(1 - \sigma(z))` vanishes where the prediction is
confidently wrong, while cross-entropy's :math:`\sigma(z) - t` does not; Goodfellow et al.
2016, section 6.2.2.2).

:func:`robust_fit_explorer` fits a line to data with outliers by minimising the MSE, the MAE
and the Huber loss (Huber 1964), each exactly and deterministically. MSE: least squares in
closed form. MAE: some best line passes through two of the data points (the problem is a
linear programme, whose optimum lies at a vertex), so every line through two points is
tried. Huber: iteratively reweighted least squares (Holland & Welsch 1977), a jitted loop
that re-solves a weighted least-squares line with the weights :math:`w_i = \psi(r_i)/r_i` of
the current residuals :math:`r_i`, where :math:`\psi` is the loss's derivative (the
*influence* of a residual).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets
import jax
import jax.numpy as jnp
import numpy as np

from nnlib.viz.explorer import Explorer, choose, label
from nnlib.viz.palette import CYCLE, OKABE_ITO

__all__ = ["LOSS_CURVES", "compute_loss_curves", "draw_loss_curves", "loss_explorer",
           "ROBUST_LOSSES", "robust_data", "robust_line_fit", "compute_robust_fit",
           "draw_robust_fit", "robust_fit_explorer"]


# --------------------------------------------------------------------------- loss curves
def _on_sigmoid(loss: Callable, grad: Callable) -> tuple[Callable, Callable]:
    """A loss of the probability ``sigmoid(z)`` as a loss of the logit ``z``, with its chain rule."""
    def fn(z, t):
        return loss(jax.nn.sigmoid(z), t)

    def dfn(z, t):
        s = jax.nn.sigmoid(z)
        return grad(s, t) * s * (1.0 - s)
    return fn, dfn


def _curves(delta: float) -> dict[str, tuple[str, Callable, Callable]]:
    """``name -> (kind, loss(y_pred, y_true), hand-written grad)`` from :mod:`nnlib.losses`."""
    from nnlib import losses

    return {
        "mse": ("value", losses.mse, losses.mse_grad),
        "mae": ("value", losses.mae, losses.mae_grad),
        "huber": ("value", lambda y, t: losses.huber(y, t, delta),
                  lambda y, t: losses.huber_grad(y, t, delta)),
        "bce_probability": ("probability", losses.binary_cross_entropy,
                            losses.binary_cross_entropy_grad),
        "bce_logit": ("logit", losses.sigmoid_binary_cross_entropy,
                      losses.sigmoid_binary_cross_entropy_grad),
        "mse_on_sigmoid": ("logit", *_on_sigmoid(losses.mse, losses.mse_grad)),
    }


#: The losses :func:`compute_loss_curves` knows, and what their prediction is.
LOSS_CURVES = {"mse": "value", "mae": "value", "huber": "value",
               "bce_probability": "probability", "bce_logit": "logit", "mse_on_sigmoid": "logit"}

_AXES = {"value": r"prediction $\hat y$", "probability": "predicted probability $p$",
         "logit": "logit $z$  ($p = \\sigma(z)$)"}


def _grid(kind: str, target: float, span: float, n: int = 401) -> np.ndarray:
    if kind == "value":
        return np.linspace(target - span, target + span, n)
    if kind == "probability":
        return np.linspace(0.01, 0.99, n)
    return np.linspace(-2.0 * span, 2.0 * span, n)


def compute_loss_curves(loss: str, target: float = 1.0, delta: float = 1.0, span: float = 4.0,
                        custom: Mapping[str, tuple[str, Callable]] | None = None) -> dict:
    r"""The loss of one prediction and its gradient, for every loss of the chosen one's kind.

    Each loss is the :mod:`nnlib.losses` function on a single element (so the mean is that
    element's loss); ``grads`` are the library's hand-written gradients (for a ``custom``
    loss, ``jax.grad``).

    Args:
      loss: the highlighted loss, a name in :data:`LOSS_CURVES` or in ``custom``.
      target: the target :math:`t`; in ``[0, 1]`` for the cross-entropies and
        ``mse_on_sigmoid`` (a label, or a soft label).
      delta: Huber's :math:`\delta`, where its quadratic part turns linear (positive).
      span: half-width of the prediction range around the target (values); logits range over
        ``[-2 span, 2 span]``; probabilities over ``[0.01, 0.99]``.
      custom: more ``name -> (kind, f(y_pred, y_true) -> scalar)``, kind one of ``"value"``,
        ``"probability"``, ``"logit"`` (e.g. your own loss), drawn with the others.

    Returns:
      ``loss``, ``kind``, ``target``, ``delta``, ``x`` (the predictions, ``(401,)``),
      ``values`` and ``grads`` (``name -> (401,)``, the losses of this kind), ``best`` (the
      prediction of the grid where the highlighted loss is smallest) and ``end_grads`` (its
      gradient at both ends of the grid).

    Raises:
      ValueError: an unknown loss (listing the valid names), a target outside ``[0, 1]`` for
        a probability or logit loss, a non-positive ``delta`` or ``span``.
    """
    table = {**_curves(delta)}
    for name, (kind, f) in dict(custom or {}).items():
        kind = choose("prediction kind", kind, _AXES)
        table[name] = (kind, f, jax.grad(f))
    loss = choose("loss", loss, table)
    kind = table[loss][0]
    if delta <= 0 or span <= 0:
        raise ValueError(f"delta and span must be positive, got delta={delta}, span={span}")
    if kind != "value" and not 0.0 <= target <= 1.0:
        raise ValueError(f"the target of {loss!r} is a probability in [0, 1], got {target}")
    x = _grid(kind, float(target), float(span))
    t = jnp.asarray(target, jnp.float32)
    values, grads = {}, {}
    for name, (k, f, df) in table.items():
        if k != kind:
            continue
        values[name] = np.asarray(jax.vmap(lambda xi, f=f: f(xi[None], t[None]))(jnp.asarray(x)))
        grads[name] = np.asarray(jax.vmap(lambda xi, df=df: jnp.reshape(
            df(xi[None], t[None]), ()))(jnp.asarray(x)))
    i = int(np.argmin(values[loss]))
    return {"loss": loss, "kind": kind, "target": float(target), "delta": float(delta),
            "x": x, "values": values, "grads": grads, "best": float(x[i]),
            "end_grads": (float(grads[loss][0]), float(grads[loss][-1]))}


def draw_loss_curves(fig: Any, state: dict) -> str:
    """Left: the losses against the prediction; right: their gradients. Highlighted in bold."""
    ax1, ax2 = fig.subplots(1, 2)
    x, name = state["x"], state["loss"]
    for ax, data in ((ax1, state["values"]), (ax2, state["grads"])):
        for (k, v), colour in zip(data.items(), CYCLE):
            bold = k == name
            ax.plot(x, v, color=colour, lw=2.5 if bold else 1.2, alpha=1 if bold else 0.6,
                    ls="-" if bold else "--", label=k)
        ax.axhline(0, color=OKABE_ITO["black"], lw=0.5)
        if state["kind"] != "logit":
            ax.axvline(state["target"], color=OKABE_ITO["black"], ls=":", lw=1)
        ax.legend(loc="best", fontsize="small")
    if state["kind"] == "probability":  # 1/p: keep the plot readable
        ax2.set_ylim(-20, 20)
    what = _AXES[state["kind"]]
    label(ax1, f"loss for the target t = {state['target']:g}", what, "loss")
    label(ax2, "gradient of the loss", what, "d loss / d prediction")
    lo, hi = state["end_grads"]
    return (f"{name}: smallest at {state['best']:.3g}; gradient {lo:.3g} at the left end, "
            f"{hi:.3g} at the right end")


def loss_explorer(loss: str = "mse", target: float = 1.0, delta: float = 1.0, *,
                  custom: Mapping[str, tuple[str, Callable]] | None = None) -> Explorer:
    """Each loss and its gradient as a function of the prediction, for a fixed target.

    Args:
      loss: the loss highlighted first (see :data:`LOSS_CURVES`).
      target: the target, in ``[0, 1]`` (a label or soft label for the cross-entropies).
      delta: Huber's delta.
      custom: more ``name -> (kind, f)`` losses to compare (see :func:`compute_loss_curves`).

    Returns:
      An :class:`Explorer` with controls ``loss``, ``target``, ``delta`` and ``span``;
      ``state`` is :func:`compute_loss_curves`'s dict.
    """
    names = list(LOSS_CURVES) + list(custom or {})
    loss = choose("loss", loss, names)
    cont = dict(continuous_update=False, style={"description_width": "initial"})
    controls = {
        "loss": widgets.Dropdown(options=names, value=loss, description="loss"),
        "target": widgets.FloatSlider(value=target, min=0.0, max=1.0, step=0.05,
                                      description="target t", **cont),
        "delta": widgets.FloatSlider(value=delta, min=0.1, max=3.0, step=0.1,
                                     description="Huber delta", **cont),
        "span": widgets.FloatSlider(value=4.0, min=1.0, max=10.0, step=0.5,
                                    description="prediction range ±", **cont),
    }
    return Explorer(controls, lambda **v: compute_loss_curves(**v, custom=custom),
                    draw_loss_curves, figsize=(10, 3.6))


# --------------------------------------------------------------------------- robust fits
ROBUST_LOSSES = ("mse", "mae", "huber")


def robust_data(n_points: int = 40, n_outliers: int = 0, outlier_size: float = 10.0, *,
                key: jax.Array, slope: float = 2.0, intercept: float = 0.5,
                noise: float = 0.3) -> dict:
    """Points on a line with Gaussian noise; the outliers are shifted up by ``outlier_size``.

    The inputs are evenly spaced on ``[-1, 1]``; the outliers are the points with the largest
    inputs (they pull a least-squares line's slope most, having the most leverage).

    Args:
      n_points: number of points.
      n_outliers: how many of them are outliers, in ``[0, n_points // 2]``.
      outlier_size: the shift added to each outlier's target.
      key: a ``jax.random.key`` for the noise.
      slope, intercept: the true line.
      noise: standard deviation of the noise.

    Returns:
      ``x``, ``y`` (``(n_points,)``), ``outlier`` (a boolean mask) and ``true`` (slope,
      intercept).
    """
    if not 0 <= n_outliers <= n_points // 2:
        raise ValueError(f"n_outliers must be in [0, {n_points // 2}], got {n_outliers}")
    x = np.linspace(-1.0, 1.0, n_points)
    eps = np.asarray(jax.random.normal(key, (n_points,)), dtype=np.float64)
    y = slope * x + intercept + noise * eps
    outlier = np.zeros(n_points, dtype=bool)
    if n_outliers:
        outlier[-n_outliers:] = True
    y = np.where(outlier, y + outlier_size, y)
    return {"x": x, "y": y, "outlier": outlier, "true": (float(slope), float(intercept))}


def _influence(loss: str, r: jax.Array, delta: jax.Array) -> jax.Array:
    """psi(r) = d loss / d r for one residual (MSE written as r**2 / 2, so psi(r) = r)."""
    if loss == "mse":
        return r
    if loss == "mae":
        return jnp.sign(r)
    return jnp.clip(r, -delta, delta)


@functools.partial(jax.jit, static_argnames="iterations")
def _huber_irls(x, y, delta, iterations):
    A = jnp.stack([x, jnp.ones_like(x)], axis=1)  # (n, 2): columns for slope and intercept

    def solve(w):
        Aw = A * w[:, None]
        return jnp.linalg.solve(A.T @ Aw, Aw.T @ y)

    def step(_, theta):
        r = jnp.abs(y - A @ theta)
        return solve(jnp.minimum(r, delta) / jnp.maximum(r, 1e-12))  # psi(r) / r, at most 1

    return jax.lax.fori_loop(0, iterations, step, solve(jnp.ones_like(x)))


def _least_absolute_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    i, j = np.triu_indices(len(x), k=1)
    i, j = i[x[i] != x[j]], j[x[i] != x[j]]
    a = (y[j] - y[i]) / (x[j] - x[i])                     # (pairs,): the line through i and j
    b = y[i] - a * x[i]
    cost = np.abs(y[None, :] - a[:, None] * x[None, :] - b[:, None]).mean(axis=1)
    k = int(np.argmin(cost))
    return float(a[k]), float(b[k])


def robust_line_fit(x: Any, y: Any, loss: str = "huber", delta: float = 1.0,
                    iterations: int = 50) -> tuple[float, float]:
    r"""The line :math:`\hat y = a x + b` minimising the mean of ``loss`` over the residuals.

    MSE by least squares; MAE by trying the line through every pair of points (``n (n-1)/2``
    lines, exact); Huber by ``iterations`` steps of iteratively reweighted least squares,
    starting from the least-squares line.

    Args:
      x, y: the data, shape ``(n,)`` each, ``n >= 2`` with two distinct ``x``.
      loss: one of :data:`ROBUST_LOSSES`.
      delta: Huber's delta (positive).
      iterations: Huber's reweighting steps.

    Returns:
      ``(slope, intercept)``.
    """
    loss = choose("loss", loss, ROBUST_LOSSES)
    if delta <= 0:
        raise ValueError(f"delta must be positive, got {delta}")
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if loss == "mae":
        return _least_absolute_line(x, y)
    theta = _huber_irls(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32),
                        jnp.float32(delta), 0 if loss == "mse" else int(iterations))
    return float(theta[0]), float(theta[1])


def compute_robust_fit(n_outliers: int = 4, outlier_size: float = 10.0, delta: float = 1.0,
                       n_points: int = 40, seed: int = 0) -> dict:
    """Data with outliers (:func:`robust_data`) and the line each loss fits to it.

    Returns:
      The data (``x``, ``y``, ``outlier``, ``true``), ``fits`` (``loss -> (slope,
      intercept)``), ``slope_error`` (``loss -> |fitted slope - true slope|``), ``delta``
      and ``n_outliers``.
    """
    data = robust_data(n_points, int(n_outliers), float(outlier_size),
                       key=jax.random.key(seed))
    fits = {name: robust_line_fit(data["x"], data["y"], name, delta) for name in ROBUST_LOSSES}
    errors = {name: abs(a - data["true"][0]) for name, (a, _) in fits.items()}
    return {**data, "fits": fits, "slope_error": errors, "delta": float(delta),
            "n_outliers": int(n_outliers)}


def draw_robust_fit(fig: Any, state: dict) -> str:
    """Left: the data and the three fitted lines; right: each loss's influence psi(r)."""
    ax1, ax2 = fig.subplots(1, 2, width_ratios=(3, 2))
    x, y, out = state["x"], state["y"], state["outlier"]
    ax1.scatter(x[~out], y[~out], s=14, color=OKABE_ITO["black"], label="data")
    ax1.scatter(x[out], y[out], s=30, marker="x", color=OKABE_ITO["vermillion"], label="outliers")
    a, b = state["true"]
    ax1.plot(x, a * x + b, color=OKABE_ITO["black"], ls=":", lw=1.2, label="true line")
    r = np.linspace(-3.0, 3.0, 241)
    for (name, (a, b)), colour in zip(state["fits"].items(), CYCLE):
        ax1.plot(x, a * x + b, color=colour, lw=2, label=f"{name} fit (slope {a:.2f})")
        ax2.plot(r, np.asarray(_influence(name, jnp.asarray(r), state["delta"])), color=colour,
                 lw=2, label="mse (as r²/2)" if name == "mse" else name)
    ax1.legend(loc="upper left", fontsize="small")
    ax2.axhline(0, color=OKABE_ITO["black"], lw=0.5)
    ax2.legend(loc="upper left", fontsize="small")
    label(ax1, f"{state['n_outliers']} outlier(s)", "x", "y")
    label(ax2, "pull of one residual on the fit", "residual r", r"$\psi(r)$ = d loss / d r")
    errs = ", ".join(f"{k} {v:.2f}" for k, v in state["slope_error"].items())
    return f"slope error (true slope {state['true'][0]:g}): {errs}"


def robust_fit_explorer(n_outliers: int = 4, outlier_size: float = 10.0,
                        delta: float = 1.0) -> Explorer:
    """A line fitted by MSE, MAE and Huber to data whose largest-x points are outliers.

    Returns:
      An :class:`Explorer` with controls ``n_outliers``, ``outlier_size`` and ``delta``;
      ``state`` is :func:`compute_robust_fit`'s dict.
    """
    cont = dict(continuous_update=False, style={"description_width": "initial"})
    controls = {
        "n_outliers": widgets.IntSlider(value=n_outliers, min=0, max=12, description="outliers",
                                        **cont),
        "outlier_size": widgets.FloatSlider(value=outlier_size, min=0.0, max=30.0, step=1.0,
                                            description="outlier shift", **cont),
        "delta": widgets.FloatSlider(value=delta, min=0.1, max=5.0, step=0.1,
                                     description="Huber delta", **cont),
    }
    return Explorer(controls, compute_robust_fit, draw_robust_fit, figsize=(10, 3.8))
