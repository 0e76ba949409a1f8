"""Tasks done "by hand": the source check (grader side) and the run-time record (kernel side)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nnlib.grading import core, honesty, specs

FORBID = (*core.BY_HAND, "nnlib.layers", "nnlib.losses")


def found(src: str, functions=("dense_backward",), forbidden=FORBID, *more: str) -> list[str]:
    return honesty.static_findings([textwrap.dedent(src), *more], functions, forbidden)


@pytest.mark.parametrize("src,name", [
    ("""
     import jax
     def dense_backward(dy, cache):
         return jax.vjp(lambda x: x, cache)[1](dy)
     """, "jax.vjp"),
    ("""
     import jax as j
     def dense_backward(dy, cache):
         return j.grad(lambda x: x.sum())(cache)
     """, "jax.grad"),
    ("""
     from jax import vjp as pullback
     def dense_backward(dy, cache):
         return pullback(lambda x: x, cache)[1](dy)
     """, "jax.vjp"),
    ("""
     import jax
     g = jax.grad(lambda x: (x ** 2).sum())
     def dense_backward(dy, cache):
         return g(cache)
     """, "jax.grad"),
    ("""
     import jax
     def dense_backward(dy, cache):
         return getattr(jax, "value_and_grad")(lambda x: x.sum())(cache)
     """, "jax.value_and_grad"),
    ("""
     import importlib
     def dense_backward(dy, cache):
         return importlib.import_module("nnlib.losses").mse_grad(dy, cache)
     """, "nnlib.losses.mse_grad"),
    ("""
     from nnlib.grading.specs import backprop as B
     def dense_backward(dy, cache):
         return B._dense_bwd_ref({"dy": dy})
     """, "nnlib.grading.specs.backprop._dense_bwd_ref"),
    ("""
     import nnlib
     def dense_backward(dy, cache):
         return nnlib.layers.Dense(3).backward({}, cache, dy)
     """, "nnlib.layers.Dense"),
])
def test_the_source_check_follows_imports_aliases_and_getattr(src, name):
    got = found(src)
    assert got and name in got[0] and got[0].startswith("dense_backward uses"), got


def test_a_helper_function_is_followed_and_named():
    got = found("""
        import jax
        def _helper(x):
            return jax.jacrev(lambda t: t)(x)
        def dense_backward(dy, cache):
            return _helper(cache)
        """)
    assert got == ["dense_backward uses jax.jacrev (through _helper)"]


def test_helpers_in_other_answer_cells_count_and_later_definitions_win():
    first = "import jax\ndef helper(x):\n    return jax.grad(sum)(x)\n"
    second = "def helper(x):\n    return x\ndef dense_backward(dy, cache):\n    return helper(dy)\n"
    assert found(first + second) == []
    assert found(second, ("dense_backward",), FORBID, first) != []  # defined later: it wins


def test_honest_code_is_not_flagged():
    assert found("""
        import jax, jax.numpy as jnp, numpy as np
        from jax import grad   # imported, never used by the graded function
        def dense_backward(dy, cache):
            x, W, b = cache
            return dy @ W.T, x.T @ dy, jnp.sum(dy, axis=0)
        # a self-check at the end of the cell, outside the graded function: allowed
        _pull = jax.vjp(lambda x: x, np.ones(2))[1]
        assert np.allclose(_pull(np.ones(2))[0], 1)
        """) == []
    assert found("def dense_backward(dy, cache):\n    return jax.grad(f)(dy)", forbidden=()) == []
    assert found("this is not python (", ) == []


def test_the_solution_and_the_student_version_are_never_flagged():
    import nbformat

    from nnlib.grading import notebooks

    repo = Path(__file__).resolve().parents[1]
    for path in (repo / "solutions/backprop/backprop.ipynb",
                 repo / "assignments/backprop/backprop.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        answers = [c.source for c in nb.cells
                   if c.cell_type == "code" and notebooks.meta(c).get("solution")]
        for q in specs.assignment("backprop").QUESTIONS:
            assert honesty.static_findings(answers, q.functions, q.forbidden) == [], q.name


RUNTIME = r"""
import jax, jax.numpy as jnp, numpy as np
import nnlib.losses
from nnlib.grading import honesty, specs
n = honesty.install(["jax.grad", "jax.vjp", "nnlib.losses", "nnlib.grading.specs"])
assert n > 10, n
made_before = jax.grad(lambda x: x ** 2)       # outside a probe: not recorded
with honesty.watch() as r:
    made_before(3.0)                            # but calling it inside one is
print("late call", sorted(r))
with honesty.watch() as r:
    nnlib.losses.mse_grad(jnp.ones(3), jnp.zeros(3))
    jnp.maximum(1.0, 2.0)                       # not forbidden
print("losses", sorted(r))
q = specs.question("mse")
with honesty.watch() as r:
    q.reference({"pred": np.ones((2, 2)), "target": np.zeros((2, 2))})
print("reference", sorted(r))
with honesty.watch() as r:
    q.run({"mse_loss": lambda p, t: 0.0, "mse_backward": lambda p, t: p},
          {"pred": 1.0, "target": 0.0})
print("probe's own runner", sorted(r))
with honesty.watch() as r:
    from jax import vjp                         # imported after install: the wrapped one
    vjp(jnp.sin, 1.0)[1](1.0)
print("vjp", sorted(r))
"""


def test_the_kernel_records_forbidden_calls_made_inside_a_probe():
    # in a fresh interpreter: install() rewires jax and nnlib for the rest of the process
    out = subprocess.run([sys.executable, "-c", RUNTIME], capture_output=True, text=True,
                         timeout=120, env={"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    lines = dict(line.split(" ", 1) if " " in line else (line, "")
                 for line in out.stdout.replace("late call", "late_call")
                 .replace("probe's own runner", "runner").splitlines())
    assert "'jax.grad'" in lines["late_call"]  # (jax.grad itself reaches jax.vjp)
    assert lines["losses"] == "['nnlib.losses.mse_grad']"
    assert lines["reference"] == "['nnlib.grading.specs.mse.reference']"
    assert lines["runner"] == "[]"
    assert lines["vjp"] == "['jax.vjp']"


def test_the_verdict_names_the_question_and_what_it_reached():
    text = honesty.describe("mse", ["mse_backward uses jax.grad"], ["nnlib.losses.mse_grad"])
    assert text.startswith("mse: scored 0") and "jax.grad" in text and "mse_grad" in text
    assert honesty.findings_from_run(["jax.grad", "jax.numpy.sum", 7], ["jax.grad"]) == \
        ["jax.grad"]
