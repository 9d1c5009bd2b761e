"""Hostile inputs end in a clear error within bounded time and memory."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from comfyfixer.tools.errors import WorkflowFormatError
from comfyfixer.tools.workflow import inspect_source, load_workflow


def test_200_mb_json_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as fh:  # sparse: the size is real, the disk use is not
        fh.write(b'{"nodes": [')
        fh.truncate(200 * 1024 * 1024)
    with pytest.raises(WorkflowFormatError, match="over the"):
        load_workflow(path)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"nodes": ' + "[" * 10_000 + "]" * 10_000 + "}")
    with pytest.raises(WorkflowFormatError, match="nested"):
        load_workflow(path)


def test_brackets_inside_strings_are_not_nesting(tmp_path: Path) -> None:
    path = tmp_path / "note.json"
    note = "[" * 5000 + "{" * 5000
    path.write_text('{"nodes": [{"id": 1, "type": "Note", "widgets_values": ["' + note + '"]}], "links": []}')
    assert load_workflow(path).graph.nodes["1"].widgets_values == [note]


def test_cyclic_and_dangling_links_do_not_hang() -> None:
    nodes = [
        {"id": 1, "type": "Reroute", "inputs": [{"name": "", "type": "*", "link": 2}], "outputs": [{"links": [1]}]},
        {"id": 2, "type": "Reroute", "inputs": [{"name": "", "type": "*", "link": 1}], "outputs": [{"links": [2]}]},
        {"id": 3, "type": "VAEDecode", "inputs": [{"name": "vae", "type": "VAE", "link": 3}]},
    ]
    links = [[1, 1, 0, 2, 0, "*"], [2, 2, 0, 1, 0, "*"], [3, 99, 0, 3, 0, "VAE"], [4, 1, 0, 42, 0, "*"]]
    result = inspect_source({"nodes": nodes, "links": links})
    assert {t.class_type for t in result.node_types} == {"VAEDecode"}
    api = {"1": {"class_type": "VAEDecode", "inputs": {"vae": ["1", 0], "samples": ["77", 0]}}}
    assert any("missing node 77" in w for w in inspect_source(api).warnings)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def test_png_text_bomb_is_refused_quickly(tmp_path: Path, gigabyte_bomb: bytes) -> None:
    # 1 GiB of zeros (a session fixture, tests/hostile_fixtures.py); the reader must stop long before inflating it.
    payload = gigabyte_bomb
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    png = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"zTXt", b"workflow\x00\x00" + payload)
           + _chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00\x00")) + _chunk(b"IEND", b""))
    path = tmp_path / "bomb.png"
    path.write_bytes(png)
    with pytest.raises(WorkflowFormatError):
        load_workflow(path)


def test_huge_png_is_read_without_loading_pixels(tmp_path: Path) -> None:
    import json as _json
    import tracemalloc

    wf = _json.dumps({"nodes": [{"id": 1, "type": "VAELoader", "widgets_values": ["ae.safetensors"]}], "links": []})
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 6, 0, 0, 0)
    path = tmp_path / "big.png"
    with path.open("wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr))
        block = b"\x00" * (8 << 20)
        for _ in range(12):  # ~100 MB of pixel data before the metadata
            fh.write(_chunk(b"IDAT", block))
        fh.write(_chunk(b"tEXt", b"workflow\x00" + wf.encode()) + _chunk(b"IEND", b""))
    tracemalloc.start()
    result = inspect_source(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [m.filename for m in result.models] == ["ae.safetensors"]
    assert peak < 32 << 20, peak


def test_json_with_millions_of_values_is_refused_before_parsing(tmp_path: Path) -> None:
    """21 MB of ``{},`` (7 million objects, ~1.5 GB once parsed) is refused by counting, in bounded time."""
    import time

    from comfyfixer.tools.workflow.jsonload import MAX_JSON_ITEMS, parse_json_text

    path = tmp_path / "items.json"
    path.write_bytes(b'{"nodes": [' + b",".join([b"{}"] * 7_000_000) + b"]}")
    start = time.process_time()
    with pytest.raises(WorkflowFormatError, match=f"more than {MAX_JSON_ITEMS:,} values"):
        load_workflow(path)
    assert time.process_time() - start < 5
    # commas and brackets inside strings are not values: a note full of them still loads (the exact recount)
    text = '{"nodes": [{"id": 1, "type": "Note", "widgets_values": ["' + "[a, {b}], " * 50_000 + '"]}], "links": []}'
    assert parse_json_text(text, "note", max_items=1000)["nodes"][0]["id"] == 1
    with pytest.raises(WorkflowFormatError, match="more than 5 values"):
        parse_json_text('{"nodes": [1, 2, 3, 4, 5, 6]}', "six", max_items=5)
