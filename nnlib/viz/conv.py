"""Convolution explorer: a 3x3 kernel (a preset or your own) applied to a real image.

A convolution layer (LeCun et al. 1989) slides a small kernel ``K`` over the image and takes,
at every position, the weighted sum of the pixels under it. Deep-learning libraries compute
the cross-correlation (the kernel is not flipped)::

    out[i, j] = sum_{a, b} img[i + a, j + b] * K[a, b]          ("valid": no padding)

so an ``(H, W)`` image and a ``(3, 3)`` kernel give an ``(H - 2, W - 2)`` feature map, the
same convention as ``nnlib.layers.Conv2D``.
"""

from __future__ import annotations

import functools
from typing import Any

import ipywidgets as widgets
import numpy as np

from nnlib.viz.explorer import Explorer, choose, label
from nnlib.viz.palette import DIVERGING_CMAP

__all__ = ["PRESETS", "IMAGES", "convolve2d", "load_image", "compute_conv", "draw_conv",
           "conv_explorer"]

PRESETS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], float),
    "box blur": np.full((3, 3), 1 / 9),
    "gaussian blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], float) / 16,
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float),
    "sobel x (vertical edges)": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float),
    "sobel y (horizontal edges)": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], float),
    "laplacian (all edges)": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float),
}
IMAGES = ("china (photo)", "flower (photo)", "digit 0", "digit 3", "digit 8")


def convolve2d(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Valid cross-correlation of a 2-D ``image`` ``(H, W)`` with ``kernel`` ``(kh, kw)``.

    Returns:
      The feature map, shape ``(H - kh + 1, W - kw + 1)``, float64.
    """
    image, kernel = np.asarray(image, float), np.asarray(kernel, float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"image and kernel must be 2-D, got shapes {image.shape} and {kernel.shape}")
    if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        raise ValueError(f"kernel {kernel.shape} is larger than the image {image.shape}")
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.einsum("ijab,ab->ij", windows, kernel)


@functools.lru_cache(maxsize=8)
def load_image(name: str) -> np.ndarray:
    """A grayscale image in ``[0, 1]``: a photo downsampled 3x (``(142, 213)``) or a digit."""
    from nnlib import data

    name = choose("image", name, IMAGES)
    if name.endswith("(photo)"):
        img = data.sample_image(name.split()[0], gray=True)[..., 0]
        h, w = (s // 3 * 3 for s in img.shape)
        return img[:h, :w].reshape(h // 3, 3, w // 3, 3).mean(axis=(1, 3)).astype(np.float64)
    x, y = data.load_digits(images=True)
    digit = int(name.split()[1])
    return x[int(np.argmax(y == digit)), :, :, 0].astype(np.float64)


def compute_conv(image: str, **entries: float) -> dict:
    """The image, the kernel built from ``entries`` (``k00`` .. ``k22``) and the feature map."""
    kernel = np.array([[entries[f"k{i}{j}"] for j in range(3)] for i in range(3)], float)
    img = load_image(image)
    return {"image": img, "kernel": kernel, "feature_map": convolve2d(img, kernel), "name": image}


def draw_conv(fig: Any, state: dict) -> str:
    """Input image, the kernel (with its numbers) and the feature map (0 is white)."""
    ax1, ax2, ax3 = fig.subplots(1, 3, width_ratios=[1, 0.6, 1])
    ax1.imshow(state["image"], cmap="gray", vmin=0, vmax=1)
    label(ax1, f"input: {state['name']} {state['image'].shape}", "column", "row")
    k = state["kernel"]
    lim = max(np.abs(k).max(), 1e-9)
    ax2.imshow(k, cmap=DIVERGING_CMAP, vmin=-lim, vmax=lim)
    for (i, j), v in np.ndenumerate(k):
        ax2.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=9)
    ax2.set_xticks(range(3))
    ax2.set_yticks(range(3))
    label(ax2, "3x3 kernel", "kernel column b", "kernel row a")
    fm = state["feature_map"]
    lim = max(np.percentile(np.abs(fm), 99), 1e-9)  # a few outliers should not wash it out
    im = ax3.imshow(fm, cmap=DIVERGING_CMAP, vmin=-lim, vmax=lim)
    fig.colorbar(im, ax=ax3, shrink=0.8)
    label(ax3, f"feature map {fm.shape}", "column", "row")
    return (f"feature map: min {fm.min():.3g}, max {fm.max():.3g}, mean {fm.mean():.3g} "
            f"(colours saturate at ±{lim:.3g}, the 99th percentile of |value|)")


def conv_explorer(image: str = "china (photo)", preset: str = "sobel x (vertical edges)") -> Explorer:
    """Pick an image and a preset kernel, or type your own 3x3 kernel, and see the feature map.

    Returns:
      An :class:`Explorer` with controls ``image``, ``preset`` and ``k00`` .. ``k22`` (the
      kernel entries; choosing a preset fills them in); ``state`` is :func:`compute_conv`'s
      dict (``feature_map`` has shape ``(H - 2, W - 2)``).
    """
    preset = choose("preset", preset, PRESETS)
    entries = {f"k{i}{j}": widgets.FloatText(value=float(PRESETS[preset][i, j]), step=0.1,
                                             continuous_update=False,
                                             layout=widgets.Layout(width="80px"))
               for i in range(3) for j in range(3)}
    controls = {"image": widgets.Dropdown(options=IMAGES, value=image, description="image"),
                "preset": widgets.Dropdown(options=list(PRESETS) + ["custom"], value=preset,
                                           description="kernel"), **entries}

    def fill(name):
        if name == "custom":
            return {}
        return {f"k{i}{j}": float(PRESETS[name][i, j]) for i in range(3) for j in range(3)}

    return Explorer(controls, lambda image, preset, **k: compute_conv(image, **k), draw_conv,
                    figsize=(12, 3.8), links={"preset": fill},
                    rows=[["image", "preset"]] + [[f"k{i}{j}" for j in range(3)] for i in range(3)])
