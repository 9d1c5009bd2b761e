"""``review`` over every official template, checked against the templates' own ``index.json``.

The templates package (``comfyui-workflow-templates-json``) ships an ``index.json`` that files each
template under a category (its ``type``: image, video, audio, 3d, llm), tags it ("Text to Image",
"Image to Video", "Inpainting", …) and names its models ("FLUX.1", "Wan2.2", …). This eval reviews
every template and prints:

- coverage: a task for every template, a family for every template that loads a model;
- medium agreement: our output medium against the category's type;
- task agreement: our task against the tags that name a task (templates without such a tag are left out);
- family agreement: our family against the index's model names (templates naming none are left out).

Run: ``python -m comfyfixer.evals.review_eval [--show-misses N]``; with ``--diff-old DIR`` (an older
release's ``templates`` folder) it diffs every template whose file changed between the two releases.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from comfyfixer.tools.review.review import review_loaded
from comfyfixer.tools.schema.loader import bundled_core_schemas
from comfyfixer.tools.workflow.loader import load_workflow

# index.json tag → the tasks of ours it agrees with.
TAG_TASKS: dict[str, set[str]] = {
    "Text to Image": {"text-to-image", "text-to-vector"},
    "Image Edit": {"image-edit", "image-to-image", "inpaint", "outpaint"},
    "Image to Image": {"image-to-image", "image-edit"},
    "Inpainting": {"inpaint", "image-edit"},
    "Outpainting": {"outpaint", "image-edit", "inpaint"},
    "Image Upscale": {"upscale", "image-to-image", "image-edit"},
    "Video Upscale": {"video-upscale", "video-to-video"},
    "Text to Video": {"text-to-video"},
    "Image to Video": {"image-to-video"},
    "FLF2V": {"image-to-video"},
    "Reference to Video": {"image-to-video", "video-to-video"},
    "Video Edit": {"video-to-video"},
    "Video to Video": {"video-to-video"},
    "Video Extend": {"video-to-video", "image-to-video"},
    "Motion Control": {"video-to-video", "image-to-video"},
    "Character Replacement": {"video-to-video"},
    "Lip Sync": {"audio-to-video", "video-to-video", "image-to-video"},
    "Audio to Video": {"audio-to-video", "image-to-video"},
    "Text to Audio": {"text-to-audio", "text-to-speech"},
    "Text to Music": {"text-to-audio"},
    "Text to Speech": {"text-to-speech", "text-to-audio"},
    "TTS": {"text-to-speech", "text-to-audio"},
    "Voice Cloning": {"text-to-speech", "audio-to-audio"},
    "Audio Editing": {"audio-to-audio"},
    "Music Cover": {"audio-to-audio"},
    "Speech to Text": {"speech-to-text"},
    "Image to 3D": {"image-to-3d"},
    "Text to 3D": {"text-to-3d"},
    "Text Generation": {"text-generation", "image-to-text", "video-to-text"},
    "Remove Background": {"image-processing", "video-to-video", "image-edit"},
    "Frame Interpolation": {"frame-interpolation", "video-to-video"},
    "Depth Estimation": {"image-processing", "video-to-video"},
}
# Our medium → index.json category type.
MEDIUM_TYPE = {"image": "image", "vector": "image", "video": "video", "audio": "audio", "3d": "3d", "text": "llm"}
# Our family id → words the index's model names start with (lower case).
FAMILY_NAMES: dict[str, tuple[str, ...]] = {
    "flux1": ("flux", "flux.1"), "flux1-schnell": ("flux",), "flux2": ("flux.2", "flux 3", "flux2", "flux"),
    "wan": ("wan", "humo", "chrono"), "qwen-image": ("qwen-image", "qwen image"), "ltx": ("ltx", "lightricks"),
    "hunyuan-video": ("hunyuan",), "hunyuan3d": ("hunyuan3d", "hunyuan"), "hunyuan-image": ("hunyuan",),
    "sdxl": ("sdxl", "stability"), "sd15": ("sd1.5", "stability"), "sd3": ("sd3", "stability"),
    "stable-audio": ("stable audio", "stability"), "ace-step": ("ace-step", "ace step"), "hidream": ("hidream",),
    "z-image": ("z-image",), "lumina": ("lumina", "neta", "newbie"), "chroma": ("chroma",), "omnigen": ("omnigen",),
    "cosmos": ("cosmos",), "kandinsky": ("kandinsky",), "svd": ("svd", "stable video"), "mochi": ("mochi",),
    "minimax-h3": ("minimax",), "minimax-music": ("minimax",), "mage-flow": ("mage",), "boogu": ("boogu",),
    "pixeldit": ("pixeldit",), "ovis-image": ("ovis",), "ming-image": ("ming",), "longcat": ("longcat",),
    "ernie-image": ("ernie",), "moss-image": ("moss",), "capybara": ("capybara",), "anima": ("anima",),
    "seedvr2": ("seedvr",), "sam": ("sam",), "moge": ("moge",), "depth-anything": ("depth anything",),
    "birefnet": ("birefnet",), "sdpose": ("sdpose",), "esrgan": ("real-esrgan", "esrgan"),
    "frame-interpolation": ("film", "rife"), "void": ("void",), "yue": ("yue",), "pixal3d": ("pixal3d",),
    "trellis": ("trellis",), "qwen-llm": ("qwen",), "gemma": ("gemma",), "krea2": ("krea",), "fibo": ("fibo",),
    "lens": ("lens",), "joyai-image": ("joyai",), "firered": ("firered",), "marigold": ("marigold",),
    "ideogram": ("ideogram",), "bernini": ("bernini",), "scail": ("scail",), "pid": ("pid",),
    "lotus": ("sd1.5", "lotus"), "causal-forcing": ("wan",), "triposplat": ("triposplat", "tripo"),
}


def templates_dir() -> Path:
    """The installed templates' folder."""
    import comfyui_workflow_templates_json as pkg

    return Path(pkg.__file__).parent / "templates"


def index_entries(folder: Path) -> list[dict[str, Any]]:
    """Every template entry of ``index.json``, with its category's type added as ``_type``."""
    out = []
    for category in json.loads((folder / "index.json").read_text(encoding="utf-8")):
        for entry in category.get("templates", []):
            out.append({**entry, "_type": category.get("type")})
    return out


def family_agrees(family: str, names: list[str]) -> bool:
    """Whether our family id matches one of the index's model names."""
    words = FAMILY_NAMES.get(family, (family,))
    return any(n.lower().startswith(w) or w in n.lower() for n in names for w in words)


def _tally_names(c: Counter[str], review: Any) -> bool:
    """Count whether ``review`` named a task and, when it loads a model, a family; False for a workflow
    that loads a model whose family it could not name."""
    c["task_named"] += review.task not in ("image", "none")
    if not review.models:
        return True
    c["loads_model"] += 1
    c["family_named"] += review.family is not None
    return review.family is not None


def evaluate(folder: Path) -> dict[str, Any]:
    """Review every indexed template and count coverage and agreement (with the misses)."""
    schemas = bundled_core_schemas()
    c: Counter[str] = Counter()
    misses: dict[str, list[str]] = {"task": [], "family": [], "medium": [], "no_family": []}
    started = time.process_time()
    for entry in index_entries(folder):
        path = folder / f"{entry['name']}.json"
        if not path.is_file():
            continue
        review = review_loaded(load_workflow(path), schemas)
        c["templates"] += 1
        if not _tally_names(c, review):
            misses["no_family"].append(entry["name"])
        if MEDIUM_TYPE.get(review.medium) and entry.get("_type"):
            c["medium_scored"] += 1
            if MEDIUM_TYPE[review.medium] == entry["_type"]:
                c["medium_agree"] += 1
            else:
                misses["medium"].append(f"{entry['name']}: {review.medium} vs {entry['_type']}")
        allowed = set().union(*(TAG_TASKS[t] for t in entry.get("tags", []) if t in TAG_TASKS))
        if allowed:
            c["task_scored"] += 1
            if review.task in allowed:
                c["task_agree"] += 1
            else:
                misses["task"].append(f"{entry['name']}: {review.task} vs {entry.get('tags')}")
        names = [m for m in entry.get("models", []) if m and m != "None"]
        if review.family and names:
            c["family_scored"] += 1
            if family_agrees(review.family, names):
                c["family_agree"] += 1
            else:
                misses["family"].append(f"{entry['name']}: {review.family} vs {names}")
    c["cpu_ms"] = int((time.process_time() - started) * 1000)
    return {"counts": dict(c), "misses": misses}


def community(folder: Path) -> dict[str, Any]:
    """Coverage on the community corpus (``../shared/data/workflows/corpus``): a task for each workflow, a
    family for each that loads a model (no index to agree with; the misses are listed)."""
    from comfyfixer.tools.schema import load_object_info
    from comfyfixer.tools.workflow.loader import iter_workflow_files

    schemas = load_object_info(folder.parents[1] / "comfyui" / "object_info.json")
    c: Counter[str] = Counter()
    misses = []
    for path in iter_workflow_files([folder]):
        review = review_loaded(load_workflow(path), schemas)
        c["workflows"] += 1
        if not _tally_names(c, review):
            misses.append(f"{path.name}: {[m.filename for m in review.models][:3]}")
    return {"counts": dict(c), "misses": misses}


def diff_releases(old_dir: Path, new_dir: Path) -> dict[str, Any]:
    """Diff every template whose file differs between two releases (``old_dir`` from an unpacked older
    wheel, e.g. ``pip download --no-deps comfyui-workflow-templates-json==0.1.100``)."""
    from comfyfixer.tools.review.diff import compare

    schemas = bundled_core_schemas()
    c: Counter[str] = Counter()
    rows = []
    started = time.process_time()
    for old in sorted(old_dir.glob("*.json")):
        new = new_dir / old.name
        if old.name.startswith("index") or not new.is_file() or old.read_bytes() == new.read_bytes():
            continue
        try:
            d = compare(load_workflow(old), load_workflow(new), schemas)
        except Exception as exc:  # an eval counts failures instead of stopping at the first
            c["errors"] += 1
            rows.append(f"{old.stem}: ERROR {exc}")
            continue
        c["changed_files"] += 1
        c["equal"] += d.equal
        c["with_added_or_removed"] += bool(d.added or d.removed)
        c["with_rewiring"] += bool(d.rewired)
        c["with_value_changes"] += bool(d.parameters)
        c["with_model_changes"] += bool(d.models)
        rows.append(f"{old.stem}: {d.summary}")
    c["cpu_ms"] = int((time.process_time() - started) * 1000)
    return {"counts": dict(c), "rows": rows}


def _pct(a: int, b: int) -> str:
    """``a/b (x.y %)``."""
    return f"{a}/{b} ({100 * a / b:.1f} %)" if b else "0/0"


def main(argv: list[str] | None = None) -> int:
    """Print coverage and agreement; ``--show-misses N`` lists up to N disagreements of each kind."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-misses", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="Print the counts and misses as JSON.")
    parser.add_argument("--community", type=Path, help="The community corpus folder (../shared/data/workflows/corpus).")
    parser.add_argument("--diff-old", type=Path, help="An older release's templates folder: diff every changed template.")
    args = parser.parse_args(argv)
    if args.community:
        com = community(args.community)
        k = com["counts"]
        print(f"community workflows: {k.get('workflows', 0)}; task named "
              f"{_pct(k.get('task_named', 0), k.get('workflows', 0))}; family named "
              f"{_pct(k.get('family_named', 0), k.get('loads_model', 0))} of those loading a model")
        for row in com["misses"][: args.show_misses]:
            print("  no family:", row)
        return 0
    if args.diff_old:
        releases = diff_releases(args.diff_old, templates_dir())
        print(json.dumps(releases["counts"]))
        for row in releases["rows"]:
            print(" ", row)
        return 0
    result = evaluate(templates_dir())
    c = result["counts"]
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"templates reviewed: {c.get('templates', 0)} in {c.get('cpu_ms', 0)} ms CPU")
    print(f"task named:         {_pct(c.get('task_named', 0), c.get('templates', 0))}")
    print(f"family named:       {_pct(c.get('family_named', 0), c.get('loads_model', 0))} of those loading a model")
    print(f"medium agreement:   {_pct(c.get('medium_agree', 0), c.get('medium_scored', 0))} (category type)")
    print(f"task agreement:     {_pct(c.get('task_agree', 0), c.get('task_scored', 0))} (task tags)")
    print(f"family agreement:   {_pct(c.get('family_agree', 0), c.get('family_scored', 0))} (index model names)")
    for kind, rows in result["misses"].items():
        for row in rows[: args.show_misses]:
            print(f"  miss {kind}: {row}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
