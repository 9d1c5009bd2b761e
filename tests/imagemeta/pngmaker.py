"""Build small (or huge-but-truncated) PNG/JPEG/WebP byte strings for tests."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable


def chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)


def png(width: int, height: int, color_type: int, rows: Iterable[bytes], *, pre: list[bytes] | None = None,
        post: list[bytes] | None = None, iend: bool = True) -> bytes:
    """A PNG whose IDAT holds ``rows`` (each already prefixed with its filter byte)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    comp = zlib.compressobj(6)
    idat = b"".join(comp.compress(r) for r in rows) + comp.flush()
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + b"".join(pre or []) + chunk(b"IDAT", idat) + b"".join(post or [])
    return out + (chunk(b"IEND", b"") if iend else b"")


def text_chunk(key: str, value: str) -> bytes:
    return chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1"))


def stealth_bits(magic: bytes, payload: bytes) -> list[int]:
    data = magic + struct.pack(">I", len(payload) * 8) + payload
    return [(byte >> (7 - i)) & 1 for byte in data for i in range(8)]
