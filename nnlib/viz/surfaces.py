"""Loss surfaces and the optimisation paths drawn on them (pure functions, no widgets).

A :class:`Surface` is a small function ``f: R^d -> R`` (``d`` is 1 or 2) with the facts a
lesson needs: a start point, the plotting window, the minimum and, for a quadratic, the
smoothness constant ``L`` (the largest eigenvalue of the Hessian).

Gradient descent ``x_{t+1} = x_t - lr * grad f(x_t)`` on a quadratic
``f(x) = 1/2 x^T A x`` multiplies each eigen-direction by ``1 - lr * lambda_i`` per step, so it

- converges monotonically when ``lr * L < 1``,
- oscillates (the sign flips each step) but converges when ``1 < lr * L < 2``,
- diverges when ``lr * L > 2``: ``2 / L`` is the stability limit.

References:
  Cauchy, A. (1847). Methode generale pour la resolution des systemes d'equations simultanees.
  Rosenbrock, H. H. (1960). An automatic method for finding the greatest or least value of a
  function. The Computer Journal 3(3).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nnlib import validation

__all__ = ["Surface", "SURFACES", "get_surface", "gd_trajectory", "lr_sweep",
           "optimizer_trajectory", "race", "surface_grid", "quadratic_regime"]


@dataclasses.dataclass(frozen=True)
class Surface:
    """A loss surface ``fn: (dim,) -> scalar`` and how to show it.

    Attributes:
      name: short name (the key in :data:`SURFACES`).
      formula: the formula as matplotlib mathtext, for titles.
      fn: the function, written with ``jnp`` so that ``jax.grad`` applies.
      dim: 1 or 2.
      x0: the default start point, a tuple of ``dim`` floats.
      xlim, ylim: the plotting window (``ylim`` is the value axis for ``dim == 1``).
      minimum: a global minimiser, a tuple of ``dim`` floats.
      smoothness: ``L``, the largest Hessian eigenvalue, for quadratics (else None).
      lr: a learning rate that works for plain gradient descent.
    """

    name: str
    formula: str
    fn: Callable[[jax.Array], jax.Array]
    dim: int
    x0: tuple[float, ...]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    minimum: tuple[float, ...]
    smoothness: float | None = None
    lr: float = 0.1

    @property
    def stability_limit(self) -> float | None:
        """``2 / L`` for a quadratic (the largest learning rate that converges), else None."""
        return None if self.smoothness is None else 2.0 / self.smoothness


def _quad1(x):
    return 0.5 * 2.0 * x[0] ** 2


def _quad2(x):
    return 0.5 * (1.0 * x[0] ** 2 + 4.0 * x[1] ** 2)


def _ill(x):
    return 0.5 * (x[0] ** 2 + 25.0 * x[1] ** 2)


def _double_well(x):
    return (x[0] ** 2 - 1.0) ** 2 + x[1] ** 2 + 0.3 * x[0]


def _rosenbrock(x):
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


def _saddle(x):
    return 0.5 * x[0] ** 2 - 0.5 * x[1] ** 2 + 0.25 * x[1] ** 4


SURFACES: dict[str, Surface] = {
    s.name: s
    for s in [
        Surface("quadratic_1d", r"$f(x) = x^2$", _quad1, 1, (2.0,), (-3.0, 3.0), (-0.5, 9.0),
                (0.0,), smoothness=2.0, lr=0.1),
        Surface("quadratic_2d", r"$f = \frac{1}{2}(x^2 + 4y^2)$", _quad2, 2, (-2.5, 1.5),
                (-3.0, 3.0), (-2.0, 2.0), (0.0, 0.0), smoothness=4.0, lr=0.1),
        Surface("ill_conditioned", r"$f = \frac{1}{2}(x^2 + 25y^2)$", _ill, 2, (-4.0, 1.0),
                (-5.0, 5.0), (-1.5, 1.5), (0.0, 0.0), smoothness=25.0, lr=0.03),
        Surface("double_well", r"$f = (x^2-1)^2 + y^2 + 0.3x$", _double_well, 2, (1.6, 1.5),
                (-2.0, 2.0), (-2.0, 2.0), (-1.035579, 0.0), lr=0.05),
        Surface("rosenbrock", r"$f = (1-x)^2 + 100(y-x^2)^2$", _rosenbrock, 2, (-1.5, 2.0),
                (-2.0, 2.0), (-1.0, 3.0), (1.0, 1.0), lr=1e-3),
        Surface("saddle", r"$f = \frac{1}{2}x^2 - \frac{1}{2}y^2 + \frac{1}{4}y^4$", _saddle, 2,
                (2.0, 1e-3), (-2.5, 2.5), (-2.0, 2.0), (0.0, 1.0), lr=0.05),
    ]
}


def get_surface(surface: str | Surface) -> Surface:
    """Returns ``surface`` itself, or the named surface from :data:`SURFACES`."""
    if isinstance(surface, Surface):
        return surface
    return validation.lookup("surface", surface, SURFACES)


def _start(surface: Surface, x0: Any) -> jax.Array:
    x = jnp.asarray(surface.x0 if x0 is None else x0, dtype=float)
    if x.shape != (surface.dim,):
        raise ValueError(f"x0 must have shape ({surface.dim},) for surface {surface.name!r}, "
                         f"got {tuple(x.shape)}")
    return x


@functools.partial(jax.jit, static_argnums=(0, 3))
def _gd(fn, lr, x0, steps):
    grad = jax.grad(fn)

    def body(x, _):
        x = x - lr * grad(x)
        return x, x

    _, xs = jax.lax.scan(body, x0, None, length=steps)
    return jnp.concatenate([x0[None], xs])


def gd_trajectory(surface: str | Surface, lr: float, steps: int, x0: Any = None) -> np.ndarray:
    """Plain gradient descent ``x_{t+1} = x_t - lr * grad f(x_t)`` from ``x0``.

    Args:
      surface: a :class:`Surface` or a name in :data:`SURFACES`.
      lr: the learning rate (> 0).
      steps: the number of steps (>= 1).
      x0: the start point, shape ``(dim,)``; the surface's default if None.

    Returns:
      The iterates ``x_0 .. x_steps``, a NumPy array of shape ``(steps + 1, dim)``. A diverging
      run is returned as computed (its values grow to ``inf``/``nan``).

    Example:
      >>> gd_trajectory("quadratic_1d", 0.25, 1)[:, 0]      # x <- x - 0.25 * 2x
      array([2., 1.])
    """
    s = get_surface(surface)
    validation.positive(lr, "lr")
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return np.asarray(_gd(s.fn, lr, _start(s, x0), int(steps)))


@functools.lru_cache(maxsize=32)
def lr_sweep(surface: str | Surface, steps: int, lrs: tuple[float, ...]) -> np.ndarray:
    """``f(x_steps)`` of gradient descent for each learning rate in ``lrs``: shape ``(len(lrs),)``.

    One vmapped, jitted run; cached, since it depends only on its arguments.
    """
    s = get_surface(surface)
    x0 = _start(s, None)
    finals = jax.vmap(lambda lr: s.fn(_gd(s.fn, lr, x0, int(steps))[-1]))(jnp.asarray(lrs))
    return np.asarray(finals)


def quadratic_regime(lr: float, smoothness: float) -> str:
    """Names what gradient descent does on a quadratic with largest curvature ``L``.

    Returns one of ``"monotone"`` (``lr*L < 1``), ``"oscillating"`` (``1 < lr*L < 2``),
    ``"bouncing"`` (``lr*L == 2``, up to 1e-9: the iterates flip sign forever) and
    ``"diverging"`` (``lr*L > 2``).
    """
    r = lr * smoothness
    if r < 1 or abs(r - 1) < 1e-9:
        return "monotone"
    if abs(r - 2) < 1e-9:
        return "bouncing"
    return "oscillating" if r < 2 else "diverging"


@functools.cache
def _grid_fn(fn):
    return jax.jit(jax.vmap(jax.vmap(lambda x, y: fn(jnp.stack([x, y])))))


def surface_grid(surface: str | Surface, n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X, Y, Z)`` grids of shape ``(n, n)`` over the surface's window, for ``contour``."""
    s = get_surface(surface)
    if s.dim != 2:
        raise ValueError(f"surface_grid needs a 2-D surface, got {s.name!r} with dim={s.dim}")
    X, Y = np.meshgrid(np.linspace(*s.xlim, n), np.linspace(*s.ylim, n))
    return X, Y, np.asarray(_grid_fn(s.fn)(jnp.asarray(X), jnp.asarray(Y)))


def _run_eager(optimizer, grad, x0, steps):
    from nnlib import optim

    x, state, xs = x0, optimizer.init(x0), [x0]
    for _ in range(steps):
        updates, state = optimizer.update(grad(x), state, x)
        x = optim.apply_updates(x, updates)
        xs.append(x)
    return jnp.stack(xs)


def optimizer_trajectory(optimizer: Any, surface: str | Surface, steps: int,
                         x0: Any = None) -> np.ndarray:
    """Runs any optax-style optimizer (``init(params)``, ``update(grads, state, params)``).

    The parameters are the point ``x`` itself (an array of shape ``(dim,)``); each step is
    ``updates, state = optimizer.update(grad f(x), state, x)`` then ``x = x + updates``
    (``nnlib.optim.apply_updates``). The run is one jitted ``lax.scan``; an optimizer that
    cannot be traced (say, a student's that converts to NumPy) runs step by step instead.

    Returns:
      The iterates, a NumPy array of shape ``(steps + 1, dim)``.
    """
    from nnlib import optim

    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError("optimizer must have init(params) and update(grads, state, params), "
                        f"got {type(optimizer).__name__}")
    s = get_surface(surface)
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    x0 = _start(s, x0)
    grad = jax.grad(s.fn)

    def run(x0):
        def body(carry, _):
            x, state = carry
            updates, state = optimizer.update(grad(x), state, x)
            x = optim.apply_updates(x, updates)
            return (x, state), x

        _, xs = jax.lax.scan(body, (x0, optimizer.init(x0)), None, length=steps)
        return jnp.concatenate([x0[None], xs])

    try:
        return np.asarray(jax.jit(run)(x0))
    except (jax.errors.JAXTypeError, jax.errors.JAXIndexError):
        return np.asarray(_run_eager(optimizer, jax.jit(grad), x0, steps))


def race(optimizers: Mapping[str, Any], surface: str | Surface, steps: int,
         x0: Any = None) -> dict[str, np.ndarray]:
    """Runs every optimizer from the same start: ``name -> (steps + 1, dim)`` trajectory."""
    if not optimizers:
        raise ValueError("optimizers must name at least one optimizer, got an empty mapping")
    return {name: optimizer_trajectory(opt, surface, steps, x0) for name, opt in optimizers.items()}
