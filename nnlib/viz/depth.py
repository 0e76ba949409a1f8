"""Depth and initialization explorer: vanishing and exploding gradients in a deep MLP.

For ``h_l = f(h_{l-1} W_l)`` the backward pass multiplies the gradient by ``W_l^T`` and by
``f'(z_l)`` once per layer, so its size changes geometrically with depth: it vanishes when
each factor shrinks it (small weights, saturating sigmoid with ``f' <= 1/4``) and explodes
when each grows it (weights too large). Glorot/Xavier init (``Var W = 2 / (fan_in + fan_out)``,
Glorot & Bengio 2010) keeps tanh layers balanced, He init (``Var W = 2 / fan_in``, He et al.
2015) ReLU layers; batch norm (Ioffe & Szegedy 2015) re-standardises every layer's
pre-activations over the batch, whatever the weights' scale.
"""

from __future__ import annotations

import functools
from typing import Any

import ipywidgets as widgets
import jax
import jax.numpy as jnp
import numpy as np

from nnlib.viz.explorer import Explorer, choose, label
from nnlib.viz.palette import OKABE_ITO
from nnlib.viz.plots import plot_histograms

__all__ = ["INITS", "deep_mlp_stats", "draw_depth", "depth_explorer"]

#: name -> (nnlib.init name, keyword arguments)
INITS = {
    "normal(0.01)": ("normal", {"stddev": 0.01}),
    "normal(1.0)": ("normal", {"stddev": 1.0}),
    "glorot_normal": ("glorot_normal", {}),
    "he_normal": ("he_normal", {}),
}
DEPTH_ACTIVATIONS = ("sigmoid", "tanh", "relu")
MAX_DEPTH = 50


@functools.lru_cache(maxsize=64)
def deep_mlp_stats(depth: int, activation: str, init: str, batch_norm: bool, width: int = 64,
                   batch: int = 256, seed: int = 0) -> dict:
    """Forward and backward statistics of a freshly initialised deep MLP.

    The network is ``h_0 = x ~ N(0, 1)`` of shape ``(batch, width)``, then for each of
    ``depth`` layers ``z_l = h_{l-1} W_l`` (``W_l``: ``(width, width)`` from ``init``, no
    bias), optionally batch-normalised (``(z - mean) / sqrt(var + 1e-5)`` over the batch,
    ``gamma = 1``, ``beta = 0``), and ``h_l = f(z_l)``; the loss is
    ``L = 1/2 mean_b (h_depth v - t)^2`` with a fixed random readout ``v`` and targets ``t``.

    Returns:
      ``grad_norms`` (``(depth,)``: ``||dL/dW_l||_F``), ``delta_norms`` (``(depth,)``:
      ``||dL/dh_l||_F``, the gradient flowing back into layer ``l``), ``act_std`` (``(depth,)``: the std of
      ``h_l``), ``acts`` (``(depth, batch * width)`` float32: every layer's activations),
      ``loss`` and the arguments. Cached: the same arguments give the same arrays.
    """
    activation = choose("activation", activation, DEPTH_ACTIVATIONS)
    init = choose("init", init, INITS)
    if not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be in [1, {MAX_DEPTH}], got {depth}")
    name, kwargs = INITS[init]
    kx, kt, kv, kw = jax.random.split(jax.random.key(seed), 4)
    ws = _init_stack(name, tuple(sorted(kwargs.items())), MAX_DEPTH, width)(kw)
    x = jax.random.normal(kx, (batch, width), jnp.float32)
    v = jax.random.normal(kv, (width,), jnp.float32) / np.sqrt(width)
    t = jax.random.normal(kt, (batch,), jnp.float32)
    out = _run(ws, np.arange(MAX_DEPTH) < depth, x, v, t, DEPTH_ACTIVATIONS.index(activation),
               bool(batch_norm))
    loss, gw, gh, hs = (np.asarray(a, dtype=np.float64) for a in out)  # no per-depth compiles
    acts = hs[:depth].reshape(depth, -1)
    return {"grad_norms": np.sqrt(np.sum(gw[:depth] ** 2, axis=(1, 2))),
            "delta_norms": np.sqrt(np.sum(gh[:depth] ** 2, axis=(1, 2))),
            "act_std": acts.std(axis=1), "acts": acts, "loss": float(loss), "depth": depth,
            "activation": activation, "init": init, "batch_norm": batch_norm}


def _init_stack(name: str, kwargs: tuple, depth: int, width: int):
    """``key -> (depth, width, width)``: one ``nnlib.init`` draw per layer (vmapped, eager)."""
    from nnlib import init as nn_init

    fn = nn_init.get(name)
    return lambda key: jax.vmap(lambda k: fn(k, (width, width), jnp.float32, **dict(kwargs)))(
        jax.random.split(key, depth))


@jax.jit
def _run(ws, active, x, v, t, which, batch_norm):
    """Loss, ``dL/dW_l`` and ``dL/dh_l`` (both stacked over layers) and every ``h_l``.

    Always scans ``MAX_DEPTH`` layers, and the activation (``which`` indexes
    :data:`DEPTH_ACTIVATIONS`) and ``batch_norm`` are traced too, so one compilation serves
    every setting; layers where ``active`` is False pass ``h`` through unchanged.
    """
    from nnlib import layers

    acts = [layers.sigmoid, layers.tanh, layers.relu]

    def forward(ws, probes):  # probes are zeros added to each h_l, so d loss / d probe = dL/dh_l
        def layer(h, wpa):
            w, p, on = wpa
            z = h @ w
            z = jnp.where(batch_norm, (z - z.mean(0)) / jnp.sqrt(z.var(0) + 1e-5), z)
            h = jnp.where(on, jax.lax.switch(which, acts, z) + p, h)
            return h, h

        h, hs = jax.lax.scan(layer, x, (ws, probes, active))
        return 0.5 * jnp.mean((h @ v - t) ** 2), hs

    probes = jnp.zeros((ws.shape[0],) + x.shape, x.dtype)
    (loss, hs), (gw, gh) = jax.value_and_grad(forward, argnums=(0, 1), has_aux=True)(ws, probes)
    return loss, gw, gh, hs


def draw_depth(fig: Any, state: dict) -> str:
    """Gradient norm per layer, activation std per layer, and histograms of a few layers."""
    ax1, ax2, ax3 = fig.subplots(1, 3)
    depth = state["depth"]
    layers_ = np.arange(1, depth + 1)
    g = np.clip(np.nan_to_num(state["grad_norms"], nan=1e30, posinf=1e30), 1e-30, 1e30)
    d = np.clip(np.nan_to_num(state["delta_norms"], nan=1e30, posinf=1e30), 1e-30, 1e30)
    ax1.semilogy(layers_, g, "-o", color=OKABE_ITO["vermillion"], ms=3,
                 label=r"$\|\partial L/\partial W_l\|$")
    ax1.semilogy(layers_, d, "--s", color=OKABE_ITO["black"], ms=3,
                 label=r"$\|\partial L/\partial h_l\|$")
    ax1.legend(loc="best", fontsize="small")
    label(ax1, "gradient norm per layer", "layer $l$", "gradient norm")
    ax2.semilogy(layers_, np.clip(state["act_std"], 1e-30, None), "-o", color=OKABE_ITO["blue"], ms=3)
    label(ax2, "activation spread per layer", "layer $l$", "std of $h_l$")
    picks = sorted({1, max(1, depth // 2), depth})
    acts = {f"layer {l}": np.clip(state["acts"][l - 1], -1e30, 1e30) for l in picks}
    plot_histograms(ax3, acts, bins=50, title="activation histograms (shared bins)",
                    xlabel="activation $h_l$")
    return (f"{state['activation']}, {state['init']}{', batch norm' if state['batch_norm'] else ''}: "
            f"|dL/dW| is {g[0]:.3g} at layer 1 and {g[-1]:.3g} at layer {depth}; "
            f"|dL/dh| {d[0]:.3g} and {d[-1]:.3g}; loss {state['loss']:.3g}")


def depth_explorer(depth: int = 20, activation: str = "sigmoid", init: str = "normal(0.01)",
                   batch_norm: bool = False, *, width: int = 64, seed: int = 0) -> Explorer:
    """Per-layer gradient norms and activation histograms as depth, activation, init change.

    Returns:
      An :class:`Explorer` with controls ``depth``, ``activation``, ``init`` and
      ``batch_norm``; ``state`` is :func:`deep_mlp_stats`'s dict.
    """
    controls = {
        "depth": widgets.IntSlider(value=depth, min=2, max=MAX_DEPTH, description="depth",
                                   continuous_update=False),
        "activation": widgets.Dropdown(options=DEPTH_ACTIVATIONS, value=activation, description="activation"),
        "init": widgets.Dropdown(options=list(INITS), value=init, description="init"),
        "batch_norm": widgets.Checkbox(value=batch_norm, description="batch norm"),
    }
    return Explorer(controls, lambda **v: deep_mlp_stats(**v, width=width, seed=seed), draw_depth,
                    figsize=(12, 3.6))
