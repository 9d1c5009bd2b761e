"""Acceptance: a ComfyUI tree built from the official templates gives exactly the expected statuses and lists.

The expectation is computed from the templates themselves, independently of the inspector: the model
files each template declares in ``properties.models`` (name + directory), and the node types it uses that
the bundled core snapshot (ComfyUI 0.3.64) does not know. Every model is then placed by a fixed plan:
in its folder (sometimes through the ``clip``/``unet`` alias), in a wrong folder, under a folder added by
``extra_model_paths.yaml``, or nowhere.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.tools.inventory import canonical_folder

TEMPLATES = [
    "flux_schnell_full_text_to_image.json",
    "flux_dev_checkpoint_example.json",  # subgraph
    "hidream_i1_dev.json",
    "sd3.5_large_canny_controlnet_example.json",
    "image_qwen_image_instantx_controlnet.json",  # subgraph, 7 models over 5 folders
    "image_to_video_wan.json",
    "utility-gan_upscaler.json",
    "sdxl_simple_example.json",
    "wan2.1_fun_control.json",
    "image_lotus_depth_v1_1.json",
    "image_qwen_image_edit.json",  # a core node newer than 0.3.64
]
VIRTUAL = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
ALIAS_DIR = {"text_encoders": "clip", "diffusion_models": "unet"}


def _walk_nodes(data: dict) -> list[dict]:
    nodes = list(data.get("nodes", []))
    for sg in (data.get("definitions") or {}).get("subgraphs", []):
        nodes += sg.get("nodes", [])
    return nodes


def _declared(data: dict) -> tuple[set[tuple[str, str]], set[str], set[str]]:
    """(name, folder) declared models; node types; node types whose nodes carry cnr_id comfy-core."""
    sub_ids = {sg["id"] for sg in (data.get("definitions") or {}).get("subgraphs", [])}
    models: set[tuple[str, str]] = set()
    types: set[str] = set()
    core_tagged: set[str] = set()
    for n in _walk_nodes(data):
        if n.get("mode", 0) in (2, 4):
            continue
        t = str(n.get("type"))
        if t in sub_ids or t in VIRTUAL:
            continue
        types.add(t)
        props = n.get("properties") or {}
        if props.get("cnr_id") == "comfy-core":
            core_tagged.add(t)
        for m in props.get("models") or []:
            models.add((m["name"], canonical_folder(m["directory"]) or ""))
    return models, types, core_tagged


@pytest.fixture(scope="module")
def snapshot_classes() -> set[str]:
    from importlib import resources

    text = resources.files("comfyfixer.tools.schema").joinpath("data", "core_object_info.json").read_text("utf-8")
    return {k for k in json.loads(text) if not k.startswith("__")}


def test_templates_tree(templates_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                        snapshot_classes: set[str]) -> None:
    wf_dir = tmp_path / "workflows"
    wf_dir.mkdir()
    declared: dict[str, tuple[set[tuple[str, str]], set[str], set[str]]] = {}
    for name in TEMPLATES:
        shutil.copy(templates_dir / name, wf_dir / name)
        declared[name] = _declared(json.loads((templates_dir / name).read_text("utf-8")))
    (wf_dir / "not_a_workflow.json").write_text('{"hello": "world"}', encoding="utf-8")

    # --- place every model by a fixed plan ---------------------------------------------------------
    base = tmp_path / "ComfyUI"
    shared = tmp_path / "shared_models"
    pairs = sorted({p for models, _, _ in declared.values() for p in models})
    names_in: dict[str, set[str]] = {}
    for fname, folder in pairs:
        names_in.setdefault(fname, set()).add(folder)
    plan: dict[tuple[str, str], str] = {}
    placed_at: dict[tuple[str, str], str] = {}
    for i, (fname, folder) in enumerate(pairs):
        kind = ["right", "missing", "misplaced", "extra"][i % 4]
        if kind == "misplaced":
            wrong = "checkpoints" if folder != "checkpoints" else "loras"
            if wrong in names_in[fname]:
                kind = "missing"
            else:
                placed_at[(fname, folder)] = f"models/{wrong}/{fname}"
        plan[(fname, folder)] = kind
        target: Path | None = None
        if kind == "right":
            sub = ALIAS_DIR.get(folder, folder) if i % 8 == 0 else folder  # sometimes through the legacy alias
            target = base / "models" / sub / fname
        elif kind == "misplaced":
            target = base / placed_at[(fname, folder)]
        elif kind == "extra":
            target = shared / folder / fname
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
    (base / "custom_nodes").mkdir(parents=True, exist_ok=True)
    assert {"right", "missing", "misplaced", "extra"} <= set(plan.values())
    keys = sorted({f for _, f in pairs})
    multi = "\n".join(f"    {k}" for k in ("text_encoders", "clip"))
    lines = ["shared:", f"  base_path: {shared}"]
    lines += [f"  {k}: {k}" for k in keys if k not in ("text_encoders", "checkpoints")]
    lines += ["  text_encoders: |", multi]
    lines += ["fast_disk:", "  is_default: true", f"  checkpoints: {shared / 'checkpoints'}"]
    (base / "extra_model_paths.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    # --- run the command -------------------------------------------------------------------------------
    code = run(["check", str(wf_dir), "--comfyui", str(base), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    by_name = {Path(w["path"]).name: w for w in out["workflows"]}
    assert set(by_name) == {*TEMPLATES, "not_a_workflow.json"}

    bad = by_name.pop("not_a_workflow.json")
    assert bad["status"] == "invalid" and bad["error"]
    for name, (models, types, core_tagged) in declared.items():
        w = by_name[name]
        want_missing = {(f, d) for f, d in models if plan[(f, d)] == "missing"}
        want_misplaced = {(f, placed_at[(f, d)], d) for f, d in models if plan[(f, d)] == "misplaced"}
        want_classes = types - snapshot_classes
        got_missing = {(m["filename"], m["folder"]) for m in w["missing_models"]}
        got_misplaced = {(m["filename"], m["found_in"], m["expected_folder"]) for m in w["misplaced_models"]}
        got_classes = {n["class_type"] for n in w["missing_node_types"]}
        assert got_missing == want_missing, name
        assert got_misplaced == want_misplaced, name
        assert got_classes == want_classes, name
        assert all(m["node_ids"] for m in w["missing_models"]), name
        for n in w["missing_node_types"]:
            if n["class_type"] in core_tagged:
                assert n["status"] == "CORE_UPDATE", (name, n)
        # a misplaced model is never also listed as missing
        assert not {m[0] for m in got_misplaced} & {m[0] for m in got_missing}
        runnable = not (want_missing or want_misplaced or want_classes)
        assert w["status"] == ("runnable" if runnable else "missing"), name
    s = out["summary"]
    assert s["total"] == len(TEMPLATES) + 1 and s["invalid"] == 1
    assert s["runnable"] + s["missing"] == len(TEMPLATES)
    assert s["runnable"] == sum(w["status"] == "runnable" for w in by_name.values())
    assert any(w["status"] == "runnable" for w in by_name.values())
    assert any(w["misplaced_models"] for w in by_name.values())
