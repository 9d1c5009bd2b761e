"""Stealth data in pixel LSBs: NovelAI JSON and A1111 text, alpha and RGB, small and huge images."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from comfyfixer.tools.imagemeta import read_image

from .pngmaker import png, stealth_bits

A1111_TEXT = "a red fox\nNegative prompt: blurry\nSteps: 12, Sampler: Euler a, CFG scale: 4, Seed: 99, Size: 64x48"


def _rows_with_bits(w: int, h: int, bits: list[int], mode: str) -> list[bytes]:
    """Row-major RGBA/RGB rows whose LSBs carry ``bits`` in column-major order."""
    bpp = 4 if mode == "alpha" else 3
    pixels = [[[0xFE if mode == "rgb" else 0x80] * bpp for _ in range(w)] for _ in range(h)]
    if mode == "alpha":
        for y in range(h):
            for x in range(w):
                pixels[y][x][3] = 0xFE
    per_px = 1 if mode == "alpha" else 3
    for i in range(0, len(bits), per_px):
        px = i // per_px
        x, y = divmod(px, h)
        if mode == "alpha":
            pixels[y][x][3] = 0xFE | bits[i]
        else:
            for c in range(3):
                if i + c < len(bits):
                    pixels[y][x][c] = 0xFE | bits[i + c]
    # Filter type 4 (Paeth) on odd rows, 1 (Sub) on even rows: exercises the unfilter code.
    rows = []
    prev = [0] * (w * bpp)
    for y in range(h):
        raw = [v for p in pixels[y] for v in p]
        ftype = 4 if y % 2 else 1
        out = []
        for i, v in enumerate(raw):
            a = raw[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                pred = a
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            out.append((v - pred) & 0xFF)
        rows.append(bytes([ftype, *out]))
        prev = raw
    return rows


def test_a1111_stealth_pnginfo_alpha(tmp_path: Path) -> None:
    bits = stealth_bits(b"stealth_pnginfo", A1111_TEXT.encode())
    f = tmp_path / "a.png"
    f.write_bytes(png(64, 48, 6, _rows_with_bits(64, 48, bits, "alpha")))
    info = read_image(f)
    assert (info.generator, info.prompt, info.seed, info.sampler) == ("A1111", "a red fox", 99, "euler_ancestral")
    assert "stealth:stealth_pnginfo" in info.raw
    assert read_image(f, stealth=False).generator is None


def test_novelai_stealth_pngcomp_alpha(tmp_path: Path) -> None:
    comment = {"prompt": "1girl", "uc": "lowres", "steps": 28, "scale": 5.0, "seed": 7, "sampler": "k_euler", "noise_schedule": "karras"}
    payload = gzip.compress(json.dumps({"Software": "NovelAI", "Source": "NovelAI Diffusion V4.5 4BDE2A90",
                                        "Comment": json.dumps(comment)}).encode())
    bits = stealth_bits(b"stealth_pngcomp", payload)
    f = tmp_path / "n.png"
    f.write_bytes(png(64, 64, 6, _rows_with_bits(64, 64, bits, "alpha")))
    info = read_image(f)
    assert (info.generator, info.prompt, info.negative_prompt, info.seed, info.scheduler) == ("NovelAI", "1girl", "lowres", 7, "karras")
    assert info.model is not None and info.model.hashes == {"NovelAI": "4BDE2A90"}


def test_rgb_stealth(tmp_path: Path) -> None:
    bits = stealth_bits(b"stealth_rgbcomp", gzip.compress(A1111_TEXT.encode()))
    f = tmp_path / "r.png"
    f.write_bytes(png(32, 32, 2, _rows_with_bits(32, 32, bits, "rgb")))
    info = read_image(f)
    assert info.generator == "A1111" and info.steps == 12


def test_stealth_in_huge_truncated_png_reads_only_the_rows_it_needs(tmp_path: Path) -> None:
    w, h = 30_000, 30_000
    bits = stealth_bits(b"stealth_pnginfo", A1111_TEXT.encode())
    blank = b"\x00" + b"\x00" * (w * 4)

    def rows() -> Iterator[bytes]:
        for y in range(len(bits) + 10):
            first = bytes([0, 0, 0, bits[y] if y < len(bits) else 0])
            yield b"\x00" + first + blank[5:]

    f = tmp_path / "huge.png"
    f.write_bytes(png(w, h, 6, rows()))  # pixel data stops early
    tracemalloc.start()
    info = read_image(f)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert info.generator == "A1111" and info.seed == 99
    assert peak < 64 * 1024 * 1024
