"""Regularization explorer: L2 strength and dropout rate against over-fitting.

A 2-64-64-1 tanh network is trained full-batch with Adam on a small, noisy two-moons set
(80 points) and validated on 400 fresh points. The loss is the logistic loss plus the L2
penalty ``lambda/2 * sum ||W||^2`` over the weight matrices (Krogh & Hertz 1992); dropout
(Srivastava et al. 2014) is applied to both hidden layers during training. Every run for the
ten L2 strengths is one vmapped, jitted computation per dropout rate (cached), so moving a
slider only redraws.
"""

from __future__ import annotations

import functools
from typing import Any

import ipywidgets as widgets
import jax
import jax.numpy as jnp
import numpy as np

from nnlib.viz.explorer import Explorer, label
from nnlib.viz.palette import OKABE_ITO
from nnlib.viz.plots import decision_grid, plot_decision_boundary

__all__ = ["L2_VALUES", "regularization_runs", "compute_regularization", "draw_regularization",
           "regularization_explorer"]

L2_VALUES = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)
EPOCHS, SNAPSHOTS, HIDDEN = 400, 20, 64


@functools.lru_cache(maxsize=1)
def _data(seed: int = 0) -> tuple[np.ndarray, ...]:
    from nnlib import data

    k_train, k_val = jax.random.split(jax.random.key(seed))
    x, y = data.make_moons(80, key=k_train, noise=0.35)
    xv, yv = data.make_moons(400, key=k_val, noise=0.35)
    return x, y.astype(np.float32), xv, yv.astype(np.float32)


def _init(key):
    from nnlib import init

    sizes = (2, HIDDEN, HIDDEN, 1)
    keys = jax.random.split(key, len(sizes) - 1)
    return [{"W": init.glorot_uniform(k, (a, b)), "b": jnp.zeros(b)}
            for k, a, b in zip(keys, sizes[:-1], sizes[1:])]


def _logits(params, x, rate=0.0, key=None):
    h = x
    for i, p in enumerate(params[:-1]):
        h = jnp.tanh(h @ p["W"] + p["b"])
        if key is not None:  # training: inverted dropout with a traced rate
            keep = jax.random.bernoulli(jax.random.fold_in(key, i), 1.0 - rate, h.shape)
            h = jnp.where(keep, h / (1.0 - rate), 0.0)
    return (h @ params[-1]["W"] + params[-1]["b"])[:, 0]


@functools.partial(jax.jit, static_argnames=("epochs", "snapshots"))
def _train_all(l2s, rate, x, y, xv, yv, key, epochs, snapshots):
    from nnlib import losses, optim

    opt = optim.adam(0.01)
    bce = losses.sigmoid_binary_cross_entropy

    def metrics(params):
        zt, zv = _logits(params, x), _logits(params, xv)
        return jnp.stack([bce(zt, y), bce(zv, yv), jnp.mean((zt > 0) == (y > 0.5)),
                          jnp.mean((zv > 0) == (yv > 0.5))])

    def one(l2):
        def loss(params, k):
            pen = 0.5 * l2 * sum(jnp.sum(p["W"] ** 2) for p in params)
            return bce(_logits(params, x, rate, k), y) + pen

        def epoch(carry, k):
            params, st = carry
            g = jax.grad(loss)(params, k)
            upd, st = opt.update(g, st, params)
            params = optim.apply_updates(params, upd)
            return (params, st), metrics(params)

        def chunk(carry, ks):
            carry, ms = jax.lax.scan(epoch, carry, ks)
            return carry, (carry[0], ms)

        params = _init(jax.random.key(1))
        ks = jax.random.split(key, epochs).reshape(snapshots, epochs // snapshots)
        _, (snaps, ms) = jax.lax.scan(chunk, (params, opt.init(params)), ks)
        return snaps, ms.reshape(epochs, 4)

    return jax.vmap(one)(l2s)


@functools.lru_cache(maxsize=16)
def regularization_runs(rate: float, seed: int = 0) -> dict:
    """Trains one network per L2 strength in :data:`L2_VALUES` at dropout ``rate`` (cached).

    Returns:
      ``history``: ``(10, EPOCHS, 4)`` per-epoch ``[train loss, val loss, train acc, val acc]``
      (losses without the penalty, evaluated without dropout); ``snapshots``: parameters
      after every ``EPOCHS / SNAPSHOTS`` epochs, each leaf ``(10, SNAPSHOTS, ...)``; and the
      data ``x, y, x_val, y_val``.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate}")
    x, y, xv, yv = _data(seed)
    snaps, hist = _train_all(jnp.asarray(L2_VALUES, jnp.float32), jnp.float32(rate), x, y, xv, yv,
                             jax.random.key(seed + 7), EPOCHS, SNAPSHOTS)
    return {"history": np.asarray(hist), "snapshots": jax.device_get(snaps),
            "x": x, "y": y, "x_val": xv, "y_val": yv}


def compute_regularization(l2: float, rate: float, epoch: int, seed: int = 0) -> dict:
    """What the explorer draws for one L2 strength, dropout rate and snapshot epoch.

    Returns:
      ``history`` ``(EPOCHS, 4)`` for this ``l2``; ``final`` ``(10, 4)``, the last epoch of
      every L2 strength (for the sweep); ``grid`` ``(X, Y, P)``, the probability of class 1
      at ``epoch`` (rounded to a snapshot); the data; and the arguments.
    """
    if l2 not in L2_VALUES:
        raise ValueError(f"l2 must be one of {L2_VALUES}, got {l2}")
    runs = regularization_runs(float(rate), seed)
    i = L2_VALUES.index(l2)
    per = EPOCHS // SNAPSHOTS
    snap = int(np.clip(round(epoch / per) - 1, 0, SNAPSHOTS - 1))
    params = jax.tree.map(lambda a: a[i, snap], runs["snapshots"])
    grid = decision_grid(lambda pts: jax.nn.sigmoid(_logits(params, jnp.asarray(pts, jnp.float32))),
                         runs["x"], resolution=70)
    return {"history": runs["history"][i], "final": runs["history"][:, -1], "grid": grid,
            "x": runs["x"], "y": runs["y"], "l2": l2, "rate": float(rate),
            "epoch": (snap + 1) * per}


def draw_regularization(fig: Any, state: dict) -> str:
    """Learning curves, final losses against the L2 strength, and the decision boundary."""
    ax1, ax2, ax3 = fig.subplots(1, 3)
    h = state["history"]
    ep = np.arange(1, len(h) + 1)
    ax1.plot(ep, h[:, 0], color=OKABE_ITO["blue"], label="train")
    ax1.plot(ep, h[:, 1], "--", color=OKABE_ITO["orange"], label="validation")
    ax1.axvline(state["epoch"], color=OKABE_ITO["black"], lw=0.8, ls=":")
    ax1.legend(loc="best", fontsize="small")
    label(ax1, f"L2 = {state['l2']:g}, dropout = {state['rate']:.1f}", "epoch", "logistic loss")
    xs = np.arange(len(L2_VALUES))
    ax2.plot(xs, state["final"][:, 0], "-o", color=OKABE_ITO["blue"], label="train")
    ax2.plot(xs, state["final"][:, 1], "--^", color=OKABE_ITO["orange"], label="validation")
    ax2.axvline(L2_VALUES.index(state["l2"]), color=OKABE_ITO["vermillion"], lw=1.2)
    ax2.set_xticks(xs)
    ax2.set_xticklabels([f"{v:g}" for v in L2_VALUES], rotation=60, fontsize=7)
    ax2.legend(loc="best", fontsize="small")
    label(ax2, f"loss after {EPOCHS} epochs", "L2 strength λ", "logistic loss")
    plot_decision_boundary(ax3, state["grid"], state["x"], state["y"],
                           title=f"decision boundary at epoch {state['epoch']}")
    tr, va, acc_t, acc_v = h[-1]
    return (f"final train loss {tr:.3f} (acc {acc_t:.2f}), validation loss {va:.3f} "
            f"(acc {acc_v:.2f}); gap {va - tr:.3f}")


def regularization_explorer(l2: float = 0.0, rate: float = 0.0, *, seed: int = 0) -> Explorer:
    """L2 strength and dropout rate against train/validation curves and the boundary.

    Returns:
      An :class:`Explorer` with controls ``l2`` (a selection among :data:`L2_VALUES`),
      ``rate`` (dropout, 0 to 0.8) and ``epoch`` (which snapshot's boundary to draw);
      ``state`` is :func:`compute_regularization`'s dict.
    """
    controls = {
        "l2": widgets.SelectionSlider(options=[(f"{v:g}", v) for v in L2_VALUES], value=l2,
                                      description="L2 λ", continuous_update=False),
        "rate": widgets.SelectionSlider(options=[(f"{v:.1f}", v) for v in np.round(np.arange(0, 0.81, 0.1), 1)],
                                        value=round(rate, 1), description="dropout",
                                        continuous_update=False),
        "epoch": widgets.IntSlider(value=EPOCHS, min=EPOCHS // SNAPSHOTS, max=EPOCHS,
                                   step=EPOCHS // SNAPSHOTS, description="epoch",
                                   continuous_update=False),
    }
    return Explorer(controls, lambda **v: compute_regularization(**v, seed=seed),
                    draw_regularization, figsize=(12, 3.8))
