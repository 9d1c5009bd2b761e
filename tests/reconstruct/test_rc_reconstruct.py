"""End to end on the real images: embedded graphs come back unchanged, files are never overwritten, CLI JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rc_support import CORPUS, corpus_images, info_for, rel, schemas, ui_structure_problems

from comfyfixer.agent.cli import run
from comfyfixer.tools.errors import InputError
from comfyfixer.tools.imagemeta import read_embedded_graphs
from comfyfixer.tools.reconstruct import ReconstructInput, reconstruct
from comfyfixer.tools.resolver.models import DownloadCandidate, Verdict


def _graph_images(kind: str) -> list:
    out = []
    for p in corpus_images():
        info = info_for(p)
        if info is None:
            continue
        if (kind == "ui" and info.workflow is not None) or (
                kind == "api" and info.workflow is None and info.prompt_graph is not None):
            out.append(pytest.param(p, id=rel(p)))
    return out


@pytest.mark.parametrize("path", _graph_images("ui"))
def test_embedded_ui_workflow_is_returned_unchanged(path: Path) -> None:
    r = reconstruct(ReconstructInput(image=str(path)), schemas=schemas())
    assert r.method == "embedded" and r.status == "OK"
    assert r.workflow == read_embedded_graphs(path).workflow


@pytest.mark.parametrize("path", _graph_images("api"))
def test_api_only_image_gets_an_editor_workflow(path: Path) -> None:
    r = reconstruct(ReconstructInput(image=str(path)), schemas=schemas())
    embedded = read_embedded_graphs(path).prompt
    assert r.method == "embedded" and r.status == "OK"
    assert r.api == {k: v for k, v in embedded.items() if isinstance(v, dict) and "class_type" in v}
    assert r.workflow is not None and r.workflow["version"] == 0.4
    assert len([n for n in r.workflow["nodes"] if n["type"] != "Note"]) == len(r.api)


def test_negative_controls_fail_cleanly() -> None:
    negatives = sorted((CORPUS / "none").glob("*"))
    if not negatives:
        pytest.skip("corpus not available")
    for p in negatives:
        if p.stat().st_size == 0:
            continue
        r = reconstruct(ReconstructInput(image=str(p)), schemas=schemas())
        assert r.status == "FAILED" and r.workflow is None, rel(p)


def test_files_are_written_and_never_overwritten(tmp_path: Path) -> None:
    img = CORPUS / "a1111" / "sd-metadata__sd-webui-hires.png"
    if not img.exists():
        pytest.skip("corpus not available")
    first = reconstruct(ReconstructInput(image=str(img)), schemas=schemas(), out_dir=tmp_path)
    second = reconstruct(ReconstructInput(image=str(img)), schemas=schemas(), out_dir=tmp_path)
    assert [Path(f).name for f in first.files] == ["sd-metadata__sd-webui-hires.workflow.json",
                                                    "sd-metadata__sd-webui-hires.api.json"]
    assert [Path(f).name for f in second.files] == ["sd-metadata__sd-webui-hires-2.workflow.json",
                                                     "sd-metadata__sd-webui-hires-2.api.json"]
    assert json.loads(Path(first.files[1]).read_text()) == first.api
    wf = json.loads(Path(first.files[0]).read_text())
    assert {n["type"] for n in wf["nodes"]} >= {"CheckpointLoaderSimple", "KSampler", "ImageUpscaleWithModel", "SaveImage"}


def test_resolver_verdicts_and_hash_matched_file_names() -> None:
    img = CORPUS / "civitai" / "Dataset-Tools____1_.jpeg"
    if not img.exists():
        pytest.skip("corpus not available")
    asked = []

    def resolver(query):
        asked.append(query)
        if query.folder == "checkpoints":
            cand = DownloadCandidate(source="civitai-hash", url="https://civitai.com/api/download/models/1", exact=True,
                             filename="realModel_v1.safetensors", score=1.0)
            return Verdict(query=query.filename, status="RESOLVED", candidates=[cand])
        return Verdict(query=query.filename, status="NOT_FOUND")

    r = reconstruct(ReconstructInput(image=str(img)), schemas=schemas(), resolver=resolver)
    ckpt = next(m for m in r.models if m.role == "checkpoint")
    assert ckpt.verdict == "RESOLVED" and ckpt.file == "realModel_v1.safetensors"
    assert ckpt.hashes and asked[0].hashes == ckpt.hashes
    assert r.api["1"]["inputs"]["ckpt_name"] == "realModel_v1.safetensors"
    loader = next(n for n in r.workflow["nodes"] if n["type"] == "CheckpointLoaderSimple")
    assert loader["widgets_values"] == ["realModel_v1.safetensors"]
    assert loader["properties"]["models"] == [{"name": "realModel_v1.safetensors", "directory": "checkpoints",
                                               "url": "https://civitai.com/api/download/models/1"}]
    assert any(m.verdict == "NOT_FOUND" for m in r.models if m.role == "lora")
    assert r.status == "UNCERTAIN"


def test_one_source_only() -> None:
    with pytest.raises(InputError, match="give exactly one source"):
        reconstruct(ReconstructInput(image="x.png", civitai_image_id=1))


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = CORPUS / "a1111" / "Dataset-Tools__a1111_krhistia_png.png"
    if not img.exists():
        pytest.skip("corpus not available")
    code = run(["reconstruct", str(img), "--out", str(tmp_path), "--no-resolve", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["method"] == "parameters" and out["status"] == "UNCERTAIN"  # ADetailer cannot be rebuilt
    assert set(out) >= {"source", "method", "certain", "inferred", "models", "custom_nodes", "readiness", "status"}
    assert "seed 1912648290" in out["certain"]
    assert {m["role"] for m in out["models"]} == {"checkpoint", "lora", "upscaler"}
    assert len(out["files"]) == 2 and all(Path(f).exists() for f in out["files"])
    assert run(["reconstruct", str(img), "--dry-run", "--no-resolve", "--json", "--strict"]) == 1


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["reconstruct", "--json"]) == 2
    assert "give exactly one of IMAGE, CIVITAI_URL" in capsys.readouterr().err
    assert run(["reconstruct", "/no/such/image.png", "--no-resolve", "--json"]) == 2
    assert "/no/such/image.png: no such image file" in capsys.readouterr().err


def test_cli_readiness_against_a_local_comfyui_offers_the_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = CORPUS / "a1111" / "sd-metadata__sd-webui-hires.png"
    comfyui = Path(__file__).resolve().parents[2] / "demo" / "ComfyUI"
    if not img.exists() or not comfyui.is_dir():
        pytest.skip("corpus or demo ComfyUI not available")
    code = run(["reconstruct", str(img), "--out", str(tmp_path), "--no-resolve", "--comfyui", str(comfyui), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    ready = out["readiness"]
    assert ready["status"] == "missing"
    assert {m["filename"] for m in ready["missing_models"]} == {
        "waiIllustriousSDXL_v160.safetensors", "RealESRGAN_x4plus_anime_6B.pth"}
    assert ready["make_runnable"]["command"] == f"comfyfixer fix {out['files'][0]} --comfyui {comfyui}"


def test_agent_tool_contract_and_offline_call(tmp_path: Path) -> None:
    from comfyfixer.tools.context import ToolContext
    from comfyfixer.tools.reconstruct import reconstruct_workflow
    from comfyfixer.tools.toolset import Capability, Registry, check_spec

    spec = Capability.from_function(reconstruct_workflow)
    check_spec(spec)  # docstring present, every input field described
    img = CORPUS / "swarmui" / "sd-metadata__swarmui.png"
    if not img.exists():
        pytest.skip("corpus not available")
    ctx = ToolContext(cache_dir=tmp_path / "cache", state_dir=tmp_path / "state", offline=True)
    outcome = Registry([spec]).call("reconstruct_workflow", {"image": str(img)}, ctx)
    assert outcome.ok and outcome.result is not None
    assert outcome.result["method"] == "embedded" and outcome.result["workflow"] is None
    assert "out_dir" not in spec.input_model.model_json_schema()["properties"], "the model never picks a folder"
    asked = Registry([spec]).call("reconstruct_workflow", {"image": str(img), "out_dir": str(tmp_path)}, ctx)
    assert asked.ok and asked.result["files"] == [] and list(tmp_path.glob("*.json")) == []
    graphs = Registry([spec]).call("reconstruct_workflow", {"image": str(img), "include_graphs": True}, ctx)
    assert graphs.ok and graphs.result["workflow"] is not None and graphs.result["files"] == []
    saved = reconstruct_workflow(ReconstructInput(image=str(img)), ctx, out_dir=tmp_path)  # the CLI's --out
    assert len(saved.files) == 2 and all(Path(f).parent == tmp_path for f in saved.files)


def test_embedded_graph_models_carry_the_metadata_hashes() -> None:
    img = CORPUS / "comfyui_saveimagewithmetadata" / "Dataset-Tools__DailyWorldMorphChallenge_Base_0026.png"
    swarm = CORPUS / "swarmui" / "sd-metadata__swarmui-hires.png"
    if not img.exists() or not swarm.exists():
        pytest.skip("corpus not available")
    r = reconstruct(ReconstructInput(image=str(img)), schemas=schemas())
    by_file = {m.file: m.hashes for m in r.models}
    assert by_file["zavychromaxl_v100.safetensors"] == {"AutoV2": "ff5b69c9a1"}
    assert by_file["add-detail-xl.safetensors"] == {"AutoV2": "0d9bd1b873"}
    r = reconstruct(ReconstructInput(image=str(swarm)), schemas=schemas())
    ckpt = next(m for m in r.models if m.role == "checkpoint")
    assert ckpt.hashes == {"SHA256": "22d8cb95b807b0c242576b676a12b07ae6b782b57ae4fe07a07254801b2d5d61"}


def test_written_files_are_standard_json_even_when_the_graph_has_nan(tmp_path: Path) -> None:
    img = CORPUS / "comfyui_saveimagewithmetadata" / "Dataset-Tools__DailyWorldMorphChallenge_Base_0026.png"
    if not img.exists():
        pytest.skip("corpus not available")
    r = reconstruct(ReconstructInput(image=str(img)), schemas=schemas(), out_dir=tmp_path)
    assert any("NaN" in n for n in r.notes)

    def strict(text: str) -> object:
        return json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))

    for f in r.files:
        strict(Path(f).read_text(encoding="utf-8"))


def _built_images() -> list:
    out = []
    for p in corpus_images():
        info = info_for(p)
        if info is not None and info.workflow is None and (info.prompt_graph is not None or info.prompt or info.seed):
            out.append(pytest.param(p, id=rel(p)))
    return out


@pytest.mark.parametrize("path", _built_images())
def test_every_built_workflow_is_well_formed(path: Path) -> None:
    r = reconstruct(ReconstructInput(image=str(path)), schemas=schemas())
    assert r.workflow is not None
    assert ui_structure_problems(r.workflow) == []


def test_custom_node_packs_are_named_from_the_manager_catalog(manager_wheel: Path) -> None:
    from comfyfixer.tools.catalogs import load_manager_catalog

    img = CORPUS / "comfyui" / "sd-metadata__comfyui-comfyroll.png"
    if not img.exists():
        pytest.skip("corpus not available")
    catalog = load_manager_catalog(wheel_dirs=[manager_wheel.parent])
    r = reconstruct(ReconstructInput(image=str(img)), schemas=schemas(), catalog=catalog)
    packs = {c.pack: set(c.classes) for c in r.custom_nodes}
    assert {"CR LoRA Stack", "CR Apply LoRA Stack"} <= packs["https://github.com/Suzie1/ComfyUI_Comfyroll_CustomNodes"]
    assert not any(p.startswith("unknown") for p in packs)


def test_cli_points_loaders_at_files_the_local_comfyui_has(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = CORPUS / "a1111" / "sd-metadata__sd-webui-hires.png"
    if not img.exists():
        pytest.skip("corpus not available")
    comfy = tmp_path / "ComfyUI"
    (comfy / "models" / "checkpoints" / "SDXL").mkdir(parents=True)
    (comfy / "models" / "upscale_models").mkdir(parents=True)
    (comfy / "custom_nodes").mkdir()
    (comfy / "models" / "checkpoints" / "SDXL" / "waiIllustriousSDXL_v160.safetensors").write_bytes(b"\0" * 16)
    (comfy / "models" / "upscale_models" / "RealESRGAN_x4plus_anime_6B.pth").write_bytes(b"\0" * 16)
    out_dir = tmp_path / "out"
    code = run(["reconstruct", str(img), "--out", str(out_dir), "--no-resolve", "--comfyui", str(comfy), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    api = json.loads(Path(out["files"][1]).read_text())
    assert api["1"]["inputs"]["ckpt_name"] == "SDXL/waiIllustriousSDXL_v160.safetensors"
    assert any(i["what"] == "checkpoint file SDXL/waiIllustriousSDXL_v160.safetensors" for i in out["inferred"])
    assert out["readiness"]["status"] == "runnable" and "make_runnable" not in out["readiness"]
