r"""Checkers for lesson 04's exercises: the momentum update and the warm-up + cosine schedule.

Conventions the lesson states (feedback only, no points):

* ``momentum_step(param, grad, velocity, *, learning_rate, momentum) -> (param, velocity)``,
  the heavy ball of Polyak (1964) in the form of ``nnlib.optim.sgd(lr, momentum)`` (and optax,
  PyTorch): the velocity accumulates raw gradients and the learning rate multiplies it,

  .. math:: v_t = \mu\, v_{t-1} + g_t, \qquad w_t = w_{t-1} - \alpha\, v_t ,

  with :math:`v_0 = 0`. Arrays of any shape (element-wise).
* ``cosine_schedule(step, *, base_lr, total_steps, warmup_steps) -> lr`` for an int step
  ``t >= 0`` (``t = 0`` is the first update), ``W = warmup_steps >= 1``, ``T = total_steps > W``:

  .. math::
     \eta_t = \eta\,\frac{t}{W}\ (t < W), \qquad
     \eta_t = \frac{\eta}{2}\Bigl(1 + \cos\bigl(\pi\,\tfrac{\min(t, T) - W}{T - W}\bigr)\Bigr)
     \ (t \ge W),

  linear warm-up from 0, cosine decay to 0 at step ``T`` (Loshchilov & Hutter 2017, without
  restarts; Goyal et al. 2017 for the warm-up), 0 after it. This is
  ``nnlib.schedules.warmup_cosine_decay(0.0, base_lr, warmup_steps, total_steps)``.

The cases cover the first step (zero velocity) and a later one, gradients of about 1e-3 and
1e3, non-square and one-element parameters; the schedule is evaluated step by step (the
student's function is called with a Python int) on runs of 7 to 1000 steps and past their end,
so that each catalogued mistake moves some output far beyond the tolerance.
"""

from __future__ import annotations

import math

import numpy as np

from nnlib.grading.core import Mistake, Question, variant


# --------------------------------------------------------------------------- momentum
def _momentum_cases(rng):
    cases = []
    # (description, shape, scale of param, scale of grad and velocity, lr, momentum, first)
    spec = [("the first step (velocity 0), a vector of 5", (5,), 1.0, 1.0, 0.05, 0.9, True),
            ("a later step, a (3, 2) matrix", (3, 2), 1.0, 1.0, 0.1, 0.9, False),
            ("a later step, values of about 1e-3, momentum 0.6", (4, 3), 1e-3, 1e-3, 0.2, 0.6,
             False),
            ("a later step, gradients of about 1e3, a (2, 5) matrix", (2, 5), 1.0, 1e3, 1e-4, 0.9,
             False),
            ("a later step, one parameter of shape (1,)", (1,), 1.0, 1.0, 0.5, 0.8, False)]
    for desc, shape, p_scale, g_scale, lr, mu, first in spec:
        grad = g_scale * rng.normal(size=shape)
        velocity = np.zeros(shape) if first else g_scale * rng.normal(size=shape)
        cases.append((desc, {"param": p_scale * rng.normal(size=shape), "grad": grad,
                             "velocity": velocity, "lr": np.asarray(lr), "mu": np.asarray(mu)}))
    return cases


def _run_momentum(fns, i):
    out = fns["momentum_step"](i["param"], i["grad"], i["velocity"],
                               learning_rate=float(i["lr"]), momentum=float(i["mu"]))
    if isinstance(out, (tuple, list)) and len(out) == 2:
        return {"param": out[0], "velocity": out[1]}
    return {"param": out}


def _momentum_ref(i):
    v = i["mu"] * i["velocity"] + i["grad"]
    return {"param": i["param"] - i["lr"] * v, "velocity": v}


def _velocity_missing(i, outputs):
    if "velocity" not in outputs:
        return ("momentum_step must return a pair (param, velocity): the new velocity is the "
                "state the next step starts from")
    return None


def _lr_inside(i, sign):
    v = i["mu"] * i["velocity"] + sign * i["lr"] * i["grad"]
    return {"param": i["param"] - sign * v, "velocity": v}


_CONVENTION = ("in this lesson's convention (nnlib, optax, PyTorch) the velocity sums raw "
               "gradients, v = momentum*v + grad, and the step is w - learning_rate*v")

MOMENTUM_STEP = Question(
    name="momentum_step", functions=("momentum_step",), make_cases=_momentum_cases,
    run=_run_momentum, reference=_momentum_ref, hints=(_velocity_missing,),
    mistakes=(
        Mistake("momentum_on_params", "momentum multiplies the parameters (w = momentum*w - "
                "lr*grad) instead of the velocity: v = momentum*v + grad, then w - lr*v",
                variant(_momentum_ref, param=lambda i: i["mu"] * i["param"] - i["lr"] * i["grad"])),
        Mistake("velocity_not_returned", "the velocity returned is the old one: return the "
                "updated v = momentum*v + grad, the next step starts from it",
                variant(_momentum_ref, velocity=lambda i: i["velocity"])),
        Mistake("velocity_ignored", "the incoming velocity is ignored (v = grad, plain SGD): "
                "the velocity carries over between steps, v = momentum*v + grad",
                lambda i: {"param": i["param"] - i["lr"] * i["grad"], "velocity": i["grad"]}),
        Mistake("old_velocity", "the parameters moved with the OLD velocity: update "
                "v = momentum*v + grad first, then w = w - lr*v with the new v",
                variant(_momentum_ref, param=lambda i: i["param"] - i["lr"] * i["velocity"])),
        Mistake("sign", "sign error: the step goes against the velocity, w - learning_rate*v",
                variant(_momentum_ref, param=lambda i: i["param"] + i["lr"] * _momentum_ref(i)[
                    "velocity"])),
        Mistake("lr_inside", "the learning rate is inside the velocity (v = momentum*v + "
                "lr*grad, w = w - v); " + _CONVENTION, lambda i: _lr_inside(i, 1.0)),
        Mistake("lr_inside_negative", "the velocity holds minus the learning rate times the "
                "gradients (v = momentum*v - lr*grad, w = w + v); " + _CONVENTION,
                lambda i: _lr_inside(i, -1.0)),
        Mistake("dampening", "the gradient is damped by (1 - momentum), v = momentum*v + "
                "(1 - momentum)*grad: that is an average (Adam's first moment), not the heavy "
                "ball's sum; use v = momentum*v + grad",
                lambda i: (lambda v: {"param": i["param"] - i["lr"] * v, "velocity": v})(
                    i["mu"] * i["velocity"] + (1 - i["mu"]) * i["grad"])),
    ),
)


# --------------------------------------------------------------------------- cosine schedule
def _cosine_cases(rng):
    spec = [("base_lr=0.1, 100 steps with 10 of warm-up, steps 0..130", 0.1, 100, 10,
             np.arange(131)),
            ("base_lr=2, a short run of 7 steps with 2 of warm-up, steps 0..9", 2.0, 7, 2,
             np.arange(10)),
            ("base_lr=1e-3, 1000 steps with 100 of warm-up, selected steps", 1e-3, 1000, 100,
             np.array([0, 1, 2, 50, 99, 100, 101, 300, 550, 800, 999, 1000, 1001, 1500, 2000])),
            ("base_lr=0.5, 50 steps with 1 of warm-up, steps 0..60", 0.5, 50, 1, np.arange(61))]
    return [(desc, {"base_lr": np.asarray(lr), "total": np.asarray(total),
                    "warmup": np.asarray(warm), "steps": steps})
            for desc, lr, total, warm, steps in spec]


def _run_cosine(fns, i):
    lr, total, warm = float(i["base_lr"]), int(i["total"]), int(i["warmup"])
    values = [fns["cosine_schedule"](int(t), base_lr=lr, total_steps=total, warmup_steps=warm)
              for t in i["steps"]]
    return {"lr": np.array([float(np.asarray(v)) for v in values])}


def _cosine(i, *, warm=None, progress=None, factor=None, angle=math.pi):
    """The schedule at every step of the case, with the pieces a mistake may change.

    ``warm(t, W)`` is the warm-up fraction, ``progress(t, T, W)`` the cosine's progress,
    ``factor(p)`` the decay factor of a progress ``p``; ``angle`` is what multiplies ``p``.
    """
    base, T, W = float(i["base_lr"]), int(i["total"]), int(i["warmup"])
    warm = warm or (lambda t, W: t / W)
    progress = progress or (lambda t, T, W: (min(t, T) - W) / (T - W))
    factor = factor or (lambda p: 0.5 * (1.0 + math.cos(angle * p)))
    out = [base * warm(t, W) if t < W else base * factor(progress(t, T, W))
           for t in (int(s) for s in i["steps"])]
    return {"lr": np.array(out)}


COSINE_SCHEDULE = Question(
    name="cosine_schedule", functions=("cosine_schedule",), make_cases=_cosine_cases,
    run=_run_cosine, reference=_cosine,
    mistakes=(
        Mistake("warmup_off_by_one", "off by one in the warm-up: at step t < warmup_steps the "
                "rate is base_lr * t / warmup_steps, 0 at the first step (t = 0), not "
                "base_lr * (t + 1) / warmup_steps",
                lambda i: _cosine(i, warm=lambda t, W: (t + 1) / W)),
        Mistake("no_warmup", "there is no warm-up: for t < warmup_steps the rate must grow "
                "linearly from 0 to base_lr, base_lr * t / warmup_steps",
                lambda i: _cosine(i, warm=lambda t, W: 1.0)),
        Mistake("cosine_over_total", "the cosine does not reach 0 at total_steps: it spans "
                "total_steps - warmup_steps steps, progress = (t - warmup_steps) / "
                "(total_steps - warmup_steps)",
                lambda i: _cosine(i, progress=lambda t, T, W: (min(t, T) - W) / T)),
        Mistake("cosine_clock_from_zero", "the cosine's clock starts at step 0, so the rate "
                "jumps down at the end of the warm-up; count the decay from the end of the "
                "warm-up, progress = (t - warmup_steps) / (total_steps - warmup_steps)",
                lambda i: _cosine(i, progress=lambda t, T, W: min(t, T) / T)),
        Mistake("total_off_by_one", "off by one at the end: the rate reaches 0 one step early; "
                "the cosine spans total_steps - warmup_steps steps and is 0 at step total_steps",
                lambda i: _cosine(i, progress=lambda t, T, W: min(t - W, T - W - 1) / (T - W - 1))),
        Mistake("not_clamped", "after total_steps the rate climbs back up the cosine: clamp the "
                "step, min(t, total_steps), so it stays at 0 once the run is over",
                lambda i: _cosine(i, progress=lambda t, T, W: (t - W) / (T - W))),
        Mistake("degrees", "cos takes radians: the decay is 0.5 * (1 + cos(pi * progress)), "
                "not cos(180 * progress)", lambda i: _cosine(i, angle=180.0)),
        Mistake("missing_half", "the cosine factor is 0.5 * (1 + cos(pi * progress)), from 1 "
                "down to 0; without the 0.5 it starts at 2 * base_lr",
                lambda i: _cosine(i, factor=lambda p: 1.0 + math.cos(math.pi * p))),
    ),
)

QUESTIONS = (MOMENTUM_STEP, COSINE_SCHEDULE)
