"""Scheduled discovery on the demo: each cycle looks up what is still missing (offline here: the workflow's
own URLs, the templates and the Manager's catalogs; nothing downloaded), and the reports carry per item
the candidate with its verdict and evidence, and the command that fixes the workflow."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run


def test_each_cycle_reports_resolution_actions(tmp_path: Path, manager_wheel: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from comfyfixer.agent.commands.check import demo_dir

    catalogs = tmp_path / "catalogs"
    with zipfile.ZipFile(manager_wheel) as zf:
        for n in zf.namelist():
            if Path(n).name in ("extension-node-map.json", "custom-node-list.json", "model-list.json"):
                catalogs.mkdir(exist_ok=True)
                (catalogs / Path(n).name).write_bytes(zf.read(n))
    monkeypatch.setenv("COMFYFIXER_MANAGER_CATALOG_DIR", str(catalogs))
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    demo, out = demo_dir(), tmp_path / "out"
    args = ["schedule", str(demo / "workflows"), "--comfyui", str(demo / "ComfyUI"), "--out", str(out), "--once",
            "--no-require-comfyui", "--json"]
    assert run(args) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["changed"]
    doc = json.loads((out / "reports" / "actions.json").read_text())
    by_name = {Path(w["path"]).name: w for w in doc["workflows"]}

    gan = by_name["utility-gan_upscaler.json"]
    assert gan["fix_command"] == f"comfyfixer fix {gan['path']} --comfyui {demo / 'ComfyUI'}"
    (item,) = gan["items"]
    assert item["item"] == "RealESRGAN_x4plus.safetensors" and item["status"] == "RESOLVED"
    assert item["candidate"]["url"].startswith("https://huggingface.co/") and "+ exact filename" in item["evidence"]

    usdu = {i["item"]: i for i in by_name["ultimate_sd_upscale_basic.json"]["items"]}
    assert usdu["UltimateSDUpscale"]["status"] == "RESOLVED"
    assert usdu["UltimateSDUpscale"]["candidate"]["url"].lower().endswith("/ssitu/comfyui_ultimatesdupscale")
    assert usdu["4x-UltraSharp.pth"]["status"] in ("NOT_FOUND", "UNCERTAIN", "RESOLVED")
    assert [i["kind"] for i in by_name["flux_schnell_full_text_to_image.json"]["items"]] == ["misplaced"]

    # The per-workflow report and the index carry it too.
    report = json.loads((out / "reports" / "workflows" / "templates__utility-gan_upscaler.json").read_text())
    assert item["candidate"]["url"] in " ".join(report["workflow"]["fixes"])
    index_md = (out / "reports" / "workflows" / "index.md").read_text()
    assert "Resolution actions: " in index_md and "actions.md" in index_md
    assert gan["fix_command"] in (out / "reports" / "actions.md").read_text()


def test_an_unreachable_network_switches_the_rest_offline(tmp_path: Path) -> None:
    """After one lookup whose sources could not be reached, the others use caches and catalogs only, with
    one retry at most: a cycle with many gaps does not pay every source's retries for every gap."""
    from comfyfixer.agent.discovery import discover
    from comfyfixer.tools.context import ToolContext
    from comfyfixer.tools.readiness.models import CheckResult, MissingModel, WorkflowReadiness
    from comfyfixer.tools.resolver import ResolveStatus
    from comfyfixer.tools.resolver.models import Evidence, Verdict

    wf = WorkflowReadiness(path="/w/a.json", name="a.json", status="missing", missing_models=[
        MissingModel(filename=f"m{i}.safetensors", folder="loras") for i in range(3)])
    result = CheckResult(generated_at="2026-12-01T00:00:00+00:00", workflows=[wf])
    seen: list[tuple[bool, int]] = []

    def fake_run(name: str, query: object, ctx: ToolContext) -> Verdict:
        seen.append((ctx.offline, ctx.http_retries))
        said = "error: request to /api/models failed: ConnectError (check the network connection or try again later)"
        return Verdict(query=str(getattr(query, "filename", "")), status=ResolveStatus.NOT_FOUND,
                       evidence=[Evidence(source="hf", said=said)] if not ctx.offline else [])

    ctx = ToolContext(cache_dir=tmp_path / "c", state_dir=tmp_path / "s")
    _, doc = discover(result, ctx, fake_run, comfyui_dir=None)
    assert seen == [(False, 1), (True, 1), (True, 1)]
    assert doc["network"].startswith("unreachable") and doc["counts"] == {"NOT_FOUND": 3}
    assert doc["workflows"][0]["fix_command"] == "comfyfixer fix /w/a.json --comfyui <ComfyUI folder>"
