"""Shared helpers for the layer tests: hand-written backward vs jax.vjp, in float64."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np

from nnlib.layers import Layer

F64 = jnp.float64


def normal(seed, shape):
    """Standard normal float64 array with a fixed seed."""
    return jax.random.normal(jax.random.key(seed), shape, F64)


def assert_tree_close(got, want, rtol=1e-10, what="value"):
    """Every leaf: max |got - want| <= rtol * max(|want|_inf, 1e-300); same structure."""
    assert jax.tree.structure(got) == jax.tree.structure(want), (
        f"{what}: structure {jax.tree.structure(got)} != {jax.tree.structure(want)}"
    )
    paths = jax.tree_util.tree_flatten_with_path(want)[0]
    for (path, w), g in zip(paths, jax.tree.leaves(got)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, f"{what}{jax.tree_util.keystr(path)}: shape {g.shape} != {w.shape}"
        err = np.max(np.abs(g - w)) if w.size else 0.0
        scale = max(np.max(np.abs(w)) if w.size else 0.0, 1e-300)
        assert err <= rtol * scale, (
            f"{what}{jax.tree_util.keystr(path)}: relative error {err / scale:.3e} > {rtol}"
        )


def check_backward(layer, params, x, *, train=False, key=None, state=None, seed=123, rtol=1e-10):
    """Asserts layer.backward == jax.vjp of layer.forward (w.r.t. params and x)."""
    @jax.jit  # one compilation instead of hundreds of eager dispatches
    def both(params, x, key, state):
        def f(p, x_):
            return layer.forward(p, x_, train=train, key=key, state=state)[0]

        y, vjp = jax.vjp(f, params, x)
        dy = normal(seed, y.shape)
        _, cache = layer.forward(params, x, train=train, key=key, state=state)
        return vjp(dy), layer.backward(params, cache, dy)

    (want_dp, want_dx), (got_dp, got_dx) = both(params, x, key, state)
    assert_tree_close(got_dp, want_dp, rtol, "dparams")
    assert_tree_close(got_dx, want_dx, rtol, "dx")
    return got_dp, got_dx


def own_docstring(cls, name):
    """The docstring written for method ``name`` of layer class ``cls``, or "" if none was.

    ``Layer.__init_subclass__`` copies the docstring of the class above onto a method that
    has none, so ``cls.forward.__doc__`` is never empty. This looks at the function where
    ``cls`` gets it from (its own ``__dict__`` or a base's) and returns "" when that
    function's docstring is a copy, i.e. the one the same method has further up the MRO (or
    when the method is the contract itself, ``Layer``'s).
    """
    owner = next(k for k in cls.__mro__ if name in vars(k))
    doc = vars(owner)[name].__doc__
    above = [getattr(base, name).__doc__ for base in owner.__mro__[1:] if hasattr(base, name)]
    if owner is Layer or not doc or doc in above:
        return ""
    return inspect.cleandoc(doc)
