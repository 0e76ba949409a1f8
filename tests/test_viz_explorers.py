"""Activation, depth/initialization and convolution explorers."""

import jax.numpy as jnp
import numpy as np
import pytest

from nnlib import layers
from nnlib.viz import activations, conv, depth


# ----------------------------------------------------------------- activations
def test_sigmoid_saturates_beyond_the_analytic_point():
    st = activations.compute_activation("sigmoid", x_max=6.0, threshold=0.05)
    # s(1 - s) = 0.05  <=>  s = (1 - sqrt(0.8)) / 2,  z = log(s / (1 - s))
    s = (1 - np.sqrt(0.8)) / 2
    z = np.log(s / (1 - s))
    (lo1, hi1), (lo2, hi2) = st["intervals"]
    assert lo1 == -6.0 and hi2 == 6.0
    assert hi1 == pytest.approx(z, abs=0.04) and lo2 == pytest.approx(-z, abs=0.04)
    np.testing.assert_allclose(st["grads"]["sigmoid"], layers.sigmoid_grad(jnp.asarray(st["x"])), atol=1e-12)
    np.testing.assert_allclose(st["grads"]["tanh"], layers.tanh_grad(jnp.asarray(st["x"])), atol=1e-12)


def test_relu_is_flat_for_negative_inputs_and_leaky_relu_is_not():
    st = activations.compute_activation("relu", threshold=0.05)
    assert np.all(st["saturated"] == (st["x"] <= 0))
    leaky = activations.compute_activation("leaky_relu", threshold=0.05, negative_slope=0.1)
    assert leaky["intervals"] == []
    np.testing.assert_allclose(leaky["grads"]["leaky_relu"][leaky["x"] < 0], 0.1)


def test_activation_explorer_draws_the_selected_function_and_its_zones():
    w = activations.activation_explorer("tanh", custom={"softsign": lambda z: z / (1 + jnp.abs(z))})
    ax_f, ax_d = w.figure.axes
    bold = next(l for l in ax_d.lines if l.get_label() == "tanh")
    np.testing.assert_allclose(bold.get_ydata(), w.state["grads"]["tanh"])
    assert {"sigmoid", "tanh", "relu", "leaky_relu", "softsign"} <= {l.get_label() for l in ax_f.lines}
    assert len(ax_f.patches) == len(w.state["intervals"]) == 2  # shaded saturated zones
    w.controls["activation"].value = "relu"
    assert len(w.state["intervals"]) == 1 and "relu" in w.status.value
    with pytest.raises(ValueError, match="valid names"):
        activations.compute_activation("gelu")


# ----------------------------------------------------------------- depth / init
def test_sigmoid_with_tiny_weights_has_vanishing_gradients():
    st = depth.deep_mlp_stats(20, "sigmoid", "normal(0.01)", False)
    assert st["grad_norms"].shape == (20,)
    assert st["grad_norms"][0] < 1e-10 * st["grad_norms"][-1]


def test_glorot_and_he_keep_gradients_and_activations_balanced():
    tanh = depth.deep_mlp_stats(20, "tanh", "glorot_normal", False)
    relu = depth.deep_mlp_stats(20, "relu", "he_normal", False)
    for st in (tanh, relu):
        ratio = st["grad_norms"][0] / st["grad_norms"][-1]
        assert 0.05 < ratio < 20
    assert np.all((relu["act_std"] > 0.1) & (relu["act_std"] < 10))


def test_large_init_explodes_and_batch_norm_fixes_it():
    big = depth.deep_mlp_stats(20, "relu", "normal(1.0)", False)
    assert big["act_std"][-1] > 1e10 and big["delta_norms"][0] > 1e10 * big["delta_norms"][-1]
    bn = depth.deep_mlp_stats(20, "relu", "normal(1.0)", True)
    assert np.all((bn["act_std"] > 0.1) & (bn["act_std"] < 10))
    assert np.all(np.isfinite(bn["grad_norms"]))


def test_depth_explorer_draws_one_point_per_layer():
    w = depth.depth_explorer(depth=10)
    w.set(depth=30, activation="tanh", init="glorot_normal")
    line = w.figure.axes[0].lines[0]
    assert len(line.get_xdata()) == 30
    np.testing.assert_allclose(line.get_ydata(), w.state["grad_norms"], rtol=1e-6)
    assert len(w.figure.axes[2].patches) == 3  # histograms of layers 1, 15, 30
    with pytest.raises(ValueError, match="depth"):
        depth.deep_mlp_stats(51, "relu", "he_normal", False)


# ----------------------------------------------------------------- convolution
def test_convolve2d_is_cross_correlation_like_conv2d():
    rng = np.random.default_rng(0)
    img, k = rng.normal(size=(7, 9)), rng.normal(size=(3, 3))
    out = conv.convolve2d(img, k)
    loops = np.array([[np.sum(img[i:i + 3, j:j + 3] * k) for j in range(7)] for i in range(5)])
    np.testing.assert_allclose(out, loops, rtol=1e-12)
    layer = layers.Conv2D(1, 3)
    y = layer.apply({"W": jnp.asarray(k)[:, :, None, None], "b": jnp.zeros(1)}, jnp.asarray(img)[None, :, :, None])
    np.testing.assert_allclose(np.asarray(y)[0, :, :, 0], out, rtol=1e-10)
    with pytest.raises(ValueError, match="2-D"):
        conv.convolve2d(img[None], k)


def test_conv_explorer_presets_and_editing_a_kernel_entry():
    w = conv.conv_explorer("digit 0", "identity")
    img = conv.load_image("digit 0")
    assert img.shape == (8, 8)
    np.testing.assert_allclose(w.state["feature_map"], img[1:-1, 1:-1])
    w.controls["preset"].value = "sobel x (vertical edges)"
    np.testing.assert_allclose(w.state["kernel"], conv.PRESETS["sobel x (vertical edges)"])
    np.testing.assert_allclose(w.state["feature_map"], conv.convolve2d(img, w.state["kernel"]))
    before = w.state["feature_map"].copy()
    w.controls["k11"].value = 1.0  # linear in the kernel: adds 1 * the centre pixels
    np.testing.assert_allclose(w.state["feature_map"] - before, img[1:-1, 1:-1], atol=1e-12)
    drawn = np.asarray(w.figure.axes[2].images[0].get_array())
    np.testing.assert_allclose(drawn, w.state["feature_map"])
    w.set(image="china (photo)", preset="box blur")
    assert w.state["feature_map"].shape == (140, 211)
    np.testing.assert_allclose(w.state["feature_map"][0, 0], w.state["image"][:3, :3].mean())
