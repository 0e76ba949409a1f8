"""Lesson 04's checkers: the momentum update and the warm-up + cosine schedule.

Right answers pass (two seeds, several forms: NumPy, JAX, loops, ``nnlib.optim`` and
``nnlib.schedules``); every catalogued mistake gets its own diagnosis and no other; and wrong
answers the catalogue does not list all fail (the last tests count how many are also named).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnlib import optim, schedules
from nnlib.grading import check, specs
from nnlib.grading.specs import schedules as spec


def _fails_with(name, fn, *, expect, alone=True):
    result = check(name, fn, verbose=False)
    assert not result.passed, f"{name}: a wrong answer passed"
    assert expect in result.report, result.report
    if alone:  # no other catalogued diagnosis is given for it
        q = specs.question(name)
        others = [m.message for m in q.mistakes if expect not in m.message]
        named = [m for m in others if m in result.report]
        assert not named, f"also named: {named}\n{result.report}"
    return result


def test_the_questions_are_registered_with_zero_points():
    assert "schedules" in specs.CHECK_MODULES
    for name in ("momentum_step", "cosine_schedule"):
        q = specs.question(name)
        assert q.points == 0 and len(q.mistakes) >= 5
        assert q in spec.QUESTIONS


# --------------------------------------------------------------------------- momentum: right
def momentum_numpy(param, grad, velocity, *, learning_rate, momentum):
    velocity = momentum * velocity + grad
    return param - learning_rate * velocity, velocity


def momentum_jax(param, grad, velocity, *, learning_rate, momentum):
    v = momentum * jnp.asarray(velocity) + jnp.asarray(grad)
    return jnp.asarray(param) - learning_rate * v, v


def momentum_loops(param, grad, velocity, *, learning_rate, momentum):
    p, v = np.array(param, dtype=float), np.array(velocity, dtype=float)
    for idx in np.ndindex(p.shape):
        v[idx] = momentum * v[idx] + grad[idx]
        p[idx] -= learning_rate * v[idx]
    return p, v


def momentum_nnlib(param, grad, velocity, *, learning_rate, momentum):
    """nnlib's SGD with momentum, its trace set to the incoming velocity (float64)."""
    with jax.enable_x64(True):
        opt = optim.sgd(learning_rate, momentum)
        state = (optim.TraceState(jnp.asarray(velocity)), opt.init(param)[1])
        updates, state = opt.update(jnp.asarray(grad), state, jnp.asarray(param))
        return np.asarray(optim.apply_updates(jnp.asarray(param), updates)), np.asarray(
            state[0].trace)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("fn", [momentum_numpy, momentum_jax, momentum_loops, momentum_nnlib])
def test_momentum_right_answers_pass(fn, seed):
    result = check("momentum_step", fn, seed=seed, verbose=False)
    assert result.passed, result.report


def test_momentum_a_list_pair_passes_and_a_stub_is_not_implemented():
    def as_list(param, grad, velocity, *, learning_rate, momentum):
        return list(momentum_numpy(param, grad, velocity, learning_rate=learning_rate,
                                   momentum=momentum))

    assert check("momentum_step", as_list, verbose=False).passed

    def stub(param, grad, velocity, *, learning_rate, momentum):
        raise NotImplementedError

    assert "not implemented yet" in check("momentum_step", stub, verbose=False).report


# --------------------------------------------------------------------------- momentum: named
def _m(update):
    """A momentum_step from ``update(w, g, v, lr, mu) -> (w, v)``."""
    def fn(param, grad, velocity, *, learning_rate, momentum):
        return update(param, grad, velocity, learning_rate, momentum)
    return fn


MOMENTUM_MISTAKES = {
    "momentum multiplies the parameters": _m(lambda w, g, v, a, m: (m * w - a * g, m * v + g)),
    "the velocity returned is the old one": _m(lambda w, g, v, a, m: (w - a * (m * v + g), v)),
    "the incoming velocity is ignored": _m(lambda w, g, v, a, m: (w - a * g, g)),
    "moved with the OLD velocity": _m(lambda w, g, v, a, m: (w - a * v, m * v + g)),
    "sign error": _m(lambda w, g, v, a, m: (w + a * (m * v + g), m * v + g)),
    "the velocity holds minus the learning rate": _m(
        lambda w, g, v, a, m: (w + (m * v - a * g), m * v - a * g)),
    "damped by (1 - momentum)": _m(
        lambda w, g, v, a, m: (w - a * (m * v + (1 - m) * g), m * v + (1 - m) * g)),
}


@pytest.mark.parametrize("expect", list(MOMENTUM_MISTAKES))
def test_momentum_mistakes_are_named(expect):
    _fails_with("momentum_step", MOMENTUM_MISTAKES[expect], expect=expect)


def test_momentum_lr_inside_the_velocity_is_named():
    # the PyTorch-documentation form v = mu v + lr g, w - v: named, without the sign remark
    _fails_with("momentum_step", _m(lambda w, g, v, a, m: (w - (m * v + a * g), m * v + a * g)),
                expect="the learning rate is inside the velocity")


def test_momentum_returning_only_the_parameters_is_explained():
    r = _fails_with("momentum_step", _m(lambda w, g, v, a, m: w - a * (m * v + g)),
                    expect="must return a pair (param, velocity)")
    assert "`velocity` is missing" in r.report


def test_each_momentum_mistake_moves_some_case_far_beyond_the_tolerance():
    q = specs.question("momentum_step")
    cases = q.make_cases(np.random.default_rng(0))
    for mistake in q.mistakes:
        worst = 0.0
        for _, inputs in cases:
            want, wrong = q.reference(inputs), mistake.outputs(inputs)
            for key in want:
                scale = np.max(np.abs(want[key])) or 1.0
                worst = max(worst, float(np.max(np.abs(wrong[key] - want[key]))) / scale)
        assert worst > 1e3 * q.rtol, (mistake.name, worst)


# --------------------------------------------------------------------------- cosine: right
def cosine_math(step, *, base_lr, total_steps, warmup_steps):
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    progress = (min(step, total_steps) - warmup_steps) / (total_steps - warmup_steps)
    return 0.5 * base_lr * (1 + math.cos(math.pi * progress))


def cosine_jnp(step, *, base_lr, total_steps, warmup_steps):
    t = jnp.asarray(step, jnp.float32)
    warm = base_lr * t / warmup_steps
    p = jnp.clip((t - warmup_steps) / (total_steps - warmup_steps), 0.0, 1.0)
    return jnp.where(t < warmup_steps, warm, base_lr * 0.5 * (1 + jnp.cos(jnp.pi * p)))


def cosine_squared(step, *, base_lr, total_steps, warmup_steps):
    # 0.5 (1 + cos x) = cos^2(x / 2), and a warm-up written as a fraction
    if step >= warmup_steps:
        p = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
        return base_lr * np.cos(np.pi * p / 2) ** 2
    return base_lr * (step / warmup_steps)


def cosine_nnlib(step, *, base_lr, total_steps, warmup_steps):
    return schedules.warmup_cosine_decay(0.0, base_lr, warmup_steps, total_steps)(step)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("fn", [cosine_math, cosine_jnp, cosine_squared, cosine_nnlib])
def test_cosine_right_answers_pass(fn, seed):
    result = check("cosine_schedule", fn, seed=seed, verbose=False)
    assert result.passed, result.report


# --------------------------------------------------------------------------- cosine: named
def _c(lr_at):
    """A cosine_schedule from ``lr_at(t, base, T, W)``."""
    def fn(step, *, base_lr, total_steps, warmup_steps):
        return lr_at(step, base_lr, total_steps, warmup_steps)
    return fn


def _decay(t, base, T, W, *, span=None, clamp=True, angle=math.pi, half=0.5):
    span = (T - W) if span is None else span
    s = min(t, T) if clamp else t
    return half * base * (1 + math.cos(angle * (s - W) / span))


COSINE_MISTAKES = {
    "off by one in the warm-up": _c(
        lambda t, b, T, W: b * (t + 1) / W if t < W else _decay(t, b, T, W)),
    "there is no warm-up": _c(lambda t, b, T, W: _decay(max(t, W), b, T, W)),
    "does not reach 0 at total_steps": _c(
        lambda t, b, T, W: b * t / W if t < W else _decay(t, b, T, W, span=T)),
    "the cosine's clock starts at step 0": _c(
        lambda t, b, T, W: b * t / W if t < W else 0.5 * b * (1 + math.cos(math.pi * min(t, T) / T))),
    "reaches 0 one step early": _c(
        lambda t, b, T, W: b * t / W if t < W else
        0.5 * b * (1 + math.cos(math.pi * min(1.0, (t - W) / (T - W - 1))))),
    "climbs back up the cosine": _c(
        lambda t, b, T, W: b * t / W if t < W else _decay(t, b, T, W, clamp=False)),
    "cos takes radians": _c(
        lambda t, b, T, W: b * t / W if t < W else _decay(t, b, T, W, angle=180.0)),
    "without the 0.5 it starts at 2 * base_lr": _c(
        lambda t, b, T, W: b * t / W if t < W else _decay(t, b, T, W, half=1.0)),
}


@pytest.mark.parametrize("expect", list(COSINE_MISTAKES))
def test_cosine_mistakes_are_named(expect):
    _fails_with("cosine_schedule", COSINE_MISTAKES[expect], expect=expect)


def test_each_cosine_mistake_moves_some_case_far_beyond_the_tolerance():
    q = specs.question("cosine_schedule")
    cases = q.make_cases(np.random.default_rng(0))
    for mistake in q.mistakes:
        worst = max(float(np.max(np.abs(mistake.outputs(c)["lr"] - q.reference(c)["lr"])))
                    / float(c["base_lr"]) for _, c in cases)
        assert worst > 1e-2, (mistake.name, worst)


# --------------------------------------------------------------------------- not catalogued
UNLISTED_MOMENTUM = {
    "velocity never reaches the parameters": _m(lambda w, g, v, a, m: (w - a * g, m * v + g)),
    "Nesterov's step instead of the heavy ball": _m(
        lambda w, g, v, a, m: (w - a * (g + m * (m * v + g)), m * v + g)),
    "momentum applied to grad too": _m(lambda w, g, v, a, m: (w - a * m * (v + g), m * (v + g))),
    "pair returned in the wrong order": _m(lambda w, g, v, a, m: (m * v + g, w - a * (m * v + g))),
    "learning rate squared": _m(lambda w, g, v, a, m: (w - a * a * (m * v + g), m * v + g)),
}
UNLISTED_COSINE = {
    "linear decay instead of cosine": _c(
        lambda t, b, T, W: b * t / W if t < W else b * (1 - (min(t, T) - W) / (T - W))),
    "warm-up quadratic": _c(lambda t, b, T, W: b * (t / W) ** 2 if t < W else _decay(t, b, T, W)),
    "warm-up over W + 1 steps": _c(lambda t, b, T, W: b * t / (W + 1) if t < W else _decay(t, b, T, W)),
    "total_steps read as the decay length after warm-up": _c(
        lambda t, b, T, W: b * t / W if t < W else
        0.5 * b * (1 + math.cos(math.pi * min(t - W, T) / T))),
    "cosine without the 1 +": _c(
        lambda t, b, T, W: b * t / W if t < W else 0.5 * b * math.cos(math.pi * (min(t, T) - W) / (T - W))),
}


def _named(name, fn):
    result = check(name, fn, verbose=False)
    assert not result.passed, f"{name}: an uncatalogued wrong answer passed"
    return "Likely mistake" in result.report


def test_uncatalogued_wrong_answers_all_fail_and_some_are_named():
    named = {label: _named("momentum_step", fn) for label, fn in UNLISTED_MOMENTUM.items()}
    named |= {label: _named("cosine_schedule", fn) for label, fn in UNLISTED_COSINE.items()}
    # all ten fail (asserted in _named); a diagnosis is a bonus, recorded here so that a
    # change in the catalogue that starts (or stops) naming one is noticed
    assert sum(named.values()) == EXPECTED_NAMED, named


EXPECTED_NAMED = 0
