"""Hostile and broken files fail cleanly, with bounded memory."""

from __future__ import annotations

import contextlib
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from comfyfixer.tools.errors import WorkflowFormatError
from comfyfixer.tools.imagemeta import read_embedded_graphs, read_image, read_images
from comfyfixer.tools.imagemeta.reader import ImageReadError

from .pngmaker import chunk, png, text_chunk

MiB = 1024 * 1024


def _peak(fn: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _bomb(size: int) -> bytes:
    comp = zlib.compressobj(9)
    block = b"\x00" * MiB
    return b"".join(comp.compress(block) for _ in range(size // MiB)) + comp.flush()


@pytest.fixture(scope="module")
def gigabyte_bomb() -> bytes:
    return _bomb(1024 * MiB)  # ~1 MiB compressed, 1 GiB inflated


def test_ztxt_bomb_is_skipped_within_bounded_memory(tmp_path: Path, gigabyte_bomb: bytes) -> None:
    ztxt = chunk(b"zTXt", b"parameters\x00\x00" + gigabyte_bomb)
    f = tmp_path / "bomb.png"
    f.write_bytes(png(1, 1, 2, [b"\x00\x00\x00\x00"], pre=[ztxt, text_chunk("Comment", "x")]))
    def run() -> str:
        with pytest.raises(ImageReadError, match="limit") as exc:
            read_image(f)
        return str(exc.value)

    _, peak = _peak(run)
    assert peak < 120 * MiB
    # with real metadata next to the bomb, the rest of the file is still read
    ok = tmp_path / "bomb_and_params.png"
    ok.write_bytes(png(1, 1, 2, [b"\x00\x00\x00\x00"], pre=[ztxt, text_chunk("parameters", "a cat\nSteps: 3, Seed: 4, Size: 1x1")]))
    info = read_image(ok)
    assert info.seed == 4 and any("limit" in w for w in info.warnings)


def test_itxt_bomb_in_graph_reader(gigabyte_bomb: bytes) -> None:
    itxt = chunk(b"iTXt", b"workflow\x00\x01\x00\x00\x00" + gigabyte_bomb)
    data = png(1, 1, 2, [b"\x00\x00\x00\x00"], pre=[itxt])
    with pytest.raises(WorkflowFormatError, match="limit"):
        read_embedded_graphs(data)


def test_truncated_real_files_never_crash(shared_data: Path, tmp_path: Path) -> None:
    corpus = shared_data / "images" / "corpus"
    sources = [corpus / "comfyui" / "sd-metadata__comfyui.png", corpus / "a1111" / "sd-metadata__forge-neo.jpeg",
               corpus / "comfyui" / "ComfyUI_examples__text_to_video_wan.webp", corpus / "novelai" / "sd-metadata__novelai-full.png"]
    for src in sources:
        data = src.read_bytes()
        for cut in (9, 30, 100, 1000, 5000, len(data) // 2, len(data) - 3):
            f = tmp_path / f"cut_{cut}{src.suffix}"
            f.write_bytes(data[:cut])
            try:
                info = read_image(f)
            except ImageReadError as exc:
                assert "truncated" in str(exc) or "damaged" in str(exc) or "broken" in str(exc)
            else:
                assert info.generator is None or info.prompt is not None
            with contextlib.suppress(WorkflowFormatError):
                read_embedded_graphs(data[:cut])
    # a batch with broken files keeps going
    results = read_images([tmp_path])
    assert len(results) == len(list(tmp_path.iterdir()))


def _tiff(entries: list[tuple[int, int, int, bytes]], *, extra: bytes = b"", ifd_offset: int = 8) -> bytes:
    """Little-endian TIFF with one IFD; ``entries`` are (tag, type, count, 4-byte value/offset)."""
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHI", t, ty, c) + v for t, ty, c, v in entries)
    return b"II*\x00" + struct.pack("<I", ifd_offset) + ifd + b"\x00\x00\x00\x00" + extra


def _jpeg_with_exif(tiff: bytes) -> bytes:
    app1 = b"Exif\x00\x00" + tiff
    return b"\xff\xd8" + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + b"\xff\xd9"


def test_exif_loops_and_bad_offsets(tmp_path: Path) -> None:
    looping = _tiff([(0x8769, 4, 1, struct.pack("<I", 8))])  # Exif IFD pointer back to IFD0
    out_of_range = _tiff([(0x010E, 2, 5000, struct.pack("<I", 10**9)), (0x8769, 4, 1, struct.pack("<I", 2**31))])
    huge_count = _tiff([(0x9286, 7, 0xFFFFFFFF, struct.pack("<I", 20))])
    bad_ifd0 = _tiff([], ifd_offset=0xFFFFFF00)
    for i, tiff in enumerate((looping, out_of_range, huge_count, bad_ifd0)):
        f = tmp_path / f"exif{i}.jpg"
        f.write_bytes(_jpeg_with_exif(tiff))
        info, peak = _peak(partial(read_image, f))
        assert info.generator is None
        assert peak < 20 * MiB
    info = read_image(tmp_path / "exif1.jpg")
    assert any("out" in w for w in info.warnings)


def test_huge_rgba_png_stealth_scan_is_cheap(tmp_path: Path) -> None:
    """30,000 x 30,000 RGBA (3.6 GB of pixels): the scan reads 152 rows of one column and stops."""
    w = h = 30_000
    row = b"\x00" + b"\x00" * (w * 4)
    f = tmp_path / "huge.png"
    f.write_bytes(png(w, h, 6, (row for _ in range(400))))  # pixel data stops after 400 rows
    info, peak = _peak(lambda: read_image(f))
    assert info.generator is None
    assert peak < 64 * MiB


def test_not_an_image(tmp_path: Path) -> None:
    f = tmp_path / "notes.png"
    f.write_text("just text")
    assert read_image(f).generator is None
    assert read_embedded_graphs(f) is None
    missing = tmp_path / "missing.png"
    with pytest.raises(ImageReadError):
        read_image(missing)


def test_deep_json_and_xml_entities(tmp_path: Path) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    text = f"a cat\nSteps: 20, Seed: 1, Hashes: {{\"x\": {deep}}}, Civitai resources: {deep}"
    f = tmp_path / "deep.png"
    f.write_bytes(png(1, 1, 2, [b"\x00\x00\x00\x00"], pre=[text_chunk("parameters", text), text_chunk("prompt", deep)]))
    info = read_image(f)
    assert info.seed == 1 and info.prompt_graph is None
    laughs = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
              '<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>')
    g = tmp_path / "laughs.png"
    g.write_bytes(png(1, 1, 2, [b"\x00\x00\x00\x00"], pre=[chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + laughs.encode())]))
    assert read_image(g).generator is None
