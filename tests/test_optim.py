"""Tests for nnlib.optim: closed-form first steps, agreement with optax, convergence,
clipping, chaining, penalties, lookup by name, jit, and every bad-input error."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nnlib import optim, schedules

GRADS = [1.0, -2.0, 0.5]  # the gradient fed at steps 1, 2, 3 in the closed-form tests


def first_updates(opt, grads=GRADS, w0=0.5):
    """Runs ``opt`` on a scalar parameter (in a dict) and returns the three updates."""
    params = {"w": jnp.array(w0)}
    state = opt.init(params)
    out = []
    for g in grads:
        updates, state = opt.update({"w": jnp.array(g)}, state, params)
        params = optim.apply_updates(params, updates)
        out.append(float(updates["w"]))
    return out


# --------------------------------------------------------------------------- closed form
def test_sgd_closed_form():
    assert first_updates(optim.sgd(0.1)) == pytest.approx([-0.1, 0.2, -0.05], rel=1e-12)


def test_momentum_closed_form():
    # m1 = 1, m2 = -2 + 0.9 * 1 = -1.1, m3 = 0.5 + 0.9 * -1.1 = -0.49; u = -0.1 m
    assert first_updates(optim.sgd(0.1, momentum=0.9)) == pytest.approx(
        [-0.1, 0.11, 0.049], rel=1e-12
    )
    assert first_updates(optim.momentum(0.1)) == pytest.approx([-0.1, 0.11, 0.049], rel=1e-12)


def test_nesterov_closed_form():
    # u = -0.1 (g + 0.9 m): g + 0.9 m = 1.9, -2.99, 0.059
    expected = [-0.19, 0.299, -0.0059]
    assert first_updates(optim.sgd(0.1, 0.9, nesterov=True)) == pytest.approx(expected, rel=1e-12)


def test_sgd_with_schedule_closed_form():
    lr = schedules.piecewise_constant(0.1, {1: 0.5})  # 0.1 at step 0, then 0.05
    assert first_updates(optim.sgd(lr)) == pytest.approx([-0.1, 0.1, -0.025], rel=1e-12)


def test_adagrad_closed_form():
    # G = 0.1 + 1 = 1.1, 1.1 + 4 = 5.1, 5.1 + 0.25 = 5.35; u = -0.1 g / sqrt(G + 1e-7)
    expected = [
        -0.1 / math.sqrt(1.1 + 1e-7),
        0.2 / math.sqrt(5.1 + 1e-7),
        -0.05 / math.sqrt(5.35 + 1e-7),
    ]
    assert first_updates(optim.adagrad(0.1)) == pytest.approx(expected, rel=1e-12)


def test_rmsprop_closed_form():
    # nu = 0.1 * 1 = 0.1, 0.9 * 0.1 + 0.1 * 4 = 0.49, 0.9 * 0.49 + 0.1 * 0.25 = 0.466
    # eps inside the square root: u = -0.01 g / sqrt(nu + 1e-8)
    r = [
        -0.01 / math.sqrt(0.1 + 1e-8),
        0.02 / math.sqrt(0.49 + 1e-8),
        -0.005 / math.sqrt(0.466 + 1e-8),
    ]
    assert first_updates(optim.rmsprop(0.01)) == pytest.approx(r, rel=1e-12)
    # with momentum 0.9 the trace is applied after the learning rate
    m = [r[0], r[1] + 0.9 * r[0], r[2] + 0.9 * (r[1] + 0.9 * r[0])]
    assert first_updates(optim.rmsprop(0.01, momentum=0.9)) == pytest.approx(m, rel=1e-12)


ADAM_STEPS = [  # (m_t, v_t, 1 - 0.9^t, 1 - 0.999^t) for gradients 1, -2, 0.5
    (0.1, 0.001, 0.1, 0.001),
    (-0.11, 0.004999, 0.19, 0.001999),
    (-0.049, 0.005244001, 0.271, 0.002997001),
]


def test_adam_closed_form():
    expected = [-0.1 * (m / c1) / (math.sqrt(v / c2) + 1e-8) for m, v, c1, c2 in ADAM_STEPS]
    assert expected[0] == pytest.approx(-0.1, rel=1e-7)  # first step is -lr * sign(g)
    assert first_updates(optim.adam(0.1)) == pytest.approx(expected, rel=1e-10)


def test_adamw_closed_form():
    # u = -lr (adam + wd * w), with w updated in between
    w, expected = 0.5, []
    for m, v, c1, c2 in ADAM_STEPS:
        u = -0.1 * ((m / c1) / (math.sqrt(v / c2) + 1e-8) + 0.01 * w)
        expected.append(u)
        w += u
    assert first_updates(optim.adamw(0.1, weight_decay=0.01)) == pytest.approx(expected, rel=1e-10)


# --------------------------------------------------------------------------- against optax
def random_tree(key):
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "dense": {"W": jax.random.normal(k1, (4, 3)), "b": jax.random.normal(k2, (3,))},
        "scales": [jax.random.normal(k3, (2, 2, 2)), jnp.array(0.7)],
    }


SCHEDULE = schedules.exponential_decay(0.05, 4, 0.7)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (optim.sgd(0.1), optax.sgd(0.1)),
        (optim.sgd(SCHEDULE), optax.sgd(SCHEDULE)),
        (optim.sgd(0.05, momentum=0.9), optax.sgd(0.05, momentum=0.9)),
        (
            optim.sgd(SCHEDULE, momentum=0.8, nesterov=True),
            optax.sgd(SCHEDULE, momentum=0.8, nesterov=True),
        ),
        (optim.adagrad(0.1), optax.adagrad(0.1)),
        (
            optim.adagrad(SCHEDULE, initial_accumulator_value=0.0, eps=1e-6),
            optax.adagrad(SCHEDULE, initial_accumulator_value=0.0, eps=1e-6),
        ),
        (optim.rmsprop(0.01), optax.rmsprop(0.01)),
        (
            optim.rmsprop(SCHEDULE, decay=0.8, eps=1e-6, momentum=0.9, nesterov=True),
            optax.rmsprop(SCHEDULE, decay=0.8, eps=1e-6, momentum=0.9, nesterov=True),
        ),
        (optim.adam(0.01), optax.adam(0.01)),
        (
            optim.adam(SCHEDULE, b1=0.5, b2=0.9, eps=1e-4),
            optax.adam(SCHEDULE, b1=0.5, b2=0.9, eps=1e-4),
        ),
        (optim.adamw(0.01), optax.adamw(0.01)),
        (optim.adamw(SCHEDULE, weight_decay=0.1), optax.adamw(SCHEDULE, weight_decay=0.1)),
        (
            optim.chain(optim.clip_by_global_norm(1.0), optim.adam(0.01)),
            optax.chain(optax.clip_by_global_norm(1.0), optax.adam(0.01)),
        ),
        (
            optim.chain(optim.clip(0.5), optim.add_decayed_weights(0.1), optim.sgd(0.1, 0.9)),
            optax.chain(optax.clip(0.5), optax.add_decayed_weights(0.1), optax.sgd(0.1, 0.9)),
        ),
    ],
)
def test_matches_optax_for_20_steps(ours, theirs):
    key = jax.random.key(0)
    key, sub = jax.random.split(key)
    params = ours_params = theirs_params = random_tree(sub)
    assert jax.tree.leaves(params)[0].dtype == jnp.float64
    ours_state, theirs_state = ours.init(params), theirs.init(params)
    for _ in range(20):
        key, sub = jax.random.split(key)
        grads = jax.tree.map(lambda x: 2.0 * x, random_tree(sub))
        u1, ours_state = ours.update(grads, ours_state, ours_params)
        u2, theirs_state = theirs.update(grads, theirs_state, theirs_params)
        for a, b in zip(jax.tree.leaves(u1), jax.tree.leaves(u2), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)
        ours_params = optim.apply_updates(ours_params, u1)
        theirs_params = optax.apply_updates(theirs_params, u2)
    assert jax.tree.structure(ours_params) == jax.tree.structure(params)


# --------------------------------------------------------------------------- convergence
def run(opt, f, w0, steps):
    """``steps`` updates of ``opt`` on ``f`` from ``w0``, as one jitted ``lax.scan``."""
    grad = jax.grad(f)

    @jax.jit
    def go(w):
        def body(carry, _):
            w, state = carry
            updates, state = opt.update(grad(w), state, w)
            return (optim.apply_updates(w, updates), state), None

        (w, _), _ = jax.lax.scan(body, (w, opt.init(w)), None, length=steps)
        return w

    return go(w0)


def quadratic(w):  # minimum 0 at (1, -2); curvatures 1 and 10
    return 0.5 * (w[0] - 1.0) ** 2 + 5.0 * (w[1] + 2.0) ** 2


def rosenbrock(w):  # minimum 0 at (1, 1), a curved narrow valley
    return (1.0 - w[0]) ** 2 + 100.0 * (w[1] - w[0] ** 2) ** 2


CONVERGENCE = {  # name -> (quadratic: optimizer, steps), (Rosenbrock: optimizer, steps)
    "sgd": ((optim.sgd(0.15), 200), (optim.sgd(1e-3), 30_000)),
    "momentum": ((optim.momentum(0.05), 400), (optim.momentum(1e-3, 0.9), 5_000)),
    "nesterov": (
        (optim.sgd(0.05, 0.9, nesterov=True), 400),
        (optim.sgd(1e-3, 0.9, nesterov=True), 5_000),
    ),
    # adaptive methods take steps of size ~lr even near the minimum: decay the rate
    "rmsprop": (
        (optim.rmsprop(schedules.exponential_decay(0.1, 100, 0.5)), 3_000),
        (optim.rmsprop(schedules.exponential_decay(1e-2, 1_000, 0.5)), 20_000),
    ),
    "adam": (
        (optim.adam(schedules.exponential_decay(0.1, 100, 0.5)), 3_000),
        (optim.adam(schedules.exponential_decay(2e-2, 1_000, 0.5)), 5_000),
    ),
    "adagrad": ((optim.adagrad(0.5), 2_000), (optim.adagrad(0.3), 20_000)),
}


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_converges_on_quadratic(name):
    opt, steps = CONVERGENCE[name][0]
    w = run(opt, quadratic, jnp.array([-2.0, 1.0]), steps)
    np.testing.assert_allclose(w, [1.0, -2.0], atol=1e-6)


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_converges_on_rosenbrock(name):
    opt, steps = CONVERGENCE[name][1]
    w = run(opt, rosenbrock, jnp.array([-1.0, 1.0]), steps)
    np.testing.assert_allclose(w, [1.0, 1.0], atol=1e-3)


def test_plain_sgd_with_too_large_lr_diverges():
    # the same test harness does notice failure: lr above 2 / curvature (= 0.2) blows up
    w = run(optim.sgd(0.25), quadratic, jnp.array([-2.0, 1.0]), 200)
    assert not np.allclose(w, [1.0, -2.0], atol=1e-3)


# --------------------------------------------------------------------------- building blocks
def test_clip_elementwise():
    tx = optim.clip(1.0)
    updates, _ = tx.update({"a": jnp.array([-3.0, 0.5, 2.0])}, tx.init(None))
    np.testing.assert_array_equal(updates["a"], [-1.0, 0.5, 1.0])


def test_global_norm_and_clip_by_global_norm():
    grads = {"a": jnp.array([3.0]), "b": [jnp.array([[4.0]])]}
    assert float(optim.global_norm(grads)) == pytest.approx(5.0)
    clipped, _ = optim.clip_by_global_norm(1.0).update(grads, optim.EmptyState())
    np.testing.assert_allclose(clipped["a"], [0.6], rtol=1e-12)
    np.testing.assert_allclose(clipped["b"][0], [[0.8]], rtol=1e-12)
    assert float(optim.global_norm(clipped)) == pytest.approx(1.0)
    kept, _ = optim.clip_by_global_norm(10.0).update(grads, optim.EmptyState())
    np.testing.assert_array_equal(kept["a"], [3.0])


def test_chain_order_matters():
    g = jnp.array(3.0)
    clip_then_scale = optim.chain(optim.clip(1.0), optim.scale(2.0))
    scale_then_clip = optim.chain(optim.scale(2.0), optim.clip(1.0))
    assert float(clip_then_scale.update(g, clip_then_scale.init(g))[0]) == 2.0
    assert float(scale_then_clip.update(g, scale_then_clip.init(g))[0]) == 1.0


def test_add_decayed_weights_and_scale_by_learning_rate():
    params = {"w": jnp.array([2.0, -4.0])}
    tx = optim.chain(optim.add_decayed_weights(0.5), optim.scale_by_learning_rate(0.1))
    updates, _ = tx.update({"w": jnp.array([1.0, 1.0])}, tx.init(params), params)
    np.testing.assert_allclose(updates["w"], [-0.1 * (1.0 + 1.0), -0.1 * (1.0 - 2.0)], rtol=1e-12)


def test_penalties_and_their_gradients():
    params = {"w": jnp.array([1.0, -2.0]), "b": [jnp.array(3.0)]}
    assert float(optim.l2_penalty(params, 0.1)) == pytest.approx(0.05 * 14.0)
    assert float(optim.l1_penalty(params, 0.1)) == pytest.approx(0.1 * 6.0)
    assert float(optim.l2_penalty(params)) == pytest.approx(7.0)
    g2 = jax.grad(optim.l2_penalty)(params, 0.1)
    np.testing.assert_allclose(g2["w"], [0.1, -0.2], rtol=1e-12)
    g1 = jax.grad(optim.l1_penalty)(params, 0.1)
    np.testing.assert_allclose(g1["w"], [0.1, -0.1], rtol=1e-12)


def test_apply_updates_keeps_dtype():
    params = {"w": jnp.ones(3, jnp.float32)}
    new = optim.apply_updates(params, {"w": jnp.full(3, 0.5, jnp.float64)})
    assert new["w"].dtype == jnp.float32
    np.testing.assert_allclose(new["w"], 1.5)


def test_states_are_namedtuples_with_int32_counters():
    params = {"w": jnp.zeros(2)}
    state = optim.adam(SCHEDULE).init(params)
    adam_state, schedule_state = state
    assert isinstance(adam_state, optim.AdamState) and isinstance(
        schedule_state, optim.ScheduleState
    )
    assert adam_state.count.dtype == jnp.int32 and schedule_state.count.dtype == jnp.int32
    _, state = optim.adam(SCHEDULE).update({"w": jnp.ones(2)}, state, params)
    assert int(state[0].count) == 1 and int(state[1].count) == 1


# --------------------------------------------------------------------------- get
@pytest.mark.parametrize(
    "name, first_update",
    [
        ("sgd", -0.01),
        ("SGD", -0.01),
        ("momentum", -0.01),
        ("nesterov", -0.019),
        ("adam", -0.001 / (1 + 1e-8)),
        ("adamw", -0.001 * (1 / (1 + 1e-8) + 1e-4 * 0.5)),
        ("rmsprop", -0.001 / math.sqrt(0.1 + 1e-8)),
        ("adagrad", -0.001 / math.sqrt(1.1 + 1e-7)),
    ],
)
def test_get_uses_keras_default_learning_rates(name, first_update):
    assert first_updates(optim.get(name), grads=[1.0])[0] == pytest.approx(first_update, rel=1e-10)


def test_get_with_learning_rate_and_passthrough():
    assert first_updates(optim.get("sgd", 0.5), grads=[1.0])[0] == pytest.approx(-0.5)
    opt = optim.adam(0.1)
    assert optim.get(opt) is opt


# --------------------------------------------------------------------------- jit
def test_update_with_schedule_jits_once():
    opt = optim.adamw(schedules.warmup_cosine_decay(0.0, 0.1, 2, 10), weight_decay=0.01)
    params = {"w": jnp.array([1.0, -1.0])}
    traces = []

    @jax.jit
    def step(params, state, grads):
        traces.append(1)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state

    state = opt.init(params)
    p_eager, s_eager = params, state
    for _ in range(3):
        params, state = step(params, state, {"w": jnp.array([0.3, 0.2])})
        u, s_eager = opt.update({"w": jnp.array([0.3, 0.2])}, s_eager, p_eager)
        p_eager = optim.apply_updates(p_eager, u)
    assert len(traces) == 1
    np.testing.assert_allclose(params["w"], p_eager["w"], rtol=1e-12)


def test_traced_learning_rate_is_accepted():
    # a sweep over learning rates with vmap: hyperparameters may be tracers
    def one_step(lr):
        opt = optim.sgd(lr, momentum=0.9)
        return opt.update(jnp.array(2.0), opt.init(jnp.array(0.0)))[0]

    np.testing.assert_allclose(jax.vmap(one_step)(jnp.array([0.1, 0.2])), [-0.2, -0.4], rtol=1e-12)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: optim.sgd(-0.1), ValueError, "learning_rate must be non-negative, got -0.1"),
        (lambda: optim.sgd("fast"), TypeError, "learning_rate must be a float or a schedule"),
        (lambda: optim.adam(float("inf")), ValueError, "learning_rate must be finite"),
        (lambda: optim.sgd(0.1, momentum=1.0), ValueError, r"momentum must be in \[0.0, 1.0\)"),
        (lambda: optim.sgd(0.1, momentum=-0.5), ValueError, "momentum must be in"),
        (lambda: optim.sgd(0.1, nesterov=True), ValueError, "nesterov=True needs a momentum"),
        (lambda: optim.rmsprop(0.1, nesterov=True), ValueError, "nesterov=True needs a momentum"),
        (lambda: optim.rmsprop(0.1, decay=1.0), ValueError, r"decay must be in \[0.0, 1.0\)"),
        (lambda: optim.rmsprop(0.1, eps=-1e-8), ValueError, "eps must be non-negative"),
        (lambda: optim.adam(0.1, b1=1.0), ValueError, r"b1 must be in \[0.0, 1.0\), got 1.0"),
        (lambda: optim.adam(0.1, b1=-0.1), ValueError, "b1 must be in"),
        (lambda: optim.adam(0.1, b2=1.5), ValueError, "b2 must be in"),
        (lambda: optim.adam(0.1, eps=-1.0), ValueError, "eps must be non-negative"),
        (
            lambda: optim.adamw(0.1, weight_decay=-1e-4),
            ValueError,
            "weight_decay must be non-negative",
        ),
        (
            lambda: optim.adagrad(0.1, initial_accumulator_value=-1.0),
            ValueError,
            "initial_accumulator_value must be non-negative",
        ),
        (lambda: optim.clip(-1.0), ValueError, "max_delta must be non-negative"),
        (lambda: optim.clip_by_global_norm(0.0), ValueError, "max_norm must be positive"),
        (lambda: optim.scale("2"), TypeError, "step_size must be a real number"),
        (
            lambda: optim.l2_penalty({"w": jnp.ones(2)}, -1.0),
            ValueError,
            "scale must be non-negative",
        ),
        (
            lambda: optim.l1_penalty({"w": jnp.ones(2)}, None),
            TypeError,
            "scale must be a real number",
        ),
        (
            lambda: optim.get("adamm"),
            ValueError,
            "unknown optimizer 'adamm'; valid names are: "
            "adagrad, adam, adamw, momentum, nesterov, rmsprop, sgd",
        ),
        (lambda: optim.get(3), TypeError, "optimizer name must be a string"),
        (lambda: optim.get(optim.sgd(0.1), 0.2), ValueError, "learning_rate cannot be given"),
        (lambda: optim.chain(optim.sgd(0.1), "adam"), TypeError, "chain argument 1"),
        (
            lambda: optim.apply_updates({"w": jnp.ones(2)}, {"v": jnp.ones(2)}),
            ValueError,
            "same pytree structure",
        ),
        (
            lambda: optim.adamw(0.1).update(
                {"w": jnp.ones(2)}, optim.adamw(0.1).init({"w": jnp.ones(2)})
            ),
            ValueError,
            "needs the parameters",
        ),
    ],
)
def test_bad_input_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()
