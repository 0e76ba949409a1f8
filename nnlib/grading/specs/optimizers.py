"""Checkers for the optimizers lesson's exercises: SGD, Adam and RMSprop update rules.

Signatures the lesson asks for (all arrays float64 NumPy or JAX):

* ``sgd_step(param, grad, *, learning_rate) -> param``  (Robbins & Monro 1951)
* ``adam_step(param, grad, m, v, t, *, learning_rate, b1, b2, eps) -> (param, m, v)`` with
  ``t`` the 1-based step count (Kingma & Ba 2015, Algorithm 1, bias-corrected moments)
* ``rmsprop_step(param, grad, s, *, learning_rate, decay, eps) -> (param, s)``
  (Hinton's lecture 6e: divide by the root of a running mean of squared gradients)
"""

from __future__ import annotations

import numpy as np

from nnlib.grading.core import Mistake, Question


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

QUESTIONS = (SGD, ADAM, RMSPROP)
