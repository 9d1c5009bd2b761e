"""Workflow schemas: the format, the three shipped schemas, the builder, composing into a copy."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hostile_fixtures import mutate_json

from comfyfixer.tools.blueprints.build import flatten
from comfyfixer.tools.blueprints.capability import SchemaBuildInput, SchemaBuildResult, build_schema
from comfyfixer.tools.blueprints.format import (
    FORMAT_FILE,
    format_json_schema,
    load_blueprint,
    parse_blueprint,
    schema_names,
)
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import InputError
from comfyfixer.tools.schema.loader import bundled_core_schemas
from comfyfixer.tools.schema.packs import class_packs, pack_schemas

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "knowledge" / "schemas"
NAMES = ("auto-inpaint", "dynamic-prompts", "image-cycling")
INPAINT_SIMPLE = "workflows/corpus/Acly__comfyui-inpaint-nodes/workflows__inpaint-simple.json"


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(cache_dir=tmp_path / "cache", state_dir=tmp_path / "state", offline=True)


def _build(ctx: ToolContext, name: str, **kw: Any) -> SchemaBuildResult:
    return build_schema(SchemaBuildInput(name=name, **kw), ctx)


# --- the format ---------------------------------------------------------------------------------------

def test_the_three_schemas_ship_and_validate_against_the_format_file() -> None:
    assert set(NAMES) <= set(schema_names())
    shipped = json.loads((SCHEMAS / FORMAT_FILE).read_text(encoding="utf-8"))
    assert shipped == format_json_schema(), "regenerate: python -m comfyfixer.tools.blueprints.format"
    validator = jsonschema.Draft202012Validator(shipped)
    for name in NAMES:
        doc = json.loads((SCHEMAS / f"{name}.json").read_text(encoding="utf-8"))
        assert [e.message for e in validator.iter_errors(doc)] == [], name
        bp = load_blueprint(name)
        assert bp.sources and all(s.ref for s in bp.sources)
    assert [r.schema_ for r in load_blueprint("image-cycling").requires] == ["dynamic-prompts"]


def test_pack_sources_cite_the_recorded_commit_and_corpus_sources_exist(shared_data: Path) -> None:
    import re

    from comfyfixer.tools.schema.packs import pack_note

    for name in NAMES:
        for src in load_blueprint(name).sources:
            recorded = re.search(r"tools/schema/data/packs/([\w.-]+)\.json", src.ref)
            if recorded:
                assert pack_note(recorded.group(1))["commit"][:8] in src.ref, (name, src.ref)
            if src.kind == "workflow":
                assert (shared_data / "workflows" / src.ref).is_file(), src.ref


def test_the_format_refuses_dangling_references() -> None:
    doc = json.loads((SCHEMAS / "auto-inpaint.json").read_text(encoding="utf-8"))
    doc["roles"]["mask_grow"]["candidates"][1]["nodes"]["grow"]["inputs"]["expand"] = {"param": "nope"}
    doc["connections"].append({"from": "detector.mask", "to": "ghost.mask"})
    with pytest.raises(InputError) as err:
        parse_blueprint(doc, "edited")
    assert "unknown parameter nope" in str(err.value) and "no role ghost" in str(err.value)
    doc = json.loads((SCHEMAS / "auto-inpaint.json").read_text(encoding="utf-8"))
    doc["format"] = "comfyfixer.workflow-schema/9"
    with pytest.raises(InputError, match="not a valid workflow schema"):
        parse_blueprint(doc, "future")


def test_candidates_name_real_classes_and_the_packs_the_manager_catalog_gives(manager_wheel: Path) -> None:
    with zipfile.ZipFile(manager_wheel) as zf:
        names = {Path(n).name: n for n in zf.namelist()}
        node_map = json.loads(zf.read(names["extension-node-map.json"]))
        listed = {n["reference"].rstrip("/").lower(): n["id"]
                  for n in json.loads(zf.read(names["custom-node-list.json"]))["custom_nodes"] if n.get("id")}
    core, recorded = bundled_core_schemas(), class_packs()
    for name in NAMES:
        for role in load_blueprint(name).roles.values():
            for cand in role.candidates:
                for cls in cand.classes():
                    if cls in core:  # a pack's candidate may use core nodes too (StringConcatenate)
                        continue
                    assert cand.packs, (name, cand.id, cls)
                    assert cls in recorded, f"{cls} has no recorded object_info"
                    assert any(cls in node_map.get(p.repo, [[]])[0] for p in cand.packs), (cand.id, cls)
                for pack in cand.packs:
                    assert listed.get(pack.repo.lower()) == pack.id, pack


# --- building -----------------------------------------------------------------------------------------

def test_every_schema_and_every_candidate_builds_with_zero_errors_against_the_recorded_packs(
        ctx: ToolContext) -> None:
    for name in NAMES:
        default = _build(ctx, name)
        assert default.status == "BUILT" and default.errors == [], (name, default.errors)
        assert "recorded from https://github.com/" in default.schemas
        for role_name, role in flatten(load_blueprint(name)).roles.items():
            for cand in [*role.candidates, *([None] if role.optional else [])]:
                res = _build(ctx, name, choices={role_name: cand.id if cand else "none"})
                assert res.status == "BUILT", (name, role_name, cand and cand.id, res.errors)
                classes = {n["class_type"] for n in res.api.values()}
                assert cand is None or set(cand.classes()) <= classes


def test_nothing_installed_picks_first_preferences_and_lists_their_packs(ctx: ToolContext) -> None:
    res = _build(ctx, "auto-inpaint")
    picks = {p.role: p for p in res.picks}
    assert picks["detector"].candidate == "florence2_sam2" and not picks["detector"].installed
    assert picks["mask_grow"].candidate == "grow_mask"  # the core one is installed, KJNodes is not
    assert {p.id: p.classes for p in res.missing_packs} == {
        "florence2-kijai": ["DownloadAndLoadFlorence2Model", "Florence2Run"],
        "segment-anything-2": ["Florence2toCoordinates", "DownloadAndLoadSAM2Model", "Sam2Segmentation"]}
    assert any("checkpoints/" in n for n in res.needs)


def test_a_misspelt_or_missing_input_is_an_error(ctx: ToolContext, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    from comfyfixer.tools.blueprints import capability

    doc = json.loads((SCHEMAS / "auto-inpaint.json").read_text(encoding="utf-8"))
    grow = doc["roles"]["mask_grow"]["candidates"][0]["nodes"]["grow"]["inputs"]
    grow["blur_radiuss"] = grow.pop("blur_radius")  # GrowMaskWithBlur's real input is blur_radius
    edited = parse_blueprint(doc, "edited")
    monkeypatch.setattr(capability, "load_blueprint", lambda name: edited)
    res = build_schema(SchemaBuildInput(name="auto-inpaint", choices={"mask_grow": "grow_mask_with_blur"}), ctx,
                       out_dir=tmp_path / "out", write=True)
    assert res.status == "INVALID" and res.written == [] and not (tmp_path / "out").exists()
    assert any("nothing was written" in n for n in res.notes)
    assert any("GrowMaskWithBlur.blur_radiuss: the node has no input" in e for e in res.errors)
    assert any("GrowMaskWithBlur.blur_radius" in e and "missing" in e for e in res.errors)


def test_an_installed_pack_is_preferred(ctx: ToolContext, tmp_path: Path) -> None:
    comfy = tmp_path / "ComfyUI"
    pack = comfy / "custom_nodes" / "comfyui_segment_anything"
    pack.mkdir(parents=True)
    (pack / "__init__.py").write_text(
        "NODE_CLASS_MAPPINGS = {'SAMModelLoader (segment anything)': object, "
        "'GroundingDinoModelLoader (segment anything)': object, 'GroundingDinoSAMSegment (segment anything)': object}\n")
    res = build_schema(SchemaBuildInput(name="auto-inpaint"), ctx.model_copy(update={"comfyui_dir": comfy}))
    detector = next(p for p in res.picks if p.role == "detector")
    assert (detector.candidate, detector.installed) == ("grounding_dino_sam", True)
    assert res.missing_packs == [] and res.status == "BUILT"


def _normalised(res: SchemaBuildResult, role: str) -> dict[str, Any]:
    """The API nodes outside ``role``, with links into ``role`` named by the role instead of a node id."""
    roles = {p.role for p in res.picks}
    assert role in roles
    owner = {nid: node["_meta"]["title"].split(":")[0] for nid, node in res.api.items()}
    out = {}
    for nid, node in res.api.items():
        if owner[nid] == role:
            continue
        inputs = {k: (f"<{role} output>" if isinstance(v, list) and owner.get(v[0]) == role else v)
                  for k, v in node["inputs"].items()}
        out[nid] = {"class_type": node["class_type"], "inputs": inputs}
    return out


@pytest.mark.parametrize(("name", "role", "a", "b"), [
    ("auto-inpaint", "detector", "ultralytics_sam", "grounding_dino_sam"),  # Impact's SAM ↔ GroundingDINO+SAM
    ("auto-inpaint", "detector", "florence2_sam2", "grounding_dino_sam"),
    ("dynamic-prompts", "tagger", "florence2_tags", "wd14"),  # Florence2 ↔ a tagger
])
def test_swapping_one_role_changes_only_that_roles_nodes(ctx: ToolContext, name: str, role: str, a: str,
                                                         b: str) -> None:
    one, two = _build(ctx, name, choices={role: a}), _build(ctx, name, choices={role: b})
    assert one.status == two.status == "BUILT"
    assert _normalised(one, role) == _normalised(two, role)
    mine = {n["class_type"] for n in one.api.values()} ^ {n["class_type"] for n in two.api.values()}
    cand = {c.id: c for c in flatten(load_blueprint(name)).roles[role].candidates}
    assert mine == set(cand[a].classes()) ^ set(cand[b].classes())


def test_image_cycling_builds_the_prompt_schema_in_and_uses_its_prompts(ctx: ToolContext) -> None:
    res = _build(ctx, "image-cycling", parameters={"folder": "/data/pictures", "mode": "random"})
    assert res.status == "BUILT"
    by_class = {n["class_type"]: (nid, n) for nid, n in res.api.items()}
    loader_id, loader = by_class["Load Image Batch"]
    assert loader["inputs"]["path"] == "/data/pictures" and loader["inputs"]["mode"] == "random"
    assert "LoadImage" not in by_class  # the bound image source of dynamic-prompts is dropped
    assert by_class["OllamaVision"][1]["inputs"]["images"] == [loader_id, 0]
    llm_id = by_class["OllamaGenerateV2"][0]
    encoders = [n for n in res.api.values() if n["class_type"] == "CLIPTextEncode"]
    assert [llm_id, 0] in [e["inputs"]["text"] for e in encoders]
    assert any("OllamaConnectivityV2.model" in n for n in res.needs)  # a model pulled on Ollama, not a file


def test_left_out_optional_roles_leave_their_defaults(ctx: ToolContext) -> None:
    res = _build(ctx, "dynamic-prompts", choices={"vision": "none", "tagger": "none"})
    assert res.status == "BUILT"
    classes = {n["class_type"] for n in res.api.values()}
    assert not classes & {"OllamaVision", "WD14Tagger|pysssss"}
    join = next(n for n in res.api.values() if n["_meta"]["title"].startswith("prompt_llm") and
                n["class_type"] == "StringConcatenate" and n["inputs"]["delimiter"] == "\nTags: ")
    assert join["inputs"]["string_a"] == "" and join["inputs"]["string_b"] == ""


def test_a_standalone_build_writes_ui_and_api_only_when_asked(ctx: ToolContext, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = build_schema(SchemaBuildInput(name="auto-inpaint"), ctx, out_dir=out)
    assert res.written == [] and not out.exists()
    res = build_schema(SchemaBuildInput(name="auto-inpaint"), ctx, out_dir=out, write=True)
    assert [Path(p).name for p in res.written] == ["auto-inpaint.json", "auto-inpaint_api.json"]
    again = build_schema(SchemaBuildInput(name="auto-inpaint"), ctx, out_dir=out, write=True)
    assert Path(again.written[0]).name == "auto-inpaint.v2.json"
    ui = json.loads(Path(res.written[0]).read_text(encoding="utf-8"))
    assert len(ui["nodes"]) == len(res.api) and len(ui["links"]) > 10


# --- composing into a real community workflow ---------------------------------------------------------

def test_into_a_community_workflow_writes_a_new_version_and_leaves_the_original_alone(
        ctx: ToolContext, shared_data: Path, tmp_path: Path) -> None:
    from comfyfixer.tools.reconstruct.validate import validate_api
    from comfyfixer.tools.workflow.convert import ui_to_api
    from comfyfixer.tools.workflow.loader import load_workflow

    original = tmp_path / "inpaint-simple.json"
    original.write_bytes((shared_data / INPAINT_SIMPLE).read_bytes())
    before = original.read_bytes()
    res = build_schema(SchemaBuildInput(name="auto-inpaint", into=str(original)), ctx)
    assert res.status == "BUILT" and res.written == [] and res.target == str(tmp_path / "inpaint-simple.v2.json")
    res = build_schema(SchemaBuildInput(name="auto-inpaint", into=str(original),
                                        choices={"detector": "GroundingDinoSAMSegment (segment anything)"}),
                       ctx, write=True)
    assert res.written == [str(tmp_path / "inpaint-simple.v2.json")]
    assert original.read_bytes() == before
    picks = {p.role: p.reused_node for p in res.picks}
    assert picks["image_source"] == 33 and picks["checkpoint"] == 19  # its LoadImage and checkpoint loader
    copy = json.loads(Path(res.written[0]).read_text(encoding="utf-8"))
    old = json.loads(before)
    untouched = {n["id"]: n for n in old["nodes"] if n["id"] not in (33, 19)}
    assert all(n == untouched[n["id"]] for n in copy["nodes"] if n["id"] in untouched)
    assert copy["links"][: len(old["links"])] == old["links"]
    assert copy["last_node_id"] == old["last_node_id"] + len(copy["nodes"]) - len(old["nodes"])
    loaded = load_workflow(Path(res.written[0]))
    assert "GroundingDinoSAMSegment (segment anything)" in {n.class_type for n in loaded.graph.nodes.values()}
    schemas = bundled_core_schemas().merged(pack_schemas("comfyui_segment_anything"))
    new_ids = {str(n["id"]) for n in copy["nodes"]} - {str(n["id"]) for n in old["nodes"]}
    report = validate_api(ui_to_api(copy, schemas), schemas)
    assert [e for e in report.errors if e.node_id in new_ids] == []
    third = build_schema(SchemaBuildInput(name="auto-inpaint", into=str(original)), ctx, write=True)
    assert third.written == [str(tmp_path / "inpaint-simple.v3.json")] and original.read_bytes() == before


# --- hostile values -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("kw", "said"), [
    ({"name": "../../etc/passwd"}, "no workflow schema called"),
    ({"name": "auto-inpaint", "choices": {"detector": "../../evil"}}, "role detector has no candidate"),
    ({"name": "auto-inpaint", "choices": {"detector": "NotANode"}}, "role detector has no candidate"),
    ({"name": "auto-inpaint", "choices": {"../x": "a"}}, "has no role"),
    ({"name": "auto-inpaint", "choices": {"detector": "none"}}, "cannot be left out"),
    ({"name": "auto-inpaint", "parameters": {"grow": "lots"}}, "must be an integer"),
    ({"name": "auto-inpaint", "parameters": {"out_dir": "/tmp"}}, "has no parameter"),
    ({"name": "image-cycling", "parameters": {"mode": "all"}}, "must be one of"),
])
def test_hostile_names_and_values_get_clear_errors(ctx: ToolContext, kw: dict[str, Any], said: str) -> None:
    with pytest.raises(InputError, match=said.replace(".", r"\.")):
        build_schema(SchemaBuildInput(**kw), ctx)


def test_into_refuses_what_is_not_a_ui_workflow(ctx: ToolContext, tmp_path: Path) -> None:
    api = tmp_path / "api.json"
    api.write_text(json.dumps({"1": {"class_type": "LoadImage", "inputs": {}}}))
    with pytest.raises(InputError, match="not a UI-format workflow"):
        build_schema(SchemaBuildInput(name="auto-inpaint", into=str(api)), ctx, write=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["api.json"]


def _extract_catalogs(wheel: Path, folder: Path) -> None:
    """ComfyUI-Manager's three catalogs from its wheel into ``folder``."""
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        for n in zf.namelist():
            if Path(n).name in ("custom-node-list.json", "extension-node-map.json", "model-list.json"):
                (folder / Path(n).name).write_bytes(zf.read(n))


# --- the command ---------------------------------------------------------------------------------------

def test_cli_build_writes_and_plans_the_missing_packs(manager_wheel: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from comfyfixer.agent.cli import run

    catalogs = tmp_path / "catalogs"
    _extract_catalogs(manager_wheel, catalogs)
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    monkeypatch.setenv("COMFYFIXER_MANAGER_CATALOG_DIR", str(catalogs))
    out = tmp_path / "out"
    code = run(["schema", "build", "auto-inpaint", "--with", "mask_grow=GrowMaskWithBlur", "--set", "target=hand",
                "--out", str(out), "--plan", "--comfyui", str(REPO / "demo" / "ComfyUI"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["build"]["status"] == "BUILT"
    assert sorted(p.name for p in out.iterdir()) == ["auto-inpaint.json", "auto-inpaint_api.json"]
    installs = {a["repo_url"] for a in doc["plan"]["actions"] if a.get("kind") == "install_node_pack"}
    assert installs == {"https://github.com/kijai/ComfyUI-Florence2", "https://github.com/kijai/ComfyUI-KJNodes",
                        "https://github.com/kijai/ComfyUI-segment-anything-2"}
    florence = next(n for n in doc["build"]["api"].values() if n["class_type"] == "Florence2Run")
    assert florence["inputs"]["text_input"] == "hand"
    assert run(["schema", "build", "auto-inpaint", "--with", "detector"]) == 2  # not ROLE=VALUE


def test_a_comfyui_object_info_decides_what_is_installed_and_validates(ctx: ToolContext, tmp_path: Path) -> None:
    core = json.loads((REPO / "tools" / "schema" / "data" / "core_object_info.json").read_text(encoding="utf-8"))
    pack = json.loads((REPO / "tools" / "schema" / "data" / "packs" / "ComfyUI-KJNodes.json").read_text(encoding="utf-8"))
    core.pop("__comfyui_version__", None)
    served = {**core, "GrowMaskWithBlur": pack["GrowMaskWithBlur"]}
    info = tmp_path / "object_info.json"
    info.write_text(json.dumps(served), encoding="utf-8")
    res = build_schema(SchemaBuildInput(name="auto-inpaint"), ctx.model_copy(update={"object_info_file": info}))
    grow = next(p for p in res.picks if p.role == "mask_grow")
    assert (grow.candidate, grow.installed) == ("grow_mask_with_blur", True)
    assert res.status == "BUILT" and str(info) in res.schemas
    assert "kjnodes" not in {p.id for p in res.missing_packs}


def test_model_files_are_declared_with_the_catalogs_download_url(ctx: ToolContext, manager_wheel: Path,
                                                                  tmp_path: Path) -> None:
    catalogs = tmp_path / "catalogs"
    _extract_catalogs(manager_wheel, catalogs)
    res = build_schema(SchemaBuildInput(name="auto-inpaint", choices={"detector": "ultralytics_sam"}),
                       ctx.model_copy(update={"manager_catalog_dir": catalogs}))
    models = {m["name"]: m for m in res.workflow["models"]}
    assert models["sam_vit_b_01ec64.pth"] == {
        "name": "sam_vit_b_01ec64.pth", "directory": "sams",
        "url": "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth"}
    assert models["bbox/face_yolov8m.pt"]["url"].startswith("https://huggingface.co/")


def test_mutated_community_workflows_are_composed_or_refused_never_crash(ctx: ToolContext, shared_data: Path,
                                                                         tmp_path: Path) -> None:
    import copy
    import random

    source = json.loads((shared_data / INPAINT_SIMPLE).read_text(encoding="utf-8"))
    rnd, outcomes = random.Random(18), []
    for i in range(40):
        doc = copy.deepcopy(source)
        for _ in range(rnd.randint(1, 3)):
            mutate_json(doc, rnd)
        path = tmp_path / f"mutated{i}.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        try:
            outcomes.append(build_schema(SchemaBuildInput(name="auto-inpaint", into=str(path)), ctx).status)
        except InputError as exc:
            assert "\n" not in str(exc)
            outcomes.append("refused")
    assert "BUILT" in outcomes and "refused" in outcomes


def test_a_running_comfyui_is_the_authority(ctx: ToolContext, shared_data: Path) -> None:
    from comfyfixer.evals.fakes.comfyui_server import FakeComfyUI, load_recorded

    recorded = load_recorded(shared_data / "comfyui")  # a real ComfyUI 0.3.64's answers
    packs = {name: json.loads((REPO / "tools" / "schema" / "data" / "packs" / f"{name}.json").read_text("utf-8"))
             for name in ("comfyui_segment_anything", "ComfyUI-KJNodes")}
    served = dict(recorded.object_info)
    served.update({k: v for d in packs.values() for k, v in d.items() if k != "__pack__"})
    with FakeComfyUI(object_info=served, listings=recorded.listings, system_stats=recorded.system_stats) as fake:
        url = fake.url
        res = build_schema(SchemaBuildInput(name="auto-inpaint"), ctx.model_copy(update={"comfyui_url": url}))
    picks = {p.role: (p.candidate, p.installed) for p in res.picks}
    assert picks["detector"] == ("grounding_dino_sam", True) and picks["mask_grow"] == ("grow_mask_with_blur", True)
    assert res.status == "BUILT" and res.schemas.startswith(f"live ComfyUI {url}") and not res.missing_packs
    with FakeComfyUI(fail_status=500) as down:
        res = build_schema(SchemaBuildInput(name="auto-inpaint"), ctx.model_copy(update={"comfyui_url": down.url}))
    assert res.status == "BUILT" and "bundled core snapshot" in res.schemas
    assert any("could not be read" in n for n in res.notes)
