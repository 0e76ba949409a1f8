"""nnlib: a small JAX library for learning how neural networks are trained.

Submodules are imported on first use, so ``import nnlib`` stays fast:

>>> import nnlib
>>> nnlib.layers.Dense(3)            # imports nnlib.layers now
Dense(units=3)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "autodiff",
    "data",
    "gradcheck",
    "grading",
    "init",
    "layers",
    "losses",
    "models",
    "optim",
    "progress",
    "schedules",
    "train",
    "viz",
)

__all__ = list(_SUBMODULES) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"nnlib.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'nnlib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
