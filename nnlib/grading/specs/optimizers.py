"""The graded questions of the ``optimizers`` assignment, and the optimizer lesson's checkers.

The assignment (``solutions/optimizers/optimizers.ipynb``) asks for optimizers with the
``init``/``update`` interface of :class:`nnlib.optim.GradientTransformation` (``update(grads,
state, params=None) -> (updates, new_state)``, the updates added to the parameters):

* ``sgd_momentum(learning_rate, momentum)``: ``v <- momentum * v + g``, update ``-lr * v``
  (Polyak 1964, the heavy-ball form with ``v_0 = 0``);
* ``rmsprop(learning_rate, decay, eps)``: ``s <- decay * s + (1 - decay) g^2``, update
  ``-lr * g / (sqrt(s) + eps)`` (Hinton's lecture 6e; eps outside the root);
* ``adam(learning_rate, b1, b2, eps)``: Kingma & Ba (2015), Algorithm 1, with bias correction
  and ``t`` counted from 1, eps outside the root;
* ``steady_state_steps(learning_rate, momentum, eps, g)``: the step of momentum and of Adam after
  many steps of the same gradient ``g`` (the derivation the notebook asks for);
* ``train_digits(optimizer, *, key, epochs)``: the student's optimizer in ``nnlib.train.fit``.

The lesson's checkers (feedback only, ``LESSON_QUESTIONS``). Signatures (all arrays float64
NumPy or JAX):

* ``sgd_step(param, grad, *, learning_rate) -> param``  (Robbins & Monro 1951)
* ``adam_step(param, grad, m, v, t, *, learning_rate, b1, b2, eps) -> (param, m, v)`` with
  ``t`` the 1-based step count (Kingma & Ba 2015, Algorithm 1, bias-corrected moments)
* ``rmsprop_step(param, grad, s, *, learning_rate, decay, eps) -> (param, s)``
  (Hinton's lecture 6e: divide by the root of a running mean of squared gradients)
"""

from __future__ import annotations

import numpy as np

from nnlib.grading.core import GRADER, Mistake, Question

ASSIGNMENT = "optimizers"


def _vec_cases(rng, extra):
    out = []
    for desc, shape in [("a vector of 5 parameters", (5,)), ("a (3, 2) parameter matrix", (3, 2))]:
        out.append((desc, {"param": rng.normal(size=shape), "grad": rng.normal(size=shape),
                           **{k: f(rng, shape) for k, f in extra.items()}}))
    return out


# --------------------------------------------------------------------------- SGD
def _sgd_ref(i, sign=1.0):
    return {"param": i["param"] - sign * i["lr"] * i["grad"]}


SGD = Question(
    name="sgd_step", functions=("sgd_step",),
    make_cases=lambda rng: _vec_cases(rng, {"lr": lambda r, s: np.asarray(0.1)}),
    run=lambda fns, i: {"param": fns["sgd_step"](i["param"], i["grad"],
                                                 learning_rate=float(i["lr"]))},
    reference=_sgd_ref,
    mistakes=(Mistake("sign", "sign error in the update: step against the gradient, "
                      "param - learning_rate * grad", lambda i: _sgd_ref(i, -1.0)),),
)


# --------------------------------------------------------------------------- Adam
_ADAM = dict(learning_rate=0.01, b1=0.9, b2=0.999, eps=1e-8)


def _adam_cases(rng):
    cases = []
    for t in (1, 10):
        for desc, c in _vec_cases(rng, {"m": lambda r, s: 0.1 * r.normal(size=s),
                                        "v": lambda r, s: r.uniform(0.01, 0.1, size=s)}):
            cases.append((f"{desc} at step t={t}", {**c, "t": np.asarray(t)}))
    return cases


def _adam_ref(i, *, correct=True, sign=1.0):
    h = _ADAM
    m = h["b1"] * i["m"] + (1 - h["b1"]) * i["grad"]
    v = h["b2"] * i["v"] + (1 - h["b2"]) * i["grad"] ** 2
    t = int(i["t"])
    mh, vh = (m / (1 - h["b1"] ** t), v / (1 - h["b2"] ** t)) if correct else (m, v)
    return {"param": i["param"] - sign * h["learning_rate"] * mh / (np.sqrt(vh) + h["eps"]),
            "m": m, "v": v}


ADAM = Question(
    name="adam_step", functions=("adam_step",), make_cases=_adam_cases,
    run=lambda fns, i: dict(zip(("param", "m", "v"), fns["adam_step"](
        i["param"], i["grad"], i["m"], i["v"], int(i["t"]), **_ADAM), strict=True)),
    reference=_adam_ref,
    mistakes=(
        Mistake("adam_no_bias_correction", "Adam without bias correction: divide m by "
                "(1 - b1**t) and v by (1 - b2**t) before the update (Kingma & Ba 2015, Alg. 1)",
                lambda i: _adam_ref(i, correct=False)),
        Mistake("sign", "sign error in the update: param - learning_rate * m_hat / "
                "(sqrt(v_hat) + eps)", lambda i: _adam_ref(i, sign=-1.0)),
    ),
)


# --------------------------------------------------------------------------- RMSprop
_RMS = dict(learning_rate=0.01, decay=0.9, eps=1e-8)


def _rms_ref(i, *, root=True, sign=1.0):
    s = _RMS["decay"] * i["s"] + (1 - _RMS["decay"]) * i["grad"] ** 2
    denom = (np.sqrt(s) if root else s) + _RMS["eps"]
    return {"param": i["param"] - sign * _RMS["learning_rate"] * i["grad"] / denom, "s": s}


RMSPROP = Question(
    name="rmsprop_step", functions=("rmsprop_step",),
    make_cases=lambda rng: _vec_cases(rng, {"s": lambda r, s: r.uniform(0.01, 0.5, size=s)}),
    run=lambda fns, i: dict(zip(("param", "s"), fns["rmsprop_step"](
        i["param"], i["grad"], i["s"], **_RMS), strict=True)),
    reference=_rms_ref,
    mistakes=(
        Mistake("rmsprop_no_sqrt", "RMSprop without the square root: divide the gradient by "
                "sqrt(s) + eps, the root of the running mean of squares",
                lambda i: _rms_ref(i, root=False)),
        Mistake("sign", "sign error in the update", lambda i: _rms_ref(i, sign=-1.0)),
    ),
)

LESSON_QUESTIONS = (SGD, ADAM, RMSPROP)


# =========================================================================== the assignment
# Optimizers that are not ours to call: the task is to write them.
_OWN = (*GRADER, "nnlib.optim", "optax")
_STEPS = 5


def _opt_cases(rng):
    """Five steps of fresh gradients on a small parameter pytree, at three magnitudes."""
    def case(shapes, scale, **hyper):
        params = {k: rng.normal(size=s) for k, s in shapes.items()}
        grads = {k: scale * rng.normal(size=(_STEPS, *s)) for k, s in shapes.items()}
        return {**{f"param {k}": v for k, v in params.items()},
                **{f"grads {k}": v for k, v in grads.items()},
                **{k: np.asarray(v) for k, v in hyper.items()}}
    two = {"W": (3, 2), "b": (2,)}
    return [("W (3, 2) and b (2,), gradients ~1, 5 steps", case(two, 1.0)),
            ("gradients ~1e-3 with eps = 1e-3, 5 steps", case(two, 1e-3, eps=1e-3)),
            ("gradients ~1e3, 5 steps", case(two, 1e3)),
            ("one parameter of shape (1,), 5 steps", case({"w": (1,)}, 1.0))]


def _names(i):
    return sorted(k[len("param "):] for k in i if k.startswith("param "))


def _run_optimizer(factory, hyper):
    """Runs the student's optimizer for the case's steps; returns the parameters after each."""
    def run(fns, i):
        kw = {k: float(i[k]) if k in i else v for k, v in hyper.items()}
        opt = fns[factory](**kw)
        params = {k: i[f"param {k}"].copy() for k in _names(i)}
        state = opt.init(params)
        out = {k: [] for k in params}
        for t in range(_STEPS):
            grads = {k: i[f"grads {k}"][t] for k in params}
            updates, state = opt.update(grads, state, params)
            params = {k: np.asarray(params[k], np.float64) + np.asarray(updates[k], np.float64)
                      for k in params}
            for k in params:
                out[k].append(params[k])
        return {f"{k} after each step": np.stack(v) for k, v in out.items()}
    return run


def _simulate(i, step_fn, state0):
    """Reference trajectory: ``step_fn(g, p, state, t) -> (update, state)`` per leaf."""
    out = {}
    for k in _names(i):
        p, state = i[f"param {k}"].astype(np.float64), state0(i[f"param {k}"])
        path = []
        for t in range(1, _STEPS + 1):
            u, state = step_fn(i[f"grads {k}"][t - 1], p, state, t)
            p = p + u
            path.append(p)
        out[f"{k} after each step"] = np.stack(path)
    return out


# --------------------------------------------------------------------------- momentum
_MOM = dict(learning_rate=0.05, momentum=0.9)


def _mom_ref(i, *, form="heavy", carried=True, sign=1.0):
    lr, mu = _MOM["learning_rate"], _MOM["momentum"]

    def step(g, p, v, t):
        v = v if carried else np.zeros_like(v)
        if form == "ema":
            v = mu * v + (1 - mu) * g
        else:
            v = mu * v + g
        if form == "params":     # the momentum factor multiplies the parameters
            return -lr * g + (mu - 1.0) * p, v
        return -sign * lr * v, v
    return _simulate(i, step, np.zeros_like)


SGD_MOMENTUM = Question(
    name="sgd_momentum", functions=("sgd_momentum",), points=3, test_cell="test_sgd_momentum",
    forbidden=_OWN, make_cases=_opt_cases, run=_run_optimizer("sgd_momentum", _MOM),
    reference=_mom_ref,
    mistakes=(
        Mistake("momentum_on_params", "the momentum factor multiplies the parameters; it belongs "
                "to the velocity: v = momentum * v + g, update = -learning_rate * v",
                lambda i: _mom_ref(i, form="params")),
        Mistake("velocity_not_carried", "the velocity is not carried from one step to the next "
                "(every step behaves like the first, i.e. plain SGD): return the new velocity in "
                "the state and start from it at the next update",
                lambda i: _mom_ref(i, carried=False)),
        Mistake("velocity_as_average", "v = momentum * v + (1 - momentum) * g is an average, "
                "which shrinks every step by (1 - momentum); this assignment's momentum is "
                "v = momentum * v + g", lambda i: _mom_ref(i, form="ema")),
        Mistake("sign", "sign error: the update is -learning_rate * v (params + updates must go "
                "downhill)", lambda i: _mom_ref(i, sign=-1.0)),
    ),
)


# --------------------------------------------------------------------------- RMSprop
_RMS_A = dict(learning_rate=0.01, decay=0.9, eps=1e-8)


def _rmsa_ref(i, *, root="outside", carried=True, swapped=False, sign=1.0):
    lr, rho = _RMS_A["learning_rate"], _RMS_A["decay"]
    eps = float(i["eps"]) if "eps" in i else _RMS_A["eps"]

    def step(g, p, s, t):
        s = s if carried else np.zeros_like(s)
        s = (1 - rho) * s + rho * g**2 if swapped else rho * s + (1 - rho) * g**2
        denom = {"outside": np.sqrt(s) + eps, "inside": np.sqrt(s + eps), "none": s + eps}[root]
        return -sign * lr * g / denom, s
    return _simulate(i, step, np.zeros_like)


RMSPROP_OPT = Question(
    name="rmsprop", functions=("rmsprop",), points=3, test_cell="test_rmsprop", forbidden=_OWN,
    make_cases=_opt_cases, run=_run_optimizer("rmsprop", _RMS_A), reference=_rmsa_ref,
    mistakes=(
        Mistake("no_sqrt", "the square root is missing: divide by sqrt(s) + eps, the root of the "
                "running mean of squared gradients", lambda i: _rmsa_ref(i, root="none")),
        Mistake("eps_inside_sqrt", "eps is inside the square root; this assignment puts it "
                "outside: g / (sqrt(s) + eps)", lambda i: _rmsa_ref(i, root="inside")),
        Mistake("state_not_carried", "the running mean s is not carried between steps: return it "
                "in the state and update it from the previous value",
                lambda i: _rmsa_ref(i, carried=False)),
        Mistake("decay_swapped", "decay and 1 - decay are swapped: s = decay * s + (1 - decay) * "
                "g**2 keeps most of the past", lambda i: _rmsa_ref(i, swapped=True)),
        Mistake("sign", "sign error in the update", lambda i: _rmsa_ref(i, sign=-1.0)),
    ),
)


# --------------------------------------------------------------------------- Adam
_ADAM_A = dict(learning_rate=0.01, b1=0.9, b2=0.999, eps=1e-8)


def _adama_ref(i, *, correct=True, t_shift=0, root="outside", carried=True, count=True,
               sign=1.0):
    lr, b1, b2 = _ADAM_A["learning_rate"], _ADAM_A["b1"], _ADAM_A["b2"]
    eps = float(i["eps"]) if "eps" in i else _ADAM_A["eps"]

    def step(g, p, state, t):
        m, v = state if carried else (np.zeros_like(g), np.zeros_like(g))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        tt = (t if count else 1) + t_shift
        with np.errstate(divide="ignore", invalid="ignore"):
            mh, vh = (m / (1 - b1**tt), v / (1 - b2**tt)) if correct else (m, v)
            denom = {"outside": np.sqrt(vh) + eps, "inside": np.sqrt(vh + eps),
                     "none": vh + eps}[root]
            return -sign * lr * mh / denom, (m, v)
    return _simulate(i, step, lambda p: (np.zeros_like(p), np.zeros_like(p)))


def _adam_nan_hint(i, outputs):
    for key, value in outputs.items():
        arr = np.asarray(value)
        if arr.dtype != object and arr.size and not np.all(np.isfinite(arr.astype(np.float64))):
            return ("the parameters became inf or nan: with t counted from 0 the first bias "
                    "correction divides by 1 - b**0 = 0; count the steps from 1")
    return None


ADAM_OPT = Question(
    name="adam", functions=("adam",), points=4, test_cell="test_adam", forbidden=_OWN,
    make_cases=_opt_cases, run=_run_optimizer("adam", _ADAM_A), reference=_adama_ref,
    hints=(_adam_nan_hint,),
    mistakes=(
        Mistake("no_bias_correction", "no bias correction: divide m by (1 - b1**t) and v by "
                "(1 - b2**t) before the step (Kingma & Ba 2015, Algorithm 1); without it the "
                "first steps are far too small", lambda i: _adama_ref(i, correct=False)),
        Mistake("t_off_by_one_late", "the bias correction uses t + 1: t counts the steps from 1, "
                "so the first step divides by (1 - b1) and (1 - b2)",
                lambda i: _adama_ref(i, t_shift=1)),
        Mistake("count_not_incremented", "the step count t is not carried or not incremented: "
                "every step uses the correction of step 1", lambda i: _adama_ref(i, count=False)),
        Mistake("eps_inside_sqrt", "eps is inside the square root; Adam puts it outside: "
                "m_hat / (sqrt(v_hat) + eps)", lambda i: _adama_ref(i, root="inside")),
        Mistake("no_sqrt", "the square root of v_hat is missing", lambda i: _adama_ref(i, root="none")),
        Mistake("moments_not_carried", "the moments m and v are not carried between steps: "
                "return them in the state", lambda i: _adama_ref(i, carried=False)),
        Mistake("sign", "sign error in the update", lambda i: _adama_ref(i, sign=-1.0)),
    ),
)


# --------------------------------------------------------------------------- a derivation
def _steady_cases(rng):
    return [(f"learning_rate={lr}, momentum={mu}, eps={eps}, g of shape {shape}",
             {"lr": np.asarray(lr), "mu": np.asarray(mu), "eps": np.asarray(eps),
              "g": scale * rng.normal(size=shape)})
            for lr, mu, eps, shape, scale in [(0.1, 0.9, 1e-8, (4,), 1.0),
                                              (0.01, 0.5, 1e-3, (2, 3), 1e-2),
                                              (0.5, 0.99, 1e-8, (1,), 100.0)]]


def _steady_ref(i, *, momentum_factor=None, adam="exact"):
    lr, mu, eps, g = float(i["lr"]), float(i["mu"]), float(i["eps"]), i["g"]
    factor = 1.0 / (1.0 - mu) if momentum_factor is None else momentum_factor(mu)
    adam_step = {"exact": -lr * g / (np.abs(g) + eps), "sign": -lr * np.sign(g),
                 "gradient": -lr * g}[adam]
    return {"momentum step": -lr * factor * g, "adam step": adam_step}


def _run_steady(fns, i):
    mom, ad = fns["steady_state_steps"](float(i["lr"]), float(i["mu"]), float(i["eps"]), i["g"])
    return {"momentum step": mom, "adam step": ad}


STEADY = Question(
    name="steady_state_steps", functions=("steady_state_steps",), points=2,
    test_cell="test_steady_state_steps", forbidden=_OWN, make_cases=_steady_cases,
    run=_run_steady, reference=_steady_ref, rtol=1e-6,
    mistakes=(
        Mistake("momentum_no_geometric_sum", "with a constant gradient the velocity sums a "
                "geometric series: v -> g / (1 - momentum), so the step is -lr g / (1 - momentum)",
                lambda i: _steady_ref(i, momentum_factor=lambda mu: 1.0)),
        Mistake("momentum_factor_mu", "the series 1 + mu + mu^2 + ... sums to 1 / (1 - mu), not "
                "mu / (1 - mu)", lambda i: _steady_ref(i, momentum_factor=lambda mu: mu / (1 - mu))),
        Mistake("adam_raw_gradient", "Adam's step does not scale with the gradient: m_hat -> g "
                "and sqrt(v_hat) -> |g|, so the step is -lr g / (|g| + eps)",
                lambda i: _steady_ref(i, adam="gradient")),
        Mistake("adam_eps_dropped", "the step is -lr g / (|g| + eps): eps matters where |g| is "
                "comparable to it", lambda i: _steady_ref(i, adam="sign")),
    ),
)


# --------------------------------------------------------------------------- training
def _train_cases(rng):
    return [("digits, a fresh seed", {"seed": np.asarray(int(rng.integers(0, 2**31 - 1)))})]


def _run_train(fns, i):
    import jax

    calls = [0]
    inner = fns["adam"](learning_rate=3e-3, b1=0.9, b2=0.999, eps=1e-8)

    def counted_update(grads, state, params=None):
        calls[0] += 1
        return inner.update(grads, state, params)

    opt = type(inner)(inner.init, counted_update) if hasattr(inner, "_fields") else inner
    accuracy, history = fns["train_digits"](opt, key=jax.random.key(int(i["seed"])), epochs=8)
    losses = np.asarray([float(v) for v in history], np.float64)
    return {"accuracy": np.asarray(float(accuracy)), "losses": losses,
            "updates": np.asarray(calls[0])}


MIN_ACCURACY = 0.9
"""train_digits' least held-out accuracy (python -m nnlib.grading.margins: the margin)."""


def _judge_train(i, o):
    try:
        acc = float(np.asarray(o["accuracy"], np.float64))
        losses = np.asarray(o["losses"], np.float64).reshape(-1)
        updates = int(np.asarray(o["updates"]))
    except (KeyError, TypeError, ValueError) as e:
        return [f"could not read what train_digits returned ({type(e).__name__})"]
    problems = []
    if updates == 0:
        problems.append("the optimizer passed in was never used: give it to nnlib.train.fit "
                        "(optimizer=optimizer)")
    if len(losses) != 8:
        problems.append(f"history has {len(losses)} entries, expected one per epoch (8)")
    elif not losses[-1] < losses[0]:
        problems.append(f"the training loss did not fall ({losses[0]:.3g} -> {losses[-1]:.3g})")
    if not acc >= MIN_ACCURACY:
        problems.append(f"held-out accuracy {acc:.3f}, expected at least {MIN_ACCURACY:.2f} "
                        "with your adam at learning_rate=3e-3 for 8 epochs")
    return problems


TRAIN_DIGITS = Question(
    name="train_digits", functions=("train_digits", "adam"), points=3, test_cell="test_train_digits",
    forbidden=GRADER,  # not nnlib.optim: fit itself applies the updates with it
    make_cases=_train_cases, run=_run_train, judge=_judge_train, timeout=120.0,
    accuracy_floor=MIN_ACCURACY,
)


QUESTIONS = (SGD_MOMENTUM, RMSPROP_OPT, ADAM_OPT, STEADY, TRAIN_DIGITS)
MANUAL = {"compare_optimizers": 3}
"""Manually graded answer cells (grade_id -> points), left for the instructor's rubric."""
