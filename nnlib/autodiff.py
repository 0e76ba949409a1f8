"""Bridges hand-written backward passes into JAX's autodiff.

``jax.grad`` normally differentiates a function by tracing its forward computation. With
:func:`custom_vjp` (JAX's ``jax.custom_vjp``) we tell JAX instead: "when you need the
vector-Jacobian product of this function, call *this* backward". The forward's ``cache``
becomes the saved residuals, and ``backward(params, cache, dy)`` becomes the VJP. A model
built from such functions can then be trained by ``jax.grad``/``optax``-style code while
every gradient actually comes from the hand-written backward passes (ours, or a student's).

The VJP of ``y = f(params, x)`` at a cotangent ``dy`` (same shape as ``y``) is
``(dy^T dy/dparams, dy^T dy/dx)`` -- exactly what a layer's ``backward`` computes
(reverse-mode differentiation; Rumelhart, Hinton & Williams 1986; Griewank & Walther 2008).

Example:
  >>> from nnlib import layers, autodiff
  >>> model = layers.Sequential([layers.Dense(8, activation="tanh"), layers.Dense(1)])
  >>> params, _ = model.init(jax.random.key(0), (3,))
  >>> f = autodiff.manual(model, train=True)
  >>> loss = lambda p, x: jnp.mean(f(p, x)[0] ** 2)
  >>> grads = jax.grad(loss)(params, jnp.ones((4, 3)))    # via model.backward

References:
  Rumelhart, D. E., Hinton, G. E. and Williams, R. J. (1986). Learning representations by
  back-propagating errors. Nature 323, 533-536.
  Griewank, A. and Walther, A. (2008). Evaluating Derivatives, 2nd ed. SIAM.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

from nnlib import compile_cache

compile_cache.configure()  # imports no nnlib.validation: sets the JAX cache itself

__all__ = ["custom_vjp", "manual"]


def custom_vjp(forward: Callable, backward: Callable) -> Callable:
    """Wraps ``forward``/``backward`` as a function whose JAX VJP is ``backward``.

    Args:
      forward: ``forward(params, x) -> (y, cache)``.
      backward: ``backward(params, cache, dy) -> (dparams, dx)``, where ``dparams`` has the
        structure of ``params`` and ``dx`` the shape of ``x``.

    Returns:
      ``f(params, x) -> y``, differentiable by ``jax.grad``/``jax.vjp`` (w.r.t. both
      arguments) through ``backward``; ``cache`` is kept as the residuals.

    Example:
      >>> f = custom_vjp(layer.forward, layer.backward)
      >>> dW = jax.grad(lambda p: f(p, x).sum())(params)["W"]
    """
    if not callable(forward) or not callable(backward):
        raise TypeError("custom_vjp: forward and backward must be callables")

    @jax.custom_vjp
    def f(params, x):
        return forward(params, x)[0]

    def f_fwd(params, x):
        y, cache = forward(params, x)
        return y, (params, cache)

    def f_bwd(residuals, dy):
        params, cache = residuals
        dparams, dx = backward(params, cache, dy)
        return dparams, dx

    f.defvjp(f_fwd, f_bwd)
    return f


def manual(layer: Any, *, train: bool = False) -> Callable:
    """A layer's forward as a function that ``jax.grad`` differentiates via ``layer.backward``.

    Args:
      layer: any object with the layer contract (``forward``/``backward``), e.g. a
        :class:`nnlib.layers.Sequential` or a student's own layer.
      train: passed to ``layer.forward`` (dropout on, batch statistics in BatchNorm).

    Returns:
      ``f(params, x, key=None, state=None) -> (y, new_state)`` where ``new_state`` is
      ``cache["state"]`` (``{}`` for stateless layers). Gradients flow to ``params`` and
      ``x`` only, through ``layer.backward``; ``key`` and ``state`` get none, and any
      dependence of the loss on ``new_state`` is ignored.

    Example:
      >>> f = autodiff.manual(model, train=True)
      >>> def loss(p): return jnp.mean((f(p, x, key=key, state=state)[0] - y) ** 2)
      >>> grads = jax.grad(loss)(params)                    # == jax.grad through apply
    """
    if not (hasattr(layer, "forward") and hasattr(layer, "backward")):
        raise TypeError(
            f"manual: layer must have forward and backward methods, got {type(layer).__name__}"
        )

    def run(params, x, key, state):
        y, cache = layer.forward(params, x, train=train, key=key, state=state)
        return (y, cache.get("state", {})), cache

    @jax.custom_vjp
    def f_core(params, x, key, state):
        return run(params, x, key, state)[0]

    def f_fwd(params, x, key, state):
        out, cache = run(params, x, key, state)
        return out, (params, cache)

    def f_bwd(residuals, cotangents):
        params, cache = residuals
        dy, _ = cotangents  # the state output carries no gradient
        dparams, dx = layer.backward(params, cache, dy)
        return dparams, dx, None, None

    f_core.defvjp(f_fwd, f_bwd)

    def f(params, x, key=None, state=None):
        return f_core(params, x, key, state)

    f.__doc__ = f"{type(layer).__name__} forward (train={train}) with its hand-written backward."
    return f
