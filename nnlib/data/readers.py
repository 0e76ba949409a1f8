"""Readers for MNIST / Fashion-MNIST (IDX files) and CIFAR-10 (python batches) on local disk.

Nothing is downloaded unless asked: ``load_mnist(..., download=True)`` is the only code
path that touches the network. The folder comes from the ``path`` argument or from the
``NNLIB_DATA`` environment variable (``$NNLIB_DATA/mnist``, ``$NNLIB_DATA/fashion-mnist``,
``$NNLIB_DATA/cifar-10-batches-py``).
"""

from __future__ import annotations

import codecs
import gzip
import os
import pickle
import urllib.request
from pathlib import Path

import numpy as np

__all__ = ["CIFAR10_CLASSES", "FASHION_MNIST_CLASSES", "load_cifar10", "load_mnist", "read_idx"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# IDX type codes (third byte of the magic number) -> big-endian NumPy dtype.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_MNIST_URLS = {  # mirrors serving the four .gz files under their usual names
    False: "https://ossci-datasets.s3.amazonaws.com/mnist/",
    True: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}
_CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (the MNIST format), gzip-compressed or not.

    Layout: a 4-byte magic number ``0x00 0x00 <type> <ndim>`` (type ``0x08`` uint8,
    ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), then
    ``ndim`` big-endian uint32 sizes, then the values in C order, big-endian.
    Compression is detected from the content (the gzip signature), not the file name.

    Args:
      path: the file.

    Returns:
      A NumPy array of shape ``(d_1, ..., d_ndim)`` in the file's dtype (native byte order).

    Raises:
      FileNotFoundError: if the file does not exist.
      ValueError: a bad magic number, an unknown type code, a truncated file or trailing
        bytes; the message names the file.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({e})") from e
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise ValueError(
            f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'}; "
            "expected 0000<type><ndim>)"
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x} in the magic number")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated header ({len(raw)} bytes, expected {header})")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise ValueError(
            f"{path}: file {what}: {len(raw)} bytes, expected {expected} for shape {shape} "
            f"of {dtype.newbyteorder('=').name}"
        )
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _folder(path, subdir: str) -> Path | None:
    if path is not None:
        return Path(path).expanduser()
    root = os.environ.get("NNLIB_DATA")
    return Path(root).expanduser() / subdir if root else None


def _missing(who: str, folder: Path | None, files, subdir: str, extra: str) -> FileNotFoundError:
    where = f"in {folder}" if folder is not None else "(no folder: path=None and NNLIB_DATA is unset)"
    return FileNotFoundError(
        f"{who}: data files not found {where}. Expected: {', '.join(files)}. "
        f"Pass path='/folder/with/them', or set the environment variable NNLIB_DATA "
        f"(e.g. export NNLIB_DATA=~/nnlib_data) and put them in $NNLIB_DATA/{subdir}. {extra}"
    )


def _download_mnist(folder: Path, fashion: bool) -> None:
    """Fetches the four .gz files into ``folder`` (only called with ``download=True``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in _MNIST_FILES:
        target = folder / f"{name}.gz"
        if target.exists() or (folder / name).exists():
            continue
        with urllib.request.urlopen(_MNIST_URLS[fashion] + target.name, timeout=60) as response:
            payload = response.read()
        partial = target.with_suffix(".gz.part")
        partial.write_bytes(payload)
        partial.replace(target)  # atomic: a failed download never leaves a half file


def load_mnist(path=None, *, fashion: bool = False, download: bool = False):
    """MNIST (LeCun et al., 1998) or Fashion-MNIST (Xiao et al., 2017) from IDX files.

    Reads ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each raw or with ``.gz``)
    from ``path``, or from ``$NNLIB_DATA/mnist`` (``$NNLIB_DATA/fashion-mnist`` when
    ``fashion``).

    Args:
      path: the folder holding the four files; None uses ``NNLIB_DATA``.
      fashion: read Fashion-MNIST (class names in ``FASHION_MNIST_CLASSES``).
      download: fetch missing files into the folder first (needs the internet; never done
        unless you pass ``download=True``).

    Returns:
      ``((x_train, y_train), (x_test, y_test))``: float32 images in ``[0, 1]`` of shape
      ``(n, 28, 28)`` (add a channel with ``x[..., None]`` for ``Conv2D``) and int32 labels
      in ``{0..9}`` of shape ``(n,)``; ``n`` is 60000 and 10000 for the real sets.

    Raises:
      FileNotFoundError: files missing; the message lists them, the folder, and how to fix it.
      ValueError: a malformed file, or images and labels that do not match.
    """
    subdir = "fashion-mnist" if fashion else "mnist"
    who = "load_mnist(fashion=True)" if fashion else "load_mnist"
    folder = _folder(path, subdir)
    if download:
        if folder is None:
            raise ValueError(f"{who}: download=True needs a folder: pass path=... or set NNLIB_DATA")
        _download_mnist(folder, fashion)

    def find(name: str) -> Path | None:
        for candidate in (name, name + ".gz"):
            if folder is not None and (folder / candidate).is_file():
                return folder / candidate
        return None

    found = [find(name) for name in _MNIST_FILES]
    if any(f is None for f in found):
        missing = [n + "[.gz]" for n, f in zip(_MNIST_FILES, found) if f is None]
        raise _missing(who, folder, missing, subdir,
                       "Or call it with download=True to fetch them into that folder.")
    arrays = [read_idx(f) for f in found]
    splits = []
    for (images, labels), (f_img, f_lab) in zip((arrays[:2], arrays[2:]), (found[:2], found[2:])):
        if images.dtype != np.uint8 or images.ndim != 3:
            raise ValueError(f"{f_img}: expected uint8 images (n, h, w), got {images.dtype} "
                             f"{images.shape}")
        if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
            raise ValueError(f"{f_lab}: expected uint8 labels of shape {images.shape[:1]} to match "
                             f"{f_img.name}, got {labels.dtype} {labels.shape}")
        splits.append((images.astype(np.float32) / np.float32(255.0), labels.astype(np.int32)))
    return tuple(splits)


# The only globals a pickled dict of NumPy arrays needs (Python 2 and 3, NumPy 1 and 2).
_PICKLE_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): np.ndarray(0).__reduce__()[0],
    ("numpy._core.multiarray", "_reconstruct"): np.ndarray(0).__reduce__()[0],
    ("numpy.core.numeric", "_frombuffer"): np.arange(1).__reduce_ex__(5)[0],
    ("numpy._core.numeric", "_frombuffer"): np.arange(1).__reduce_ex__(5)[0],
    ("_codecs", "encode"): codecs.encode,
}


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds dicts, lists, bytes and NumPy arrays, and nothing else.

    A pickle can run arbitrary code when loaded; a dataset file is data, so only the few
    globals that NumPy arrays need are allowed (CIFAR batches written by Python 2 or 3).
    """

    def find_class(self, module: str, name: str):
        try:
            return _PICKLE_ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}") from None


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise ValueError(f"{path}: not a CIFAR-10 python batch ({e})") from e
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{path}: expected a dict with b'data' and b'labels', got {got}")
    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{path}: b'data' must be uint8 of shape (n, 3072), got {data.dtype} "
                         f"{data.shape}")
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: b'labels' must be {data.shape[0]} integers, got {labels.dtype} "
                         f"{labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path}: labels must be in 0..9, got {labels.min()}..{labels.max()}")
    # each row is 1024 red, then 1024 green, then 1024 blue values, each plane row-major 32x32
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images.astype(np.float32) / np.float32(255.0), labels.astype(np.int32)


def load_cifar10(path=None):
    """CIFAR-10 (Krizhevsky, 2009) from the "python version" batches on local disk.

    Reads ``data_batch_1`` ... ``data_batch_5`` and ``test_batch`` from ``path`` or
    ``$NNLIB_DATA/cifar-10-batches-py`` (the folder that ``cifar-10-python.tar.gz`` unpacks
    to). The batches are pickles; they are read with an unpickler that only rebuilds
    dicts, lists, bytes and NumPy arrays, so a tampered file cannot run code.

    Args:
      path: the folder holding the six batch files; None uses ``NNLIB_DATA``.

    Returns:
      ``((x_train, y_train), (x_test, y_test))``: NHWC float32 images in ``[0, 1]`` of shape
      ``(n, 32, 32, 3)`` and int32 labels in ``{0..9}`` (names in ``CIFAR10_CLASSES``);
      ``n`` is 50000 and 10000 for the real set (the training images alone take 600 MB).

    Raises:
      FileNotFoundError: files missing; the message lists them, the folder, and how to fix it.
      ValueError: a malformed batch (the message names the file).
    """
    subdir = "cifar-10-batches-py"
    folder = _folder(path, subdir)
    missing = [n for n in _CIFAR_FILES if folder is None or not (folder / n).is_file()]
    if missing:
        raise _missing("load_cifar10", folder, missing, subdir,
                       f"Get them by unpacking {_CIFAR_URL} (nnlib never downloads CIFAR-10).")
    parts = [_read_cifar_batch(folder / n) for n in _CIFAR_FILES]
    x_train = np.concatenate([p[0] for p in parts[:5]])
    y_train = np.concatenate([p[1] for p in parts[:5]])
    return (x_train, y_train), parts[5]
