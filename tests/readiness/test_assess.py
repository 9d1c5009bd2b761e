"""Assessor rules on hand-made inspections: core updates, disabled packs, aliases, misplaced vs missing, hashes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.tools.inventory import InventoryInput, build_inventory
from comfyfixer.tools.readiness import Assessor, version_at_least
from comfyfixer.tools.workflow.models import CustomNodeFinding, InspectionResult, ModelRef, NodeTypeCount


def _tree(tmp_path: Path, version: str) -> Path:
    base = tmp_path / "ComfyUI"
    (base / "models/checkpoints").mkdir(parents=True)
    (base / "models/checkpoints/model.safetensors").touch()
    (base / "models/unet").mkdir(parents=True)
    (base / "models/unet/dit.safetensors").touch()
    (base / "custom_nodes/off.disabled").mkdir(parents=True)
    (base / "custom_nodes/off.disabled/__init__.py").write_text('NODE_CLASS_MAPPINGS = {"OffNode": 1}\n')
    (base / "comfyui_version.py").write_text(f'__version__ = "{version}"\n')
    return base


def _inspection() -> InspectionResult:
    return InspectionResult(
        path="w.json", format="ui",
        node_types=[NodeTypeCount(class_type=c, count=1, active_count=1) for c in ("KSampler", "NewCoreNode", "OffNode")],
        models=[
            ModelRef(filename="dit.safetensors", folder="diffusion_models", node_id="1"),
            ModelRef(filename="model.safetensors", folder="loras", node_id="2"),
            ModelRef(filename="model.safetensors", folder="loras", node_id="7"),
            ModelRef(filename="gone.safetensors", folder="vae", node_id="3", url="https://example.org/gone.safetensors"),
            ModelRef(filename="muted.safetensors", folder="vae", node_id="4", active=False),
        ],
        custom_nodes=[
            CustomNodeFinding(class_type="NewCoreNode", status="CORE_UPDATE", min_comfyui_version="0.3.68"),
            CustomNodeFinding(class_type="OffNode", status="NOT_FOUND"),
        ],
    )


def test_old_comfyui_needs_an_update_and_disabled_pack_is_named(tmp_path: Path) -> None:
    inv = build_inventory(InventoryInput(comfyui_dir=_tree(tmp_path, "0.3.64")))
    w = Assessor(inv, {"KSampler"}, schema_version="0.3.64").assess(_inspection())
    nodes = {n.class_type: n for n in w.missing_node_types}
    assert nodes["NewCoreNode"].status == "CORE_UPDATE" and "update ComfyUI" in nodes["NewCoreNode"].fix
    assert nodes["OffNode"].status == "DISABLED" and "off.disabled" in nodes["OffNode"].fix
    assert [m.filename for m in w.present_models] == ["dit.safetensors"]  # through the unet alias
    assert [(m.filename, m.found_in, m.node_ids) for m in w.misplaced_models] == [
        ("model.safetensors", "models/checkpoints/model.safetensors", ["2", "7"])
    ]
    assert [(m.filename, m.url) for m in w.missing_models] == [("gone.safetensors", "https://example.org/gone.safetensors")]
    assert w.missing_models[0].target and w.missing_models[0].target.endswith("models/vae/gone.safetensors")
    assert w.status == "missing"


def test_newer_install_than_the_snapshot_is_trusted(tmp_path: Path) -> None:
    inv = build_inventory(InventoryInput(comfyui_dir=_tree(tmp_path, "0.3.70")))
    w = Assessor(inv, {"KSampler"}, schema_version="0.3.64").assess(_inspection())
    assert "NewCoreNode" not in {n.class_type for n in w.missing_node_types}
    assert any("NewCoreNode" in x and "assumed present" in x for x in w.warnings)


def test_version_compare() -> None:
    assert version_at_least("0.3.70", "0.3.64") and version_at_least("0.10.0", "0.9.2")
    assert not version_at_least("0.3.64", "0.3.70") and not version_at_least(None, "1")


def test_hashes_only_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "ComfyUI"
    (base / "models/checkpoints").mkdir(parents=True)
    (base / "models/checkpoints/m.safetensors").write_bytes(b"weights")
    wf = tmp_path / "w.json"
    wf.write_text(json.dumps({"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "m.safetensors"}}}))
    assert run(["check", str(wf), "--comfyui", str(base), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)["workflows"][0]
    assert plain["status"] == "runnable" and plain["present_models"][0]["sha256"] is None
    assert run(["check", str(wf), "--comfyui", str(base), "--json", "--hashes"]) == 0
    hashed = json.loads(capsys.readouterr().out)["workflows"][0]
    assert hashed["present_models"][0]["sha256"] == hashlib.sha256(b"weights").hexdigest()


def test_reports_folder_inside_the_checked_folder_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "ComfyUI"
    (base / "models").mkdir(parents=True)
    wf_dir = tmp_path / "wfs"
    wf_dir.mkdir()
    (wf_dir / "a.json").write_text(json.dumps({"1": {"class_type": "EmptyImage", "inputs": {}}}))
    args = ["check", str(wf_dir), "--comfyui", str(base), "--out", str(wf_dir / "out"), "--json"]
    assert run(args) == 0
    capsys.readouterr()
    assert run(args) == 0  # the second run must not read the first run's reports as workflows
    assert json.loads(capsys.readouterr().out)["summary"]["total"] == 1


def test_saved_object_info_counts_its_packs_as_installed(shared_data: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "ComfyUI"
    (base / "models").mkdir(parents=True)
    wf = tmp_path / "w.json"
    wf.write_text(json.dumps({"1": {"class_type": "ProbeV1Node", "inputs": {}}}))
    assert run(["check", str(wf), "--comfyui", str(base), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["workflows"][0]["status"] == "missing"
    info = shared_data / "comfyui" / "object_info.json"
    assert run(["check", str(wf), "--comfyui", str(base), "--object-info", str(info), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["workflows"][0]["status"] == "runnable"
    assert any("object_info" in n for n in doc["notes"])


def test_a_new_diffusion_model_goes_to_models_diffusion_models_unless_models_unet_exists(tmp_path: Path) -> None:
    """ComfyUI searches models/unet before models/diffusion_models; a new file goes to the folder that exists,
    and, when neither does, to the one named after the key (not the legacy models/unet)."""
    base = tmp_path / "ComfyUI"
    (base / "models").mkdir(parents=True)
    (base / "comfyui_version.py").write_text('__version__ = "0.3.64"\n')
    insp = InspectionResult(path="w.json", format="ui",
                            models=[ModelRef(filename="new.safetensors", folder="diffusion_models", node_id="1")])

    def target() -> str:
        inv = build_inventory(InventoryInput(comfyui_dir=base))
        (missing,) = Assessor(inv, set(), schema_version="0.3.64").assess(insp).missing_models
        return str(Path(missing.target or "").relative_to(base).as_posix())

    assert target() == "models/diffusion_models/new.safetensors"
    (base / "models/unet").mkdir()
    assert target() == "models/unet/new.safetensors"
