"""The grading channel's frames: what the grader accepts from a kernel, and what it refuses."""

from __future__ import annotations

import json
import struct
import time

import numpy as np
import pytest

from nnlib.grading import wire


def _raw(header: dict, data: bytes = b"") -> bytes:
    """A frame built by hand, as a hostile kernel would."""
    h = json.dumps(header).encode()
    payload = struct.pack("<I", len(h)) + h + data
    return struct.pack("<4sI", b"NNL1", len(payload)) + payload


def _decode_one(frame: bytes, cap: int = 1 << 20):
    frames = wire.Reader(cap).feed(frame)
    assert len(frames) == 1
    return frames[0]


def test_numeric_arrays_round_trip_in_every_allowed_dtype():
    arrays = {f"a{i}": np.arange(6).reshape(2, 3).astype(dt) for i, dt in
              enumerate(["bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                         "uint32", "uint64", "float16", "float32", "float64"])}
    arrays["big_endian"] = np.arange(3, dtype=">f8")
    arrays["scalar"] = np.float64(2.5)
    arrays["empty"] = np.zeros((0, 4))
    header, got = _decode_one(wire.encode({"op": "case", "case": 3}, arrays))
    assert header == {"op": "case", "case": 3}
    for k, v in arrays.items():
        assert got[k].shape == np.shape(v) and np.array_equal(got[k], v), k
    assert got["big_endian"].dtype == np.dtype("<f8")


@pytest.mark.parametrize("value", [np.array(["a", "b"]), np.array([object()], dtype=object),
                                   np.array([1 + 2j]), np.array([(1, 2.0)], dtype="i4,f8")])
def test_the_sender_refuses_anything_but_numbers(value):
    with pytest.raises(TypeError, match="numbers and booleans only"):
        wire.encode({"op": "case"}, {"y": value})


@pytest.mark.parametrize("frame,why", [
    (b"EVIL" + struct.pack("<I", 4) + b"\0" * 4, "bad frame marker"),
    (struct.pack("<4sI", b"NNL1", 2 ** 31), "over the"),
    (struct.pack("<4sI", b"NNL1", 2) + b"\0\0", "too short"),
    (struct.pack("<4sI", b"NNL1", 8) + struct.pack("<I", 1000) + b"abcd", "does not fit"),
    (struct.pack("<4sI", b"NNL1", 7) + struct.pack("<I", 3) + b"{x}", "not valid JSON"),
    (_raw([1, 2]), "not an object"),
    (_raw({"op": "case", "arrays": [["y", "<U10", [2], 0]]}, b"\0" * 80), "not allowed"),
    (_raw({"op": "case", "arrays": [["y", "|O8", [1], 0]]}, b"\0" * 8), "not allowed"),
    (_raw({"op": "case", "arrays": [["y", "<f8", [10 ** 9], 0]]}, b"\0" * 8), "beyond the frame"),
    (_raw({"op": "case", "arrays": [["y", "<f8", [-1], 0]]}), "invalid shape"),
    (_raw({"op": "case", "arrays": [["y", "<f8", [1], -8]]}, b"\0" * 8), "invalid offset"),
    (_raw({"op": "case", "arrays": [["y", "<f8", [1] * 9, 0]]}, b"\0" * 8), "invalid shape"),
    (_raw({"op": "case", "arrays": [["y", "<f8", [1]]]}, b"\0" * 8), "not \\[name"),
    (_raw({"op": "x", "arrays": [["y", "|u1", [0], 0]] * (wire.MAX_ARRAYS + 1)}), "at most"),
])
def test_malformed_or_hostile_frames_are_refused(frame, why):
    with pytest.raises(wire.ProtocolError, match=why):
        wire.Reader(1 << 20).feed(frame)


def test_deeply_nested_json_is_refused_not_crashing():
    deep = b"[" * 200_000 + b"]" * 200_000
    payload = struct.pack("<I", len(deep)) + deep
    frame = struct.pack("<4sI", b"NNL1", len(payload)) + payload
    with pytest.raises(wire.ProtocolError):
        wire.Reader(1 << 21).feed(frame)


def test_a_shape_bomb_is_refused_at_once_without_allocating():
    # 8 bytes that claim to be a (1e5, 1e5) float64 array: 80 GB if anyone believed it
    frame = _raw({"op": "case", "arrays": [["y", "<f8", [100_000, 100_000], 0]]}, b"\0" * 8)
    t0 = time.perf_counter()
    with pytest.raises(wire.ProtocolError, match="beyond the frame"):
        wire.Reader(1 << 20).feed(frame)
    assert time.perf_counter() - t0 < 0.5


def test_frames_split_across_reads_are_reassembled():
    frames = wire.encode({"op": "a"}, {"x": np.arange(5.0)}) + wire.encode({"op": "b"})
    reader = wire.Reader(1 << 20)
    got = []
    for i in range(len(frames)):
        got += reader.feed(frames[i:i + 1])
    assert [h["op"] for h, _ in got] == ["a", "b"]
    assert np.array_equal(got[0][1]["x"], np.arange(5.0))
