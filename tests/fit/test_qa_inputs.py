"""A demanding user's inputs to ``fit`` and ``tune``: odd VRAM sizes, images that embed a workflow,
output folders that cannot take the copy, and a damaged model file in the ComfyUI folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.tools.errors import InputError
from comfyfixer.tools.fit.models import parse_vram

IMAGE = "images/corpus/comfyui/ComfyUI_examples__hunyuan_video_image_to_video_v2.webp"


@pytest.mark.parametrize("text", ["8MB", "0.001", "100MB", "5000", "2048GB"])
def test_vram_no_gpu_has_is_refused(text: str) -> None:
    with pytest.raises(InputError) as err:
        parse_vram(text)
    assert "GB" in (err.value.hint or "")


def test_vram_range_edges() -> None:
    assert parse_vram("512MB") == 0.5 and parse_vram("1024 GiB") == 1024
    from pydantic import ValidationError

    from comfyfixer.tools.fit.models import FitInput
    from comfyfixer.tools.fit.tune import TuneInput

    for model in (FitInput, TuneInput):  # what the assistant passes gets the same range as --vram
        with pytest.raises(ValidationError):
            model(path="wf.json", vram_gb=0.001)


def test_tune_reads_the_workflow_an_image_embeds(shared_data: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    image = shared_data / IMAGE
    before = image.read_bytes()
    assert run(["tune", str(image), "--vram", "8GB", "--out", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["before"]["verdict"] != "FITS" and result["changes"]
    written = Path(result["written"])
    assert written == tmp_path / "ComfyUI_examples__hunyuan_video_image_to_video_v2.v2.json"
    assert isinstance(json.loads(written.read_text(encoding="utf-8"))["nodes"], list)
    assert image.read_bytes() == before


def test_tune_refuses_an_api_prompt_with_a_next_step(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api = next((shared_data / "workflows/corpus").rglob("*.prompt.json"))
    assert run(["tune", str(api), "--vram", "8GB", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "API" in err and "Traceback" not in err


def test_tune_says_when_json_is_broken(tmp_path: Path, templates_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (templates_dir / "flux_dev_full_text_to_image.json").read_text(encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text(text[: len(text) // 2], encoding="utf-8")
    assert run(["tune", str(broken), "--vram", "8GB"]) == 2
    assert "invalid JSON at line" in capsys.readouterr().err


def test_tune_out_onto_a_file_is_an_input_error(templates_dir: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    wf = tmp_path / "flux.json"
    wf.write_bytes((templates_dir / "flux_dev_full_text_to_image.json").read_bytes())
    assert run(["tune", str(wf), "--vram", "8GB", "--out", str(wf)]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "--out" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flux.json"]


def test_a_damaged_model_file_is_sized_from_elsewhere_and_named(templates_dir: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    vae = tmp_path / "comfy" / "models" / "vae" / "ae.safetensors"
    vae.parent.mkdir(parents=True)
    vae.write_bytes(b"\xff" * 8 + b"{garbage")  # a header length no file has: a broken download
    wf = str(templates_dir / "flux_dev_full_text_to_image.json")
    assert run(["fit", wf, "--vram", "8GB", "--comfyui", str(tmp_path / "comfy"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [ae] = [m for m in report["models"] if m["filename"] == "ae.safetensors"]
    assert ae["source"] == "workflow-note" and ae["bytes"] > 300e6  # the template's 319.8 MB, not 16 bytes
    assert ae["local_path"] == str(vae) and "damaged" in ae["detail"]
    assert any("ae.safetensors" in n and "download it again" in n for n in report["notes"])


def test_hardware_prints_gigabytes_and_a_next_step_on_a_cpu_only_machine(monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from comfyfixer.agent import services
    from comfyfixer.tools.hardware import GpuInfo, HardwareProfile

    cpu_only = HardwareProfile(ram_total_mb=24105, ram_available_mb=22628, cpu_count=2, system="Linux x86_64")
    monkeypatch.setattr(services, "run", lambda name, inp, ctx, **kw: cpu_only)
    assert run(["hardware"]) == 0
    out = capsys.readouterr().out
    assert "RAM: 23.5 GB (22.1 GB available)" in out and "MiB" not in out
    assert "--vram 8GB" in out  # how to size workflows for a GPU this machine has not got
    gpu = HardwareProfile(gpus=[GpuInfo(name="RTX 4060", vram_total_mb=8188, vram_free_mb=7800)],
                          ram_total_mb=32000, cpu_count=8, system="Linux x86_64")
    monkeypatch.setattr(services, "run", lambda name, inp, ctx, **kw: gpu)
    assert run(["hardware"]) == 0
    out = capsys.readouterr().out
    assert "GPU: RTX 4060 (8.0 GB, 7.6 GB free; from nvidia-smi)" in out and "VRAM for workflows: 8.0 GB" in out


def test_tune_plan_without_a_comfyui_folder_stops_before_writing(templates_dir: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("COMFYFIXER_COMFYUI_DIR", raising=False)
    monkeypatch.setenv("COMFYFIXER_HOME", str(tmp_path / "home"))
    wf = tmp_path / "flux.json"
    wf.write_bytes((templates_dir / "flux_dev_full_text_to_image.json").read_bytes())
    assert run(["tune", str(wf), "--vram", "8GB", "--plan"]) == 2
    assert "--comfyui" in capsys.readouterr().err
    assert not (tmp_path / "flux.v2.json").exists()


def test_fit_on_a_machine_without_a_gpu_reads_cleanly(templates_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from comfyfixer.tools.fit import capability

    monkeypatch.setattr(capability, "machine_vram", lambda ctx: (None, "no GPU found (CPU-only)"))
    assert run(["fit", str(templates_dir / "flux_dev_full_text_to_image.json")]) == 0
    out = capsys.readouterr().out
    assert "VRAM: none — no GPU found (CPU-only)" in out and "(no GPU found" not in out


def test_tune_says_which_suggested_files_would_fit(templates_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flux = str(templates_dir / "flux_dev_full_text_to_image.json")
    for vram, q5 in (("10GB", "fits 10.0 GB"), ("8GB", "still over 8.0 GB")):
        assert run(["tune", flux, "--vram", vram, "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "lighter files to look for (sizes estimated from the parameter count):" in out
        [line] = [ln for ln in out.splitlines() if ln.strip().startswith("variant: GGUF Q5_K_M of")]
        assert q5 in line


def test_a_latent_size_out_of_range_is_named_not_called_missing(templates_dir: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads((templates_dir / "flux_dev_full_text_to_image.json").read_text(encoding="utf-8"))
    [latent] = [n for sg in doc["definitions"]["subgraphs"] for n in sg["nodes"] if n["type"] == "EmptySD3LatentImage"]
    latent["widgets_values"] = [10**12, -5, 10**9]
    wf = tmp_path / "hostile.json"
    wf.write_text(json.dumps(doc), encoding="utf-8")
    assert run(["fit", str(wf), "--vram", "8GB", "--json"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert any(n.startswith("EmptySD3LatentImage (node 194:48) asks for 1000000000000×-5, batch 1000000000, outside")
               and "assumed 1024×1024" in n for n in notes), notes
    assert not any(n.startswith("no latent size") for n in notes)


def test_a_comfyui_folder_that_does_not_exist_is_said(templates_dir: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-comfyui"
    assert run(["fit", str(templates_dir / "flux_dev_full_text_to_image.json"), "--vram", "8GB",
                "--comfyui", str(missing)]) == 2
    assert f"ComfyUI folder not found: {missing}" in capsys.readouterr().err
    assert run(["hardware", "--comfyui", str(missing)]) == 0
    assert f"ComfyUI folder {missing} not found; disk space not measured" in capsys.readouterr().out


def test_a_folder_that_refuses_the_copy_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import comfyfixer.tools.paths as paths
    from comfyfixer.tools.workflow.copies import write_new

    def refuse(path: Path, data: object, **kw: object) -> Path:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(paths, "atomic_write", refuse)  # a read-only folder (root ignores chmod in tests)
    with pytest.raises(InputError, match=r"cannot write .*copy\.v2\.json \(Permission denied\)") as err:
        write_new(tmp_path / "copy.v2.json", {"nodes": []})
    assert "--out" in (err.value.hint or "")
    (tmp_path / "taken.json").write_text("{}", encoding="utf-8")
    monkeypatch.undo()
    with pytest.raises(InputError, match="it exists, and nothing is overwritten"):
        write_new(tmp_path / "taken.json", {"nodes": []})
    assert (tmp_path / "taken.json").read_text(encoding="utf-8") == "{}"


def test_no_size_node_is_not_called_a_floor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loader = {"id": 1, "type": "CheckpointLoaderSimple", "pos": [0, 0], "size": [300, 100], "inputs": [],
              "outputs": [{"name": "MODEL", "type": "MODEL", "links": []}],
              "widgets_values": ["sd_xl_base_1.0.safetensors"]}
    wf = tmp_path / "img2img.json"
    wf.write_text(json.dumps({"last_node_id": 1, "last_link_id": 0, "nodes": [loader], "links": [], "version": 0.4}),
                  encoding="utf-8")
    assert run(["tune", str(wf), "--vram", "6GB", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "at their floor" not in out
    assert "no node in the workflow sets the size" in out
