"""Small real datasets that ship with installed packages, so nothing is downloaded.

- ``load_digits``: scikit-learn's bundled 8x8 handwritten digits (UCI ML, 1797 images).
- ``load_mnist1d``: MNIST-1D, generated on the spot by the ``mnist1d`` package.
- ``sample_image``: scikit-learn's two bundled photographs, for the convolution lessons.

scikit-learn and mnist1d are imported inside the functions, so ``import nnlib.data`` stays
cheap.
"""

from __future__ import annotations

import random

import numpy as np

from nnlib.validation import integer, lookup

__all__ = ["SAMPLE_IMAGES", "load_digits", "load_mnist1d", "sample_image"]

SAMPLE_IMAGES = ("china.jpg", "flower.jpg")
"""Names accepted by :func:`sample_image` (both 427 x 640 RGB photographs)."""

# ITU-R BT.601 luma weights, the usual RGB -> gray conversion.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def load_digits(*, images: bool = False):
    """The 8x8 handwritten digits bundled with scikit-learn (no download).

    1797 grayscale images of the digits 0-9 (about 180 per class), each pixel a count in
    ``0..16``; they are scaled here to ``[0, 1]`` by dividing by 16.

    Args:
      images: return NHWC images ``(1797, 8, 8, 1)`` (for ``Conv2D``) instead of flat
        vectors ``(1797, 64)`` (for ``Dense``).

    Returns:
      ``(x, y)``: float32 ``x`` in ``[0, 1]`` of shape ``(1797, 64)`` or ``(1797, 8, 8, 1)``
      and int32 labels ``y`` in ``{0..9}`` of shape ``(1797,)``, in the file's order (not
      shuffled; split with :func:`nnlib.data.train_val_test_split`).

    References:
      Alpaydin & Kaynak, "Optical Recognition of Handwritten Digits", UCI ML Repository (1998).
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    x = (np.asarray(bunch.data, dtype=np.float32) / 16.0).astype(np.float32)
    y = np.asarray(bunch.target, dtype=np.int32)
    if images:
        x = x.reshape(-1, 8, 8, 1)
    return x, y


def load_mnist1d(*, n_samples: int = 5000, seed: int = 42, test_fraction: float = 0.2):
    """MNIST-1D, generated locally with the ``mnist1d`` package (its download path is never used).

    Each example is a 1-D signal of length 40 made from one of ten digit-like templates,
    randomly padded, translated, scaled, sheared and corrupted with correlated and i.i.d.
    noise (Greydanus & Kobak, 2020). It is small enough to train on a CPU in seconds, yet
    models separate clearly on it (a linear model ~ 30-40% test accuracy, an MLP far more).
    The package standardizes the whole set to zero mean and unit standard deviation.

    The defaults (5000 samples, seed 42, 80/20 split) are the package's own, i.e. the
    published dataset's recipe. Generating 5000 samples takes about a second.

    Args:
      n_samples: total number of examples, a positive multiple of 10 (the package makes
        ``n_samples // 10`` per class).
      seed: the generator's seed. Note: mnist1d seeds NumPy's and Python's *global* random
        generators; this function saves and restores both, so the caller's state is untouched.
      test_fraction: fraction of examples put in the test set, in ``(0, 1)``; the test set
        is the last ``n - int(n * (1 - test_fraction))`` examples of the shuffled set.

    Returns:
      ``((x_train, y_train), (x_test, y_test))`` with float32 ``x`` of shape ``(m, 40)`` and
      int32 ``y`` in ``{0..9}`` of shape ``(m,)``; ``5000 -> 4000 / 1000`` by default.

    Raises:
      TypeError, ValueError: ``n_samples`` not a positive multiple of 10, a non-integer
        ``seed`` or ``test_fraction`` outside ``(0, 1)``.

    References:
      Greydanus & Kobak, "Scaling Down Deep Learning with MNIST-1D", ICML 2024
      (arXiv:2011.14439).
    """
    n = integer(n_samples, "n_samples", minimum=10)
    if n % 10:
        raise ValueError(f"n_samples must be a multiple of 10 (10 balanced classes), got {n}")
    seed = integer(seed, "seed", minimum=0)
    if not isinstance(test_fraction, (int, float)) or not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = n
    args.seed = seed
    args.train_split = 1.0 - float(test_fraction)
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    train = (np.asarray(data["x"], np.float32), np.asarray(data["y"], np.int32))
    test = (np.asarray(data["x_test"], np.float32), np.asarray(data["y_test"], np.int32))
    if len(train[0]) == 0 or len(test[0]) == 0:
        raise ValueError(
            f"n_samples={n} with test_fraction={test_fraction} leaves an empty split "
            f"({len(train[0])} train, {len(test[0])} test); use more samples"
        )
    return train, test


def sample_image(name: str = "china.jpg", *, gray: bool = False) -> np.ndarray:
    """One of scikit-learn's bundled sample photographs, as a float image in ``[0, 1]``.

    Args:
      name: ``"china.jpg"`` (a temple) or ``"flower.jpg"``; the ``.jpg`` may be left out.
      gray: convert to grayscale with the ITU-R BT.601 luma weights
        ``0.299 R + 0.587 G + 0.114 B``.

    Returns:
      float32 array of shape ``(427, 640, 3)``, or ``(427, 640, 1)`` when ``gray`` (HWC, one
      image; add the batch axis with ``img[None]``).

    Raises:
      ValueError: an unknown ``name`` (the message lists the valid names).
    """
    table = {n: n for n in SAMPLE_IMAGES} | {n[: -len(".jpg")]: n for n in SAMPLE_IMAGES}
    filename = lookup("sample image", name, table)
    from sklearn.datasets import load_sample_image  # reads the JPEG with Pillow

    img = np.asarray(load_sample_image(filename), dtype=np.float32) / 255.0
    if gray:
        img = (img @ _LUMA)[..., None]
    return img.astype(np.float32)
