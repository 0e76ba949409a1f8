"""Offline datasets and data utilities (NumPy float32 features, int32 labels).

- Synthetic sets (``key=`` required): :func:`make_regression`, :func:`make_moons`,
  :func:`make_circles`, :func:`make_spirals`, :func:`make_xor`.
- Bundled / generated sets, no download: :func:`load_digits` (scikit-learn's 8x8 digits),
  :func:`load_mnist1d` (the ``mnist1d`` generator), :func:`sample_image` (scikit-learn's
  photographs).
- Local-file readers: :func:`read_idx`, :func:`load_mnist` (also Fashion-MNIST),
  :func:`load_cifar10`; the folder is the ``path`` argument or ``$NNLIB_DATA/<name>``, and
  only ``load_mnist(download=True)`` ever touches the network.
- Utilities: :func:`one_hot`, :func:`standardize`, :func:`train_val_test_split`,
  :func:`batches`, :func:`num_batches`.
"""

from nnlib.data.batching import (
    Stats,
    batches,
    num_batches,
    one_hot,
    standardize,
    train_val_test_split,
)
from nnlib.data.datasets import SAMPLE_IMAGES, load_digits, load_mnist1d, sample_image
from nnlib.data.readers import (
    CIFAR10_CLASSES,
    FASHION_MNIST_CLASSES,
    load_cifar10,
    load_mnist,
    read_idx,
)
from nnlib.data.synthetic import make_circles, make_moons, make_regression, make_spirals, make_xor

__all__ = [
    "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES",
    "SAMPLE_IMAGES",
    "Stats",
    "batches",
    "load_cifar10",
    "load_digits",
    "load_mnist",
    "load_mnist1d",
    "make_circles",
    "make_moons",
    "make_regression",
    "make_spirals",
    "make_xor",
    "num_batches",
    "one_hot",
    "read_idx",
    "sample_image",
    "standardize",
    "train_val_test_split",
]
