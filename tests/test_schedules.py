"""Tests for nnlib.schedules: values at known steps, agreement with optax, jit, bad input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nnlib import optim, schedules


def values(schedule, steps):
    return np.array([float(schedule(s)) for s in steps])


@pytest.mark.parametrize(
    "schedule, steps, expected",
    [
        (schedules.constant(0.3), [0, 1, 1000], [0.3, 0.3, 0.3]),
        # 1.0 * 0.5 ** (t / 10)
        (schedules.exponential_decay(1.0, 10, 0.5), [0, 5, 10, 20], [1.0, 0.5**0.5, 0.5, 0.25]),
        (
            schedules.exponential_decay(1.0, 10, 0.5, staircase=True),
            [0, 5, 9, 10, 15, 25],
            [1.0, 1.0, 1.0, 0.5, 0.5, 0.25],
        ),
        (
            schedules.exponential_decay(1.0, 10, 0.5, transition_begin=5),
            [0, 3, 5, 15, 25],
            [1.0, 1.0, 1.0, 0.5, 0.25],
        ),
        # end_value is a floor when decaying, a ceiling when growing
        (schedules.exponential_decay(1.0, 10, 0.5, end_value=0.3), [10, 20, 100], [0.5, 0.3, 0.3]),
        (schedules.exponential_decay(1.0, 10, 2.0, end_value=3.0), [10, 20], [2.0, 3.0]),
        (
            schedules.piecewise_constant(0.1, {200: 0.5, 100: 0.1}),
            [0, 99, 100, 199, 200, 1000],
            [0.1, 0.1, 0.01, 0.01, 0.005, 0.005],
        ),
        (schedules.piecewise_constant(2.0, {}), [0, 50], [2.0, 2.0]),
        (
            schedules.step_decay(1.0, 30, 0.1),
            [0, 29, 30, 59, 60, 89],
            [1.0, 1.0, 0.1, 0.1, 0.01, 0.01],
        ),
        # 0.1 * (1 + cos(pi t / 100)) / 2
        (
            schedules.cosine_decay(0.1, 100),
            [0, 25, 50, 100, 150],
            [0.1, 0.05 * (1 + math.sqrt(0.5)), 0.05, 0.0, 0.0],
        ),
        # 0.1 * (0.1 + 0.9 * (1 + cos(pi t / 100)) / 2)
        (schedules.cosine_decay(0.1, 100, alpha=0.1), [0, 50, 100, 500], [0.1, 0.055, 0.01, 0.01]),
        # linear 0 -> 1 over 10 steps, then cosine 1 -> 0.1 over the next 100
        (
            schedules.warmup_cosine_decay(0.0, 1.0, 10, 110, end_value=0.1),
            [0, 5, 10, 60, 110, 200],
            [0.0, 0.5, 1.0, 0.55, 0.1, 0.1],
        ),
        (schedules.warmup_cosine_decay(0.0, 1.0, 0, 100), [0, 50, 100], [1.0, 0.5, 0.0]),
    ],
)
def test_values_at_known_steps(schedule, steps, expected):
    np.testing.assert_allclose(values(schedule, steps), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (
            schedules.exponential_decay(
                0.3, 7, 0.8, transition_begin=11, staircase=True, end_value=0.05
            ),
            optax.exponential_decay(
                0.3, 7, 0.8, transition_begin=11, staircase=True, end_value=0.05
            ),
        ),
        (schedules.exponential_decay(0.3, 7, 0.8), optax.exponential_decay(0.3, 7, 0.8)),
        (
            schedules.piecewise_constant(1.0, {10: 0.5, 40: 0.1}),
            optax.piecewise_constant_schedule(1.0, {10: 0.5, 40: 0.1}),
        ),
        (
            schedules.cosine_decay(0.2, 77, alpha=0.05),
            optax.cosine_decay_schedule(0.2, 77, alpha=0.05),
        ),
        (
            schedules.warmup_cosine_decay(0.01, 0.5, 13, 90, end_value=0.02),
            optax.warmup_cosine_decay_schedule(0.01, 0.5, 13, 90, end_value=0.02),
        ),
    ],
)
def test_matches_optax(ours, theirs):
    steps = jnp.arange(0, 130, dtype=jnp.int32)
    np.testing.assert_allclose(
        jax.vmap(ours)(steps), jax.vmap(theirs)(steps), rtol=1e-6, atol=1e-12
    )


def test_optim_reexports_schedules():
    for name in [
        "constant",
        "exponential_decay",
        "piecewise_constant",
        "step_decay",
        "cosine_decay",
        "warmup_cosine_decay",
    ]:
        assert getattr(optim, name) is getattr(schedules, name)


@pytest.mark.parametrize(
    "schedule",
    [
        schedules.constant(0.1),
        schedules.exponential_decay(0.1, 10, 0.9, staircase=True),
        schedules.piecewise_constant(0.1, {3: 0.1}),
        schedules.step_decay(0.1, 3, 0.5),
        schedules.cosine_decay(0.1, 10),
        schedules.warmup_cosine_decay(0.0, 0.1, 3, 10),
    ],
)
def test_jit_with_traced_int32_step_compiles_once(schedule):
    traces = []

    @jax.jit
    def f(step):
        traces.append(step)
        return schedule(step)

    for step in range(6):
        np.testing.assert_allclose(f(jnp.int32(step)), schedule(step), rtol=1e-12)
    assert len(traces) == 1


def test_large_step_does_not_overflow():
    # a step near int32's maximum must not wrap around to a negative count
    big = jnp.int32(2**31 - 1)
    assert float(schedules.cosine_decay(1.0, 2**31 - 2)(big)) == pytest.approx(0.0, abs=1e-12)
    assert float(schedules.exponential_decay(1.0, 2**30, 0.5)(big)) == pytest.approx(0.25, rel=1e-6)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: schedules.constant("0.1"), TypeError, "value must be a real number"),
        (lambda: schedules.constant(float("nan")), ValueError, "value must be finite"),
        (lambda: schedules.constant(jnp.ones(3)), ValueError, r"value must be a scalar.*\(3,\)"),
        (lambda: schedules.constant(True), TypeError, "value must be a real number"),
        (
            lambda: schedules.exponential_decay(1.0, 0, 0.5),
            ValueError,
            "transition_steps must be positive",
        ),
        (
            lambda: schedules.exponential_decay(1.0, 2.5, 0.5),
            TypeError,
            "transition_steps must be an int",
        ),
        (
            lambda: schedules.exponential_decay(1.0, 10, 0.0),
            ValueError,
            "decay_rate must be positive",
        ),
        (
            lambda: schedules.exponential_decay(1.0, 10, -0.5),
            ValueError,
            "decay_rate must be positive",
        ),
        (
            lambda: schedules.exponential_decay(1.0, 10, 0.5, transition_begin=-1),
            ValueError,
            "transition_begin must be non-negative",
        ),
        (lambda: schedules.exponential_decay(1.0, 10, 0.5, end_value="x"), TypeError, "end_value"),
        (lambda: schedules.piecewise_constant(1.0, [(10, 0.1)]), TypeError, "must be a dict"),
        (lambda: schedules.piecewise_constant(1.0, {10: -0.1}), ValueError, "scale at step 10"),
        (lambda: schedules.piecewise_constant(1.0, {-5: 0.1}), ValueError, "boundary -5"),
        (
            lambda: schedules.step_decay(1.0, 0, 0.1),
            ValueError,
            "transition_steps must be positive",
        ),
        (lambda: schedules.cosine_decay(1.0, 0), ValueError, "decay_steps must be positive"),
        (lambda: schedules.cosine_decay(1.0, True), TypeError, "decay_steps must be an int"),
        (lambda: schedules.cosine_decay(1.0, "10"), TypeError, "decay_steps must be an int"),
        (
            lambda: schedules.cosine_decay(1.0, 10, alpha=1.5),
            ValueError,
            r"alpha must be in \[0.0, 1.0\]",
        ),
        (
            lambda: schedules.warmup_cosine_decay(0.0, 1.0, 10, 10),
            ValueError,
            "decay_steps=10, warmup_steps=10",
        ),
        (
            lambda: schedules.warmup_cosine_decay(0.0, 1.0, -1, 10),
            ValueError,
            "warmup_steps must be non-negative",
        ),
        (lambda: schedules.warmup_cosine_decay(0.0, None, 1, 10), TypeError, "peak_value"),
    ],
)
def test_bad_input_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()
