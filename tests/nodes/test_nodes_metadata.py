"""The save node's metadata, per container, read back by the project's reader and ``comfyfixer image``.

Real graphs: two UI workflows from ComfyUI's template package (recorded in ``/work/shared``) with the
API prompt the project's converter makes from them, and the prompt/workflow of a recorded
``POST /prompt``. Small generated pixels keep it fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from comfyfixer.agent.cli import run
from comfyfixer.nodes import metadata, nodes
from comfyfixer.tools.imagemeta.containers import read_container
from comfyfixer.tools.imagemeta.reader import read_image
from comfyfixer.tools.schema.loader import bundled_core_schemas
from comfyfixer.tools.workflow import graph_to_api, load_workflow

SHARED = Path("/work/shared/data/comfyui")
RUNTIME = {"prompt_id": "p-1", "execution_order": ["3"], "cached_nodes": [], "error": None, "finished": False,
           "nodes": {"3": {"class_type": "KSampler", "source": "runtime", "cached": False,
                           "inputs": {"seed": 123456789, "steps": 7, "model": {"type": "ModelPatcher"}}, "linked": []}}}
BATCH = np.linspace(0, 1, 2 * 12 * 20 * 3, dtype=np.float32).reshape(2, 12, 20, 3)


@pytest.fixture(scope="module")
def graphs() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """(API prompt, UI workflow) of real graphs, small to large."""
    out = {}
    req = json.loads((SHARED / "post_prompt_c_valid.json").read_text())["request"]
    out["recorded"] = (req["prompt"], req["extra_data"]["extra_pnginfo"]["workflow"])
    schemas = bundled_core_schemas()
    for name in ("template_2_pass_pose_worship.json", "template_image_qwen_image_edit_2509_subgraph.json"):
        loaded = load_workflow(str(SHARED / name))
        out[name] = (graph_to_api(loaded.graph, schemas), loaded.data)
    return out


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_every_field_round_trips_per_container(fmt: str, graphs: Any, tmp_path: Path) -> None:
    for name, (prompt, workflow) in graphs.items():
        written = nodes.save_batch(BATCH, tmp_path, f"{fmt}_{len(prompt)}", 1, fmt, prompt=prompt, workflow=workflow,
                                   runtime=None, budget=metadata.DEFAULT_INLINE_BUDGET)
        assert [w.image.name for w in written] == [f"{fmt}_{len(prompt)}_00001_.{ 'jpg' if fmt == 'jpeg' else fmt}",
                                                   f"{fmt}_{len(prompt)}_00002_.{ 'jpg' if fmt == 'jpeg' else fmt}"]
        full = metadata.build_document(prompt, workflow, None, width=20, height=12)
        budget = metadata.JPEG_SEGMENT_LIMIT // 2 if fmt == "jpeg" else metadata.DEFAULT_INLINE_BUDGET
        for w in written:
            info = read_image(w.image)
            doc = info.extra["comfyfixer"]
            assert (w.sidecar is not None) == (metadata.split_for_budget(full, budget)[1] is not None), name
            assert info.generator == "ComfyUI" and info.container == fmt
            assert info.prompt_graph == prompt and info.workflow == workflow, name
            assert doc["prompt"] == prompt and doc["workflow"] == workflow
            assert doc["capture_mode"] == "parser" and doc.get("runtime") is None
            assert doc["parser"] == metadata.parser_view(prompt, workflow)
            assert doc["image"] == {"width": 20, "height": 12}
            assert doc["merged"].keys() == prompt.keys()
            for field in ("prompt", "seed", "steps", "cfg"):
                if field in doc["parser"]:
                    assert getattr(info, field) == doc["parser"][field], (name, field)
            size = (doc["parser"].get("width", 20), doc["parser"].get("height", 12))
            assert f"Size: {size[0]}x{size[1]}" in doc["parameters"] and "Version: ComfyUI" in doc["parameters"]


def test_container_shapes(graphs: Any, tmp_path: Path) -> None:
    """PNG: compressed iTXt; JPEG: UserComment + XMP in our namespace; WebP: EXIF (ComfyUI's Make/Model
    convention) + XMP."""
    prompt, workflow = graphs["recorded"]
    paths = {fmt: nodes.save_batch(BATCH[:1], tmp_path, fmt, 1, fmt, prompt=prompt, workflow=workflow, runtime=RUNTIME,
                                   budget=metadata.DEFAULT_INLINE_BUDGET)[0].image for fmt in ("png", "jpeg", "webp")}
    png = read_container(paths["png"])
    assert {e.key for e in png.entries if e.source == "png:iTXt"} >= {"parameters", "prompt", "workflow", "comfyfixer"}
    raw = paths["png"].read_bytes()
    i = raw.index(b"iTXtcomfyfixer\x00")
    assert raw[i + len(b"iTXtcomfyfixer\x00")] == 1  # compression flag
    for fmt in ("jpeg", "webp"):
        c = read_container(paths[fmt])
        keys = {(e.source, e.key) for e in c.entries}
        assert ("exif:ExifIFD", "UserComment") in keys and ("xmp", "XMP") in keys, keys
        assert metadata.NAMESPACE in (c.get("XMP") or "")
        assert (c.get("UserComment") or "").endswith("Version: ComfyUI, Generator: ComfyFixerSmart")
    webp = read_container(paths["webp"])
    assert (webp.get("Make") or "").startswith("workflow:") and (webp.get("Model") or "").startswith("prompt:")


def test_runtime_wins_and_says_so(graphs: Any, tmp_path: Path) -> None:
    prompt, workflow = graphs["template_2_pass_pose_worship.json"]
    sampler = next(nid for nid, n in prompt.items() if n["class_type"] == "KSampler")
    runtime = json.loads(json.dumps(RUNTIME).replace('"3"', json.dumps(sampler)))
    (w,) = nodes.save_batch(BATCH[:1], tmp_path, "rt", 1, "png", prompt=prompt, workflow=workflow, runtime=runtime,
                            budget=1 << 20)
    info = read_image(w.image)
    doc = info.extra["comfyfixer"]
    assert doc["capture_mode"] == "parser+hooks"
    seed = doc["merged"][sampler]["inputs"]["seed"]
    assert seed == {"value": 123456789, "source": "runtime"}
    assert doc["merged"][sampler]["inputs"]["cfg"]["source"] == "parser"
    assert doc["effective"]["seed"] == 123456789 and doc["effective"]["steps"] == 7
    assert "Seed: 123456789" in doc["parameters"] and "Steps: 7" in doc["parameters"]
    assert info.seed == 123456789  # the A1111 line other readers see says what really ran


def test_a_failed_capture_is_kept_but_not_trusted(graphs: Any, tmp_path: Path) -> None:
    prompt, workflow = graphs["recorded"]
    failed = dict(RUNTIME, error="get_input_data: RuntimeError: boom")
    (w,) = nodes.save_batch(BATCH[:1], tmp_path, "f", 1, "webp", prompt=prompt, workflow=workflow, runtime=failed,
                            budget=1 << 20)
    doc = read_image(w.image).extra["comfyfixer"]
    assert doc["capture_mode"] == "parser" and doc["runtime"]["error"].endswith("boom")
    assert all(i["source"] == "parser" for n in doc["merged"].values() for i in n["inputs"].values())


def test_sidecar_over_budget_and_its_checks(graphs: Any, tmp_path: Path) -> None:
    prompt, workflow = graphs["template_image_qwen_image_edit_2509_subgraph.json"]
    (w,) = nodes.save_batch(BATCH[:1], tmp_path, "big", 1, "png", prompt=prompt, workflow=workflow, runtime=RUNTIME,
                            budget=metadata.DEFAULT_INLINE_BUDGET)
    assert w.sidecar is not None and w.sidecar.name == "big_00001_.png.comfyfixer.json"
    assert w.inline_bytes < 4096 < w.sidecar.stat().st_size
    inline = json.loads(read_container(w.image).get("comfyfixer") or "")
    assert set(inline["sidecar"]["parts"]) == {"prompt", "workflow", "runtime", "merged"} and "workflow" not in inline
    info = read_image(w.image)
    assert info.workflow == workflow and info.prompt_graph == prompt
    assert info.extra["comfyfixer"]["runtime"]["prompt_id"] == "p-1"
    # A tampered sidecar is reported and not used.
    w.sidecar.chmod(0o644)
    w.sidecar.write_bytes(w.sidecar.read_bytes().replace(b'"p-1"', b'"p-2"'))
    info = read_image(w.image)
    assert info.extra["comfyfixer"].get("runtime") is None
    assert any("does not match its hash" in m for m in info.warnings)
    # A missing one too.
    w.sidecar.unlink()
    assert any("is missing" in m for m in read_image(w.image).warnings)


def test_a_pointer_out_of_the_folder_is_ignored(tmp_path: Path) -> None:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    (tmp_path / "secret.comfyfixer.json").write_text('{"workflow": {"nodes": []}}')
    sub = tmp_path / "img"
    sub.mkdir()
    doc = {"schema": metadata.SCHEMA, "capture_mode": "parser", "parameters": "x",
           "sidecar": {"file": "../secret.comfyfixer.json"}}
    info_chunk = PngInfo()
    info_chunk.add_itxt("comfyfixer", json.dumps(doc), zip=True)
    Image.new("RGB", (4, 4)).save(sub / "h.png", pnginfo=info_chunk)
    info = read_image(sub / "h.png")
    assert info.workflow is None and any("not a plain file name" in m for m in info.warnings)


def test_cli_reads_the_pack_fields(graphs: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prompt, workflow = graphs["recorded"]
    (w,) = nodes.save_batch(BATCH[:1], tmp_path, "cli", 1, "jpeg", prompt=prompt, workflow=workflow, runtime=RUNTIME,
                            budget=metadata.DEFAULT_INLINE_BUDGET)
    assert run(["image", str(w.image), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["generator"] == "ComfyUI" and out["has_workflow"] and out["has_prompt_graph"]
    assert out["comfyfixer"]["capture_mode"] == "parser+hooks"
    assert out["comfyfixer"]["runtime"]["nodes"]["3"]["inputs"]["model"] == {"type": "ModelPatcher"}
    assert out["width"] == 20 and out["height"] == 12


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_non_ascii_text_survives_every_container(fmt: str, graphs: Any, tmp_path: Path) -> None:
    """EXIF's ASCII tags (WebP's Make/Model) would turn "📂" into "?": the JSON there is \\u-escaped."""
    prompt, workflow = graphs["recorded"]
    workflow = dict(workflow, extra={"note": "📂 ComfyUI/ ├── models — «猫»"})
    prompt = {**prompt, "1": {**prompt["1"], "_meta": {"title": "Bild für 猫"}}}
    (w,) = nodes.save_batch(BATCH[:1], tmp_path, "u", 1, fmt, prompt=prompt, workflow=workflow, runtime=None,
                            budget=metadata.DEFAULT_INLINE_BUDGET)
    info = read_image(w.image)
    assert info.workflow == workflow and info.prompt_graph == prompt


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_a_huge_prompt_moves_out_too(fmt: str, graphs: Any, tmp_path: Path) -> None:
    """A 40,000-character prompt would appear three times inline (and JPEG's XMP holds 64 KB): the parser
    view and the parameters copy follow the graphs into the sidecar; the A1111 text stays in the file."""
    prompt, workflow = graphs["template_2_pass_pose_worship.json"]
    text_node = next(nid for nid, n in prompt.items() if n["class_type"] == "CLIPTextEncode")
    big = {**prompt, text_node: {**prompt[text_node], "inputs": {**prompt[text_node]["inputs"], "text": "sky, " * 8000}}}
    (w,) = nodes.save_batch(BATCH[:1], tmp_path, "huge", 1, fmt, prompt=big, workflow=workflow, runtime=None,
                            budget=metadata.DEFAULT_INLINE_BUDGET)
    assert w.inline_bytes <= metadata.DEFAULT_INLINE_BUDGET and w.sidecar is not None
    info = read_image(w.image)
    doc = info.extra["comfyfixer"]
    assert info.prompt_graph == big and doc["parser"] == metadata.parser_view(big, workflow)
    assert doc["parameters"].startswith("sky, sky") and (info.prompt or "").strip() == doc["parser"]["prompt"].strip()
