"""Computational-graph stepper: forward values, then gradients edge by edge."""

import jax
import jax.numpy as jnp
import pytest

from nnlib.viz import graph as G


def _expression(p):
    return (p["a"] * p["b"] + p["c"]) * p["f"]


def _neuron(p):
    return (jax.nn.sigmoid(p["x"] * p["w"] + p["b"]) - p["t"]) ** 2


def _network(p):
    z1 = p["x1"] * p["w11"] + p["x2"] * p["w21"] + p["b1"]
    z2 = p["x1"] * p["w12"] + p["x2"] * p["w22"] + p["b2"]
    y = jax.nn.sigmoid(z1) * p["v1"] + jax.nn.sigmoid(z2) * p["v2"] + p["c"]
    return (y - p["t"]) ** 2


@pytest.mark.parametrize("name, fn", [("expression", _expression), ("neuron", _neuron),
                                     ("network 2-2-1", _network)])
def test_after_every_step_the_gradients_equal_jax_grad(name, fn):
    nodes, inputs = G.GRAPHS[name]
    st = G.graph_state(nodes, inputs, len(G.graph_events(nodes)))
    p = {k: jnp.asarray(v, jnp.float64) for k, v in inputs.items()}
    want = jax.grad(fn)(p)
    for k in inputs:
        assert st["grads"][k] == pytest.approx(float(want[k]), rel=1e-10, abs=1e-12), k
    assert st["values"][nodes[-1].name] == pytest.approx(float(fn(p)), rel=1e-12)


def test_forward_steps_reveal_values_then_backward_steps_reveal_edges_one_by_one():
    nodes, inputs = G.GRAPHS["expression"]
    n_ops = sum(n.op != "input" for n in nodes)  # e, d, L
    st = G.graph_state(nodes, inputs, 0)
    assert set(st["values"]) == {"a", "b", "c", "f"} and st["grads"] == {}
    st = G.graph_state(nodes, inputs, n_ops)
    assert st["values"]["L"] == pytest.approx(3.0) and st["grads"] == {}
    st = G.graph_state(nodes, inputs, n_ops + 1)
    assert st["grads"] == {"L": 1.0} and st["edges"] == {}
    st = G.graph_state(nodes, inputs, n_ops + 2)  # first edge: d -> L
    assert list(st["edges"]) == [("d", "L")]
    up, local, prod = st["edges"][("d", "L")]
    assert (up, local, prod) == (1.0, -1.5, -1.5)
    assert "1 × -1.5 = -1.5" in st["message"]
    st = G.graph_state(nodes, inputs, st["n_steps"])
    assert len(st["edges"]) == sum(len(n.inputs) for n in nodes) == 6
    # the chain-rule product along b -> e: dL/de * de/db = f * a = -1.5 * 3 = -4.5
    assert st["edges"][("b", "e")] == (-1.5, 3.0, -4.5)


def test_stepper_buttons_move_the_step_and_the_drawing_follows():
    w = G.graph_stepper("expression")
    back, nxt, reset, run_all = w.buttons
    for _ in range(5):
        nxt.click()
    assert w.state["step"] == 5 and w.controls["step"].value == 5
    back.click()
    assert w.state["step"] == 4
    run_all.click()
    n = w.state["n_steps"]
    assert w.state["step"] == n == 3 + 1 + 6
    ax = w.figure.axes[0]
    assert ax.get_title().startswith(f"step {n} / {n}")
    assert ax.get_xlabel() and ax.get_ylabel()
    # every backward edge is labelled with its product, in vermillion
    labels = [t.get_text() for t in ax.texts]
    for _up, _loc, prod in w.state["edges"].values():
        assert f"{prod:.3g}" in labels
    reset.click()
    assert w.state["step"] == 0 and w.state["grads"] == {}
    nxt.click()
    back.click()
    back.click()  # clamps at 0
    assert w.state["step"] == 0


@pytest.mark.parametrize("a, b", [(2.0, -1.0), (-1.0, 2.0), (0.5, 0.5)])
def test_max_routes_the_gradient_to_the_larger_input_as_jax_does(a, b):
    nodes = [G.Node("a", "input"), G.Node("b", "input"), G.Node("m", "max", ("a", "b")),
             G.Node("L", "mul", ("m", "m"))]
    st = G.graph_state(nodes, {"a": a, "b": b}, len(G.graph_events(nodes)))
    want = jax.grad(lambda a, b: jnp.maximum(a, b) ** 2, argnums=(0, 1))(a, b)
    assert (st["grads"]["a"], st["grads"]["b"]) == pytest.approx(tuple(map(float, want)))
    if a != b:
        assert st["grads"]["b" if a > b else "a"] == 0.0


def test_custom_graph_and_errors():
    nodes = [G.Node("x", "input", pos=(0, 0)), G.Node("s", "tanh", ("x",), (1, 0)),
             G.Node("L", "square", ("s",), (2, 0))]
    w = G.graph_stepper(nodes, {"x": 0.5})
    w.controls["step"].value = w.state["n_steps"]
    want = jax.grad(lambda x: jnp.tanh(x) ** 2)(0.5)
    assert w.state["grads"]["x"] == pytest.approx(float(want), rel=1e-10)
    with pytest.raises(ValueError, match="unknown op 'cube'"):
        G.forward_values([G.Node("x", "input"), G.Node("y", "cube", ("x",))], {"x": 1.0})
    with pytest.raises(ValueError, match="topological order"):
        G.forward_values([G.Node("y", "square", ("x",)), G.Node("x", "input")], {"x": 1.0})
    with pytest.raises(ValueError, match="no value for input node 'x'"):
        G.forward_values(nodes, {})
    with pytest.raises(ValueError, match="step must be in"):
        G.graph_state(nodes, {"x": 1.0}, 99)
    with pytest.raises(ValueError, match="valid names are"):
        G.graph_stepper("mlp")
