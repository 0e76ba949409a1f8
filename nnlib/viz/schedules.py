"""The schedule explorer: a learning-rate schedule over the steps, and a run trained under it.

Pick one of ``nnlib.schedules``' schedules and its parameters; the left panel draws the rate
``eta_t`` for every step ``t = 0 .. T`` beside the constant ``base_lr``. With ``train`` on, the
right panel shows what the schedule does to a small training run: mini-batch SGD
(``nnlib.optim.sgd`` with the schedule as its learning rate) on a noisy linear regression, the
loss on all the data minus its minimum at every step, next to the same run at the constant
rate. A constant rate stalls at a noise floor set by the rate and the batch size (lesson 02
§4); a rate that decays towards 0 goes below it (Robbins & Monro 1951; Bottou, Curtis &
Nocedal 2018, §4). A rate above the stability limit makes the run diverge, at any schedule's
peak.

:func:`compute_schedule` is the pure function behind the widget; :func:`draw_schedule` draws its
dict; :func:`schedule_explorer` wires the two to sliders.
"""

from __future__ import annotations

import functools
from typing import Any

import ipywidgets as widgets
import jax
import jax.numpy as jnp
import numpy as np

from nnlib import schedules, validation
from nnlib.viz.explorer import Explorer, choose, label
from nnlib.viz.palette import GREY, OKABE_ITO

__all__ = ["SCHEDULE_NAMES", "make_schedule", "schedule_run", "compute_schedule",
           "draw_schedule", "schedule_explorer"]

#: the schedules the explorer offers, by name
SCHEDULE_NAMES = ("constant", "step", "exponential", "cosine", "warmup_cosine")
N_EXAMPLES, N_FEATURES, BATCH = 256, 5, 8


def make_schedule(name: str, base_lr: float, total_steps: int, *, warmup_steps: int = 0,
                  decay: float = 0.5, every: int = 100) -> schedules.Schedule:
    """The ``nnlib.schedules`` schedule called ``name``, with the explorer's parameters.

    Args:
      name: one of :data:`SCHEDULE_NAMES`.
      base_lr: the initial (peak, for ``"warmup_cosine"``) learning rate, ``> 0``.
      total_steps: ``T``, the length of the run; the cosines reach 0 at step ``T``.
      warmup_steps: ``W < T``, the linear warm-up from 0 of ``"warmup_cosine"``.
      decay: the factor ``gamma`` of ``"step"`` and ``"exponential"`` (``0 < gamma <= 1``).
      every: ``k``: ``"step"`` multiplies the rate by ``gamma`` every ``k`` steps and
        ``"exponential"`` does it smoothly (``eta_0 gamma^(t/k)``).

    Returns:
      A function ``step -> learning rate`` (a scalar array; works on arrays of steps too).
    """
    name = choose("schedule", name, SCHEDULE_NAMES)
    validation.positive(base_lr, "base_lr")
    total_steps = validation.positive_int(total_steps, "total_steps")
    if name == "constant":
        return schedules.constant(base_lr)
    if name == "step":
        return schedules.step_decay(base_lr, every, decay)
    if name == "exponential":
        return schedules.exponential_decay(base_lr, every, decay)
    if name == "cosine":
        return schedules.cosine_decay(base_lr, total_steps)
    return schedules.warmup_cosine_decay(0.0, base_lr, warmup_steps, total_steps)


@functools.cache
def _problem() -> tuple[jax.Array, jax.Array, float]:
    """The regression: ``X (256, 5)`` standard normal, ``y = X w* + 1 + noise(0.5)``, and the
    least-squares minimum of the mean squared error (with a bias)."""
    kx, kw, kn = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (N_EXAMPLES, N_FEATURES))
    y = x @ jax.random.normal(kw, (N_FEATURES,)) + 1.0 + 0.5 * jax.random.normal(kn, (N_EXAMPLES,))
    a = np.hstack([np.asarray(x, np.float64), np.ones((N_EXAMPLES, 1))])
    sol = np.linalg.lstsq(a, np.asarray(y, np.float64), rcond=None)[0]
    best = float(np.mean((a @ sol - np.asarray(y, np.float64)) ** 2))
    return x, y, best


def _mse(p, x, y):
    return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)


@jax.jit
def _sgd_losses(lrs, x, y, key):
    """Mini-batch SGD from zero with rate ``lrs[t]`` at step ``t``; full-data loss per step."""
    from nnlib import optim

    opt = optim.sgd(lambda count: lrs[count])
    p0 = {"w": jnp.zeros(x.shape[1]), "b": jnp.zeros(())}

    def step(carry, t):
        p, state = carry
        rows = jax.random.permutation(jax.random.fold_in(key, t), x.shape[0])[:BATCH]
        updates, state = opt.update(jax.grad(_mse)(p, x[rows], y[rows]), state, p)
        p = optim.apply_updates(p, updates)
        return (p, state), _mse(p, x, y)

    _, losses = jax.lax.scan(step, (p0, opt.init(p0)), jnp.arange(lrs.shape[0]))
    return jnp.concatenate([_mse(p0, x, y)[None], losses])


def schedule_run(lrs: Any, seed: int = 0) -> np.ndarray:
    """Trains the explorer's regression with mini-batch SGD (batches of 8) at rates ``lrs``.

    Args:
      lrs: the learning rate of each step, shape ``(T,)``.
      seed: the key of the batches (``jax.random.key(seed)``).

    Returns:
      The loss on all 256 examples minus its minimum before the first step and after each
      one, shape ``(T + 1,)``; ``inf`` where a run diverged.
    """
    x, y, best = _problem()
    lrs = jnp.asarray(lrs, jnp.float32)
    if lrs.ndim != 1 or lrs.shape[0] < 1:
        raise ValueError(f"lrs must be a 1-D array of at least one rate, got shape {lrs.shape}")
    gap = np.asarray(_sgd_losses(lrs, x, y, jax.random.key(seed)), np.float64) - best
    return np.where(np.isfinite(gap), np.maximum(gap, 0.0), np.inf)


@functools.lru_cache(maxsize=64)
def compute_schedule(schedule: str = "warmup_cosine", base_lr: float = 0.1,
                     total_steps: int = 500, warmup_steps: int = 50, decay: float = 0.5,
                     every: int = 100, train: bool = False) -> dict:
    """The rate at every step of a schedule and, with ``train``, the run trained under it.

    ``warmup_steps`` is clipped to ``total_steps - 1`` (the warm-up must end before the run).

    Returns:
      A dict with ``schedule``, the arguments (``warmup_steps`` as used), ``steps``
      (``0 .. T``, shape ``(T + 1,)``), ``lr`` (the rate at each of them), ``peak`` (the
      largest rate) and, with ``train``, ``loss`` and ``loss_constant`` (:func:`schedule_run`
      under the schedule and at the constant ``base_lr``, shape ``(T + 1,)``) and their last
      values ``final`` and ``final_constant``. Cached: the same arguments give the same arrays.
    """
    schedule = choose("schedule", schedule, SCHEDULE_NAMES)
    total_steps = validation.positive_int(total_steps, "total_steps")
    if total_steps < 2:
        raise ValueError(f"total_steps must be at least 2, got {total_steps}")
    warmup_steps = min(validation.positive_int(warmup_steps, "warmup_steps", allow_zero=True),
                       total_steps - 1)
    fn = make_schedule(schedule, base_lr, total_steps, warmup_steps=warmup_steps, decay=decay,
                       every=every)
    steps = np.arange(total_steps + 1)
    lr = np.broadcast_to(np.asarray(fn(jnp.asarray(steps)), np.float64), steps.shape).copy()
    out = {"schedule": schedule, "base_lr": float(base_lr), "total_steps": total_steps,
           "warmup_steps": warmup_steps, "decay": float(decay), "every": int(every),
           "train": bool(train), "steps": steps, "lr": lr, "peak": float(lr.max())}
    if train:
        out["loss"] = schedule_run(lr[:-1])
        out["loss_constant"] = schedule_run(np.full(total_steps, float(base_lr)))
        out["final"], out["final_constant"] = float(out["loss"][-1]), float(out["loss_constant"][-1])
    return out


def _describe(state: dict) -> str:
    name, k, g = state["schedule"], state["every"], state["decay"]
    return {"constant": "constant",
            "step": f"step decay: x{g:g} every {k} steps",
            "exponential": f"exponential decay: x{g:g} per {k} steps",
            "cosine": f"cosine decay to 0 at step {state['total_steps']}",
            "warmup_cosine": f"warm-up over {state['warmup_steps']} steps, then cosine"}[name]


def draw_schedule(fig: Any, state: dict) -> str:
    """Left: the rate per step; right (with ``train``): the loss minus its minimum per step."""
    axes = fig.subplots(1, 2 if state["train"] else 1, squeeze=False)[0]
    ax = axes[0]
    ax.plot(state["steps"], state["lr"], color=OKABE_ITO["blue"], lw=2, label=_describe(state))
    ax.axhline(state["base_lr"], color=GREY, ls="--", lw=1, label="constant base_lr")
    if state["schedule"] == "warmup_cosine" and state["warmup_steps"]:
        ax.axvline(state["warmup_steps"], color=GREY, ls=":", lw=1)
    ax.set_ylim(0, 1.08 * max(state["peak"], state["base_lr"]))
    ax.legend(loc="upper right", fontsize="small")
    label(ax, "learning rate per step", "step $t$", r"learning rate $\eta_t$")
    text = f"{_describe(state)}: rate {state['lr'][0]:.3g} at step 0, peak {state['peak']:.3g}, " \
           f"{state['lr'][-1]:.3g} at step {state['total_steps']}"
    if not state["train"]:
        return text
    ax2 = axes[1]
    for key, colour, name in (("loss_constant", GREY, "constant base_lr"),
                              ("loss", OKABE_ITO["vermillion"], state["schedule"])):
        values = np.clip(np.nan_to_num(state[key], nan=1e6, posinf=1e6), 1e-6, 1e6)
        ax2.semilogy(state["steps"], values, color=colour, lw=1.2, label=name)
    ax2.legend(loc="upper right", fontsize="small")
    label(ax2, "mini-batch SGD (B = 8) on a regression", "step $t$", "loss - minimum")
    return text + f"; loss - minimum at the end: <b>{state['final']:.3g}</b> " \
                  f"(constant rate: {state['final_constant']:.3g})"


def schedule_explorer(schedule: str = "warmup_cosine", *, base_lr: float = 0.1,
                      total_steps: int = 500, warmup_steps: int = 50, decay: float = 0.5,
                      every: int = 100, train: bool = True) -> Explorer:
    """Pick a learning-rate schedule and its parameters; see the rate and a run under it.

    ``decay`` and ``every`` set ``"step"`` and ``"exponential"``; ``warmup_steps`` sets
    ``"warmup_cosine"``; ``total_steps`` is the run's length (the cosines reach 0 there).

    Returns:
      An :class:`Explorer` with controls ``schedule``, ``base_lr``, ``total_steps``,
      ``warmup_steps``, ``decay``, ``every`` and ``train``; ``state`` is
      :func:`compute_schedule`'s dict.
    """
    schedule = choose("schedule", schedule, SCHEDULE_NAMES)
    slider = dict(continuous_update=False, style={"description_width": "initial"})
    controls = {
        "schedule": widgets.Dropdown(options=SCHEDULE_NAMES, value=schedule,
                                     description="schedule"),
        "base_lr": widgets.FloatLogSlider(value=base_lr, base=10, min=-3, max=0, step=0.05,
                                          readout_format=".3g", description="base_lr", **slider),
        "total_steps": widgets.IntSlider(value=total_steps, min=50, max=2000, step=50,
                                         description="total steps T", **slider),
        "warmup_steps": widgets.IntSlider(value=warmup_steps, min=0, max=500, step=10,
                                          description="warm-up W", **slider),
        "decay": widgets.FloatSlider(value=decay, min=0.05, max=1.0, step=0.05,
                                     description="factor γ", **slider),
        "every": widgets.IntSlider(value=every, min=10, max=1000, step=10,
                                   description="every k steps", **slider),
        "train": widgets.Checkbox(value=train, description="train a model under it"),
    }
    return Explorer(controls, lambda **v: compute_schedule(**v), draw_schedule,
                    figsize=(11, 3.8), rows=[["schedule", "base_lr", "total_steps"],
                                             ["warmup_steps", "decay", "every"], ["train"]])
