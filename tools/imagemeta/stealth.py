"""Stealth metadata hidden in pixel LSBs (NovelAI ``stealth_pngcomp``, A1111 stealth pnginfo).

Layout (NovelAI ``nai_meta.py``, A1111 ``sd_webui_stealth_pnginfo``): bits are read
column by column (x outer, y inner); alpha LSB per pixel for ``stealth_png*``,
R/G/B LSBs per pixel for ``stealth_rgb*``. 15 bytes magic, a 32-bit big-endian
length *in bits*, then the payload (gzip for ``*comp``, UTF-8 for ``*info``).

Cheap by construction: for a non-interlaced 8-bit PNG we inflate IDAT as a stream
and unfilter only the first few pixels of each row (column 0 of a row depends only
on column 0 of the row above), so detection touches at most 152 rows and one
column, and stops as soon as the magic does not match. Nothing is cached between
files.
"""

from __future__ import annotations

import gzip
import io
import logging
import math
import zlib
from pathlib import Path
from typing import BinaryIO

from comfyfixer.tools.imagemeta.containers import ContainerInfo, iter_png_chunks, open_source

log = logging.getLogger(__name__)

MAGICS = {
    b"stealth_pnginfo": ("alpha", False),
    b"stealth_pngcomp": ("alpha", True),
    b"stealth_rgbinfo": ("rgb", False),
    b"stealth_rgbcomp": ("rgb", True),
}
HEADER_BITS = 15 * 8 + 32
MAX_PAYLOAD_BITS = 64 * 1024 * 1024 * 8  # 64 MiB hidden data at most
MAX_PAYLOAD_TEXT = 32 * 1024 * 1024
MAX_PIL_PIXELS = 64 * 1024 * 1024  # WebP / interlaced PNG are decoded whole: cap them


class _Columns:
    """The first ``ncols`` pixel columns of the first ``nrows`` rows of an 8-bit PNG, streamed."""

    def __init__(self, f: BinaryIO, info: ContainerInfo) -> None:
        self.f, self.info = f, info
        self.bpp = 4 if info.color_type == 6 else 3
        self.width = info.width or 0
        self.height = info.height or 0

    def read(self, ncols: int, nrows: int) -> list[bytearray]:
        """Rows of ``ncols*bpp`` unfiltered bytes each (fewer when the file ends)."""
        bpp, stride = self.bpp, self.width * self.bpp
        keep = min(ncols, self.width) * bpp
        rows: list[bytearray] = []
        prev = bytearray(keep)
        d = zlib.decompressobj()
        buf = bytearray()
        need = stride + 1
        problems: list[str] = []
        for ctype, offset, length in iter_png_chunks(self.f, problems):
            if ctype == b"IEND":
                break
            if ctype != b"IDAT":
                continue
            self.f.seek(offset)
            remaining = length
            while remaining > 0:
                chunk = self.f.read(min(remaining, 1 << 16))
                if not chunk:
                    return rows
                remaining -= len(chunk)
                data = chunk
                while data:
                    # Bound the inflated buffer to about one row at a time.
                    out = d.decompress(data, max(need - len(buf), 1 << 14))
                    data = d.unconsumed_tail
                    buf += out
                    while len(buf) >= need:
                        ftype, line = buf[0], buf[1 : 1 + keep]
                        del buf[:need]
                        cur = _unfilter(ftype, line, prev, bpp)
                        rows.append(cur)
                        prev = cur
                        if len(rows) >= nrows:
                            return rows
                    if not out and not data:
                        break
            self.f.seek(offset + length + 4)
        return rows


def _unfilter(ftype: int, line: bytearray, prev: bytearray, bpp: int) -> bytearray:
    """PNG row unfiltering restricted to the leading bytes we keep."""
    cur = bytearray(line)
    n = len(cur)
    if ftype == 0:
        return cur
    if ftype == 1:
        for i in range(bpp, n):
            cur[i] = (cur[i] + cur[i - bpp]) & 0xFF
    elif ftype == 2:
        for i in range(n):
            cur[i] = (cur[i] + prev[i]) & 0xFF
    elif ftype == 3:
        for i in range(n):
            left = cur[i - bpp] if i >= bpp else 0
            cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 0xFF
    elif ftype == 4:
        for i in range(n):
            a = cur[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (cur[i] + pred) & 0xFF
    return cur


def _bits_from_rows(rows: list[bytearray], bpp: int, mode: str, ncols: int, nbits: int) -> list[int]:
    """Column-major LSB stream from row-major pixel rows."""
    bits: list[int] = []
    h = len(rows)
    for x in range(ncols):
        base = x * bpp
        for y in range(h):
            row = rows[y]
            if base + bpp > len(row):
                return bits
            if mode == "alpha":
                bits.append(row[base + 3] & 1)
            else:
                bits.extend((row[base] & 1, row[base + 1] & 1, row[base + 2] & 1))
            if len(bits) >= nbits:
                return bits[:nbits]
    return bits


def _bytes(bits: list[int]) -> bytes:
    out = bytearray()
    for i in range(0, len(bits) - 7, 8):
        v = 0
        for b in bits[i : i + 8]:
            v = (v << 1) | b
        out.append(v)
    return bytes(out)


def _decode_payload(data: bytes, compressed: bool) -> str | None:
    """The hidden payload as text; gzip-compressed payloads are inflated to at most ``MAX_PAYLOAD_TEXT``
    (None when larger or corrupt).
    """
    if compressed:
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
                raw = gz.read(MAX_PAYLOAD_TEXT + 1)
        except (OSError, EOFError, zlib.error):
            return None
        if len(raw) > MAX_PAYLOAD_TEXT:
            return None
    else:
        raw = data
    return raw.decode("utf-8", errors="replace")


def read_stealth_png(source: Path | bytes, info: ContainerInfo) -> tuple[str, str] | None:
    """(magic, text) hidden in an 8-bit RGB/RGBA non-interlaced PNG, else None."""
    if info.kind != "png" or info.bit_depth != 8 or info.color_type not in (2, 6) or not info.width or not info.height:
        return None
    if info.interlace:
        return _read_stealth_pil(source, info)
    f = open_source(source)
    try:
        cols = _Columns(f, info)
        h = info.height
        modes = ["alpha", "rgb"] if info.color_type == 6 else ["rgb"]
        for mode in modes:
            per_px = 1 if mode == "alpha" else 3
            px_needed = math.ceil(HEADER_BITS / per_px)
            ncols, nrows = math.ceil(px_needed / h), min(h, px_needed)
            rows = cols.read(ncols, nrows)
            bits = _bits_from_rows(rows, cols.bpp, mode, ncols, HEADER_BITS)
            if len(bits) < HEADER_BITS:
                continue
            head = _bytes(bits)
            magic = head[:15]
            if magic not in MAGICS or MAGICS[magic][0] != mode:
                continue
            nbits = int.from_bytes(head[15:19], "big")
            if nbits <= 0 or nbits > MAX_PAYLOAD_BITS or HEADER_BITS + nbits > info.width * h * per_px:
                return None
            total = HEADER_BITS + nbits
            px = math.ceil(total / per_px)
            ncols, nrows = math.ceil(px / h), min(h, px)
            rows = cols.read(ncols, nrows)
            bits = _bits_from_rows(rows, cols.bpp, mode, ncols, total)
            if len(bits) < total:
                return None
            text = _decode_payload(_bytes(bits[HEADER_BITS:]), MAGICS[magic][1])
            return (magic.decode(), text) if text else None
        return None
    finally:
        if f is not source:
            f.close()


def _read_stealth_pil(source: Path | bytes, info: ContainerInfo) -> tuple[str, str] | None:
    """Decode with Pillow (WebP, interlaced PNG) when the image is small enough."""
    if not info.width or not info.height or info.width * info.height > MAX_PIL_PIXELS:
        return None
    import numpy as np
    from PIL import Image

    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
            rgb = im if im.mode in ("RGBA", "RGB") else im.convert("RGBA" if "A" in im.getbands() else "RGB")
            arr = np.asarray(rgb)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        log.debug("stealth decode failed: %s", exc)
        return None
    for mode in (["alpha", "rgb"] if arr.shape[2] == 4 else ["rgb"]):
        if mode == "alpha":
            stream = (arr[..., 3].T & 1).reshape(-1)
        else:
            stream = (arr[..., :3].transpose(1, 0, 2) & 1).reshape(-1)
        if stream.size < HEADER_BITS:
            continue
        head = np.packbits(stream[:HEADER_BITS]).tobytes()
        magic = head[:15]
        if magic not in MAGICS or MAGICS[magic][0] != mode:
            continue
        nbits = int.from_bytes(head[15:19], "big")
        if nbits <= 0 or HEADER_BITS + nbits > stream.size:
            return None
        payload = np.packbits(stream[HEADER_BITS : HEADER_BITS + nbits]).tobytes()
        text = _decode_payload(payload, MAGICS[magic][1])
        return (magic.decode(), text) if text else None
    return None


def read_stealth(source: Path | bytes, info: ContainerInfo) -> tuple[str, str] | None:
    """Stealth data of a PNG or WebP, or None. Never raises on damaged pixels."""
    try:
        if info.kind == "png":
            return read_stealth_png(source, info)
        if info.kind == "webp" and info.has_alpha:
            return _read_stealth_pil(source, info)
    except (zlib.error, OSError, ValueError) as exc:
        log.debug("stealth scan stopped: %s", exc)
    return None
