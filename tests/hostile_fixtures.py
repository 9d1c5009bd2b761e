"""Compression bombs and other big hostile inputs, built cheaply and once per test session.

``zeros_zlib(n)`` writes a zlib stream that inflates to ``n`` zero bytes without
compressing anything: one fixed-Huffman deflate block is a literal 0 followed by
length-258/distance-1 matches, and eight such matches are exactly 13 bytes, so the
body is one 13-byte pattern repeated. A 1 GiB bomb costs milliseconds instead of
the seconds ``zlib.compressobj`` needs to squeeze 1 GiB of zeros.

The session fixtures (registered in ``tests/conftest.py``) share the bombs between
``tests/imagemeta`` and ``tests/workflow``.
"""

from __future__ import annotations

import copy
import random
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

MiB = 1024 * 1024

_MATCH_CODE = (0b11000101, 8)  # literal/length symbol 285 (length 258), fixed Huffman, no extra bits
_DISTANCE_1 = (0, 5)  # distance code 0 (distance 1), no extra bits
_LITERAL_0 = (0b00110000, 8)  # literal byte 0
_END_OF_BLOCK = (0, 7)  # symbol 256


class _Bits:
    """Deflate bit order: fields LSB first, Huffman codes most significant bit first."""

    def __init__(self) -> None:
        self.value = 0
        self.count = 0

    def field(self, value: int, width: int) -> None:
        self.value |= value << self.count
        self.count += width

    def code(self, code: int, width: int) -> None:
        self.field(int(f"{code:0{width}b}"[::-1], 2), width)

    def match(self) -> None:
        self.code(*_MATCH_CODE)
        self.code(*_DISTANCE_1)

    def flush(self) -> bytes:
        """Whole bytes written so far (pads the last one with zero bits)."""
        out = self.value.to_bytes((self.count + 7) // 8, "little")
        self.value = self.count = 0
        return out


def zeros_zlib(size: int) -> bytes:
    """A valid zlib stream inflating to at least ``size`` zero bytes (a multiple of 258, plus one)."""
    matches = max(1, -(-(size - 1) // 258))
    head = _Bits()
    head.field(1, 1)  # BFINAL
    head.field(1, 2)  # BTYPE = fixed Huffman
    head.code(*_LITERAL_0)
    head.match()  # 11 + 13 bits: the stream is now byte-aligned
    first = head.flush()
    groups, rest = divmod(matches - 1, 8)
    eight = _Bits()
    for _ in range(8):
        eight.match()
    pattern = eight.flush()  # 104 bits = 13 bytes
    tail = _Bits()
    for _ in range(rest):
        tail.match()
    tail.code(*_END_OF_BLOCK)
    n = 1 + 258 * matches
    adler = ((n % 65521) << 16) | 1  # Adler-32 of n zero bytes: a = 1, b = n
    return b"\x78\x01" + first + pattern * groups + tail.flush() + struct.pack(">I", adler)


def chunk(ctype: bytes, data: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)


def tiny_png(pre: list[bytes], post: list[bytes] | None = None) -> bytes:
    """A 1x1 RGBA PNG with the given chunks before (and after) its pixel data."""
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00\x00"))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + b"".join(pre) + idat + b"".join(post or [])
            + chunk(b"IEND", b""))


# JSON values of every type, and the odd ones Python's parser accepts (NaN, Infinity, huge ints).
ODD_VALUES: list[Any] = [5, -1, 2**70, 1.5, float("inf"), float("nan"), "x", "", [], [1, "a"], {}, {"a": {"b": 1}},
                         None, True, [None], [[[]]], {"name": 5}]


def mutate_json(obj: Any, rnd: random.Random, depth: int = 0) -> None:
    """Replace one value somewhere under ``obj`` (up to three levels down) with one of ``ODD_VALUES``."""
    if isinstance(obj, dict) and obj:
        key: Any = rnd.choice(list(obj))
    elif isinstance(obj, list) and obj:
        key = rnd.randrange(len(obj))
    else:
        return
    if depth < 3 and isinstance(obj[key], dict | list) and rnd.random() < 0.6:
        mutate_json(obj[key], rnd, depth + 1)
    else:
        obj[key] = copy.deepcopy(rnd.choice(ODD_VALUES))


MANY_ZTXT_CHUNKS = 200
MANY_ZTXT_EACH = 32 * MiB


@pytest.fixture(scope="session")
def gigabyte_bomb() -> bytes:
    """~5 MB of zlib that inflates to 1 GiB of zeros."""
    return zeros_zlib(1024 * MiB)


@pytest.fixture(scope="session")
def many_ztxt_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~6.5 MB PNG of 200 zTXt chunks that each inflate to 32 MiB (6.4 GiB in all)."""
    one = chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"\x00" * MANY_ZTXT_EACH, 9))
    path = tmp_path_factory.mktemp("hostile") / "many_ztxt.png"
    path.write_bytes(tiny_png([one] * MANY_ZTXT_CHUNKS))
    return path
