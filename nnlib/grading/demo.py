"""A demo class: a folder of plausible submissions to try the autograder on in a minute.

``make_class(solution, out, n=30)`` writes ``out/<student>.ipynb`` for ``n`` students: a few
perfect, most with one to three of the usual mistakes (each one a small edit of the solution's
answer cells: a transposed gradient, a bias gradient not summed, a missing 1/N, ...), some
untouched (the student version), some broken (a syntax error, a name error) and a few hostile
(patching ``numpy.allclose``, ``os._exit``, an endless loop, an empty file). Only the
``backprop`` assignment has mutations so far.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path

import nbformat

from nnlib.grading import notebooks

# (label, grade_id of the answer cell, text in the solution, replacement)
MISTAKES = {
    "backprop": [
        ("transposed dW", "dense_backward", "x.T @ dy", "dy.T @ x"),
        ("bias gradient not summed", "dense_backward", "dy.sum(axis=0)", "dy"),
        ("forgot the bias", "dense_forward", "y = x @ W + b", "y = x @ W"),
        ("relu >= 0", "relu", "da * (z > 0)", "da * (z >= 0)"),
        ("sigmoid derivative at the post-activation", "sigmoid",
         "return da * a * (1 - a)", "return da * jax.nn.sigmoid(a) * (1 - jax.nn.sigmoid(a))"),
        ("mse without 1/N", "mse", "2.0 * (y_pred - y_true) / y_pred.size",
         "2.0 * (y_pred - y_true)"),
        ("mse sign", "mse", "2.0 * (y_pred - y_true) / y_pred.size",
         "2.0 * (y_true - y_pred) / y_pred.size"),
        ("softmax without the max", "softmax_cross_entropy",
         "    z = logits - jnp.max(logits, axis=-1, keepdims=True)\n    p =",
         "    z = logits\n    p ="),
        ("cross-entropy without 1/N", "softmax_cross_entropy",
         "return (p - y_onehot) / logits.shape[0]", "return p - y_onehot"),
        ("softmax backward with the diagonal only", "softmax_layer",
         "return p * (dp - jnp.sum(p * dp, axis=-1, keepdims=True))", "return dp * p * (1 - p)"),
        ("no ReLU in the backward", "mlp", "dz1 = relu_backward(dh, cr)", "dz1 = dh"),
        ("forward difference", "numerical_gradient",
         "x[i] = old - eps\n        f_minus = float(f(x))\n        x[i] = old\n"
         "        grad[i] = (f_plus - f_minus) / (2 * eps)",
         "x[i] = old\n        f_minus = float(f(x))\n        grad[i] = (f_plus - f_minus) / eps"),
        ("gradient check divided by eps", "numerical_gradient", "/ (2 * eps)", "/ eps"),
        ("too few epochs", "train", "for _ in range(epochs):", "for _ in range(3):"),
    ],
}
BROKEN = [
    ("syntax error", "relu", "return jnp.maximum(z, 0.0), (z,)", "return jnp.maximum(z, 0.0), (z,"),
    ("name error", "mlp", "dh, dW2, db2 = dense_backward(dscores, c2)",
     "dh, dW2, db2 = dense_backward(dscore, c2)"),
]
HOSTILE = [
    ("patches numpy.allclose", "dense_forward", "def dense_forward(",
     "np.allclose = lambda *a, **k: True\n\ndef dense_forward("),
    ("calls os._exit", "train", "def train_mlp(", "import os\nos._exit(0)\n\ndef train_mlp("),
    ("endless loop", "sigmoid", "def sigmoid_forward(",
     "while True:\n    pass\n\ndef sigmoid_forward("),
]
NAMES = ("ada", "ben", "chloe", "dev", "emil", "fatima", "gus", "hana", "ivan", "jun", "kofi",
         "lea", "mo", "nia", "omar", "pia", "quinn", "ravi", "sara", "tom", "uma", "vic", "wen",
         "xia", "yusuf", "zoe")


def _edit(nb, gid: str, old: str, new: str) -> bool:
    """Replaces ``old`` by ``new`` in answer cell ``gid``; False if ``old`` is not there."""
    for cell in nb.cells:
        if notebooks.meta(cell).get("grade_id") == gid and old in cell.source:
            cell.source = cell.source.replace(old, new, 1)
            return True
    return False


def make_class(solution: Path, out: Path, *, n: int = 30, seed: int = 0) -> list[Path]:
    """Writes ``n`` submissions of the assignment whose solution notebook is ``solution``.

    Returns:
      The paths written (``out/<student>.ipynb``); ``out/ROSTER.md`` says what each one is.
    """
    rng = random.Random(seed)
    sol = nbformat.read(str(solution), as_version=4)
    stub = notebooks.release(sol)
    mistakes = MISTAKES.get(solution.stem, [])
    out.mkdir(parents=True, exist_ok=True)
    paths, roster = [], ["| student | what it is |", "|---|---|"]
    for k in range(n):
        name = f"{NAMES[k % len(NAMES)]}{k // len(NAMES) or ''}_{rng.randrange(1000, 9999)}"
        nb, what, raw = copy.deepcopy(sol), "correct", None
        kind = k % 10
        if kind in (1, 2, 3, 4, 5, 6) and mistakes:
            picks = rng.sample(mistakes, rng.randint(1, min(3, len(mistakes))))
            what = ", ".join(label for label, *edit in picks if _edit(nb, *edit))
        elif kind == 7:
            nb, what = copy.deepcopy(stub), "did not start (the student version)"
        elif kind == 8:
            label, *edit = (BROKEN + HOSTILE)[(k // 10) % (len(BROKEN) + len(HOSTILE))]
            _edit(nb, *edit)
            what = label
        elif kind == 9 and k // 10 == 1:
            raw, what = b"", "an empty file"
        path = out / f"{name}.ipynb"
        path.write_bytes(raw if raw is not None else nbformat.writes(nb).encode())
        paths.append(path)
        roster.append(f"| {name} | {what} |")
    (out / "ROSTER.md").write_text("\n".join(roster) + "\n")
    return paths
