"""The readiness cache: a warm re-check gives exactly the cold answer, and any change that matters is re-assessed.

Each workflow's readiness is stored keyed on its file's path, size and mtime plus the inspector's inputs and a
fingerprint of the inventory, so these tests change one thing at a time (a model file, a pack, the catalog, the
cache itself) and check both that the affected workflows are assessed again and that the answer follows.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.readiness import CheckInput, CheckResult, check_workflows
from comfyfixer.tools.readiness.check import MAX_ENTRY_CHARS, READINESS

DEMO = Path(__file__).resolve().parents[2] / "demo"
USDU = "community/ultimate_sd_upscale_basic.json"


def _workspace(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the demo workspace (workflows and a miniature ComfyUI) the test may change."""
    shutil.copytree(DEMO / "workflows", tmp_path / "workflows")
    shutil.copytree(DEMO / "ComfyUI", tmp_path / "ComfyUI")
    return tmp_path / "workflows", tmp_path / "ComfyUI"


def _ctx(tmp_path: Path, comfy: Path, **extra: object) -> ToolContext:
    return ToolContext(comfyui_dir=comfy, cache_dir=tmp_path / "cache", state_dir=tmp_path / "state", **extra)


def _by_name(result: CheckResult) -> dict[str, dict]:  # type: ignore[type-arg]
    return {w.name: w.model_dump() for w in result.workflows}


def test_unchanged_recheck_is_answered_from_the_cache(tmp_path: Path) -> None:
    wf, comfy = _workspace(tmp_path)
    inp = CheckInput(paths=[str(wf)])
    cold = check_workflows(inp, _ctx(tmp_path, comfy))
    warm = check_workflows(inp, _ctx(tmp_path, comfy))
    assert cold.cache["readiness_cached"] == 0 and cold.cache["inspections_new"] == cold.summary.total
    assert warm.cache["readiness_cached"] == warm.summary.total == 7
    assert _by_name(warm) == _by_name(cold)
    assert (warm.summary, warm.notes, warm.schema_source, warm.inventory) == (cold.summary, cold.notes,
                                                                              cold.schema_source, cold.inventory)


def test_a_new_model_file_is_reassessed(tmp_path: Path) -> None:
    wf, comfy = _workspace(tmp_path)
    inp = CheckInput(paths=[str(wf)])
    cold = check_workflows(inp, _ctx(tmp_path, comfy))
    missing = next(w for w in cold.workflows if w.missing_models)
    model = missing.missing_models[0]
    assert model.folder is not None
    (comfy / "models" / model.folder / model.filename).parent.mkdir(parents=True, exist_ok=True)
    (comfy / "models" / model.folder / model.filename).write_bytes(b"weights")
    after = check_workflows(inp, _ctx(tmp_path, comfy))
    assert after.cache["readiness_cached"] == 0  # the inventory changed: every workflow is compared again
    assert after.cache["inspections_cached"] == after.summary.total  # but none is parsed again
    now = next(w for w in after.workflows if w.path == missing.path)
    assert model.filename not in {m.filename for m in now.missing_models}
    assert model.filename in {m.filename for m in now.present_models}


def test_an_installed_pack_is_reassessed(tmp_path: Path) -> None:
    wf, comfy = _workspace(tmp_path)
    inp = CheckInput(paths=[str(wf)])
    cold = check_workflows(inp, _ctx(tmp_path, comfy))
    usdu = next(w for w in cold.workflows if w.name == USDU)
    classes = [n.class_type for n in usdu.missing_node_types]
    assert classes
    pack = comfy / "custom_nodes" / "usdu_pack"
    pack.mkdir()
    (pack / "__init__.py").write_text("NODE_CLASS_MAPPINGS = {" + ", ".join(f"{c!r}: object" for c in classes) + "}\n")
    after = check_workflows(inp, _ctx(tmp_path, comfy))
    assert after.cache["readiness_cached"] == 0
    assert next(w for w in after.workflows if w.name == USDU).missing_node_types == []


def _catalog(folder: Path, repo: str, classes: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "extension-node-map.json").write_text(json.dumps({repo: [classes, {"title_aux": repo.rsplit("/", 1)[-1]}]}))
    return folder


def test_a_changed_catalog_is_reassessed(tmp_path: Path) -> None:
    wf, comfy = _workspace(tmp_path)
    inp = CheckInput(paths=[str(wf)])
    usdu_classes = ["UltimateSDUpscale"]
    catalog = _catalog(tmp_path / "catalog", "https://github.com/someone/first-pack", usdu_classes)
    first = check_workflows(inp, _ctx(tmp_path, comfy, manager_catalog_dir=catalog))
    row = next(w for w in first.workflows if w.name == USDU).missing_node_types[0]
    assert row.class_type == "UltimateSDUpscale" and row.packs[0].reference.endswith("first-pack")
    _catalog(catalog, "https://github.com/someone/other-pack", usdu_classes)  # the same folder, new content
    second = check_workflows(inp, _ctx(tmp_path, comfy, manager_catalog_dir=catalog))
    assert second.cache["readiness_cached"] == 0 and second.cache["inspections_new"] == second.summary.total
    assert next(w for w in second.workflows if w.name == USDU).missing_node_types[0].packs[0].reference.endswith("other-pack")


@pytest.mark.parametrize("damage", ["not json", '{"path": 3}', "x" * (MAX_ENTRY_CHARS + 1)])
def test_a_damaged_cache_entry_is_ignored_and_rebuilt(tmp_path: Path, damage: str) -> None:
    wf, comfy = _workspace(tmp_path)
    inp = CheckInput(paths=[str(wf)])
    cold = check_workflows(inp, _ctx(tmp_path, comfy))
    db = sqlite3.connect(tmp_path / "cache" / "inventory" / "inventory.sqlite3")
    with db:
        db.execute("UPDATE kv SET data=? WHERE namespace=?", (damage, READINESS))
    db.close()
    rebuilt = check_workflows(inp, _ctx(tmp_path, comfy))
    assert rebuilt.cache["readiness_cached"] == 0
    assert _by_name(rebuilt) == _by_name(cold)
    assert check_workflows(inp, _ctx(tmp_path, comfy)).cache["readiness_cached"] == cold.summary.total


def test_cold_and_warm_agree_on_real_workflows(tmp_path: Path, templates_dir: Path, shared_data: Path,
                                               manager_wheel: Path) -> None:
    """Official templates and community workflows (JSON and images) against a ComfyUI holding some of
    their models, with ComfyUI-Manager's real catalogs: the warm answer is the cold one, field for field."""
    wf = tmp_path / "workflows"
    wf.mkdir()
    for src in [p for p in sorted(templates_dir.glob("*.json")) if not p.name.startswith("api_")][::8]:
        shutil.copy(src, wf / src.name)
    community = sorted(p for p in (shared_data / "workflows" / "corpus").rglob("*")
                       if p.suffix.lower() in (".json", ".png"))[:25]
    for i, src in enumerate(community):
        shutil.copy(src, wf / f"c{i:02d}_{src.name}")
    comfy = tmp_path / "ComfyUI"
    (comfy / "custom_nodes").mkdir(parents=True)
    inp = CheckInput(paths=[str(wf)])
    extra = {"manager_wheel_dirs": (manager_wheel.parent,)}
    # Give the ComfyUI some of the models they load: every third in its folder, every seventh in the wrong one.
    probe = check_workflows(inp, ToolContext(comfyui_dir=comfy, cache_dir=tmp_path / "probe", state_dir=tmp_path / "s"))
    wanted = sorted({(m.folder, m.filename) for w in probe.workflows for m in w.missing_models if m.folder})
    for i, (folder, name) in enumerate(wanted):
        if i % 3 == 0 or i % 7 == 0:
            target = comfy / "models" / (folder if i % 3 == 0 else "upscale_models") / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
    cold = check_workflows(inp, _ctx(tmp_path, comfy, **extra))
    warm = check_workflows(inp, _ctx(tmp_path, comfy, **extra))
    assert cold.summary.total >= 60 and cold.summary.missing and cold.summary.runnable and cold.catalog_source
    assert any(w.present_models for w in cold.workflows) and any(w.misplaced_models for w in cold.workflows)
    assert warm.cache["readiness_cached"] == warm.summary.total
    assert _by_name(warm) == _by_name(cold)
    assert (warm.summary, warm.notes, warm.catalog_source) == (cold.summary, cold.notes, cold.catalog_source)


def test_the_caches_stay_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys embed file and inventory state, so old ones are never asked for again: each check that writes
    keeps only the newest entries (here 10), and the workflows just checked are still answered from the cache."""
    from comfyfixer.tools.inventory import InventoryCache
    from comfyfixer.tools.readiness import check as check_mod

    monkeypatch.setattr(check_mod, "KEEP_ENTRIES", 10)
    wf, comfy = _workspace(tmp_path)
    inp = CheckInput(paths=[str(wf)])
    with InventoryCache(tmp_path / "cache" / "inventory") as cache:
        cache.put_many(READINESS, {f"old{i}": {"path": "x", "status": "runnable"} for i in range(30)})
    check_workflows(inp, _ctx(tmp_path, comfy))
    db = sqlite3.connect(tmp_path / "cache" / "inventory" / "inventory.sqlite3")
    keys = [k for (k,) in db.execute("SELECT key FROM kv WHERE namespace=?", (READINESS,))]
    db.close()
    assert len(keys) == 14 and sum(k.startswith("old") for k in keys) == 7  # 2 x 7 workflows kept, 7 of them new
    assert check_workflows(inp, _ctx(tmp_path, comfy)).cache["readiness_cached"] == 7


def test_the_excluded_folder_is_left_out_through_links_too(tmp_path: Path) -> None:
    wf, comfy = _workspace(tmp_path)
    reports = wf / "out" / "reports"
    reports.mkdir(parents=True)
    shutil.copyfile(wf / "templates" / "image_sdxl_simple.json", reports / "copy.json")
    (wf / "link.json").symlink_to(reports / "copy.json")  # a file link into the excluded folder
    (wf / "alias").symlink_to(wf / "out", target_is_directory=True)  # a folder link to it
    kept = tmp_path / "elsewhere.json"
    shutil.copyfile(reports / "copy.json", kept)
    (wf / "outside.json").symlink_to(kept)  # a link out of it is checked
    ctx = _ctx(tmp_path, comfy)
    every = {w.name for w in check_workflows(CheckInput(paths=[str(wf)]), ctx).workflows}
    assert {"link.json", "outside.json"} <= every  # the copy is listed once, where it is first seen
    result = check_workflows(CheckInput(paths=[str(wf)], exclude=[str(wf / "out")]), ctx)
    names = {w.name for w in result.workflows}
    assert "outside.json" in names and result.summary.total == 8
    assert not any(n.startswith(("out/", "alias/")) or n == "link.json" for n in names)
