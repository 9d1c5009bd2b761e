"""Benchmark: ``fit`` over every official template, with the model files present (headers only).

Builds a throw-away ComfyUI folder holding *every* model file the templates load, each a real
safetensors (or GGUF) file whose header declares its full size — the size the template's notes
print, else 1 GiB — and whose data is a hole (sparse: the folder takes a few MB on disk while
declaring hundreds of GB). Then times ``fit`` over all templates twice: once with that folder (every
weight from a header) and once without (sizes from notes and catalogs), and reports the bytes the
process actually read (``rchar`` of /proc/self/io) against the bytes the files declare, which shows
that only headers are read. Last, it times reading those safetensors headers against a named peer,
Hugging Face's ``safetensors`` library (``safe_open`` and each tensor's shape and dtype), when it is
installed (it is not a dependency), and prints the ratio. No other tool estimates a workflow's VRAM
(comfy-cli and the MCP servers report the GPU only), so the whole-``fit`` timing has no peer.

``python -m comfyfixer.evals.bench_fit [--repeat N] [--json]``
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

from comfyfixer.evals.fit_eval import templates_folder
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import WorkflowFormatError
from comfyfixer.tools.fit.capability import fit_loaded
from comfyfixer.tools.fit.models import FitInput
from comfyfixer.tools.fit.sizes import note_texts, sizes_in_text
from comfyfixer.tools.model_folders import default_folder_paths
from comfyfixer.tools.workflow.inspect import inspect_loaded
from comfyfixer.tools.workflow.loader import load_workflow

GiB = 1024**3


def _rchar() -> int | None:
    """Bytes this process has read so far (Linux), or None elsewhere."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _write_model(path: Path, size: int) -> None:
    """A sparse model file declaring ``size`` bytes of weights in its header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gguf":
        elements = max(size // 34 * 32, 32)  # one Q8_0 tensor (34 bytes per 32 weights)
        name = b"weight"
        head = b"GGUF" + struct.pack("<IQQ", 3, 1, 0) + struct.pack("<Q", len(name)) + name
        head += struct.pack("<IQIQ", 1, elements, 8, 0)
        with path.open("wb") as fh:
            fh.write(head)
            fh.seek(elements // 32 * 34 - 1, 1)
            fh.write(b"\0")
        return
    elements = max(size // 2, 1)
    side = math.isqrt(elements)
    header = json.dumps({"weight": {"dtype": "BF16", "shape": [side, elements // side],
                                    "data_offsets": [0, side * (elements // side) * 2]}}).encode()
    header += b" " * (-len(header) % 8)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(header)) + header)
        fh.seek(side * (elements // side) * 2 - 1, 1)
        fh.write(b"\0")


def build_folder(base: Path, templates: list[Path], ctx: ToolContext) -> tuple[int, int]:
    """Every model file the templates load, under ``base``; returns (files, declared bytes)."""
    dirs = default_folder_paths(base)
    made: dict[Path, int] = {}
    for path in templates:
        try:
            loaded = load_workflow(path)
        except WorkflowFormatError:
            continue
        sizes: dict[str, int] = {}
        for text in note_texts(loaded.graph.nodes.values()):
            sizes.update(sizes_in_text(text, binary=True))
        for ref in inspect_loaded(loaded, schemas=ctx.schemas()).models:
            if ref.folder not in dirs or not ref.filename.lower().endswith((".safetensors", ".gguf", ".sft")):
                continue
            target = dirs[ref.folder][-1] / ref.filename
            if target not in made:
                made[target] = sizes.get(ref.filename.rsplit("/", 1)[-1].lower(), GiB)
    for target, size in made.items():
        _write_model(target, size)
    return len(made), sum(made.values())


def _time_all(templates: list[Path], ctx: ToolContext, repeat: int) -> tuple[float, int, dict[str, int]]:
    best, count = float("inf"), 0
    sources: dict[str, int] = {}
    for _ in range(repeat):
        start = time.perf_counter()
        count, sources = 0, {}
        for path in templates:
            try:
                report = fit_loaded(path, FitInput(path=str(path), vram_gb=8), ctx)
            except WorkflowFormatError:
                continue
            count += report.verdict != "NO_MODELS"
            for m in report.models:
                sources[m.source] = sources.get(m.source, 0) + 1
        best = min(best, time.perf_counter() - start)
    return best, count, sources


def peer_headers(files: list[Path], repeat: int) -> dict[str, Any]:
    """Header reading of the safetensors files against a named peer: Hugging Face's own ``safetensors``
    reader (``safe_open`` + each tensor's shape and dtype, the same facts ours takes), when it is
    installed. Best of ``repeat``; ``ratio`` = peer time / ours (above 1: ours is faster)."""
    from comfyfixer.tools.fit.headers import read_weights

    st = [f for f in files if f.suffix.lower() in (".safetensors", ".sft")]
    ours = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for f in st:
            read_weights(f)
        ours = min(ours, time.perf_counter() - start)
    out: dict[str, Any] = {"files": len(st), "ours_s": round(ours, 4), "peer": "safetensors.safe_open (Hugging Face)"}
    try:
        from safetensors import safe_open  # optional: not a dependency of the project
    except ImportError:
        return {**out, "peer_s": None, "ratio": None, "note": "safetensors is not installed: no peer timing"}
    peer = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for f in st:
            with safe_open(str(f), framework="numpy") as fh:
                for key in fh.keys():  # noqa: SIM118 - safe_open is not iterable
                    sl = fh.get_slice(key)
                    sl.get_shape(), sl.get_dtype()
        peer = min(peer, time.perf_counter() - start)
    return {**out, "peer_s": round(peer, 4), "ratio": round(peer / ours, 2) if ours else None}


def run_bench(repeat: int = 1) -> dict[str, Any]:
    """Both timings, the folder's declared size and the bytes actually read."""
    templates = sorted(p for p in templates_folder().glob("*.json") if not p.name.startswith("index."))
    with tempfile.TemporaryDirectory(prefix="fit-bench-") as tmp:
        root = Path(tmp)
        plain = ToolContext(cache_dir=root / "cache", state_dir=root / "state", offline=True)
        files, declared = build_folder(root / "ComfyUI", templates, plain)
        local = plain.model_copy(update={"comfyui_dir": root / "ComfyUI"})
        before = _rchar()
        t_local, n_local, src_local = _time_all(templates, local, repeat)
        after = _rchar()
        t_plain, n_plain, src_plain = _time_all(templates, plain, repeat)
        model_files = [p for p in (root / "ComfyUI").rglob("*") if p.is_file()]
        on_disk = sum(p.stat().st_blocks * 512 for p in model_files)
        peer = peer_headers(model_files, max(repeat, 3))
    read = (after - before) if before is not None and after is not None else None
    return {
        "templates": len(templates), "estimated": n_local, "model_files": files,
        "declared_gb": round(declared / GiB, 1), "on_disk_mb": round(on_disk / 2**20, 1),
        "seconds_with_files": round(t_local, 2), "seconds_without_files": round(t_plain, 2),
        "ms_per_workflow_with_files": round(1000 * t_local / len(templates), 2),
        "bytes_read_with_files": read, "sources_with_files": src_local, "sources_without_files": src_plain,
        "estimated_without_files": n_plain, "repeat": repeat, "peer_headers": peer,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    result = run_bench(args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    read = result["bytes_read_with_files"]
    print(f"{result['templates']} templates, {result['estimated']} estimated; {result['model_files']} model files "
          f"declaring {result['declared_gb']} GB ({result['on_disk_mb']} MB on disk, sparse)")
    print(f"fit with the files (headers): {result['seconds_with_files']} s "
          f"({result['ms_per_workflow_with_files']} ms per workflow); sources {result['sources_with_files']}")
    print(f"fit without the files: {result['seconds_without_files']} s; sources {result['sources_without_files']}")
    if read is not None:
        print(f"bytes read during the run with files (the workflow JSONs included): {read / 2**20:.1f} MiB "
              f"of {result['declared_gb']} GB the model files declare ({read / (result['declared_gb'] * GiB) * 100:.4f} %)")
    peer = result["peer_headers"]
    if peer["ratio"] is not None:
        print(f"headers of {peer['files']} safetensors files: ours {peer['ours_s']} s, {peer['peer']} {peer['peer_s']} s "
              f"(peer / ours = {peer['ratio']}×)")
    else:
        print(f"headers of {peer['files']} safetensors files: ours {peer['ours_s']} s; {peer['note']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
