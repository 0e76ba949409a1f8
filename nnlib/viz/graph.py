"""Computational-graph stepper: forward values, then gradients edge by edge (backprop).

A graph is a list of :class:`Node` in topological order (every node after its inputs); the
last node is the output ``L``. The forward pass evaluates each node once; the backward pass
(reverse-mode automatic differentiation, Rumelhart et al. 1986) starts from
``dL/dL = 1`` and, visiting nodes in reverse order, sends along each input edge ``u -> v``

    dL/du += dL/dv * dv/du          (the chain rule: upstream gradient times local gradient)

:func:`graph_events` lists these steps and :func:`graph_state` says what is known after the
first ``step`` of them; :func:`graph_stepper` is the widget.

References:
  Rumelhart, D. E., Hinton, G. E. and Williams, R. J. (1986). Learning representations by
  back-propagating errors. Nature 323, 533-536.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np

from nnlib import validation
from nnlib.viz.explorer import Explorer
from nnlib.viz.palette import GREY, OKABE_ITO

__all__ = ["Node", "GRAPHS", "forward_values", "local_grads", "graph_events", "graph_state",
           "draw_graph", "graph_stepper"]


@dataclasses.dataclass(frozen=True)
class Node:
    """One scalar node: ``name = op(*inputs)``; ``op == "input"`` for a leaf.

    Ops: ``input``, ``add`` (any number of inputs), ``sub``, ``mul``, ``max`` (two inputs; the
    gradient goes to the larger one, half to each on a tie as ``jnp.maximum``'s), ``square``,
    ``sigmoid``, ``tanh``, ``linear`` (``x1, w1, x2, w2, ..., b -> sum_i x_i w_i + b``), ``sqerr``
    (``(y - t)**2``). ``pos`` is where the node is drawn.
    """

    name: str
    op: str
    inputs: tuple[str, ...] = ()
    pos: tuple[float, float] = (0.0, 0.0)


def _sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


_FORWARD = {
    "add": lambda *a: sum(a),
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "max": max,
    "square": lambda a: a * a,
    "sigmoid": _sig,
    "tanh": math.tanh,
    "linear": lambda *a: sum(a[i] * a[i + 1] for i in range(0, len(a) - 1, 2)) + a[-1],
    "sqerr": lambda y, t: (y - t) ** 2,
}
_SYMBOL = {"input": "", "add": "+", "sub": "−", "mul": "×", "max": "max", "square": "x²", "sigmoid": "σ",
           "tanh": "tanh", "linear": "Σwx", "sqerr": "(y−t)²"}


def local_grads(node: Node, values: Mapping[str, float]) -> tuple[float, ...]:
    """``d node / d input_i`` for each input, at the forward ``values``."""
    a = [values[n] for n in node.inputs]
    out = values[node.name]
    if node.op == "add":
        return tuple(1.0 for _ in a)
    if node.op == "sub":
        return (1.0, -1.0)
    if node.op == "mul":
        return (a[1], a[0])
    if node.op == "max":
        return (0.5, 0.5) if a[0] == a[1] else (float(a[0] > a[1]), float(a[1] > a[0]))
    if node.op == "square":
        return (2.0 * a[0],)
    if node.op == "sigmoid":
        return (out * (1.0 - out),)
    if node.op == "tanh":
        return (1.0 - out * out,)
    if node.op == "linear":  # x1 w1 x2 w2 ... b
        g = []
        for i in range(0, len(a) - 1, 2):
            g += [a[i + 1], a[i]]
        return tuple(g) + (1.0,)
    if node.op == "sqerr":
        return (2.0 * (a[0] - a[1]), -2.0 * (a[0] - a[1]))
    raise _unknown_op(node)


def _unknown_op(node: Node) -> ValueError:
    return ValueError(f"node {node.name!r}: unknown op {node.op!r}; valid ops are: "
                      f"input, {validation.names(_FORWARD)}")


def forward_values(graph: Sequence[Node], inputs: Mapping[str, float]) -> dict[str, float]:
    """Evaluates every node: ``name -> value`` (inputs from ``inputs``)."""
    values: dict[str, float] = {}
    for node in graph:
        if node.op == "input":
            if node.name not in inputs:
                raise ValueError(f"inputs has no value for input node {node.name!r}")
            values[node.name] = float(inputs[node.name])
        else:
            missing = [n for n in node.inputs if n not in values]
            if missing:
                raise ValueError(f"node {node.name!r} uses {missing} before they are defined; "
                                 "list the graph in topological order")
            if node.op not in _FORWARD:
                raise _unknown_op(node)
            values[node.name] = float(_FORWARD[node.op](*(values[n] for n in node.inputs)))
    return values


def graph_events(graph: Sequence[Node]) -> list[tuple]:
    """The steps of one forward and backward pass, in order.

    ``("forward", v)`` computes node ``v``; ``("seed", L)`` sets ``dL/dL = 1``;
    ``("backward", v, i)`` sends the gradient along the edge from ``v``'s ``i``-th input.
    """
    events = [("forward", n.name) for n in graph if n.op != "input"]
    events.append(("seed", graph[-1].name))
    for node in reversed(graph):
        events += [("backward", node.name, i) for i in range(len(node.inputs))]
    return events


def graph_state(graph: Sequence[Node], inputs: Mapping[str, float], step: int) -> dict:
    """What is known after the first ``step`` events of :func:`graph_events`.

    Returns:
      A dict with ``values`` (``name -> value`` for the inputs and the nodes computed so
      far), ``grads`` (``name -> dL/dname`` accumulated so far), ``edges`` (``(u, v) ->
      (upstream dL/dv, local dv/du, product)`` for each edge already traversed backward),
      ``message`` (what the last step did, with the chain-rule product), ``step``,
      ``n_steps`` and ``graph``.
    """
    events = graph_events(graph)
    step = int(step)
    if not 0 <= step <= len(events):
        raise ValueError(f"step must be in [0, {len(events)}], got {step}")
    full = forward_values(graph, inputs)
    by_name = {n.name: n for n in graph}
    values = {n.name: full[n.name] for n in graph if n.op == "input"}
    grads: dict[str, float] = {}
    edges: dict[tuple[str, str], tuple[float, float, float]] = {}
    message = "inputs set; press 'next' to run the forward pass"
    for ev in events[:step]:
        if ev[0] == "forward":
            node = by_name[ev[1]]
            values[node.name] = full[node.name]
            args = ", ".join(f"{full[n]:.3g}" for n in node.inputs)
            message = f"forward: {node.name} = {node.op}({args}) = {full[node.name]:.4g}"
        elif ev[0] == "seed":
            grads[ev[1]] = 1.0
            message = f"backward starts: ∂{ev[1]}/∂{ev[1]} = 1"
        else:
            node = by_name[ev[1]]
            u = node.inputs[ev[2]]
            local = local_grads(node, full)[ev[2]]
            up = grads.get(node.name, 0.0)
            prod = up * local
            grads[u] = grads.get(u, 0.0) + prod
            edges[(u, node.name)] = (up, local, prod)
            out = graph[-1].name
            message = (f"∂{out}/∂{u} += ∂{out}/∂{node.name} · ∂{node.name}/∂{u} = "
                       f"{up:.3g} × {local:.3g} = {prod:.3g}  (now {grads[u]:.4g})")
    return {"graph": list(graph), "values": values, "grads": grads, "edges": edges,
            "message": message, "step": step, "n_steps": len(events)}


_LABEL_BOX = dict(fc="white", ec="none", pad=0.3, alpha=0.85)


def draw_graph(fig: Any, state: dict) -> str:
    """Draws the nodes (value in blue above, gradient in vermillion below) and the edges.

    Edges not yet used are grey, forward edges black, edges the gradient has crossed are
    vermillion and labelled with their product ``dL/dv * dv/du``.
    """
    graph, values, grads, edges = state["graph"], state["values"], state["grads"], state["edges"]
    ax = fig.add_subplot(1, 1, 1)
    pos = {n.name: n.pos for n in graph}
    for node in graph:
        for u in node.inputs:
            done = (u, node.name) in edges
            colour = OKABE_ITO["vermillion"] if done else (
                OKABE_ITO["black"] if node.name in values else GREY)
            ax.annotate("", xy=pos[node.name], xytext=pos[u],
                        arrowprops=dict(arrowstyle="-|>", color=colour, lw=2 if done else 1,
                                        shrinkA=14, shrinkB=14))
            if done:
                (x0, y0), (x1, y1) = pos[u], pos[node.name]
                ax.text(0.55 * x0 + 0.45 * x1, 0.55 * y0 + 0.45 * y1, f"{edges[(u, node.name)][2]:.3g}",
                        color=OKABE_ITO["vermillion"], fontsize=8, ha="center", va="center",
                        bbox=dict(fc="white", ec="none", pad=0.5))
    for node in graph:
        x, y = pos[node.name]
        known = node.name in values
        ax.scatter([x], [y], s=750, marker="o" if node.op != "input" else "s",
                   color="white", edgecolors=OKABE_ITO["black"] if known else GREY, lw=1.5, zorder=3)
        ax.text(x, y, f"{node.name}\n{_SYMBOL[node.op]}" if node.op != "input" else node.name,
                ha="center", va="center", fontsize=8, zorder=4)
        if known:
            ax.annotate(f"{values[node.name]:.3g}", (x, y), xytext=(0, 15), textcoords="offset points",
                        ha="center", va="bottom", color=OKABE_ITO["blue"], fontsize=9,
                        weight="bold", zorder=4, bbox=_LABEL_BOX)
        if node.name in grads:
            ax.annotate(f"∂={grads[node.name]:.3g}", (x, y), xytext=(0, -15), textcoords="offset points",
                        ha="center", va="top", color=OKABE_ITO["vermillion"], fontsize=9, zorder=4,
                        bbox=_LABEL_BOX)
    xs, ys = zip(*pos.values())
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("forward →  (values in blue)        ← backward  (gradients ∂L/∂· in vermillion)")
    ax.set_ylabel("nodes")
    ax.set_title(f"step {state['step']} / {state['n_steps']}: {state['message']}", fontsize=9)
    return state["message"]


def _expression() -> tuple[list[Node], dict]:
    nodes = [Node("a", "input", pos=(0, 2)), Node("b", "input", pos=(0, 1)),
             Node("c", "input", pos=(0, 0)), Node("f", "input", pos=(2, -0.6)),
             Node("e", "mul", ("a", "b"), (1, 1.5)), Node("d", "add", ("e", "c"), (2, 0.8)),
             Node("L", "mul", ("d", "f"), (3, 0.4))]
    return nodes, {"a": 3.0, "b": -2.0, "c": 4.0, "f": -1.5}


def _neuron() -> tuple[list[Node], dict]:
    nodes = [Node("x", "input", pos=(0, 2)), Node("w", "input", pos=(0, 1)),
             Node("b", "input", pos=(0, 0)), Node("z", "linear", ("x", "w", "b"), (1, 1)),
             Node("h", "sigmoid", ("z",), (2, 1)), Node("t", "input", pos=(2, -0.2)),
             Node("L", "sqerr", ("h", "t"), (3, 0.6))]
    return nodes, {"x": 1.5, "w": 0.8, "b": -0.5, "t": 1.0}


def _network() -> tuple[list[Node], dict]:
    nodes = [Node("x1", "input", pos=(0, 4)), Node("x2", "input", pos=(0, 1)),
             Node("w11", "input", pos=(1.2, 5.5)), Node("w21", "input", pos=(2.0, 5.5)),
             Node("b1", "input", pos=(2.8, 5.5)), Node("w12", "input", pos=(1.2, -0.5)),
             Node("w22", "input", pos=(2.0, -0.5)), Node("b2", "input", pos=(2.8, -0.5)),
             Node("z1", "linear", ("x1", "w11", "x2", "w21", "b1"), (2.0, 4)),
             Node("z2", "linear", ("x1", "w12", "x2", "w22", "b2"), (2.0, 1)),
             Node("h1", "sigmoid", ("z1",), (3.6, 4)), Node("h2", "sigmoid", ("z2",), (3.6, 1)),
             Node("v1", "input", pos=(4.4, 5.5)), Node("v2", "input", pos=(4.4, -0.5)),
             Node("c", "input", pos=(5.4, 4.2)),
             Node("y", "linear", ("h1", "v1", "h2", "v2", "c"), (5.2, 2.5)),
             Node("t", "input", pos=(6.0, 0.8)), Node("L", "sqerr", ("y", "t"), (6.8, 2.5))]
    inputs = {"x1": 1.0, "x2": -1.0, "w11": 0.5, "w21": -0.3, "b1": 0.1, "w12": -0.8,
              "w22": 0.2, "b2": 0.0, "v1": 1.2, "v2": -0.7, "c": 0.05, "t": 1.0}
    return nodes, inputs


#: Built-in graphs: name -> (nodes, default input values).
GRAPHS = {"expression": _expression(), "neuron": _neuron(), "network 2-2-1": _network()}


def graph_stepper(graph: str | Sequence[Node] = "expression",
                  inputs: Mapping[str, float] | None = None) -> Explorer:
    """Steps through the forward pass and then the backward pass of a small graph.

    Args:
      graph: ``"expression"`` (``L = (a*b + c) * f``), ``"neuron"`` (``L = (sigmoid(x*w + b)
        - t)**2``), ``"network 2-2-1"`` (two sigmoid hidden
        units, a linear output and a squared error), or your own list of :class:`Node`.
      inputs: the input values; the built-in defaults if None.

    Returns:
      An :class:`Explorer` with a ``step`` slider, ``next``/``back``/``reset`` buttons and
      ``state`` from :func:`graph_state`.
    """
    if isinstance(graph, str):
        nodes, default = validation.lookup("graph", graph, GRAPHS)
    else:
        nodes, default = list(graph), {}
    values = dict(default if inputs is None else inputs)
    n = len(graph_events(nodes))
    slider = widgets.IntSlider(value=0, min=0, max=n, description="step", continuous_update=False)
    buttons = [widgets.Button(description=d) for d in ("◀ back", "next ▶", "reset", "run all")]
    explorer = Explorer({"step": slider}, lambda step: graph_state(nodes, values, step),
                        draw_graph, figsize=(9, 4.6) if len(nodes) < 10 else (10, 5.6),
                        buttons=tuple(buttons))

    def move(fn):
        return lambda _b: setattr(slider, "value", int(np.clip(fn(slider.value), 0, n)))

    for b, fn in zip(buttons, (lambda s: s - 1, lambda s: s + 1, lambda s: 0, lambda s: n)):
        b.on_click(move(fn))
    explorer.buttons = buttons
    return explorer
