"""Tests for nnlib.data's file readers: IDX (MNIST), load_mnist, load_cifar10, on files the tests write."""

import gzip
import io
import pickle
import struct
import urllib.request

import numpy as np
import pytest

from nnlib import data

MNIST_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
             np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.asarray(array)
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, *, gz=False):
    raw = idx_bytes(array)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a URL fails the test loudly."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(urllib.request, "urlretrieve", refuse)


def fake_mnist(folder, *, n_train=5, n_test=3, gz_names=("train-images-idx3-ubyte",)):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, array in arrays.items():
        gz = name in gz_names
        write_idx(folder / (name + ".gz" if gz else name), array, gz=gz)
    return arrays


# ----------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("array", [
    np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
    np.array([7, 0, 255], dtype=np.uint8),
    np.array([[-3, 258], [70000, -1]], dtype=np.int32),
    np.array([1.5, -2.25, 1e30], dtype=np.float32),
    np.array([[-7, 3]], dtype=np.int16),
])
def test_read_idx_round_trips_raw_and_gzip(tmp_path, array, gz):
    out = data.read_idx(write_idx(tmp_path / "f.idx", array, gz=gz))
    assert out.shape == array.shape and out.dtype == array.dtype
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_read_idx_detects_gzip_by_content_not_name(tmp_path):
    path = tmp_path / "labels-without-suffix"
    path.write_bytes(gzip.compress(idx_bytes(np.array([1, 2], np.uint8))))
    np.testing.assert_array_equal(data.read_idx(path), [1, 2])


def test_read_idx_errors_name_the_file_and_problem(tmp_path):
    good = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    cases = {
        "bad-magic": (b"\x12\x34" + good[2:], "bad magic number"),
        "bad-type": (b"\x00\x00\x07\x02" + good[4:], "unknown IDX type code 0x07"),
        "truncated": (good[:-1], "truncated"),
        "short-header": (good[:6], "truncated header"),
        "trailing": (good + b"\x00", "trailing bytes"),
        "empty": (b"", "bad magic number"),
        "bad-gzip": (gzip.compress(good)[:-8], "gzip"),
    }
    for name, (payload, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(payload)
        with pytest.raises(ValueError, match=message) as info:
            data.read_idx(path)
        assert str(path) in str(info.value)
    with pytest.raises(FileNotFoundError):
        data.read_idx(tmp_path / "absent")


# ----------------------------------------------------------------------------- load_mnist


def test_load_mnist_reads_folder_from_nnlib_data(tmp_path, monkeypatch, no_network):
    arrays = fake_mnist(tmp_path / "mnist")
    monkeypatch.setenv("NNLIB_DATA", str(tmp_path))
    (x_tr, y_tr), (x_te, y_te) = data.load_mnist()
    assert x_tr.shape == (5, 28, 28) and x_te.shape == (3, 28, 28)
    assert x_tr.dtype == x_te.dtype == np.float32 and y_tr.dtype == y_te.dtype == np.int32
    assert 0.0 <= x_tr.min() and x_tr.max() <= 1.0
    np.testing.assert_allclose(x_tr * 255.0, arrays["train-images-idx3-ubyte"], atol=1e-4)
    np.testing.assert_array_equal(y_te, arrays["t10k-labels-idx1-ubyte"])


def test_load_mnist_fashion_folder_and_explicit_path(tmp_path, monkeypatch, no_network):
    fake_mnist(tmp_path / "fashion-mnist", n_train=4, gz_names=MNIST_NAMES)
    monkeypatch.setenv("NNLIB_DATA", str(tmp_path))
    (x_tr, _), _ = data.load_mnist(fashion=True)
    assert x_tr.shape == (4, 28, 28)
    fake_mnist(tmp_path / "elsewhere", n_train=2, gz_names=())
    (x_tr, _), _ = data.load_mnist(tmp_path / "elsewhere")
    assert x_tr.shape == (2, 28, 28)
    assert len(data.FASHION_MNIST_CLASSES) == 10


def test_load_mnist_missing_files_message_and_no_download_by_default(tmp_path, monkeypatch,
                                                                       no_network):
    monkeypatch.setenv("NNLIB_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError) as info:
        data.load_mnist()
    message = str(info.value)
    for name in MNIST_NAMES:
        assert name in message
    assert str(tmp_path / "mnist") in message
    assert "NNLIB_DATA" in message and "download=True" in message
    with pytest.raises(FileNotFoundError, match="fashion-mnist"):
        data.load_mnist(fashion=True)
    # only the missing files are listed
    fake_mnist(tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError) as info:
        data.load_mnist()
    assert "t10k-labels-idx1-ubyte" in str(info.value)
    assert "train-images-idx3-ubyte" not in str(info.value)


def test_load_mnist_without_any_folder(monkeypatch, no_network):
    monkeypatch.delenv("NNLIB_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="NNLIB_DATA is unset"):
        data.load_mnist()
    with pytest.raises(ValueError, match="download=True needs a folder"):
        data.load_mnist(download=True)


def test_load_mnist_download_fetches_the_four_files(tmp_path, monkeypatch):
    served = {name: idx_bytes(arr) for name, arr in {
        "train-images-idx3-ubyte": np.zeros((2, 28, 28), np.uint8),
        "train-labels-idx1-ubyte": np.array([3, 4], np.uint8),
        "t10k-images-idx3-ubyte": np.full((1, 28, 28), 255, np.uint8),
        "t10k-labels-idx1-ubyte": np.array([9], np.uint8),
    }.items()}
    requested = []

    def fake_urlopen(url, timeout=None):
        requested.append(url)
        name = url.rsplit("/", 1)[-1].removesuffix(".gz")
        return io.BytesIO(gzip.compress(served[name]))

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    folder = tmp_path / "new" / "mnist"
    (x_tr, y_tr), (x_te, _) = data.load_mnist(folder, download=True)
    assert sorted(u.rsplit("/", 1)[-1] for u in requested) == sorted(n + ".gz" for n in MNIST_NAMES)
    assert all(u.startswith("https://") for u in requested)
    assert sorted(p.name for p in folder.iterdir()) == sorted(n + ".gz" for n in MNIST_NAMES)
    np.testing.assert_array_equal(y_tr, [3, 4])
    assert x_te.max() == 1.0 and x_tr.max() == 0.0
    data.load_mnist(folder, download=True)  # present files are not fetched again
    assert len(requested) == 4


def test_load_mnist_rejects_mismatched_files(tmp_path, no_network):
    fake_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.*shape \(5,\)"):
        data.load_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    (tmp_path / "train-images-idx3-ubyte.gz").unlink()
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 28, 28), np.float32))
    with pytest.raises(ValueError, match="expected uint8 images"):
        data.load_mnist(tmp_path)


# ----------------------------------------------------------------------------- load_cifar10


def fake_cifar(folder, *, n=4, protocol=2):
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"batch_label": name.encode(), b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, n).tolist(),
                 b"filenames": [f"img{i}.png".encode() for i in range(n)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        batches[name] = batch
    return batches


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_load_cifar10_reads_batches_as_nhwc(tmp_path, monkeypatch, protocol):
    batches = fake_cifar(tmp_path / "cifar-10-batches-py", protocol=protocol)
    monkeypatch.setenv("NNLIB_DATA", str(tmp_path))
    (x_tr, y_tr), (x_te, y_te) = data.load_cifar10()
    assert x_tr.shape == (20, 32, 32, 3) and x_te.shape == (4, 32, 32, 3)
    assert x_tr.dtype == np.float32 and y_tr.dtype == y_te.dtype == np.int32
    raw = batches["data_batch_2"][b"data"]
    # pixel (i, j) of channel c is raw[c * 1024 + i * 32 + j]
    for img, c, i, j in [(0, 0, 0, 0), (1, 1, 5, 31), (3, 2, 31, 7)]:
        assert x_tr[4 + img, i, j, c] == pytest.approx(raw[img, c * 1024 + i * 32 + j] / 255.0)
    np.testing.assert_array_equal(y_te, batches["test_batch"][b"labels"])
    assert len(data.CIFAR10_CLASSES) == 10


def test_load_cifar10_missing_files_message(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    fake_cifar(folder)
    (folder / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError) as info:
        data.load_cifar10(folder)
    message = str(info.value)
    assert "data_batch_3" in message and "data_batch_1" not in message
    assert str(folder) in message and "NNLIB_DATA" in message and "cifar-10-python.tar.gz" in message


class _Exploit:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):  # loading this with plain pickle would create the file
        return (open, (str(self.target), "w"))


def test_load_cifar10_refuses_code_in_pickles(tmp_path):
    folder = tmp_path / "cifar"
    fake_cifar(folder)
    marker = tmp_path / "pwned"
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": _Exploit(marker), b"labels": []}))
    with pytest.raises(ValueError, match="test_batch.*refusing to load global (io|builtins).open"):
        data.load_cifar10(folder)
    assert not marker.exists()


@pytest.mark.parametrize("batch, message", [
    ({b"labels": [1]}, "expected a dict with b'data'"),
    ([1, 2], "expected a dict"),
    ({b"data": np.zeros((2, 3000), np.uint8), b"labels": [0, 1]}, r"\(n, 3072\)"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "2 integers"),
    ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}, "0..9"),
])
def test_load_cifar10_rejects_malformed_batches(tmp_path, batch, message):
    fake_cifar(tmp_path)
    (tmp_path / "data_batch_4").write_bytes(pickle.dumps(batch))
    with pytest.raises(ValueError, match=message) as info:
        data.load_cifar10(tmp_path)
    assert "data_batch_4" in str(info.value)


def test_load_cifar10_truncated_pickle(tmp_path):
    fake_cifar(tmp_path)
    path = tmp_path / "data_batch_1"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="data_batch_1.*not a CIFAR-10 python batch"):
        data.load_cifar10(tmp_path)
