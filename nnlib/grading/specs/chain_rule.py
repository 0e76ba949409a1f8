"""Checkers for the exercises of lesson 01a (the chain rule on a graph): gates and tanh.

* ``gates``: the backward rule of the three elementary gates, element-wise on arrays.
  ``add_backward(x, y, g)``, ``mul_backward(x, y, g)`` and ``max_backward(x, y, g)`` each
  return ``(dx, dy)``, the gradients of the loss with respect to the gate's inputs ``x`` and
  ``y`` given the upstream gradient ``g`` with respect to its output. Add distributes ``g``,
  multiply swaps the inputs (``dx = g * y``), max routes all of ``g`` to the larger input (the
  cases have no ties).
* ``tanh``: ``tanh_forward(z) -> (a, cache)`` and ``tanh_backward(da, cache) -> dz`` with
  ``tanh'(z) = 1 - tanh(z)**2`` (the same contract as the assignment's relu and sigmoid).
"""

from __future__ import annotations

import numpy as np

from nnlib.grading.core import Mistake, Question
from nnlib.grading.specs.backprop import activation_cases, run_activation


# --------------------------------------------------------------------------- gates
def _gate_cases(rng: np.random.Generator) -> list[tuple[str, dict]]:
    def case(shape, scale=1.0):
        x, y = scale * rng.normal(size=shape), scale * rng.normal(size=shape)
        y = np.where(x == y, y + 1.0, y)  # no ties: max's gradient is then well defined
        return {"x": x, "y": y, "g": rng.normal(size=shape)}
    return [("inputs of shape (6,)", case((6,))),
            ("inputs of shape (2, 3)", case((2, 3))),
            ("one element", case((1,))),
            ("large values (~100)", case((4,), 100.0))]


def _run_gates(fns, i):
    out = {}
    for gate in ("add", "mul", "max"):
        dx, dy = fns[f"{gate}_backward"](i["x"], i["y"], i["g"])
        out[f"{gate}: dx"], out[f"{gate}: dy"] = dx, dy
    return out


def _gates_ref(i):
    x, y, g = i["x"], i["y"], i["g"]
    return {"add: dx": g, "add: dy": g, "mul: dx": g * y, "mul: dy": g * x,
            "max: dx": g * (x > y), "max: dy": g * (y > x)}


def _gates_variant(**changes):
    def out(i):
        r = _gates_ref(i)
        r.update({k.replace("__", ": "): f(i) for k, f in changes.items()})
        return r
    return out


GATES = Question(
    name="gates", functions=("add_backward", "mul_backward", "max_backward"),
    make_cases=_gate_cases, run=_run_gates, reference=_gates_ref,
    mistakes=(
        Mistake("mul_not_swapped", "multiply: each input's gradient is the upstream gradient "
                "times the OTHER input (z = x*y, dz/dx = y), so dx = g * y and dy = g * x",
                _gates_variant(mul__dx=lambda i: i["g"] * i["x"], mul__dy=lambda i: i["g"] * i["y"])),
        Mistake("mul_no_upstream", "multiply: the local derivative is right but the upstream "
                "gradient g is missing (chain rule: dx = g * dz/dx = g * y)",
                _gates_variant(mul__dx=lambda i: i["y"], mul__dy=lambda i: i["x"])),
        Mistake("add_halved", "add: the gradient is not shared out; each input receives all of g "
                "(dz/dx = dz/dy = 1)",
                _gates_variant(add__dx=lambda i: i["g"] / 2, add__dy=lambda i: i["g"] / 2)),
        Mistake("max_to_both", "max: only the larger input gets the gradient; the smaller one "
                "did not affect the output, so its gradient is 0",
                _gates_variant(max__dx=lambda i: i["g"], max__dy=lambda i: i["g"])),
        Mistake("max_to_smaller", "max: the gradient went to the smaller input; it belongs to "
                "the larger one (the one that became the output)",
                _gates_variant(max__dx=lambda i: i["g"] * (i["x"] < i["y"]),
                               max__dy=lambda i: i["g"] * (i["y"] < i["x"]))),
    ),
)


# --------------------------------------------------------------------------- tanh
def _tanh_ref(i):
    a = np.tanh(i["z"])
    return {"a": a, "dz": i["da"] * (1.0 - a ** 2)}


def _tanh_variant(dz):
    return lambda i: {"a": np.tanh(i["z"]), "dz": dz(i)}


TANH = Question(
    name="tanh", functions=("tanh_forward", "tanh_backward"),
    make_cases=activation_cases, run=run_activation("tanh"), reference=_tanh_ref,
    mistakes=(
        Mistake("tanh_formula_on_z", "the derivative 1 - a**2 was applied to the pre-activation "
                "z (1 - z**2); it needs a = tanh(z)",
                _tanh_variant(lambda i: i["da"] * (1 - i["z"] ** 2))),
        Mistake("tanh_not_squared", "tanh'(z) = 1 - tanh(z)**2: the square is missing",
                _tanh_variant(lambda i: i["da"] * (1 - np.tanh(i["z"])))),
        Mistake("tanh_derivative_at_a", "the derivative was evaluated at the post-activation a "
                "(1 - tanh(a)**2); evaluated at z it is 1 - a**2",
                _tanh_variant(lambda i: i["da"] * (1 - np.tanh(np.tanh(i["z"])) ** 2))),
        Mistake("tanh_no_upstream", "dz must be multiplied by the upstream gradient da",
                _tanh_variant(lambda i: 1 - np.tanh(i["z"]) ** 2)),
        Mistake("sign", "sign error in dz", _tanh_variant(lambda i: -_tanh_ref(i)["dz"])),
    ),
)

QUESTIONS = (GATES, TANH)
