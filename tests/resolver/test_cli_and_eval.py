"""``comfyfixer resolve`` end to end against the fakes, and a slice of the templates eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.evals.fakes.civitai_server import CivitaiFakeServer
from comfyfixer.evals.fakes.hf_server import FakeHfFile, FakeHfRepo, HfFakeServer


def test_resolve_json_shape_and_sources(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                        manager_wheel: Path) -> None:
    repos = [FakeHfRepo("Comfy-Org/Lens", downloads=10, files=[
        FakeHfFile("diffusion_models/lens_turbo_bf16.safetensors", 123, "ab" * 32)])]
    with HfFakeServer(repos) as hf, CivitaiFakeServer([]) as civ:
        monkeypatch.setenv("HF_ENDPOINT", hf.url)
        monkeypatch.setenv("COMFYFIXER_CIVITAI_BASE_URL", civ.url)
        monkeypatch.setenv("COMFYFIXER_HTTP_RETRIES", "0")
        code = run(["resolve", "lens_turbo_bf16.safetensors", "--folder", "diffusion_models", "--sources", "hf", "--json"])
        out = json.loads(capsys.readouterr().out)
        assert code == 0 and out["status"] == "RESOLVED"
        cand = out["candidates"][0]
        for key in ("source", "url", "filename", "size", "sha256", "score", "reasons", "needs_token", "gated", "license"):
            assert key in cand
        assert cand["sha256"] == "ab" * 32 and cand["size"] == 123 and out["searched"]
        assert hf.requests["search"] > 0
        # civitai only: the file is not there, and HF must not be asked
        before = hf.requests["search"]
        code = run(["resolve", "lens_turbo_bf16.safetensors", "--sources", "civitai", "--json", "--strict"])
        out = json.loads(capsys.readouterr().out)
        assert out["status"] == "NOT_FOUND" and code == 1 and hf.requests["search"] == before
    assert run(["resolve", "x.safetensors", "--sources", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown source 'nope'" in err and "choose from" in err


def test_eval_slice_has_no_wrong_answers(templates_dir: Path, manager_wheel: Path) -> None:
    from comfyfixer.evals.resolver_eval import run_eval
    from comfyfixer.tools.catalogs import load_manager_catalog

    names = ["ae.safetensors", "qwen_3_4b.safetensors", "flux1-dev-fp8.safetensors",
             "wan2.2_fun_inpaint_high_noise_14B_fp8_scaled.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors"]
    card = run_eval(templates_dir, load_manager_catalog(wheel_dirs=[manager_wheel.parent]), names=names)
    assert card.total >= len(names)
    assert card.wrong == 0
    assert card.correct >= card.total - 3  # flux1-dev-fp8 is ambiguous by design (two different files)


def test_resolve_workflow_models_and_nodes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                           manager_wheel: Path, tmp_path: Path) -> None:
    import zipfile

    cat_dir = tmp_path / "catalogs"  # the Manager's JSON, unpacked for this test only
    cat_dir.mkdir()
    with zipfile.ZipFile(manager_wheel) as zf:
        for member in zf.namelist():
            if member.endswith(("/extension-node-map.json", "/custom-node-list.json")):
                (cat_dir / member.rsplit("/", 1)[-1]).write_bytes(zf.read(member))
    url = "https://huggingface.co/Comfy-Org/ace/resolve/main/checkpoints/ace_aio.safetensors"
    wf = {"last_node_id": 2, "last_link_id": 0, "links": [], "version": 0.4, "nodes": [
        {"id": 1, "type": "CheckpointLoaderSimple", "mode": 0, "inputs": [], "outputs": [],
         "properties": {"models": [{"name": "ace_aio.safetensors", "url": url, "directory": "checkpoints"}]},
         "widgets_values": ["ace_aio.safetensors"]},
        {"id": 2, "type": "IPAdapterAdvanced", "mode": 0, "inputs": [], "outputs": [], "properties": {},
         "widgets_values": []}]}
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(wf), encoding="utf-8")
    repos = [FakeHfRepo("Comfy-Org/ace", files=[FakeHfFile("checkpoints/ace_aio.safetensors", 99, "cd" * 32)])]
    with HfFakeServer(repos) as hf:
        monkeypatch.setenv("HF_ENDPOINT", hf.url)
        monkeypatch.setenv("COMFYFIXER_MANAGER_CATALOG_DIR", str(cat_dir))
        code = run(["resolve", "--workflow", str(path), "--sources", "workflow", "--json"])
        out = json.loads(capsys.readouterr().out)
        assert hf.requests["resolve"] == 1  # the workflow's URL was checked with one HEAD
    assert code == 0
    items = {i["query"]: i for i in out["items"]}
    model = items["ace_aio.safetensors"]
    assert model["status"] == "RESOLVED" and model["candidates"][0]["sha256"] == "cd" * 32
    node = items["IPAdapterAdvanced"]
    assert node["kind"] == "node" and node["status"] == "RESOLVED"
    assert "ipadapter" in node["candidates"][0]["url"].lower()
