"""Activation explorer: sigmoid, tanh, ReLU, leaky ReLU, their derivatives and saturation.

A unit *saturates* where its derivative is (nearly) zero: the gradient that reaches the
weights below it is multiplied by ``f'(z)``, so it vanishes there. Sigmoid has
``f'(z) = s(1 - s) <= 1/4`` and saturates on both sides; tanh (``f' = 1 - tanh^2 <= 1``)
likewise; ReLU is exactly flat for ``z < 0`` (a "dead" unit); leaky ReLU keeps a slope
``a`` there (Glorot et al. 2011; Maas et al. 2013).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets
import jax
import jax.numpy as jnp
import numpy as np

from nnlib.viz.explorer import Explorer, choose, label
from nnlib.viz.palette import CYCLE, GREY, OKABE_ITO

__all__ = ["ACTIVATIONS", "compute_activation", "saturated_intervals", "draw_activation",
           "activation_explorer"]


def _acts(negative_slope: float) -> dict[str, Callable]:
    from nnlib import layers

    return {"sigmoid": layers.sigmoid, "tanh": layers.tanh, "relu": layers.relu,
            "leaky_relu": lambda x: layers.leaky_relu(x, negative_slope)}


ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")


def saturated_intervals(x: np.ndarray, mask: np.ndarray) -> list[tuple[float, float]]:
    """The ``(start, end)`` runs of ``x`` (sorted, shape ``(n,)``) where ``mask`` is True."""
    x, m = np.asarray(x), np.asarray(mask, dtype=np.int8)
    edges = np.diff(np.concatenate([[0], m, [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [(float(x[a]), float(x[b])) for a, b in zip(starts, ends)]


def compute_activation(activation: str, x_max: float = 6.0, threshold: float = 0.05,
                       negative_slope: float = 0.01,
                       custom: Mapping[str, Callable] | None = None) -> dict:
    """Values and derivatives (by ``jax.grad``) of every activation on ``[-x_max, x_max]``.

    Args:
      activation: the highlighted one (a name in :data:`ACTIVATIONS` or in ``custom``).
      x_max: half-width of the input range.
      threshold: a unit counts as saturated where ``|f'(z)| < threshold``.
      negative_slope: leaky ReLU's slope ``a`` for ``z < 0``.
      custom: more ``name -> f`` (e.g. your own activation), drawn with the others.

    Returns:
      ``x`` (401,), ``values`` and ``grads`` (``name -> (401,)``), ``saturated`` (the
      highlighted one's mask), ``intervals`` (its saturated runs) and the arguments.
    """
    fns = {**_acts(negative_slope), **dict(custom or {})}
    activation = choose("activation", activation, fns)
    if x_max <= 0:
        raise ValueError(f"x_max must be positive, got {x_max}")
    x = np.linspace(-x_max, x_max, 401)
    xj = jnp.asarray(x)
    values = {k: np.asarray(f(xj)) for k, f in fns.items()}
    grads = {k: np.asarray(jax.vmap(jax.grad(lambda z, f=f: jnp.sum(f(z))))(xj)) for k, f in fns.items()}
    mask = np.abs(grads[activation]) < threshold
    return {"x": x, "values": values, "grads": grads, "activation": activation,
            "threshold": float(threshold), "saturated": mask,
            "intervals": saturated_intervals(x, mask)}


def draw_activation(fig: Any, state: dict) -> str:
    """Left: ``f(z)``; right: ``f'(z)``; the highlighted one bold, its saturated zones shaded."""
    ax1, ax2 = fig.subplots(1, 2)
    x, name = state["x"], state["activation"]
    for ax, data, what in ((ax1, state["values"], "f(z)"), (ax2, state["grads"], "f'(z)")):
        for (k, v), colour in zip(data.items(), CYCLE):
            bold = k == name
            ax.plot(x, v, color=colour, lw=2.5 if bold else 1.0, alpha=1 if bold else 0.45,
                    ls="-" if bold else "--", label=k)
        for lo, hi in state["intervals"]:
            ax.axvspan(lo, hi, color=GREY, alpha=0.35, lw=0)
        ax.axhline(0, color=OKABE_ITO["black"], lw=0.5)
        ax.legend(loc="upper left", fontsize="small")
    ax2.axhline(state["threshold"], color=OKABE_ITO["black"], ls=":", lw=1)
    label(ax1, f"{name} (grey: saturated, |f'| < {state['threshold']:g})", "pre-activation $z$", "$f(z)$")
    label(ax2, f"derivative of {name}", "pre-activation $z$", "$f'(z)$")
    zones = ", ".join(f"[{lo:.2f}, {hi:.2f}]" for lo, hi in state["intervals"]) or "nowhere"
    return f"{name}: max f' = {np.max(state['grads'][name]):.3g}; saturated on {zones}"


def activation_explorer(activation: str = "sigmoid", *,
                        custom: Mapping[str, Callable] | None = None) -> Explorer:
    """Compare activations and their derivatives; the grey zones are where a unit saturates.

    Args:
      activation: the one highlighted first.
      custom: more ``name -> f`` to compare, e.g. your own activation function.

    Returns:
      An :class:`Explorer` with controls ``activation``, ``x_max``, ``threshold`` and
      ``negative_slope``; ``state`` is :func:`compute_activation`'s dict.
    """
    names = list(ACTIVATIONS) + list(custom or {})
    cont = dict(continuous_update=False, style={"description_width": "initial"})
    controls = {
        "activation": widgets.Dropdown(options=names, value=activation, description="activation"),
        "x_max": widgets.FloatSlider(value=6.0, min=1.0, max=12.0, step=0.5, description="z range ±", **cont),
        "threshold": widgets.FloatLogSlider(value=0.05, min=-4, max=-0.5, step=0.1,
                                            description="saturation |f'| <", **cont),
        "negative_slope": widgets.FloatSlider(value=0.01, min=0.0, max=0.5, step=0.01,
                                              description="leaky slope a", **cont),
    }
    return Explorer(controls, lambda **v: compute_activation(**v, custom=custom), draw_activation,
                    figsize=(10, 3.6))
