"""Bounded readers for the metadata carried by PNG, JPEG and WebP files.

Written by hand with ``struct`` and ``zlib.decompressobj`` instead of Pillow so a
hostile file cannot make us allocate more than the limits below: pixel data is
skipped with ``seek``, every compressed text is inflated with a ``max_length``,
and EXIF offsets are bounds-checked with a visited set (no loops).

One ``TextBudget`` per file counts the metadata text *after* inflating, across every
chunk and segment (tEXt, zTXt, iTXt, eXIf, EXIF, XMP, COM): a 6 MB PNG of 200 zTXt
chunks that each inflate to 32 MiB costs at most ``MAX_TOTAL_TEXT`` of inflating and
memory, never 6 GB, because no chunk is inflated past what is left of the budget.

The container is chosen by magic bytes, never by the file extension.
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

MAX_TEXT_BYTES = 32 * 1024 * 1024  # one decoded text value (ComfyUI graphs reach a few MiB)
MAX_CHUNK_BYTES = 64 * 1024 * 1024  # one metadata chunk/segment read into memory
MAX_TOTAL_TEXT = 64 * 1024 * 1024  # all metadata text of one file, counted after inflating
MAX_ENTRIES = 4096  # metadata values of one file (real files carry a few dozen)
# Chunks/segments walked per file: each costs a read and a seek (~1.5 µs), so a file of millions of
# empty chunks would take seconds per pass. Real files: tens to a few thousand (APNG frames, 8 KiB IDATs).
MAX_CHUNKS = 1_000_000
MAX_JPEG_FILL = 65_536  # 0xFF fill bytes before a marker (read one at a time)
MAX_IFD_ENTRIES = 512
MAX_IFDS = 16

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# EXIF tags we read (IFD0 unless noted).
TAG_NAMES = {
    0x010D: "DocumentName",
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0131: "Software",
    0x013B: "Artist",
    0x8298: "Copyright",
    0x9286: "UserComment",
    0x927C: "MakerNote",
    0x9C9C: "XPComment",
    0x9C9B: "XPTitle",
    0x9C9F: "XPSubject",
}
EXIF_IFD_POINTER = 0x8769
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}


class ContainerError(Exception):
    """The file's structure is broken (truncated, hostile, or over a limit)."""


class BudgetSpent(ContainerError):
    """The file's metadata text reached ``MAX_TOTAL_TEXT`` (or ``MAX_ENTRIES``): the rest is skipped."""


class TextBudget:
    """What one file's metadata may still cost, in bytes of text after inflating.

    Every text value is charged, compressed or not, and an inflate is charged for what
    it produced even when it then fails a limit: the budget bounds work as well as memory.
    """

    def __init__(self, total: int = MAX_TOTAL_TEXT, entries: int = MAX_ENTRIES) -> None:
        self.total = total
        self.left = total
        self.entries_left = entries
        self.spent = False  # set once; later chunks are skipped without being read

    def _exhaust(self, what: str) -> BudgetSpent:
        self.spent = True
        return BudgetSpent(f"metadata text of this file exceeds the {_mib(self.total)} MiB total limit at the "
                           f"{what}; the rest was skipped")

    def entry(self) -> None:
        """Charge one more metadata value."""
        if self.entries_left <= 0:
            self.spent = True
            raise BudgetSpent(f"more than {MAX_ENTRIES} metadata values in this file; the rest were skipped")
        self.entries_left -= 1

    def take(self, n: int, what: str) -> None:
        """Charge ``n`` bytes of text that are already uncompressed."""
        if self.spent or n > self.left:
            raise self._exhaust(what)
        self.left -= n

    def inflate(self, data: bytes, what: str) -> bytes:
        """zlib-inflate ``data``, never past one value's limit nor past what is left of the file's budget."""
        if self.spent or self.left <= 0:
            raise self._exhaust(what)
        limit = min(MAX_TEXT_BYTES, self.left)
        d = zlib.decompressobj()
        try:
            # One byte over the limit tells "exactly at the limit" from "past it"; max_length > 0 always
            # (0 would mean unlimited).
            out = d.decompress(data, limit + 1)
        except zlib.error as exc:
            raise ContainerError(f"corrupt compressed text in the {what} ({exc})") from exc
        self.left -= min(len(out), limit)
        if len(out) > limit:
            if limit < MAX_TEXT_BYTES:
                raise self._exhaust(what)
            raise ContainerError(f"compressed text in the {what} inflates past the {_mib(MAX_TEXT_BYTES)} MiB limit "
                                 "for one value; skipped")
        return out


def _mib(n: int) -> int:
    return n // (1024 * 1024)


@dataclass
class RawEntry:
    """One metadata value as found in the file."""

    source: str  # e.g. "png:tEXt", "png:iTXt", "exif:IFD0", "exif:ExifIFD", "jpeg:COM", "xmp"
    key: str
    value: str


@dataclass
class ContainerInfo:
    """What a container holds besides pixels.

    ``entries`` are every metadata value in file order (``RawEntry.source`` says which chunk or segment);
    ``problems`` is damage that stopped reading, ``warnings`` oddities that did not. The PNG pixel facts
    (bit depth, colour type, interlace, alpha, animation) are what the stealth reader needs to decide
    whether and how to look.
    """

    kind: str | None  # png, jpeg, webp; None = not an image we know
    width: int | None = None
    height: int | None = None
    entries: list[RawEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # damage that stops reading (truncation, limits)
    warnings: list[str] = field(default_factory=list)  # oddities that do not (bad EXIF offsets)
    # PNG details the stealth reader needs.
    bit_depth: int | None = None
    color_type: int | None = None
    interlace: int | None = None
    has_alpha: bool = False
    animated: bool = False

    def get(self, key: str) -> str | None:
        """First value for ``key`` (case-sensitive), any source."""
        for e in self.entries:
            if e.key == key:
                return e.value
        return None

    def get_all(self, key: str) -> list[str]:
        """Every value for ``key`` (case-sensitive), in file order, from any source."""
        return [e.value for e in self.entries if e.key == key]


def sniff(head: bytes) -> str | None:
    """Container kind from the first bytes."""
    if head.startswith(PNG_MAGIC):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def open_source(source: Path | bytes | BinaryIO) -> BinaryIO:
    """A binary file object for ``source``: bytes are wrapped in ``BytesIO``, a path is opened (the caller
    closes it), a file object is returned as is.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source))
    if isinstance(source, Path | str):
        return open(source, "rb")
    return source


def read_container(source: Path | bytes | BinaryIO) -> ContainerInfo:
    """Read every metadata entry of a PNG, JPEG or WebP; bounded in memory.

    The kind comes from the first bytes, not the name; anything else gives ``ContainerInfo(kind=None)``.
    Damage that stops reading is listed in ``problems`` rather than raised, so what was read before it is
    kept; ``ContainerError``/``struct.error`` can still escape for structures broken at the start. A file
    the function opened is closed; a file object passed in is left open.
    """
    f = open_source(source)
    opened = f is not source
    try:
        head = f.read(16)
        kind = sniff(head)
        f.seek(0)
        if kind == "png":
            return _read_png(f)
        if kind == "jpeg":
            return _read_jpeg(f)
        if kind == "webp":
            return _read_webp(f)
        return ContainerInfo(kind=None)
    finally:
        if opened:
            f.close()


# --------------------------------------------------------------------------- text helpers


def inflate(data: bytes, limit: int = MAX_TEXT_BYTES) -> bytes:
    """zlib-inflate one value on its own budget of ``limit`` bytes (see ``TextBudget.inflate``)."""
    return TextBudget(total=limit).inflate(data, "compressed value")


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 bytes that were decoded as Latin-1 (non-Pillow tEXt writers)."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def decode_text_bytes(raw: bytes) -> str:
    """UTF-8 when valid, else Latin-1; trailing NULs removed."""
    raw = raw.rstrip(b"\x00")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def decode_user_comment(raw: bytes) -> str | None:
    """EXIF UserComment: 8-byte charset prefix, UTF-16 of either byte order.

    ``UNICODE`` payloads use their BOM, else the byte order is guessed from where the NUL bytes fall (writers
    disagree on it); ``ASCII``, ``JIS`` (Shift-JIS) and an all-zero prefix are decoded too, and a value
    without a prefix is read as plain text. None for an empty value.
    """
    prefix, payload = raw[:8], raw[8:]
    if prefix == b"UNICODE\x00":
        payload = payload.rstrip(b"\x00") if len(payload) % 2 == 0 else payload
        if len(payload) % 2:
            payload = payload + b"\x00"
        if not payload.strip(b"\x00 "):
            return None
        if payload.startswith(b"\xfe\xff"):
            text = payload[2:].decode("utf-16-be", errors="replace")
        elif payload.startswith(b"\xff\xfe"):
            text = payload[2:].decode("utf-16-le", errors="replace")
        else:
            sample = payload[:512]
            even_nul = sum(1 for i in range(0, len(sample), 2) if sample[i] == 0)
            odd_nul = sum(1 for i in range(1, len(sample), 2) if sample[i] == 0)
            enc = "utf-16-be" if even_nul >= odd_nul else "utf-16-le"
            text = payload.decode(enc, errors="replace")
        text = text.rstrip("\x00")
        return text or None
    if prefix == b"ASCII\x00\x00\x00":
        text = decode_text_bytes(payload)
        return text or None
    if prefix == b"JIS\x00\x00\x00\x00\x00":
        try:
            text = payload.rstrip(b"\x00").decode("shift_jis")
        except UnicodeDecodeError:
            text = decode_text_bytes(payload)
        return text or None
    if prefix == b"\x00" * 8:
        text = decode_text_bytes(payload).strip("\x00")
        return text or None
    text = decode_text_bytes(raw).strip("\x00")  # no prefix: some savers write plain text
    return text or None


# --------------------------------------------------------------------------- PNG


def iter_png_chunks(f: BinaryIO, problems: list[str], max_chunks: int = MAX_CHUNKS) -> Iterator[tuple[bytes, int, int]]:
    """Yield (type, data_offset, length) for each chunk; stops at IEND, on damage, or after ``max_chunks``.

    The caller reads (or skips) each chunk's data itself; the iterator seeks past the data and CRC, which is
    not checked. Why it stopped early is appended to ``problems``.
    """
    f.seek(8)
    for _ in range(max_chunks):
        hdr = f.read(8)
        if len(hdr) == 0:
            problems.append("PNG ends without IEND (truncated)")
            return
        if len(hdr) < 8:
            problems.append("PNG truncated inside a chunk header")
            return
        length, ctype = struct.unpack(">I4s", hdr)
        if length > 0x7FFFFFFF or not ctype.isalpha():
            problems.append(f"PNG chunk header is corrupt at offset {f.tell() - 8}")
            return
        offset = f.tell()
        yield ctype, offset, length
        if ctype == b"IEND":
            return
        f.seek(offset + length + 4)
    problems.append(f"PNG has more than {max_chunks:,} chunks; the rest was not read (limit)")


def _read_exact(f: BinaryIO, offset: int, length: int, what: str) -> bytes:
    """``length`` bytes at ``offset``; ``ContainerError`` when over ``MAX_CHUNK_BYTES`` or truncated."""
    if length > MAX_CHUNK_BYTES:
        raise ContainerError(f"{what} is {length} bytes, over the {MAX_CHUNK_BYTES // (1024 * 1024)} MiB limit")
    f.seek(offset)
    data = f.read(length)
    if len(data) < length:
        raise ContainerError(f"{what} is truncated")
    return data


def _read_png(f: BinaryIO) -> ContainerInfo:
    """Walk the PNG's chunks: size and alpha facts from IHDR/tRNS/acTL, every text chunk (tEXt, zTXt, iTXt,
    comf) and eXIf decoded within the file's ``TextBudget``; pixel data is skipped unread.
    """
    info = ContainerInfo(kind="png")
    budget = TextBudget()
    skipped = 0
    for ctype, offset, length in iter_png_chunks(f, info.problems):
        try:
            if ctype == b"IHDR":
                data = _read_exact(f, offset, min(length, 13), "IHDR")
                if len(data) == 13:
                    w, h, depth, color, _c, _f, interlace = struct.unpack(">IIBBBBB", data)
                    info.width, info.height = w, h
                    info.bit_depth, info.color_type, info.interlace = depth, color, interlace
                    info.has_alpha = color in (4, 6)
                continue
            if ctype == b"acTL":
                info.animated = True
                continue
            if ctype == b"tRNS":
                info.has_alpha = True
                continue
            if ctype not in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"comf"):
                continue
            if budget.spent:  # counted, not read: nothing more of this file's text is inflated
                skipped += 1
                continue
            what = f"{ctype.decode()} chunk at offset {offset - 8}"
            budget.entry()
            if ctype in (b"tEXt", b"eXIf", b"comf"):
                budget.take(length, what)
            data = _read_exact(f, offset, length, what)
            if ctype == b"eXIf":
                _parse_exif(data, info, "png:eXIf")
                continue
            key, value = _decode_png_text(ctype, data, budget, what)
            if key is not None:
                info.entries.append(RawEntry(f"png:{ctype.decode()}", key, value))
        except ContainerError as exc:
            info.problems.append(str(exc))
    if skipped:
        info.problems.append(f"{skipped} more metadata chunk(s) skipped unread (over the file's text limit)")
    return info


def _decode_png_text(ctype: bytes, data: bytes, budget: TextBudget | None = None,
                     what: str = "chunk") -> tuple[str | None, str]:
    """(key, text) of a tEXt/zTXt/iTXt/comf chunk; compressed text is inflated on ``budget``."""
    budget = budget if budget is not None else TextBudget()
    if ctype == b"tEXt":
        key, _, value = data.partition(b"\x00")
        return key.decode("latin-1"), fix_mojibake(value.decode("latin-1"))
    if ctype == b"zTXt":
        key, _, rest = data.partition(b"\x00")
        if not rest or rest[0] != 0:
            return None, ""
        return key.decode("latin-1"), fix_mojibake(budget.inflate(rest[1:], what).decode("latin-1"))
    if ctype == b"comf":  # APNG ComfyUI chunk: key\0 + text (as tEXt)
        key, _, value = data.partition(b"\x00")
        return key.decode("latin-1"), decode_text_bytes(value)
    # iTXt
    key, _, rest = data.partition(b"\x00")
    if len(rest) < 2:
        return None, ""
    comp_flag, method = rest[0], rest[1]
    rest = rest[2:]
    _lang, _, rest = rest.partition(b"\x00")
    _tkey, _, text = rest.partition(b"\x00")
    if comp_flag:
        if method != 0:
            return None, ""
        text = budget.inflate(text, what)
    else:
        budget.take(len(text), what)
    return key.decode("latin-1"), text.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- EXIF


def _parse_exif(data: bytes, info: ContainerInfo, source: str) -> None:
    """Pull the tags we care about out of a TIFF/EXIF block (with or without ``Exif\\0\\0``)."""
    if data.startswith(b"Exif\x00\x00"):
        data = data[6:]
    if len(data) < 8 or data[:4] not in (b"II*\x00", b"MM\x00*"):
        info.warnings.append(f"{source}: not a TIFF/EXIF block")
        return
    bo = "<" if data[:2] == b"II" else ">"
    (ifd0,) = struct.unpack(bo + "I", data[4:8])
    visited: set[int] = set()
    queue: list[tuple[int, str]] = [(ifd0, "IFD0")]
    while queue and len(visited) < MAX_IFDS:
        off, name = queue.pop(0)
        if off in visited or off < 8 or off + 2 > len(data):
            if off not in visited and off != 0:
                info.warnings.append(f"{source}: {name} offset {off} is out of range")
            continue
        visited.add(off)
        (n,) = struct.unpack(bo + "H", data[off : off + 2])
        if n > MAX_IFD_ENTRIES or off + 2 + 12 * n > len(data):
            info.warnings.append(f"{source}: {name} has a bad entry count")
            continue
        for i in range(n):
            e = off + 2 + 12 * i
            tag, typ, count = struct.unpack(bo + "HHI", data[e : e + 8])
            size = TYPE_SIZES.get(typ, 0) * count
            if tag == EXIF_IFD_POINTER and name == "IFD0":
                (ptr,) = struct.unpack(bo + "I", data[e + 8 : e + 12])
                queue.append((ptr, "ExifIFD"))
                continue
            if tag not in TAG_NAMES or size == 0:
                continue
            if size <= 4:
                raw = data[e + 8 : e + 8 + size]
            else:
                (voff,) = struct.unpack(bo + "I", data[e + 8 : e + 12])
                if voff + size > len(data):
                    info.warnings.append(f"{source}: tag 0x{tag:04X} points outside the EXIF block")
                    continue
                raw = data[voff : voff + size]
            value = _decode_exif_value(tag, typ, raw)
            if value:
                info.entries.append(RawEntry(f"exif:{name}", TAG_NAMES[tag], value))


def _decode_exif_value(tag: int, typ: int, raw: bytes) -> str | None:
    """The text of one EXIF value (ASCII, UNDEFINED or UCS-2 XP tags), or None for a numeric or empty one."""
    if tag == 0x9286:
        return decode_user_comment(raw)
    if tag in (0x9C9C, 0x9C9B, 0x9C9F):  # Windows XP tags: UTF-16LE
        return raw.decode("utf-16-le", errors="replace").rstrip("\x00") or None
    if typ in (2, 7, 1):
        # NovelAI WebP writes ImageDescription with leading NULs.
        text = decode_text_bytes(raw.lstrip(b"\x00") if tag == 0x010E else raw)
        return text.strip("\x00") or None
    return None


# --------------------------------------------------------------------------- JPEG


def _read_jpeg(f: BinaryIO) -> ContainerInfo:
    """Walk the JPEG's segments up to the image data: EXIF and XMP (APP1) and COM become entries, the size
    comes from the SOF segment; fill bytes, truncation and the segment limit end the walk with a ``problems``
    entry.
    """
    info = ContainerInfo(kind="jpeg")
    f.seek(2)
    budget = TextBudget()
    for _ in range(MAX_CHUNKS):
        b = f.read(1)
        fill = 0
        while b == b"\xff":  # fill bytes
            nb = f.read(1)
            if nb != b"\xff":
                b = nb
                break
            fill += 1
            if fill > MAX_JPEG_FILL:
                info.problems.append(f"JPEG has more than {MAX_JPEG_FILL:,} fill bytes in a row at offset {f.tell()} (limit)")
                return info
        else:
            if not b:
                info.problems.append("JPEG ends before the image data (truncated)")
                return info
            info.problems.append(f"JPEG marker expected at offset {f.tell() - 1}")
            return info
        marker = b[0] if b else -1
        if marker < 0:
            info.problems.append("JPEG ends before the image data (truncated)")
            return info
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        if marker == 0xD9:
            return info
        lb = f.read(2)
        if len(lb) < 2:
            info.problems.append("JPEG truncated inside a segment header")
            return info
        (length,) = struct.unpack(">H", lb)
        if length < 2:
            info.problems.append("JPEG segment length is corrupt")
            return info
        offset = f.tell()
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            hdr = f.read(5)
            if len(hdr) == 5:
                info.height, info.width = struct.unpack(">HH", hdr[1:5])
        elif marker == 0xDA:  # start of scan: metadata is before it
            return info
        elif marker in (0xE1, 0xFE):
            try:
                budget.entry()
                budget.take(length - 2, f"JPEG segment at offset {offset - 4}")
            except BudgetSpent as exc:
                info.problems.append(str(exc))
                return info
            data = f.read(length - 2)
            if len(data) < length - 2:
                info.problems.append("JPEG truncated inside a metadata segment")
                return info
            if marker == 0xFE:
                text = decode_text_bytes(data)
                if text.strip():
                    info.entries.append(RawEntry("jpeg:COM", "Comment", text))
            elif data.startswith(b"Exif\x00\x00"):
                _parse_exif(data, info, "jpeg:APP1")
            elif data.startswith(b"http://ns.adobe.com/xap/1.0/\x00"):
                xmp = decode_text_bytes(data[len(b"http://ns.adobe.com/xap/1.0/\x00") :])
                info.entries.append(RawEntry("xmp", "XMP", xmp))
        f.seek(offset + length - 2)
    info.problems.append(f"JPEG has more than {MAX_CHUNKS:,} segments before its image data; the rest was not read (limit)")
    return info


# --------------------------------------------------------------------------- WebP


def _read_webp(f: BinaryIO) -> ContainerInfo:
    """Walk the RIFF chunks of a WebP: size from VP8X/VP8/VP8L, EXIF and XMP chunks as entries; a chunk
    running past the RIFF size or the file ends the walk with a ``problems`` entry.
    """
    info = ContainerInfo(kind="webp")
    budget = TextBudget()
    hdr = f.read(12)
    (riff_size,) = struct.unpack("<I", hdr[4:8])
    end = 8 + riff_size
    pos = 12
    for _ in range(MAX_CHUNKS):
        if pos + 8 > end:
            break
        f.seek(pos)
        ch = f.read(8)
        if len(ch) < 8:
            info.problems.append("WebP truncated inside a chunk header")
            break
        fourcc, size = ch[:4], struct.unpack("<I", ch[4:8])[0]
        data_off = pos + 8
        try:
            if fourcc == b"VP8X":
                d = _read_exact(f, data_off, min(size, 10), "VP8X")
                if len(d) >= 10:
                    info.has_alpha = bool(d[0] & 0x10)
                    info.animated = bool(d[0] & 0x02)
                    info.width = 1 + int.from_bytes(d[4:7], "little")
                    info.height = 1 + int.from_bytes(d[7:10], "little")
            elif fourcc == b"VP8L" and info.width is None:
                d = _read_exact(f, data_off, min(size, 5), "VP8L")
                if len(d) == 5 and d[0] == 0x2F:
                    bits = int.from_bytes(d[1:5], "little")
                    info.width = (bits & 0x3FFF) + 1
                    info.height = ((bits >> 14) & 0x3FFF) + 1
                    info.has_alpha = bool((bits >> 28) & 1)
            elif fourcc == b"VP8 " and info.width is None:
                d = _read_exact(f, data_off, min(size, 10), "VP8")
                if len(d) == 10 and d[3:6] == b"\x9d\x01\x2a":
                    info.width = struct.unpack("<H", d[6:8])[0] & 0x3FFF
                    info.height = struct.unpack("<H", d[8:10])[0] & 0x3FFF
            elif fourcc in (b"EXIF", b"XMP "):
                what = f"WebP {fourcc.decode().strip()} chunk at offset {pos}"
                budget.entry()
                budget.take(size, what)  # before reading: the chunk is charged whole
                data = _read_exact(f, data_off, size, what)
                if fourcc == b"EXIF":
                    _parse_exif(data, info, "webp:EXIF")
                else:
                    info.entries.append(RawEntry("xmp", "XMP", decode_text_bytes(data)))
        except ContainerError as exc:
            info.problems.append(str(exc))
            break
        pos = data_off + size + (size & 1)
    else:
        info.problems.append(f"WebP has more than {MAX_CHUNKS:,} chunks; the rest was not read (limit)")
    f.seek(0, io.SEEK_END)
    if f.tell() < min(end, pos):
        info.problems.append("WebP file is shorter than its RIFF header says (truncated)")
    return info
