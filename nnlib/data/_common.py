"""Small validators shared by the ``nnlib.data`` modules (not part of the public API)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from nnlib import validation


def count(value: Any, name: str, *, minimum: int = 1) -> int:
    """Returns ``value`` as an ``int`` if it is an integer ``>= minimum``, else raises.

    Raises:
      TypeError: if ``value`` is not an integer (``True``/``False`` and floats are refused).
      ValueError: if ``value < minimum``.
    """
    value = validation.integer(value, name)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def non_negative(value: Any, name: str) -> float:
    """Returns ``value`` as a ``float`` if it is a finite real number ``>= 0``, else raises."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def host(x: Any, dtype: Any) -> np.ndarray:
    """Moves a JAX array to the host as a NumPy array of ``dtype``."""
    return np.asarray(x).astype(dtype, copy=False)
