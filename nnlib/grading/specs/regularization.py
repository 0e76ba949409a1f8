"""Checkers for the regularization lesson's exercises: inverted dropout.

* ``dropout(x, *, rate, train, key) -> y``: inverted dropout, ``rate`` the fraction dropped
  (Srivastava et al. 2014): at training time each unit is zeroed with probability ``rate`` and
  the survivors scaled by ``1 / (1 - rate)``; at evaluation time ``y = x``.
"""

from __future__ import annotations

import numpy as np

from nnlib.grading.core import Question


# --------------------------------------------------------------------------- dropout
def _dropout_cases(rng):
    return [(f"x of shape (200, 50) with rate={r}",
             {"x": rng.uniform(0.5, 2.0, size=(200, 50)), "rate": np.asarray(r),
              "seed": np.asarray(int(rng.integers(0, 2**31 - 1)))}) for r in (0.5, 0.2)]


def _run_dropout(fns, i):
    import jax

    key, rate = jax.random.key(int(i["seed"])), float(i["rate"])
    return {"train": fns["dropout"](i["x"], rate=rate, train=True, key=key),
            "eval": fns["dropout"](i["x"], rate=rate, train=False, key=key)}


def _judge_dropout(i, outputs):
    x, rate = i["x"], float(i["rate"])
    ev = np.asarray(outputs.get("eval", np.zeros(0)), dtype=float)
    tr = np.asarray(outputs.get("train", np.zeros(0)), dtype=float)
    problems = []
    if ev.shape != x.shape or tr.shape != x.shape:
        return [f"outputs have shapes {tr.shape} (train) and {ev.shape} (eval), "
                f"expected {x.shape}"]
    if not np.allclose(ev, x, rtol=1e-6):
        problems.append("dropout is applied at evaluation time: with train=False return x "
                        "unchanged")
    dropped = float(np.mean(tr == 0))
    if abs(dropped - rate) > 0.05:
        problems.append(f"{dropped:.2f} of the units are dropped, expected about rate={rate}")
    kept = tr != 0
    if kept.any():
        if np.allclose(tr[kept], x[kept], rtol=1e-5):
            problems.append("dropout is not rescaled: multiply the kept units by "
                            "1 / (1 - rate) (inverted dropout) so the expected value is x")
        elif not np.allclose(tr[kept], x[kept] / (1 - rate), rtol=1e-5):
            problems.append("the kept units should equal x / (1 - rate)")
    return problems


DROPOUT = Question(name="dropout", functions=("dropout",), make_cases=_dropout_cases,
                   run=_run_dropout, judge=_judge_dropout)


QUESTIONS = (DROPOUT,)
