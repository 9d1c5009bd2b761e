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


def test_eval_slice_has_no_wrong_answers(templates_dir: Path, manager_wheel: Path) -> None:
    from comfyfixer.evals.resolver_eval import run_eval
    from comfyfixer.tools.catalogs import load_manager_catalog

    names = ["ae.safetensors", "qwen_3_4b.safetensors", "flux1-dev-fp8.safetensors",
             "wan2.2_fun_inpaint_high_noise_14B_fp8_scaled.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors"]
    card = run_eval(templates_dir, load_manager_catalog(wheel_dirs=[manager_wheel.parent]), names=names)
    assert card.total >= len(names)
    assert card.wrong == 0
    assert card.correct >= card.total - 3  # flux1-dev-fp8 is ambiguous by design (two different files)
