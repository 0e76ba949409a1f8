"""Checkers for the loss-functions lesson's exercises: a numerically stable softmax.

* ``softmax(z) -> p`` over the last axis, stable for large logits (subtract the row's max).
"""

from __future__ import annotations

import numpy as np

from nnlib.grading.core import Question


# --------------------------------------------------------------------------- softmax
def _softmax_ref(i):
    z = i["z"] - i["z"].max(axis=-1, keepdims=True)
    e = np.exp(z)
    return {"p": e / e.sum(axis=-1, keepdims=True)}


def _overflow_hint(i, outputs):
    p = np.asarray(outputs.get("p", 0.0))
    if p.dtype != object and np.max(np.abs(i["z"])) > 100 and not np.all(np.isfinite(p)):
        return ("softmax overflowed: exp of a large logit is inf. Subtract the row's max first, "
                "softmax(z) = softmax(z - max(z)), which changes nothing mathematically")
    return None


SOFTMAX = Question(
    name="softmax", functions=("softmax",),
    make_cases=lambda rng: [("logits of shape (4, 3)", {"z": rng.normal(size=(4, 3))}),
                            ("a batch of one", {"z": rng.normal(size=(1, 5))}),
                            ("large logits (~1000)", {"z": 1000 + 300 * rng.normal(size=(3, 4))})],
    run=lambda fns, i: {"p": fns["softmax"](i["z"])}, reference=_softmax_ref,
    hints=(_overflow_hint,),
)


QUESTIONS = (SOFTMAX,)
