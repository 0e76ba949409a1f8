"""Dropout viewer: which units a dropout mask removes, and the ``1 / (1 - rate)`` rescaling.

Inverted dropout (Srivastava et al. 2014) keeps each unit with probability ``1 - rate`` and
divides the kept ones by ``1 - rate``: ``y = x * m / (1 - rate)``, ``m ~ Bernoulli(1 - rate)``,
so ``E[y] = x`` and the network needs no change at test time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import jax
import jax.numpy as jnp
import numpy as np

from nnlib.viz.explorer import Explorer, label
from nnlib.viz.palette import GREY, OKABE_ITO

__all__ = ["reference_dropout", "dropout_forward", "draw_dropout", "dropout_viewer"]


def reference_dropout(x: jax.Array, rate: float, *, key: jax.Array) -> jax.Array:
    """``nnlib.layers.Dropout(rate)`` in training mode: ``x * m / (1 - rate)``, same shape as x."""
    from nnlib import layers

    return layers.Dropout(rate).apply({}, x, train=True, key=key)


def dropout_forward(rate: float, seed: int, train: bool = True,
                    sizes: Sequence[int] = (4, 8, 8, 1),
                    dropout: Callable[..., jax.Array] | None = None) -> dict:
    """A small ReLU MLP (fixed weights and input) with dropout after every hidden layer.

    Args:
      rate: the fraction of hidden units dropped, in ``[0, 1)``.
      seed: which mask: ``jax.random.key(seed)`` is split once per hidden layer.
      train: dropout is active only when True (else it is the identity).
      sizes: units per layer, input first, output last.
      dropout: ``dropout(x, rate, key=key) -> y``; :func:`reference_dropout` if None (pass
        your own to see it drawn).

    Returns:
      ``before`` and ``after`` (per hidden layer: the activations before and after dropout,
      shape ``(sizes[l],)``), ``masks`` (per hidden layer, True where a unit was dropped,
      i.e. its output is exactly 0 while its input was not), ``n_dropped``, ``scale``
      (``1 / (1 - rate)``), ``output``, ``sizes``, ``rate``, ``train``.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate}")
    if len(sizes) < 3:
        raise ValueError(f"sizes needs an input, at least one hidden and an output layer, got {sizes}")
    drop = dropout or reference_dropout
    wkey = jax.random.key(1234)  # the network itself is fixed; only the masks change
    h = jnp.linspace(0.5, 1.5, sizes[0])
    keys = jax.random.split(jax.random.key(seed), len(sizes) - 2)
    before, after, masks = [], [], []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        wkey, k = jax.random.split(wkey)
        w = jax.random.uniform(k, (n_in, n_out), minval=-0.2, maxval=1.0) / np.sqrt(n_in)
        h = h @ w
        if i < len(sizes) - 2:
            h = jax.nn.relu(h) + 0.05  # keep every unit active so a zero means "dropped"
            y = drop(h, rate, key=keys[i]) if train and rate > 0 else h
            before.append(np.asarray(h))
            after.append(np.asarray(y))
            masks.append(np.asarray((y == 0) & (h != 0)))
            h = y
    expected = before[0]
    if train and rate > 0:
        keys1 = jax.random.split(jax.random.key(seed + 10_000), 400)
        x1 = jnp.asarray(before[0])
        if dropout is None:
            expected = np.asarray(jax.vmap(lambda k: drop(x1, rate, key=k))(keys1).mean(0))
        else:  # a student's function need not be vmappable
            expected = np.mean([np.asarray(drop(x1, rate, key=k)) for k in keys1], axis=0)
    return {"before": before, "after": after, "masks": masks, "expected": expected,
            "n_dropped": int(sum(m.sum() for m in masks)), "scale": 1.0 / (1.0 - rate),
            "output": float(np.asarray(h).ravel()[0]), "sizes": tuple(sizes), "rate": float(rate),
            "train": bool(train)}


def draw_dropout(fig: Any, state: dict) -> str:
    """Left: the network, dropped units grey; right: layer-1 activations before/after dropout."""
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.2, 1])
    sizes = state["sizes"]
    dropped = [np.zeros(sizes[0], bool)] + list(state["masks"]) + [np.zeros(sizes[-1], bool)]
    pos = [[(c, (n - 1) / 2 - j) for j in range(n)] for c, n in enumerate(sizes)]
    for c in range(len(sizes) - 1):
        for j, (x0, y0) in enumerate(pos[c]):
            for k, (x1, y1) in enumerate(pos[c + 1]):
                off = dropped[c][j] or dropped[c + 1][k]
                ax1.plot([x0, x1], [y0, y1], color=GREY if off else OKABE_ITO["blue"],
                         lw=0.4 if off else 0.8, alpha=0.35 if off else 0.7, zorder=1)
    for c, layer in enumerate(pos):
        for j, (x, y) in enumerate(layer):
            off = dropped[c][j]
            ax1.scatter([x], [y], s=260, color=GREY if off else OKABE_ITO["orange"],
                        edgecolors=OKABE_ITO["black"], marker="X" if off else "o", zorder=3)
            if 0 < c < len(sizes) - 1 and not off and state["train"] and state["rate"] > 0:
                ax1.text(x + 0.12, y, f"×{state['scale']:.2g}", fontsize=7, va="center")
    ax1.set_xticks(range(len(sizes)))
    ax1.set_xticklabels(["input"] + [f"hidden {i}" for i in range(1, len(sizes) - 1)] + ["output"])
    ax1.set_yticks([])
    label(ax1, f"dropout rate {state['rate']:.2f}: {state['n_dropped']} units dropped (grey ×)",
          "layer", "units")
    before, after = state["before"][0], state["after"][0]
    idx = np.arange(len(before))
    ax2.bar(idx - 0.2, before, width=0.4, color=OKABE_ITO["sky_blue"], label="before dropout")
    ax2.bar(idx + 0.2, after, width=0.4, color=OKABE_ITO["vermillion"], label="after (×1/(1-rate) or 0)")
    ax2.scatter(idx, state["expected"], marker="D", color=OKABE_ITO["black"], s=18, zorder=3,
                label="mean over 400 masks")
    ax2.axhline(before.mean(), color=OKABE_ITO["blue"], ls="--", lw=1, label=f"mean before {before.mean():.2f}")
    ax2.axhline(after.mean(), color=OKABE_ITO["vermillion"], ls=":", lw=1.5, label=f"mean after {after.mean():.2f}")
    ax2.legend(loc="upper left", fontsize="x-small")
    label(ax2, "hidden layer 1 activations", "unit", "activation")
    mode = "training" if state["train"] else "evaluation (dropout off)"
    return (f"{mode}: {state['n_dropped']} of {sum(sizes[1:-1])} hidden units dropped; kept units "
            f"scaled by 1/(1 - {state['rate']:.2f}) = {state['scale']:.3g}; output {state['output']:.3f}")


def dropout_viewer(rate: float = 0.5, *, sizes: Sequence[int] = (4, 8, 8, 1), seed: int = 0,
                   dropout: Callable[..., jax.Array] | None = None) -> Explorer:
    """The network with dropped units greyed out; "resample" draws a new mask.

    Args:
      rate: the initial drop rate.
      sizes: units per layer (input, hidden..., output).
      seed: the first mask's seed; each click of "resample" adds one.
      dropout: your own ``dropout(x, rate, key=key)`` to draw instead of the reference.

    Returns:
      An :class:`Explorer` with controls ``rate`` and ``train``, a ``resample`` button
      (``explorer.buttons[0]``) and ``state`` from :func:`dropout_forward`.
    """
    controls = {
        "rate": widgets.FloatSlider(value=rate, min=0.0, max=0.9, step=0.05, description="drop rate",
                                    continuous_update=False),
        "train": widgets.Checkbox(value=True, description="training mode"),
    }
    resample = widgets.Button(description="resample mask")
    explorer = Explorer(controls, lambda rate, train, seed: dropout_forward(rate, seed, train, sizes, dropout),
                        draw_dropout, figsize=(11, 4.0), buttons=(resample,), extra={"seed": seed})

    def on_click(_b):
        explorer.extra["seed"] += 1
        explorer.update()

    resample.on_click(on_click)
    explorer.buttons = [resample]
    return explorer
