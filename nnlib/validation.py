"""Input validation shared by every nnlib module (``nnlib.validation``).

Each helper raises a ``TypeError`` (wrong kind of object or dtype) or a ``ValueError``
(wrong shape, value or name) whose message names the argument and what was expected, so
that a student sees *what* is wrong rather than a stack trace from deep inside JAX.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nnlib import compile_cache

# Every JAX-using nnlib module imports this one, so JAX's persistent compilation cache is set
# here, once (nnlib.compile_cache says where, why, and how to turn it off).
compile_cache.configure()


def float_array(x: Any, name: str, *, ndim: int | Sequence[int] | None = None) -> jax.Array:
    """Returns ``x`` as a floating-point JAX array, or raises a clear error.

    Args:
      x: array-like.
      name: the argument's name, used in the error message.
      ndim: the allowed number of dimensions (an int or a sequence of ints), or None.

    Raises:
      TypeError: if ``x`` is not array-like or has an integer/boolean dtype.
      ValueError: if ``x`` has the wrong number of dimensions.
    """
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        try:
            x = np.asarray(x)
        except Exception as e:  # pragma: no cover - exotic objects
            raise TypeError(f"{name} must be an array, got {type(x).__name__}") from e
        dtype = x.dtype
        if dtype == object:
            raise TypeError(f"{name} must be a numeric array, got {type(x).__name__}")
        if np.issubdtype(dtype, np.floating):
            pass
        elif np.issubdtype(dtype, np.integer) and x.ndim == 0:
            x = x.astype(np.float32)  # a plain Python number like 3 is fine
            dtype = x.dtype
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"{name} must have a floating-point dtype, got {dtype}; "
            f"convert it first, e.g. {name}.astype('float32')"
        )
    x = jnp.asarray(x)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(x.shape)}")
    return x


def same_shape(a: Any, b: Any, name_a: str, name_b: str) -> None:
    """Raises ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if tuple(jnp.shape(a)) != tuple(jnp.shape(b)):
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got "
            f"{tuple(jnp.shape(a))} and {tuple(jnp.shape(b))}"
        )


def require_key(key: Any, who: str) -> jax.Array:
    """Returns ``key`` if it is a JAX PRNG key, else raises a clear error.

    Accepts new-style typed keys (``jax.random.key``) and legacy uint32[2] keys
    (``jax.random.PRNGKey``).
    """
    if key is None:
        raise ValueError(
            f"{who} needs a PRNG key: pass key=jax.random.key(0) (and split it, never reuse it)"
        )
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        return key
    if dtype is not None and dtype == jnp.uint32 and tuple(jnp.shape(key))[-1:] == (2,):
        return key
    raise TypeError(
        f"{who}: key must be a PRNG key from jax.random.key(seed), got {type(key).__name__}"
        + (f" with dtype {dtype}" if dtype is not None else "")
    )


def lookup(kind: str, name: Any, table: dict[str, Any]) -> Any:
    """Looks ``name`` up in ``table``, or raises a ValueError listing valid names.

    An exact key wins; otherwise the lower-cased name is tried (``"Adam"`` finds ``"adam"``).

    Example:
      >>> lookup("optimizer", "adamm", {"adam": 1, "sgd": 2})
      Traceback (most recent call last):
      ValueError: unknown optimizer 'adamm'; valid names are: adam, sgd
    """
    if not isinstance(name, str):
        raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
    if name in table:
        return table[name]
    key = name.lower()
    if key not in table:
        raise ValueError(f"unknown {kind} {name!r}; valid names are: {', '.join(sorted(table))}")
    return table[key]


def positive(value: Any, name: str, *, allow_zero: bool = False) -> None:
    """Raises ``ValueError`` unless ``value`` is a positive (or non-negative) number."""
    ok = value >= 0 if allow_zero else value > 0
    if not ok:
        what = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {what}, got {value}")


def integer(value: Any, name: str, *, minimum: int | None = None) -> int:
    """Returns ``value`` as a Python int (``>= minimum`` if given), or raises.

    Python ints and NumPy integer scalars are accepted; floats (even ``2.0``), strings and
    bools are not.

    Raises:
      TypeError: if ``value`` is not an int (bools are not ints here).
      ValueError: if ``value < minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def positive_int(value: Any, name: str, *, allow_zero: bool = False) -> int:
    """Returns ``value`` as a Python int ``>= 1`` (``>= 0`` with ``allow_zero``).

    For counts and sizes: units, filters, epochs, batch sizes, numbers of steps.

    Raises:
      TypeError: if ``value`` is not an int (a float, a string, a bool, None, ...).
      ValueError: if ``value < 1`` (``< 0`` with ``allow_zero``).

    Example:
      >>> positive_int(0, "batch_size")
      Traceback (most recent call last):
      ValueError: batch_size must be positive, got 0
    """
    value = integer(value, name)
    positive(value, name, allow_zero=allow_zero)
    return value


def scalar(value: Any, name: str) -> float | None:
    """Returns ``value`` as a finite Python float, or None if it is traced (cannot be checked).

    Accepts Python and NumPy real numbers and 0-d real arrays. Inside ``jax.jit`` or
    ``jax.vmap`` the value is a tracer with no concrete value; the check is skipped and None
    returned, so callers validate what they can and let traced values through.

    Raises:
      TypeError: if ``value`` is not a real number (a string, a list, a bool, None, ...).
      ValueError: if ``value`` is an array with dimensions, NaN or infinite.
    """
    if isinstance(value, jax.core.Tracer):
        return None
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got the bool {value}")
    if hasattr(value, "shape") and jnp.ndim(value) != 0:
        raise ValueError(
            f"{name} must be a scalar, got an array of shape {tuple(jnp.shape(value))}"
        )
    is_array = hasattr(value, "dtype") and jnp.issubdtype(value.dtype, jnp.number)
    if not (isinstance(value, numbers.Real) or is_array) or jnp.iscomplexobj(value):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out}")
    return out


def in_range(value: float, name: str, low: float, high: float, *, high_inclusive: bool = False) -> None:
    """Raises ``ValueError`` unless ``low <= value < high`` (or ``<= high``)."""
    ok = low <= value <= high if high_inclusive else low <= value < high
    if not ok:
        bracket = "]" if high_inclusive else ")"
        raise ValueError(f"{name} must be in [{low}, {high}{bracket}, got {value}")


def non_negative(
    value: Any, name: str, *, high: float | None = None, strict: bool = False
) -> float | None:
    """Returns ``value`` as a float if ``0 <= value`` (``0 < value`` if ``strict``), or raises.

    With ``high``, the range is ``[0, high)`` instead and ``strict`` is ignored. For
    hyperparameters such as a noise level, a decay rate in ``[0, 1)`` or a clipping norm. A
    traced value (inside ``jit``/``vmap``) cannot be checked: it is let through, None returned.

    Raises:
      TypeError: if ``value`` is not a real number (see :func:`scalar`).
      ValueError: if ``value`` is NaN, infinite or outside the range.
    """
    v = scalar(value, name)
    if v is None:
        return None
    if high is not None:
        in_range(v, name, 0.0, high)
    else:
        positive(v, name, allow_zero=not strict)
    return v


def names(items: Iterable[str]) -> str:
    """Formats names for an error message: ``a, b, c``."""
    return ", ".join(sorted(items))
