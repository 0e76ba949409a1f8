"""Gradient-descent explorers: the learning-rate explorer and the optimizer race.

Both are :class:`~nnlib.viz.explorer.Explorer` widgets: ``compute_*`` functions return the
arrays drawn and ``draw_*`` functions draw them; the widgets only wire sliders to the two.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets
import jax.numpy as jnp
import numpy as np

from nnlib.viz import surfaces as S
from nnlib.viz.explorer import Explorer, choose, label
from nnlib.viz.palette import CYCLE, OKABE_ITO
from nnlib.viz.plots import plot_paths

__all__ = ["LR_SURFACES", "RACE_SURFACES", "compute_lr", "draw_lr", "lr_explorer",
           "reference_optimizers", "compute_race", "draw_race", "optimizer_race"]

LR_SURFACES = ("quadratic_1d", "quadratic_2d", "double_well")
RACE_SURFACES = ("rosenbrock", "saddle", "ill_conditioned")
#: per race surface: (lr for the SGD family, lr for RMSprop/Adam, steps)
RACE_DEFAULTS = {"rosenbrock": (1e-3, 0.05, 400), "saddle": (0.01, 0.01, 150),
                 "ill_conditioned": (0.03, 0.05, 100)}
_SWEEP = tuple(float(v) for v in np.geomspace(1e-3, 3.0, 60))


def _values(surface: S.Surface, points: np.ndarray) -> np.ndarray:
    """``f`` at each row of ``points`` (shape ``(n, dim)``): shape ``(n,)``."""
    return np.asarray(jnp.apply_along_axis(surface.fn, 1, jnp.asarray(points, dtype=float)))


def _gap(surface: S.Surface, path: np.ndarray) -> np.ndarray:
    """``f(x_t) - f*`` per row of ``path`` (``inf`` where the run diverged)."""
    gap = _values(surface, path) - float(surface.fn(jnp.asarray(surface.minimum, dtype=float)))
    return np.where(np.isfinite(gap), np.maximum(gap, 0.0), np.inf)


def compute_lr(surface: str, lr: float, steps: int) -> dict:
    """Gradient descent on ``surface`` with learning rate ``lr``, and a sweep over rates.

    Returns:
      A dict with ``path`` ``(steps + 1, dim)``, ``gap`` ``(steps + 1,)`` (``f(x_t) - f*``),
      ``sweep_lr`` and ``sweep_gap`` (``f(x_steps) - f*`` for 60 rates from 1e-3 to 3),
      ``limit`` (``2 / L`` or None), ``regime`` (``surfaces.quadratic_regime`` on quadratics,
      else ``"diverged"``, ``"still moving"``, ``"converged to the minimum"`` or
      ``"stuck in a local minimum"``), ``surface`` and ``lr``.
    """
    s = S.get_surface(surface)
    path = S.gd_trajectory(s, lr, steps)
    gap = _gap(s, path)
    fstar = float(s.fn(jnp.asarray(s.minimum, dtype=float)))
    sweep = np.asarray(S.lr_sweep(s, int(steps), _SWEEP)) - fstar
    if s.smoothness is not None:
        regime = S.quadratic_regime(lr, s.smoothness)
    elif not np.isfinite(gap[-1]) or gap[-1] > 1e6:
        regime = "diverged"
    elif np.linalg.norm(path[-1] - path[-2]) > 1e-4:
        regime = "still moving"
    else:
        regime = "converged to the minimum" if gap[-1] < 1e-4 else "stuck in a local minimum"
    return {"surface": s, "lr": float(lr), "path": path, "gap": gap,
            "sweep_lr": np.asarray(_SWEEP),
            "sweep_gap": np.where(np.isfinite(sweep), np.maximum(sweep, 0.0), np.inf),
            "limit": s.stability_limit, "regime": regime}


def _clip_log(v: np.ndarray) -> np.ndarray:
    return np.clip(np.nan_to_num(v, nan=1e12, posinf=1e12), 1e-12, 1e12)


def draw_lr(fig: Any, state: dict) -> str:
    """Draws the path, ``f(x_t) - f*`` per step, and the final gap against the learning rate."""
    s, path, lr = state["surface"], state["path"], state["lr"]
    ax1, ax2, ax3 = fig.subplots(1, 3)
    if s.dim == 1:
        xs = np.linspace(*s.xlim, 300)
        ax1.plot(xs, _values(s, xs[:, None]), color=OKABE_ITO["black"], lw=1, label="f")
        p = path[np.isfinite(path[:, 0]) & (np.abs(path[:, 0]) < 1e6), 0]
        ax1.plot(p, _values(s, p[:, None]), "-o", color=OKABE_ITO["vermillion"], ms=3, lw=1, label="iterates")
        ax1.set_xlim(*s.xlim)
        ax1.set_ylim(*s.ylim)
        ax1.legend(loc="upper center", fontsize="small")
        label(ax1, f"path on {s.formula}", "$x$", "$f(x)$")
    else:
        plot_paths(ax1, S.surface_grid(s), {f"lr={lr:.3g}": path}, minimum=s.minimum,
                   title=f"path on {s.formula}")
    ax2.semilogy(np.arange(len(state["gap"])), _clip_log(state["gap"]),
                 color=OKABE_ITO["blue"], lw=1.5)
    label(ax2, "loss per step", "step $t$", r"$f(x_t) - f^*$")
    ax3.loglog(state["sweep_lr"], _clip_log(state["sweep_gap"]), color=OKABE_ITO["blue"], lw=1.5,
               label="after all steps")
    ax3.axvline(lr, color=OKABE_ITO["vermillion"], lw=1.5, label=f"lr = {lr:.3g}")
    if state["limit"] is not None:
        ax3.axvline(state["limit"], color=OKABE_ITO["black"], ls="--", lw=1.2,
                    label=f"2/L = {state['limit']:.3g}")
    ax3.legend(loc="upper left", fontsize="small")
    label(ax3, "final loss vs learning rate", "learning rate", r"$f(x_T) - f^*$")
    extra = f", 2/L = {state['limit']:.3g}, lr·L = {lr * s.smoothness:.3g}" if s.smoothness else ""
    return f"lr = {lr:.3g}{extra}: <b>{state['regime']}</b>; final f - f* = {state['gap'][-1]:.3g}"


def lr_explorer(surface: str = "quadratic_1d", lr: float | None = None, steps: int = 30) -> Explorer:
    """Gradient descent with a learning-rate slider on a 1-D/2-D quadratic and a double well.

    On the quadratics the right panel marks the stability limit ``2 / L``: below ``1 / L`` the
    iterates approach the minimum from one side, between ``1 / L`` and ``2 / L`` they oscillate
    around it and still converge, above ``2 / L`` they diverge.

    Returns:
      An :class:`Explorer` with controls ``surface``, ``lr``, ``steps``; ``state`` is
      :func:`compute_lr`'s dict.
    """
    s = S.get_surface(surface)
    controls = {
        "surface": widgets.Dropdown(options=LR_SURFACES, value=s.name, description="surface"),
        "lr": widgets.FloatLogSlider(value=lr if lr is not None else s.lr, base=10, min=-3,
                                     max=0.4, step=0.02, description="learning rate",
                                     continuous_update=False, readout_format=".3g",
                                     style={"description_width": "initial"}),
        "steps": widgets.IntSlider(value=steps, min=1, max=200, description="steps",
                                   continuous_update=False),
    }
    return Explorer(controls, compute_lr, draw_lr, figsize=(12, 3.6),
                    links={"surface": lambda name: {"surface": name, "lr": S.SURFACES[name].lr}})


def _call_with_accepted(factory: Callable, **kwargs: Any) -> Any:
    params = inspect.signature(factory).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return factory(**kwargs)
    return factory(**{k: v for k, v in kwargs.items() if k in params})


def reference_optimizers(lr: float, adaptive_lr: float, momentum: float = 0.9, b1: float = 0.9,
                         b2: float = 0.999, rho: float = 0.9) -> dict:
    """``name -> nnlib.optim`` optimizer: SGD, momentum, Nesterov (at ``lr``), RMSprop
    (decay ``rho``) and Adam (``b1``, ``b2``) at ``adaptive_lr``."""
    from nnlib import optim

    return {"SGD": optim.sgd(lr), "momentum": optim.sgd(lr, momentum),
            "Nesterov": optim.sgd(lr, momentum, nesterov=True),
            "RMSprop": optim.rmsprop(adaptive_lr, decay=rho), "Adam": optim.adam(adaptive_lr, b1, b2)}


def compute_race(surface: str, steps: int, lr: float, adaptive_lr: float, momentum: float,
                 b1: float, b2: float, rho: float, student: Mapping[str, Any] | None = None,
                 student_lr: str = "adaptive") -> dict:
    """Runs the reference optimizers and any ``student`` ones from the surface's start.

    ``student`` maps a name to an optimizer object (``init``/``update``), used as is, or to a
    factory, called with those of ``learning_rate`` (the ``adaptive_lr`` slider, or ``lr`` if
    ``student_lr == "sgd"``), ``b1``, ``b2``, ``momentum``, ``decay`` that it accepts.

    Returns:
      ``{"surface", "paths": name -> (steps + 1, 2), "gaps": name -> (steps + 1,),
      "student": the student's names (drawn dashed over the references)}``.
    """
    s = S.get_surface(surface)
    opts = reference_optimizers(lr, adaptive_lr, momentum, b1, b2, rho)
    for name, opt in (student or {}).items():
        if isinstance(opt, type) or not (hasattr(opt, "init") and hasattr(opt, "update")):
            opt = _call_with_accepted(opt, learning_rate=adaptive_lr if student_lr == "adaptive" else lr,
                                      b1=b1, b2=b2, momentum=momentum, decay=rho)
        opts[name] = opt
    paths = S.race(opts, s, steps)
    return {"surface": s, "paths": paths, "gaps": {k: _gap(s, p) for k, p in paths.items()},
            "student": tuple(student or ())}


def draw_race(fig: Any, state: dict) -> str:
    """Draws every path on the contours and ``f(x_t) - f*`` per step for each optimizer."""
    s = state["surface"]
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.3, 1])
    mine = state.get("student", ())
    plot_paths(ax1, S.surface_grid(s), state["paths"], minimum=s.minimum, title=s.formula,
               dashed=mine)
    for (name, gap), colour in zip(state["gaps"].items(), CYCLE):
        style = dict(ls="--", lw=2.2, zorder=3) if name in mine else dict(lw=1.5)
        ax2.semilogy(_clip_log(gap), color=colour, label=name, **style)
    ax2.legend(loc="best", fontsize="small")
    label(ax2, "loss per step", "step $t$", r"$f(x_t) - f^*$")
    best = min(state["gaps"], key=lambda k: state["gaps"][k][-1])
    return "final f - f*: " + ", ".join(f"{k} {g[-1]:.2g}" for k, g in state["gaps"].items()) + \
        f"; closest: <b>{best}</b>"


def optimizer_race(surface: str = "rosenbrock", *, student: Mapping[str, Any] | None = None,
                   student_lr: str = "adaptive") -> Explorer:
    """SGD, momentum, Nesterov, RMSprop and Adam racing on a surface (plus your optimizers).

    Args:
      surface: one of ``"rosenbrock"``, ``"saddle"``, ``"ill_conditioned"``.
      student: optional ``name -> optimizer or factory`` drawn beside the references (see
        :func:`compute_race`), e.g. ``{"my adam": my_adam}``.
      student_lr: which learning-rate slider a student factory gets: ``"adaptive"`` or ``"sgd"``.

    Returns:
      An :class:`Explorer` with controls ``surface``, ``steps``, ``lr`` (SGD family),
      ``adaptive_lr`` (RMSprop, Adam), ``momentum``, ``b1``, ``b2``, ``rho``.
    """
    surface = choose("surface", surface, RACE_SURFACES)
    student_lr = choose("student_lr", student_lr, ("adaptive", "sgd"))
    lr, alr, steps = RACE_DEFAULTS[surface]
    slider = dict(continuous_update=False, readout_format=".3g", style={"description_width": "initial"})
    controls = {
        "surface": widgets.Dropdown(options=RACE_SURFACES, value=surface, description="surface"),
        "steps": widgets.IntSlider(value=steps, min=10, max=1000, step=10, description="steps",
                                   continuous_update=False),
        "lr": widgets.FloatLogSlider(value=lr, min=-4, max=0, step=0.05, description="lr (SGD family)", **slider),
        "adaptive_lr": widgets.FloatLogSlider(value=alr, min=-4, max=0, step=0.05,
                                              description="lr (RMSprop, Adam)", **slider),
        "momentum": widgets.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="momentum μ", **slider),
        "b1": widgets.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="Adam β1", **slider),
        "b2": widgets.FloatSlider(value=0.999, min=0.9, max=0.9999, step=0.0001, description="Adam β2", **slider),
        "rho": widgets.FloatSlider(value=0.9, min=0.5, max=0.999, step=0.001, description="RMSprop ρ", **slider),
    }

    def compute(**values):
        return compute_race(**values, student=student, student_lr=student_lr)

    def defaults(name):
        lr, alr, steps = RACE_DEFAULTS[name]
        return {"surface": name, "lr": lr, "adaptive_lr": alr, "steps": steps}

    return Explorer(controls, compute, draw_race, figsize=(11, 4.2), links={"surface": defaults})
