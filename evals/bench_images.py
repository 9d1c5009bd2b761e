"""Benchmark: our image metadata reader vs sd-parsers and sd-prompt-reader, same corpus, one run.

For each tool a fresh Python process reads every image of the corpus (sd-parsers at
``Eagerness.EAGER`` and ours with stealth detection on, so both look at alpha
LSBs) and reports images per second, peak memory (max RSS of that process) and how
many files it read correctly. "Correctly" is judged against the hand-checked
values in ``tests/imagemeta/expected.json``: a file with metadata counts when the
tool returns its prompt (whitespace-normalised) and, where the bytes give one, its
seed; a negative control counts when the tool reports nothing and does not crash.

The peers are NOT project dependencies. Install them where the benchmark can run
them, e.g. in a separate environment (sd-prompt-reader pins Pillow 10.3 and
click<8.2, which would break this project's environment)::

    python -m venv .cache/bench-peers
    .cache/bench-peers/bin/pip install sd-parsers piexif
    .cache/bench-peers/bin/pip install --no-deps sd-prompt-reader
    # or, in a throwaway environment: pip install sd-parsers sd-prompt-reader

Run::

    python evals/bench_images.py [--corpus ../shared/data/images/corpus] [--peer-python .cache/bench-peers/bin/python]
        [--runs 3] [--json]

A peer that is not installed is reported as "not installed" rather than skipped silently.
This file must stay importable with the standard library only: it is also the worker
that runs inside the peers' environment.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "images" / "corpus"
DEFAULT_EXPECTED = REPO / "tests" / "imagemeta" / "expected.json"
DEFAULT_PEER_PYTHON = REPO / ".cache" / "bench-peers" / "bin" / "python"
TOOLS = ("comfyfixer", "sd-parsers", "sd-prompt-reader")


# --------------------------------------------------------------------------- workers (one process per tool)


def _reader_comfyfixer() -> Any:
    from comfyfixer.tools.imagemeta import read_image

    def read(path: Path) -> dict[str, Any] | None:
        info = read_image(path, stealth=True)
        if info.generator is None:
            return None
        return {"prompts": [info.prompt], "seeds": [info.seed]}

    return read


def _reader_sd_parsers() -> Any:
    from sd_parsers import Eagerness, ParserManager

    manager = ParserManager(eagerness=Eagerness.EAGER)

    def read(path: Path) -> dict[str, Any] | None:
        info = manager.parse(str(path))
        if not info:
            return None
        # Generous scoring: any of its prompts and any sampler's seed may match.
        seeds = [s.parameters.get("seed", s.parameters.get("noise_seed")) for s in info.samplers]
        prompts = [info.full_prompt, *(p.value for p in info.prompts)]
        return {"prompts": prompts, "seeds": seeds}

    return read


def _reader_sd_prompt_reader() -> Any:
    from sd_prompt_reader.format.base_format import BaseFormat
    from sd_prompt_reader.image_data_reader import ImageDataReader

    def read(path: Path) -> dict[str, Any] | None:
        with open(path, "rb") as fh:
            r = ImageDataReader(fh)
        if r.status != BaseFormat.Status.READ_SUCCESS:
            return None
        seed = str((r.parameter or {}).get("seed"))  # may be a tuple such as "(20, 10)" for several samplers
        return {"prompts": [r.positive], "seeds": re.findall(r"\d+", seed)}

    return read


READERS = {"comfyfixer": _reader_comfyfixer, "sd-parsers": _reader_sd_parsers, "sd-prompt-reader": _reader_sd_prompt_reader}


def worker(tool: str, files: list[str], out: str) -> None:
    """Read every file with ``tool``; write readings, seconds and peak RSS to ``out``."""
    import logging

    logging.disable(logging.CRITICAL)  # peers log every failure; keep the run quiet
    try:
        read = READERS[tool]()
    except ImportError as exc:
        Path(out).write_text(json.dumps({"installed": False, "why": str(exc)}))
        return
    readings: dict[str, Any] = {}
    start = time.perf_counter()
    for f in files:
        try:
            readings[f] = {"ok": True, "data": read(Path(f))}
        except Exception as exc:  # a crash is a result here
            readings[f] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path(out).write_text(json.dumps({"installed": True, "seconds": seconds, "peak_rss_mb": peak_kb / 1024,
                                     "readings": readings}, default=str))


# --------------------------------------------------------------------------- scoring


def _norm(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip().strip(",").strip()


def _to_int(v: Any) -> int | None:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return None


def correct(expected: dict[str, Any], reading: dict[str, Any]) -> bool:
    if not reading.get("ok"):
        return False
    data = reading.get("data")
    if expected.get("generator") is None:
        return data is None
    if data is None:
        return False
    if "prompt" in expected and _norm(expected["prompt"]) not in {_norm(p) for p in data.get("prompts") or []}:
        return False
    return expected.get("seed") is None or expected["seed"] in {_to_int(s) for s in data.get("seeds") or []}


def run_tool(tool: str, python: str, files: list[str], env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        listing, out = Path(tmp) / "files.json", Path(tmp) / "out.json"
        listing.write_text(json.dumps(files))
        proc = subprocess.run([python, str(HERE), "--worker", tool, "--files", str(listing), "--out", str(out)],
                              capture_output=True, text=True, env=env, timeout=1800, check=False)
        if not out.exists():
            return {"installed": False, "why": (proc.stderr or "worker failed").strip().splitlines()[-1:]}
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def strip_png_text(src: Path, dst: Path) -> None:
    """Copy a PNG without its text/EXIF chunks, so readers fall through to the stealth (pixel) scan."""
    data = src.read_bytes()
    out, pos = bytearray(data[:8]), 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] not in (b"tEXt", b"zTXt", b"iTXt", b"eXIf"):
            out += data[pos : pos + 12 + length]
        pos += 12 + length
    dst.write_bytes(bytes(out))


def stealth_stress(tools: dict[str, str], corpus: Path, expected: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """Every PNG of the corpus with its text chunks removed: the pixels are all that is left to scan."""
    pngs = [corpus / rel for rel in sorted(expected) if (corpus / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, src in enumerate(pngs):
            dst = Path(tmp) / f"{i:03d}.png"
            strip_png_text(src, dst)
            files.append(str(dst))
        for tool, python in tools.items():
            r = run_tool(tool, python, files, env)
            if not r.get("installed"):
                out[tool] = {"installed": False}
                continue
            out[tool] = {"installed": True, "files": len(files), "images_per_s": len(files) / r["seconds"],
                         "peak_rss_mb": r["peak_rss_mb"], "crashes": sum(not x["ok"] for x in r["readings"].values()),
                         "found": sum(bool(x.get("data")) for x in r["readings"].values())}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--expected", type=Path, default=DEFAULT_EXPECTED)
    ap.add_argument("--peer-python", default=str(DEFAULT_PEER_PYTHON) if DEFAULT_PEER_PYTHON.exists() else sys.executable,
                    help="interpreter that has sd-parsers / sd-prompt-reader installed")
    ap.add_argument("--runs", type=int, default=3, help="fresh-process runs per tool (median speed is reported)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--files", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, json.loads(Path(args.files).read_text()), args.out)
        return 0

    expected: dict[str, Any] = json.loads(args.expected.read_text(encoding="utf-8"))
    files = [str(args.corpus / rel) for rel in sorted(expected)]
    missing = [f for f in files if not Path(f).exists()]
    if missing:
        print(f"corpus incomplete: {len(missing)} files missing under {args.corpus}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    results: dict[str, dict[str, Any]] = {}
    for tool in TOOLS:
        python = sys.executable if tool == "comfyfixer" else args.peer_python
        runs = [run_tool(tool, python, files, env) for _ in range(max(1, args.runs))]
        if not runs[0].get("installed"):
            results[tool] = {"installed": False, "why": runs[0].get("why")}
            continue
        first = runs[0]
        n_ok = sum(correct(expected[str(Path(f).relative_to(args.corpus))], first["readings"][f]) for f in files)
        crashes = sum(not r["ok"] for r in first["readings"].values())
        ips = [len(files) / r["seconds"] for r in runs]
        results[tool] = {
            "installed": True, "files": len(files), "correct": n_ok, "crashes": crashes,
            "images_per_s": statistics.median(ips), "images_per_s_runs": [round(x, 1) for x in ips],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "wrong": sorted(str(Path(f).relative_to(args.corpus)) for f in files
                            if not correct(expected[str(Path(f).relative_to(args.corpus))], first["readings"][f])),
        }
    ours = results["comfyfixer"]
    for tool in TOOLS[1:]:
        peer = results[tool]
        if peer.get("installed") and ours.get("installed"):
            peer["ratio_speed_ours_over_peer"] = ours["images_per_s"] / peer["images_per_s"]
            peer["ratio_memory_peer_over_ours"] = peer["peak_rss_mb"] / ours["peak_rss_mb"]
            peer["extra_correct_ours"] = ours["correct"] - peer["correct"]
    pythons = {t: (sys.executable if t == "comfyfixer" else args.peer_python) for t in TOOLS if results[t].get("installed")}
    stress = stealth_stress(pythons, args.corpus, expected, env)
    if args.json:
        print(json.dumps({"corpus": results, "stealth_stress": stress}, indent=2))
        return 0
    print(f"corpus: {len(files)} files ({args.corpus}); stealth detection on for all tools that have it")
    print(f"{'tool':18} {'correct':>9} {'crashes':>8} {'img/s':>8} {'peak MB':>8}  ratios vs ours")
    for tool in TOOLS:
        r = results[tool]
        if not r.get("installed"):
            print(f"{tool:18} NOT INSTALLED ({r.get('why')}); see this file's docstring")
            continue
        ratio = ""
        if tool != "comfyfixer":
            ratio = (f"ours {r['ratio_speed_ours_over_peer']:.1f}x faster, {r['ratio_memory_peer_over_ours']:.1f}x less memory, "
                     f"{r['extra_correct_ours']:+d} files correct")
        print(f"{tool:18} {r['correct']:>4}/{r['files']:<4} {r['crashes']:>8} {r['images_per_s']:>8.1f} {r['peak_rss_mb']:>8.0f}  {ratio}")
    print("files ours got wrong:", ", ".join(ours.get("wrong", [])) or "none")
    n_stress = max((r.get("files", 0) for r in stress.values()), default=0)
    print(f"\nstealth stress: the corpus PNGs with text chunks removed ({n_stress} files;"
          " every reader must scan pixels)")
    print(f"{'tool':18} {'found':>6} {'crashes':>8} {'img/s':>8} {'peak MB':>8}  ratio")
    base = stress.get("comfyfixer", {})
    for tool, r in stress.items():
        if not r.get("installed"):
            continue
        ratio = "" if tool == "comfyfixer" else f"ours {base['images_per_s'] / r['images_per_s']:.1f}x faster"
        print(f"{tool:18} {r['found']:>6} {r['crashes']:>8} {r['images_per_s']:>8.1f} {r['peak_rss_mb']:>8.0f}  {ratio}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # the worker must never hang the parent
        traceback.print_exc()
        sys.exit(1)
