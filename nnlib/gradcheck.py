r"""Gradient checking by central differences, in float64.

For a scalar function :math:`f(\theta)` and each entry :math:`\theta_j` of every array in a
parameter pytree,

.. math::
    \frac{\partial f}{\partial \theta_j} \approx
    \frac{f(\theta + \varepsilon e_j) - f(\theta - \varepsilon e_j)}{2\varepsilon},

whose truncation error is :math:`O(\varepsilon^2)` (a one-sided difference is only
:math:`O(\varepsilon)`). With :math:`\varepsilon = 10^{-6}` in float64 the rounding error is
about :math:`10^{-16}|f| / \varepsilon \approx 10^{-10}|f|`, so a correct gradient agrees to
~1e-9 or better; in float32 the same check would be swamped by rounding, hence float64.

The analytic gradient :math:`a` (``jax.grad`` by default, or any function, e.g. a student's
hand-written backward) is compared with the numeric one :math:`n` entry by entry with the
relative error

.. math:: e_j = \frac{|a_j - n_j|}{\max(|a_j| + |n_j|,\ \mathrm{tiny})},

where ``tiny`` (default 1e-3) makes the test absolute (:math:`|a_j - n_j| \le`
``rtol * tiny``) for entries whose true gradient is about zero, where the relative error of
two tiny noisy numbers means nothing. The check passes if :math:`\max_j e_j \le` ``rtol``.

Example::

    def loss(params, x):
        return jnp.sum(jnp.tanh(x @ params["W"] + params["b"]) ** 2)

    report = check_grads(loss, params, x)       # jax.grad vs central differences
    print(report)                               # max relative error, worst entry, per parameter
    assert_grads_close(loss, params, x, analytic=my_hand_written_grad)

References:
  CS231n notes, "Gradient checks": https://cs231n.github.io/neural-networks-3/#gradcheck
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nnlib import compile_cache

compile_cache.configure()  # imports no nnlib.validation: sets the JAX cache itself

__all__ = ["GradCheckReport", "assert_grads_close", "check_grads", "numerical_grad"]


def _x64() -> contextlib.AbstractContextManager:
    """A context with float64 enabled (a no-op if ``jax_enable_x64`` is already on)."""
    if jax.config.jax_enable_x64:
        return contextlib.nullcontext()
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    raise RuntimeError(  # pragma: no cover - only on JAX versions without jax.enable_x64
        "gradient checks need float64: run jax.config.update('jax_enable_x64', True) "
        "at the start of your program (or set JAX_ENABLE_X64=1)"
    )


def _leaves_with_paths(tree: Any) -> tuple[list[str], list[Any], Any]:
    """Returns ``(["params['W']", ...], leaves, treedef)``."""
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
    paths = ["params" + jax.tree_util.keystr(path) for path, _ in flat]
    return paths, [leaf for _, leaf in flat], treedef


def _to64(tree: Any) -> Any:
    """Floating leaves -> float64 JAX arrays; other leaves unchanged."""

    def cast(x: Any) -> Any:
        dtype = getattr(x, "dtype", None)
        if dtype is None and isinstance(x, float):
            return jnp.asarray(x, jnp.float64)
        if dtype is not None and jnp.issubdtype(dtype, jnp.floating):
            return jnp.asarray(x, jnp.float64)
        return x

    return jax.tree_util.tree_map(cast, tree)


def _scalar(value: Any) -> float:
    if np.ndim(value) != 0:
        raise ValueError(f"f must return a scalar, got shape {tuple(np.shape(value))}")
    return float(value)


def _numerical_grad64(f: Callable, params: Any, args: tuple, eps: float) -> Any:
    paths, leaves, treedef = _leaves_with_paths(params)
    base = []
    for path, leaf in zip(paths, leaves):
        leaf = np.asarray(leaf)
        if not np.issubdtype(leaf.dtype, np.floating):
            raise TypeError(
                f"{path} must be a floating-point array to be checked, got dtype {leaf.dtype}"
            )
        base.append(leaf.astype(np.float64))

    def f_at(values: list[np.ndarray]) -> float:
        return _scalar(
            f(jax.tree_util.tree_unflatten(treedef, [jnp.asarray(v) for v in values]), *args)
        )

    grads = []
    for i, leaf in enumerate(base):
        g = np.zeros_like(leaf)
        for index in np.ndindex(leaf.shape):
            values = list(base)
            plus, minus = leaf.copy(), leaf.copy()
            plus[index] += eps
            minus[index] -= eps
            values[i] = plus
            f_plus = f_at(values)
            values[i] = minus
            g[index] = (f_plus - f_at(values)) / (2.0 * eps)
        grads.append(g)
    return jax.tree_util.tree_unflatten(treedef, grads)


def numerical_grad(f: Callable[..., Any], params: Any, *args: Any, eps: float = 1e-6) -> Any:
    r"""Central-difference gradient of ``f(params, *args)`` with respect to ``params``, in float64.

    Every entry of every leaf is perturbed by :math:`\pm\varepsilon` in turn, so this costs
    :math:`2 \times` (number of parameters) calls of ``f``: use it on small models.

    Args:
      f: ``f(params, *args) -> scalar``.
      params: a pytree (dict, list, tuple, NamedTuple) of floating-point arrays.
      *args: further arguments (data), passed unchanged except that floating-point arrays
        are cast to float64, so the whole computation runs in float64.
      eps: the step :math:`\varepsilon`.

    Returns:
      A pytree with ``params``' structure of float64 NumPy arrays.

    Raises:
      TypeError: if a leaf of ``params`` is not floating point.
      ValueError: if ``f`` does not return a scalar.

    float64 is switched on for the duration of the call if ``jax_enable_x64`` is off.
    """
    with _x64():
        return _numerical_grad64(f, _to64(params), _to64(args), eps)


class GradCheckReport(NamedTuple):
    """The result of :func:`check_grads`.

    Attributes:
      max_rel_error: the largest relative error over all entries (inf if any is NaN).
      worst_path: the parameter holding it, e.g. ``"params['W']"`` or ``"params[1]['b']"``.
      worst_index: its index in that array, e.g. ``(2, 0)`` (``()`` for a scalar).
      analytic: the analytic gradient at that entry.
      numeric: the numeric gradient at that entry.
      passed: ``max_rel_error <= rtol``.
      rtol: the tolerance used.
      per_parameter: ``{path: max relative error}`` for every parameter array.
    """

    max_rel_error: float
    worst_path: str
    worst_index: tuple[int, ...]
    analytic: float
    numeric: float
    passed: bool
    rtol: float
    per_parameter: dict[str, float]

    def __str__(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        head = f"gradient check {verdict}: max relative error {self.max_rel_error:.3e}"
        where = f"{self.worst_path}[{', '.join(map(str, self.worst_index))}]"
        lines = [
            f"{head} (rtol {self.rtol:.1e})",
            f"  worst entry: {where}: analytic {self.analytic:.10g}, numeric {self.numeric:.10g}",
        ]
        lines += [
            f"  {path}: max relative error {err:.3e}" for path, err in self.per_parameter.items()
        ]
        return "\n".join(lines)


def check_grads(
    f: Callable[..., Any],
    params: Any,
    *args: Any,
    analytic: Callable[..., Any] | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-6,
    tiny: float = 1e-3,
) -> GradCheckReport:
    """Compares an analytic gradient of ``f`` with central differences, in float64.

    Args:
      f: ``f(params, *args) -> scalar``.
      params: a pytree of floating-point arrays.
      *args: the data; floating-point arrays are cast to float64.
      analytic: ``analytic(params, *args) -> gradient pytree`` with ``params``' structure
        and shapes, e.g. a hand-written backward pass. Defaults to ``jax.grad(f)``.
      eps: the central-difference step.
      rtol: the largest relative error that passes.
      tiny: the floor of the relative error's denominator (see the module docstring).

    Returns:
      A :class:`GradCheckReport`; ``print`` it for a readable summary.

    Raises:
      ValueError: if ``analytic`` returns a different structure or shape than ``params``.
    """
    analytic_fn = jax.grad(f) if analytic is None else analytic
    with _x64():
        params64, args64 = _to64(params), _to64(args)
        numeric = _numerical_grad64(f, params64, args64, eps)
        exact = analytic_fn(params64, *args64)
        paths, num_leaves, treedef = _leaves_with_paths(numeric)
        got_def = jax.tree_util.tree_structure(exact)
        if got_def != treedef:
            raise ValueError(
                "analytic gradient must have the structure of params, "
                f"expected {treedef}, got {got_def}"
            )
        ana_leaves = [np.asarray(a, dtype=np.float64) for a in jax.tree_util.tree_leaves(exact)]

    worst = (-1.0, paths[0] if paths else "params", (), 0.0, 0.0)
    per_parameter = {}
    for path, a, n in zip(paths, ana_leaves, num_leaves):
        if a.shape != n.shape:
            raise ValueError(
                f"analytic gradient of {path} must have shape {n.shape}, got {a.shape}"
            )
        err = np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), tiny)
        err = np.where(np.isnan(err), np.inf, err)
        per_parameter[path] = float(err.max()) if err.size else 0.0
        if err.size and err.max() > worst[0]:
            idx = np.unravel_index(int(np.argmax(err)), err.shape)
            idx = tuple(int(i) for i in idx)
            worst = (float(err[idx]), path, idx, float(a[idx]), float(n[idx]))
    max_err = max(worst[0], 0.0)
    return GradCheckReport(
        max_err, worst[1], worst[2], worst[3], worst[4], max_err <= rtol, rtol, per_parameter
    )


def assert_grads_close(
    f: Callable[..., Any], params: Any, *args: Any, **options: Any
) -> GradCheckReport:
    """Like :func:`check_grads`, but raises ``AssertionError`` with the report if it fails.

    Takes the same arguments, with the same defaults (``analytic``, ``eps``, ``rtol`` and
    ``tiny`` are keyword-only options passed on to :func:`check_grads`).

    Returns:
      The report when the check passes.
    """
    report = check_grads(f, params, *args, **options)
    if not report.passed:
        raise AssertionError(str(report))
    return report


# help() and notebook tooltips show check_grads' arguments and defaults, which are the ones used.
assert_grads_close.__signature__ = inspect.signature(check_grads)
