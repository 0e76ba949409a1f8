"""Tests for nnlib.validation's bounded checks: integer(minimum=...) and non_negative."""

import jax
import numpy as np
import pytest

from nnlib import validation


def test_integer_with_a_minimum():
    assert validation.integer(np.int64(3), "n", minimum=3) == 3
    assert validation.integer(-4, "n") == -4  # no minimum: any int
    with pytest.raises(ValueError, match=r"n must be an integer >= 2, got 1"):
        validation.integer(1, "n", minimum=2)
    for bad in (2.0, True, "2", None):
        with pytest.raises(TypeError, match="n must be an int"):
            validation.integer(bad, "n", minimum=0)


def test_non_negative_ranges():
    assert validation.non_negative(0, "eps") == 0.0
    assert validation.non_negative(np.float32(0.5), "decay", high=1.0) == 0.5
    with pytest.raises(ValueError, match="eps must be non-negative, got -1"):
        validation.non_negative(-1, "eps")
    with pytest.raises(ValueError, match="max_norm must be positive, got 0"):
        validation.non_negative(0, "max_norm", strict=True)
    with pytest.raises(ValueError, match=r"decay must be in \[0.0, 1.0\), got 1.0"):
        validation.non_negative(1.0, "decay", high=1.0)
    with pytest.raises(ValueError, match="noise must be finite"):
        validation.non_negative(float("nan"), "noise")
    for bad in ("0.1", True, None, [0.1]):
        with pytest.raises(TypeError, match="noise must be a real number"):
            validation.non_negative(bad, "noise")


def test_non_negative_lets_traced_values_through():
    assert jax.jit(lambda v: validation.non_negative(v, "eps") is None)(-1.0)
