"""The one channel between the grader and its sandboxed kernel: length-prefixed frames.

Everything the kernel says reaches the grader as frames on a pipe, and the grader decodes
them with hard caps before it believes anything (the kernel runs the student's code, so every
byte of a frame may be hostile)::

    frame   := b"NNL1" | payload length (uint32, little-endian) | payload
    payload := header length (uint32) | header (JSON object, UTF-8) | data
    header  := {"op": str, ..., "arrays": [[name, dtype, shape, offset], ...]}

Arrays travel as raw little-endian bytes in ``data``, described in the header. Only plain
numeric dtypes are accepted (:data:`DTYPES`: booleans, integers, floats), so no pickle, no
object array, no string array ever reaches the grader; an array's size is computed from its
shape and dtype and must fit inside the frame, so nothing is decompressed or allocated beyond
the frame's own bytes, which are capped before they are read.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any, Mapping

import numpy as np

MAGIC = b"NNL1"
PREFIX = struct.Struct("<4sI")
HEADER_LEN = struct.Struct("<I")
MAX_HEADER = 1 << 20
MAX_ARRAYS = 4096
MAX_NDIM = 8
DTYPES = frozenset({"|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8",
                    "<f2", "<f4", "<f8"})


class ProtocolError(ValueError):
    """A frame that breaks the protocol (the message says how); its sender is not trusted."""


def dtype_name(arr: np.ndarray) -> str | None:
    """The wire name of ``arr``'s dtype in little-endian order, or None if not allowed."""
    dt = arr.dtype
    if dt.byteorder == ">":
        dt = dt.newbyteorder("<")
    name = dt.str
    return name if name in DTYPES else None


def encode(header: Mapping[str, Any], arrays: Mapping[str, np.ndarray] | None = None) -> bytes:
    """One frame holding the JSON-able ``header`` and the numeric ``arrays``.

    Raises:
      TypeError: an array whose dtype is not in :data:`DTYPES`.
    """
    head = dict(header)
    specs, chunks, offset = [], [], 0
    for name, value in (arrays or {}).items():
        arr = np.asarray(value)
        dt = dtype_name(arr)
        if dt is None:
            raise TypeError(f"array {name!r} has dtype {arr.dtype}, which the channel does "
                            f"not carry (numbers and booleans only)")
        raw = np.ascontiguousarray(arr, dtype=np.dtype(dt)).tobytes()
        specs.append([str(name), dt, [int(n) for n in arr.shape], offset])
        chunks.append(raw)
        offset += len(raw)
    head["arrays"] = specs
    hbytes = json.dumps(head, ensure_ascii=True, allow_nan=True).encode("ascii")
    payload = HEADER_LEN.pack(len(hbytes)) + hbytes + b"".join(chunks)
    return PREFIX.pack(MAGIC, len(payload)) + payload


def decode(payload: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """The header and arrays of one frame's payload; ProtocolError if anything is off."""
    if len(payload) < HEADER_LEN.size:
        raise ProtocolError("frame too short")
    (hlen,) = HEADER_LEN.unpack_from(payload)
    if hlen > MAX_HEADER or HEADER_LEN.size + hlen > len(payload):
        raise ProtocolError(f"header length {hlen} does not fit the frame")
    try:
        header = json.loads(payload[HEADER_LEN.size:HEADER_LEN.size + hlen].decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ProtocolError(f"header is not valid JSON ({type(e).__name__})") from None
    if not isinstance(header, dict) or not isinstance(header.get("op"), str):
        raise ProtocolError("header is not an object with an 'op'")
    data = memoryview(payload)[HEADER_LEN.size + hlen:]
    specs = header.pop("arrays", [])
    if not isinstance(specs, list) or len(specs) > MAX_ARRAYS:
        raise ProtocolError("'arrays' is not a list of at most %d entries" % MAX_ARRAYS)
    arrays: dict[str, np.ndarray] = {}
    for spec in specs:
        name, arr = _array(spec, data)
        arrays[name] = arr
    return header, arrays


def _array(spec: Any, data: memoryview) -> tuple[str, np.ndarray]:
    if not (isinstance(spec, list) and len(spec) == 4):
        raise ProtocolError("an array description is not [name, dtype, shape, offset]")
    name, dt, shape, offset = spec
    if not isinstance(name, str) or len(name) > 200:
        raise ProtocolError("an array name is not a short string")
    if dt not in DTYPES:
        raise ProtocolError(f"array {name[:40]!r}: dtype {str(dt)[:20]!r} is not allowed")
    if (not isinstance(shape, list) or len(shape) > MAX_NDIM
            or not all(type(n) is int and 0 <= n < 1 << 40 for n in shape)):
        raise ProtocolError(f"array {name[:40]!r}: invalid shape")
    if type(offset) is not int or offset < 0:
        raise ProtocolError(f"array {name[:40]!r}: invalid offset")
    dtype = np.dtype(dt)
    nbytes = math.prod(shape) * dtype.itemsize
    if offset + nbytes > len(data):
        raise ProtocolError(f"array {name[:40]!r} claims {nbytes} bytes beyond the frame")
    arr = np.frombuffer(data[offset:offset + nbytes], dtype=dtype).reshape(shape).copy()
    return name, arr


class Reader:
    """Splits a byte stream into frames, refusing any frame over ``max_payload`` bytes."""

    def __init__(self, max_payload: int):
        self.max_payload = max_payload
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[tuple[dict, dict[str, np.ndarray]]]:
        """Adds bytes read from the pipe; returns the frames completed by them."""
        self._buf += chunk
        frames = []
        while len(self._buf) >= PREFIX.size:
            magic, n = PREFIX.unpack_from(self._buf)
            if magic != MAGIC:
                raise ProtocolError("bad frame marker")
            if n > self.max_payload:
                raise ProtocolError(f"a frame of {n} bytes is over the {self.max_payload}-byte cap")
            if len(self._buf) < PREFIX.size + n:
                break
            payload = bytes(self._buf[PREFIX.size:PREFIX.size + n])
            del self._buf[:PREFIX.size + n]
            frames.append(decode(payload))
        return frames
