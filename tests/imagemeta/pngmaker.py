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


def tiff(ifd0: list[tuple[int, int, bytes]], exif: list[tuple[int, int, bytes]] | None = None, *, big_endian: bool = False) -> bytes:
    """A TIFF/EXIF block: IFD0 entries (tag, type, value bytes), optional Exif sub-IFD."""
    bo = ">" if big_endian else "<"
    entries0 = list(ifd0)
    if exif is not None:
        entries0.append((0x8769, 4, b"\x00\x00\x00\x00"))  # patched below
    header = (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(bo + "I", 8)

    def layout(entries: list[tuple[int, int, bytes]], start: int) -> tuple[bytes, bytes]:
        table = struct.pack(bo + "H", len(entries))
        data_off = start + 2 + 12 * len(entries) + 4
        data = b""
        for tag, typ, value in entries:
            count = len(value) if typ in (1, 2, 7) else len(value) // 4
            if len(value) <= 4:
                table += struct.pack(bo + "HHI", tag, typ, count) + value.ljust(4, b"\x00")
            else:
                table += struct.pack(bo + "HHII", tag, typ, count, data_off + len(data))
                data += value + (b"\x00" if len(value) % 2 else b"")
        return table + b"\x00\x00\x00\x00", data

    t0, d0 = layout(entries0, 8)
    if exif is None:
        return header + t0 + d0
    exif_start = 8 + len(t0) + len(d0)
    entries0[-1] = (0x8769, 4, struct.pack(bo + "I", exif_start))
    t0, d0 = layout(entries0, 8)
    t1, d1 = layout(exif, exif_start)
    return header + t0 + d0 + t1 + d1


def jpeg(segments: list[tuple[int, bytes]]) -> bytes:
    """SOI, the given (marker, payload) segments, a tiny SOF0, SOS and EOI."""
    parts = [b"\xff\xd8"]  # joined once: appending to bytes is quadratic for many segments
    for marker, payload in segments:
        parts.append(bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload)
    sof = b"\x08" + struct.pack(">HH", 8, 8) + b"\x01\x01\x11\x00"
    parts.append(b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof)
    return b"".join(parts) + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x00" * 8 + b"\xff\xd9"


def webp(chunks: list[tuple[bytes, bytes]], width: int = 8, height: int = 8) -> bytes:
    """A VP8X WebP with the given extra chunks (no real bitstream: readers must not need one)."""
    vp8x = bytes([0x08, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + _riff(b"VP8X", vp8x) + b"".join(_riff(c, d) for c, d in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _riff(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")


def user_comment(text: str, encoding: str = "utf-16-be") -> bytes:
    return b"UNICODE\x00" + text.encode(encoding)
