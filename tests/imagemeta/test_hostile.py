"""Hostile and broken files fail cleanly, with bounded memory."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import random
import struct
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hostile_fixtures import mutate_json

from comfyfixer.tools.errors import WorkflowFormatError
from comfyfixer.tools.imagemeta import read_embedded_graphs, read_image, read_images
from comfyfixer.tools.imagemeta.graphs import try_json
from comfyfixer.tools.imagemeta.reader import ImageReadError

from .pngmaker import chunk, jpeg, png, text_chunk, webp

MiB = 1024 * 1024


def _peak(fn: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# `gigabyte_bomb` and `many_ztxt_png` are session fixtures from tests/hostile_fixtures.py.


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


_MEASURE = """
import json, resource, sys, time
from pathlib import Path
from comfyfixer.tools.imagemeta import read_image
from comfyfixer.tools.imagemeta.reader import ImageReadError
from comfyfixer.tools.workflow import load_workflow
from comfyfixer.tools.errors import WorkflowFormatError
path = Path(sys.argv[1])


def peak_mb():
    # VmHWM is this process's own high-water mark; ru_maxrss survives exec and would report the parent's.
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


out = {"base_mb": peak_mb()}
start = time.perf_counter()
try:
    info = read_image(path)
    out["read"] = {"generator": info.generator, "warnings": info.warnings, "prompt": info.prompt}
except ImageReadError as exc:
    out["read"] = {"error": str(exc)}
out["read_s"] = time.perf_counter() - start
start = time.perf_counter()
try:
    load_workflow(path)
    out["load"] = "loaded"
except WorkflowFormatError as exc:
    out["load"] = str(exc)
out["load_s"] = time.perf_counter() - start
out["peak_mb"] = peak_mb()
print(json.dumps(out))
"""


def _measure(path: Path) -> dict[str, Any]:
    """Read ``path`` in a fresh interpreter: its peak RSS is what the read really cost."""
    proc = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_many_ztxt_chunks_are_bounded_by_inflated_bytes(many_ztxt_png: Path) -> None:
    """200 zTXt chunks x 32 MiB inflated (6.4 GiB from a 6.5 MB file; 6.6 GB RSS and 94 s before the
    budget counted inflated bytes): reading stops at the 64 MiB per-file budget."""
    m = _measure(many_ztxt_png)
    assert m["read_s"] < 2 and m["load_s"] < 2, m
    assert m["peak_mb"] < 200, m  # the interpreter and its imports are ~40-60 MB of this
    assert "64 MiB total limit" in m["read"]["error"] and "over a safety limit" in m["read"]["error"]
    assert "64 MiB total limit" in m["load"]  # the workflow loader reads images through the same reader


def test_real_metadata_before_many_bombs_is_kept_with_a_warning(many_ztxt_png: Path, tmp_path: Path) -> None:
    data = many_ztxt_png.read_bytes()
    params = text_chunk("parameters", "a cat\nSteps: 3, Seed: 4, Size: 1x1")
    ihdr_end = 8 + 25  # signature + IHDR chunk
    f = tmp_path / "params_then_bombs.png"
    f.write_bytes(data[:ihdr_end] + params + data[ihdr_end:])
    m = _measure(f)
    assert m["read_s"] < 2 and m["peak_mb"] < 200, m
    assert m["read"]["generator"] == "A1111" and m["read"]["prompt"] == "a cat"
    assert any("64 MiB total limit" in w for w in m["read"]["warnings"])
    assert any("198 more metadata chunk(s) skipped unread" in w for w in m["read"]["warnings"])


@pytest.mark.parametrize("kind", ["webp", "jpeg"])
def test_exif_and_xmp_count_against_the_same_budget(kind: str, tmp_path: Path) -> None:
    """Many big EXIF/XMP blocks: the first ones are read, the rest skipped with a warning."""
    xmp = b"<x:xmpmeta>" + b" " * (20 * MiB) + b"</x:xmpmeta>"
    if kind == "webp":
        data = webp([(b"XMP ", xmp)] * 5 + [(b"EXIF", b"Exif\x00\x00" + b"\x00" * 64)])
        limit_after = 3  # 3 x 20 MiB fit in 64 MiB, the 4th does not
    else:
        seg = b"http://ns.adobe.com/xap/1.0/\x00" + b" " * 60_000
        data = jpeg([(0xE1, seg)] * 1200)  # 72 MB of XMP segments
        limit_after = (64 * MiB) // (len(seg))
    f = tmp_path / f"many_xmp.{kind}"
    f.write_bytes(data)
    with pytest.raises(ImageReadError, match="64 MiB total limit"):
        read_image(f)
    from comfyfixer.tools.imagemeta.containers import read_container

    info = read_container(f)
    assert len([e for e in info.entries if e.key == "XMP"]) == limit_after
    assert any("total limit" in p for p in info.problems)


def test_many_tiny_chunks_are_capped(tmp_path: Path) -> None:
    """100,000 one-byte tEXt chunks: 4096 are kept (a counter per key, no rescans), then a clear problem."""
    from comfyfixer.tools.imagemeta.containers import MAX_ENTRIES

    one = text_chunk("k", "v")
    f = tmp_path / "tiny_chunks.png"
    f.write_bytes(png(1, 1, 2, [b"\x00\x00\x00\x00"], pre=[text_chunk("parameters", "a cat\nSteps: 3, Seed: 4")]
                      + [one] * 100_000))
    start = time.perf_counter()
    info = read_image(f)
    assert time.perf_counter() - start < 5
    assert info.seed == 4
    assert len([k for k in info.raw if k.split("#")[0] == "k"]) == MAX_ENTRIES - 1
    assert any(f"more than {MAX_ENTRIES} metadata values" in w for w in info.warnings)


def test_chunk_walks_are_capped(tmp_path: Path) -> None:
    """Millions of empty chunks would take seconds per pass: the walk stops at a cap, with a problem."""
    from comfyfixer.tools.imagemeta.containers import MAX_JPEG_FILL, iter_png_chunks

    data = png(1, 1, 2, [b"\x00\x00\x00\x00"], pre=[chunk(b"zzZz", b"")] * 2000)
    problems: list[str] = []
    walked = list(iter_png_chunks(io.BytesIO(data), problems, max_chunks=1000))
    assert len(walked) == 1000 and problems == ["PNG has more than 1,000 chunks; the rest was not read (limit)"]
    problems = []
    assert [c for c, _, _ in iter_png_chunks(io.BytesIO(data), problems)][-1] == b"IEND" and not problems
    # a JPEG of fill bytes: bounded, and reported
    f = tmp_path / "fill.jpg"
    f.write_bytes(b"\xff\xd8" + b"\xff" * (MAX_JPEG_FILL + 10) + b"\xd9")
    start = time.perf_counter()
    with pytest.raises(ImageReadError, match="fill bytes"):
        read_image(f)
    assert time.perf_counter() - start < 2


def test_seeded_random_metadata_mutations_never_raise(shared_data: Path) -> None:
    """Real corpus metadata with odd JSON values (NaN, Infinity, lists for objects, ...) or stray text spliced in.

    Run over the corpus before these checks, this generator found six crash sites in the generator
    parsers (int() of NaN/Infinity, iterating a boolean or a number, ``.get`` on a list).
    """
    from comfyfixer.tools.imagemeta.containers import read_container
    from comfyfixer.tools.imagemeta.reader import read_container_info

    rnd = random.Random(7)
    corpus = shared_data / "images" / "corpus"
    read = []
    for f in sorted(p for p in corpus.rglob("*") if p.is_file()):
        cinfo = read_container(f)
        if cinfo.entries:
            read.append((f, cinfo))
    assert len(read) > 60
    splices = ["{", "[", ":", ",", "\n", "Steps: x, Seed: ", "\x00", '"', "Size: 99999999999x1, ", "Steps: inf, CFG scale: nan"]
    for f, cinfo in read:
        for _ in range(12):
            mutant = copy.deepcopy(cinfo)
            entry = rnd.choice(mutant.entries)
            obj = try_json(entry.value)
            if isinstance(obj, dict | list) and rnd.random() < 0.7:
                for _ in range(rnd.randint(1, 4)):
                    mutate_json(obj, rnd)
                entry.value = json.dumps(obj)
            else:
                at = rnd.randrange(max(1, len(entry.value)))
                entry.value = entry.value[:at] + rnd.choice(splices) + entry.value[at:]
            info = read_container_info(mutant, f, stealth=False)  # no exception of any kind
            assert info.container == cinfo.kind


def test_json_values_with_millions_of_items_are_not_parsed(tmp_path: Path) -> None:
    """30 MB of ``{},`` would parse into ~640 MB: a value over MAX_JSON_ITEMS is left unparsed, quickly."""
    from comfyfixer.tools.imagemeta.graphs import MAX_JSON_ITEMS

    huge = "[" + ",".join(["{}"] * (MAX_JSON_ITEMS + 10)) + "]"
    assert try_json(huge) is None
    assert try_json("[" + ",".join(["{}"] * 1000) + "]") == [{}] * 1000
    f = tmp_path / "items.png"
    f.write_bytes(png(1, 1, 2, [b"\x00\x00\x00\x00"], pre=[text_chunk("prompt", huge), text_chunk("parameters", huge)]))
    start = time.process_time()
    info = read_image(f)
    assert time.process_time() - start < 2
    assert info.prompt_graph is None and info.generator is None


def test_each_large_value_is_parsed_once_per_read() -> None:
    """Up to six parsers try one value; inside ``parse_once`` they share one parse, outside nothing is kept."""
    from comfyfixer.tools.imagemeta.graphs import parse_once

    big = json.dumps({f"k{i}": [i] for i in range(20_000)})
    with parse_once():
        first = try_json(big)
        assert try_json(big) is first
    assert try_json(big) is not first and try_json(big) == first  # nothing is kept after the block


def test_a_large_json_dict_in_two_text_carriers_reads_in_bounded_time(tmp_path: Path) -> None:
    """400,000 keys in ``parameters`` and again in ``Comment``: every parser tries them, each is parsed once."""
    val = "{" + ",".join(f'"k{i}":[]' for i in range(200_000)) + "}"
    f = tmp_path / "dict.png"
    f.write_bytes(png(1, 1, 2, [b"\x00\x00\x00\x00"], pre=[text_chunk("parameters", val), text_chunk("Comment", val)]))
    start = time.process_time()
    info = read_image(f)
    assert time.process_time() - start < 5
    assert info.generator is None
