"""Batch, stochastic and mini-batch gradient descent on the same loss surface.

One-feature linear regression ``y ~ w x + b`` with the mean squared error has a bowl-shaped
loss over ``(w, b)``. Batch gradient descent follows the gradient of the whole training set
(one step per epoch); stochastic gradient descent (Robbins & Monro 1951) steps on one example
at a time (N noisy steps per epoch); mini-batch gradient descent averages the gradient over
``B`` examples (``ceil(N/B)`` steps per epoch), the practical default (Bottou 2010). The
explorer runs the three for the same number of epochs, i.e. the same number of examples seen,
and draws their paths over the loss contours and their full-data loss against examples seen.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import ipywidgets as widgets
import jax
import jax.numpy as jnp
import numpy as np

from nnlib.viz.explorer import Explorer, label
from nnlib.viz.palette import OKABE_ITO

__all__ = ["regression_data", "descent_paths", "draw_batch_paths", "batch_size_explorer"]

N_EXAMPLES = 64
START = (-1.5, 2.5)  # (w, b) where every run starts


def regression_data(n: int = N_EXAMPLES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points ``y = 2 x - 1 + noise`` with ``x ~ N(0, 1)``, noise ``N(0, 0.5^2)`` (float32)."""
    kx, kn = jax.random.split(jax.random.key(seed))
    x = jax.random.normal(kx, (n,))
    y = 2.0 * x - 1.0 + 0.5 * jax.random.normal(kn, (n,))
    return np.asarray(x), np.asarray(y)


def _loss(p, x, y):
    return jnp.mean((p[0] * x + p[1] - y) ** 2)


@functools.partial(jax.jit, static_argnames=("batch_size", "epochs"))
def _run(x, y, batch_size, lr, epochs, key):
    """Mini-batch gradient descent; returns the parameters after every step, (steps + 1, 2)."""
    n = x.shape[0]
    per_epoch = math.ceil(n / batch_size)
    pad = per_epoch * batch_size - n
    def epoch(carry, k):
        p = carry
        order = jax.random.permutation(k, n)
        # a smaller last batch: pad the order with -1 and mask those rows out of the mean
        order = jnp.concatenate([order, -jnp.ones(pad, order.dtype)]).reshape(per_epoch, batch_size)

        def step(p, rows):
            mask = (rows >= 0).astype(x.dtype)
            xb, yb = x[jnp.maximum(rows, 0)], y[jnp.maximum(rows, 0)]
            g = jax.grad(lambda q: jnp.sum(mask * (q[0] * xb + q[1] - yb) ** 2) / mask.sum())(p)
            p = p - lr * g
            return p, p

        p, path = jax.lax.scan(step, p, order)
        return p, path

    p0 = jnp.asarray(START, x.dtype)
    _, paths = jax.lax.scan(epoch, p0, jax.random.split(key, epochs))
    return jnp.concatenate([p0[None], paths.reshape(-1, 2)])


@functools.lru_cache(maxsize=64)
def descent_paths(batch_size: int = 8, lr: float = 0.1, epochs: int = 3, seed: int = 0) -> dict:
    """Paths of batch (B = N), stochastic (B = 1) and mini-batch (B = ``batch_size``) descent.

    All three start at :data:`START`, use the learning rate ``lr`` and run ``epochs`` epochs
    over the same :func:`regression_data` (``N = 64``), each epoch in a new random order.

    Returns:
      ``paths`` (name -> ``(steps + 1, 2)`` array of ``(w, b)``), ``losses`` (name -> full-data
      loss after each step), ``seen`` (name -> examples seen after each step), ``optimum``
      (the least-squares ``(w, b)``), ``grid`` (``W, B, L`` for the contours) and the
      arguments. Cached: the same arguments give the same arrays.
    """
    if not 1 <= int(batch_size) <= N_EXAMPLES:
        raise ValueError(f"batch_size must be in [1, {N_EXAMPLES}], got {batch_size}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    if not 1 <= int(epochs) <= 50:
        raise ValueError(f"epochs must be in [1, 50], got {epochs}")
    x, y = regression_data(seed=seed)
    key = jax.random.key(seed + 1)
    runs = {"batch (B = N)": N_EXAMPLES, "stochastic (B = 1)": 1,
            f"mini-batch (B = {int(batch_size)})": int(batch_size)}
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    paths, losses, seen = {}, {}, {}
    full = jax.jit(jax.vmap(lambda p: _loss(p, xj, yj)))
    for name, bs in runs.items():
        path = np.asarray(_run(xj, yj, bs, float(lr), int(epochs), key))
        paths[name] = path
        losses[name] = np.asarray(full(jnp.asarray(path)))
        per_epoch = math.ceil(N_EXAMPLES / bs)
        sizes = [bs] * (N_EXAMPLES // bs) + ([N_EXAMPLES % bs] if N_EXAMPLES % bs else [])
        assert len(sizes) == per_epoch
        seen[name] = np.concatenate([[0], np.cumsum(sizes * int(epochs))])
    A = np.stack([x, np.ones_like(x)], axis=1).astype(np.float64)
    optimum = np.linalg.lstsq(A, y.astype(np.float64), rcond=None)[0]
    ws, bs_ = np.linspace(-2.5, 3.5, 80), np.linspace(-3.0, 3.0, 80)
    W, B = np.meshgrid(ws, bs_)
    L = np.mean((W[..., None] * x + B[..., None] - y) ** 2, axis=-1)
    return {"paths": paths, "losses": losses, "seen": seen, "optimum": optimum, "grid": (W, B, L),
            "batch_size": int(batch_size), "lr": float(lr), "epochs": int(epochs)}


_COLOURS = (OKABE_ITO["black"], OKABE_ITO["vermillion"], OKABE_ITO["blue"])


def draw_batch_paths(fig: Any, state: dict) -> str:
    """Left: the three paths over the loss contours; right: full-data loss vs examples seen."""
    ax1, ax2 = fig.subplots(1, 2)
    W, B, L = state["grid"]
    ax1.contour(W, B, L, levels=np.geomspace(max(L.min(), 1e-3), L.max(), 14), colors="0.75",
                linewidths=0.7)
    for (name, path), colour in zip(state["paths"].items(), _COLOURS):
        ax1.plot(path[:, 0], path[:, 1], "-", color=colour, lw=1.2 if "stochastic" in name else 2,
                 alpha=0.8, label=f"{name}: {len(path) - 1} steps")
        ax2.semilogy(state["seen"][name], state["losses"][name], "-", color=colour, label=name)
    ax1.plot(*state["optimum"], "*", color=OKABE_ITO["yellow"], ms=14, mec="black",
             label="least squares")
    ax1.plot(*START, "o", color="black", ms=5)
    ax1.legend(loc="lower right", fontsize="x-small")
    label(ax1, f"paths over {state['epochs']} epoch(s), learning rate {state['lr']:g}",
          "weight w", "bias b")
    ax2.legend(loc="upper right", fontsize="x-small")
    label(ax2, "loss on all the data", "examples seen", "mean squared error")
    finals = {name.split(" (")[0]: float(v[-1]) for name, v in state["losses"].items()}
    return ", ".join(f"{k}: final loss {v:.3f}" for k, v in finals.items())


def batch_size_explorer(batch_size: int = 8, lr: float = 0.1, epochs: int = 3) -> Explorer:
    """Batch vs stochastic vs mini-batch descent, with the batch size as a slider.

    Returns:
      An :class:`Explorer` with controls ``batch_size``, ``lr`` and ``epochs``; ``state`` is
      :func:`descent_paths`'s dict.
    """
    controls = {
        "batch_size": widgets.IntSlider(value=batch_size, min=1, max=N_EXAMPLES, description="batch size",
                                        continuous_update=False),
        "lr": widgets.FloatLogSlider(value=lr, base=10, min=-3, max=0, step=0.1,
                                     description="learning rate", continuous_update=False),
        "epochs": widgets.IntSlider(value=epochs, min=1, max=20, description="epochs",
                                    continuous_update=False),
    }
    return Explorer(controls, lambda **v: descent_paths(**v), draw_batch_paths, figsize=(11, 4))
