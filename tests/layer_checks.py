"""Shared helpers for the layer tests: hand-written backward vs jax.vjp, in float64."""

import jax
import jax.numpy as jnp
import numpy as np

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
