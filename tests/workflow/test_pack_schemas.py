"""Recorded custom node pack schemas (tools/schema/packs.py): their source notes, their shape, and the
real community workflows that use those packs validating against them."""

from __future__ import annotations

import json
import re
import zipfile
from collections import defaultdict
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

from comfyfixer.tools.errors import InputError
from comfyfixer.tools.fit.variants import gguf_schemas
from comfyfixer.tools.reconstruct.validate import validate_api
from comfyfixer.tools.schema import bundled_core_schemas
from comfyfixer.tools.schema.packs import (
    class_packs,
    custom_widget_types,
    folder_listings,
    pack_note,
    pack_schemas,
    recorded_packs,
    unvalidated_combos,
)
from comfyfixer.tools.workflow.convert import ui_to_api

# The node classes the owner's auto-inpaint, image-cycling and dynamic-prompt schemas draw on, by pack.
WANTED = {
    "SAMModelLoader (segment anything)": "comfyui_segment_anything",
    "GroundingDinoModelLoader (segment anything)": "comfyui_segment_anything",
    "GroundingDinoSAMSegment (segment anything)": "comfyui_segment_anything",
    "InvertMask (segment anything)": "comfyui_segment_anything",
    "DownloadAndLoadSAM2Model": "ComfyUI-segment-anything-2",
    "Sam2Segmentation": "ComfyUI-segment-anything-2",
    "Florence2toCoordinates": "ComfyUI-segment-anything-2",
    "DownloadAndLoadFlorence2Model": "ComfyUI-Florence2",
    "Florence2ModelLoader": "ComfyUI-Florence2",
    "Florence2Run": "ComfyUI-Florence2",
    "SAMLoader": "ComfyUI-Impact-Pack",
    "SAMDetectorCombined": "ComfyUI-Impact-Pack",
    "SAMDetectorSegmented": "ComfyUI-Impact-Pack",
    "BboxDetectorSEGS": "ComfyUI-Impact-Pack",
    "SegmDetectorSEGS": "ComfyUI-Impact-Pack",
    "SegsToCombinedMask": "ComfyUI-Impact-Pack",
    "ImpactDilateMask": "ComfyUI-Impact-Pack",
    "MaskToSEGS": "ComfyUI-Impact-Pack",
    "DetailerForEach": "ComfyUI-Impact-Pack",
    "UltralyticsDetectorProvider": "ComfyUI-Impact-Subpack",
    "WD14Tagger|pysssss": "ComfyUI-WD14-Tagger",
    "GrowMaskWithBlur": "ComfyUI-KJNodes",
    "Load Image Batch": "was-node-suite-comfyui",
    "Text Concatenate": "was-node-suite-comfyui",
    "LoadImagesFromDir //Inspire": "ComfyUI-Inspire-Pack",
    "LoadImageListFromDir //Inspire": "ComfyUI-Inspire-Pack",
    "OllamaGenerate": "comfyui-ollama",
    "OllamaVision": "comfyui-ollama",
    "OllamaGenerateV2": "comfyui-ollama",
    "InpaintCropImproved": "ComfyUI-Inpaint-CropAndStitch",
    "InpaintStitchImproved": "ComfyUI-Inpaint-CropAndStitch",
    "INPAINT_LoadFooocusInpaint": "comfyui-inpaint-nodes",
    "INPAINT_MaskedFill": "comfyui-inpaint-nodes",
    "DPRandomGenerator": "comfyui-dynamicprompts",
    "UnetLoaderGGUF": "ComfyUI-GGUF",
    "Searge_LLM_Node": "ComfyUI_Searge_LLM",
    "Miaoshouai_Tagger": "ComfyUI-Miaoshouai-Tagger",
    "VHS_LoadImagesPath": "ComfyUI-VideoHelperSuite",
    "MaskBlur+": "ComfyUI_essentials",
    "SAM2Segment": "ComfyUI-RMBG",
}


def test_every_recording_names_its_source_and_parses_whole() -> None:
    """Each pack file carries repository, full commit and date; every entry parses, is a custom node of that
    pack folder, and no recording marker or throwaway path is left in it."""
    packs = recorded_packs()
    assert len(packs) >= 19
    for pack_dir in packs:
        note = pack_note(pack_dir)
        assert note["repo"].startswith("https://github.com/"), pack_dir
        assert re.fullmatch(r"[0-9a-f]{40}", note["commit"]), pack_dir
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", note["commit_date"]), pack_dir
        schemas = pack_schemas(pack_dir)
        assert pack_dir in schemas.source and note["commit"][:8] in schemas.source
        text = (Path(__file__).resolve().parents[2] / "tools/schema/data/packs" / f"{pack_dir}.json").read_text(encoding="utf-8")
        raw = json.loads(text)
        assert len(schemas) == len(raw) - 1 > 0, pack_dir
        assert {s.python_module for s in schemas.values()} == {f"custom_nodes.{pack_dir}"}
        assert "__folder_listing__" not in text and "cfs-record-" not in text, pack_dir


def test_the_classes_the_schemas_need_are_recorded_in_their_packs() -> None:
    assert {c: class_packs().get(c) for c in WANTED} == WANTED


def test_recorded_entries_read_as_the_source_declares() -> None:
    """Spot checks against the packs' source: fixed model lists kept exactly, folder listings empty and noted,
    outputs and names as declared."""
    sam = pack_schemas("comfyui_segment_anything")["SAMModelLoader (segment anything)"]
    assert sam.inputs[0].options and "sam_vit_h (2.56GB)" in sam.inputs[0].options
    loader = pack_schemas("ComfyUI-Impact-Pack")["SAMLoader"]
    assert loader.inputs[0].options == ["ESAM"]  # the "sams" folder listing, empty here, plus ESAM
    assert folder_listings()["SAMLoader"] == {"model_name": "sams"}
    # "bbox/face_yolov8m.pt" is loaded from models/ultralytics/, not models/ultralytics/bbox/
    assert folder_listings()["UltralyticsDetectorProvider"] == {"model_name": "ultralytics"}
    grow = pack_schemas("ComfyUI-KJNodes")["GrowMaskWithBlur"]
    assert [o.name for o in grow.outputs] == ["mask", "mask_inverted"]
    expand = next(i for i in grow.inputs if i.name == "expand")
    assert (expand.min, expand.max) == (-16384, 16384)  # nodes.MAX_RESOLUTION
    fooocus = pack_schemas("comfyui-inpaint-nodes")["INPAINT_LoadFooocusInpaint"]  # a V3 node
    assert [i.name for i in fooocus.inputs] == ["head", "patch"] and fooocus.outputs[0].type == "INPAINT_PATCH"
    batch = pack_schemas("was-node-suite-comfyui")["Load Image Batch"]
    assert next(i for i in batch.inputs if i.name == "mode").options == ["single_image", "incremental_image", "random"]


def test_gguf_schemas_come_from_the_recording() -> None:
    loader = gguf_schemas()["UnetLoaderGGUF"]
    assert loader.outputs[0].type == "MODEL" and loader.inputs[0].name == "unet_name"
    assert "ComfyUI-GGUF" in gguf_schemas().source and len(gguf_schemas()) > 1


def test_unknown_pack_is_an_input_error_with_the_recorded_ones() -> None:
    with pytest.raises(InputError) as err:
        pack_schemas("ComfyUI-Nope")
    assert "ComfyUI-Impact-Pack" in (err.value.hint or "")


def test_a_file_in_a_pack_folder_listing_is_a_model_to_install_not_an_error() -> None:
    prompt = {
        "1": {"class_type": "SAMLoader", "inputs": {"model_name": "sam_vit_b_01ec64.pth", "device_mode": "AUTO"}},
        "2": {"class_type": "INPAINT_LoadFooocusInpaint",
              "inputs": {"head": "fooocus_inpaint_head.pth", "patch": "inpaint_v26.fooocus.patch"}},
    }
    report = validate_api(prompt, pack_schemas("ComfyUI-Impact-Pack", "comfyui-inpaint-nodes"))
    assert report.errors == []
    assert {(n.class_type, n.folder, n.file) for n in report.needs_models} == {
        ("SAMLoader", "sams", "sam_vit_b_01ec64.pth"),
        ("INPAINT_LoadFooocusInpaint", "inpaint", "fooocus_inpaint_head.pth"),
        ("INPAINT_LoadFooocusInpaint", "inpaint", "inpaint_v26.fooocus.patch"),
    }


def test_combos_comfyui_does_not_check_pass_and_fixed_lists_are_still_checked() -> None:
    """Ollama's model combo is a tuple in its source (ComfyUI accepts any value there); WD14's model list is a
    list, so a name outside it is an error."""
    assert unvalidated_combos()["OllamaGenerate"] == {"model"}
    schemas = pack_schemas("comfyui-ollama", "ComfyUI-WD14-Tagger")
    ollama = {"1": {"class_type": "OllamaConnectivityV2",
                    "inputs": {"url": "http://127.0.0.1:11434", "model": "llama3.2-vision", "keep_alive": 5,
                               "keep_alive_unit": "minutes"}}}
    assert validate_api(ollama, schemas).errors == []
    tagger = {"1": {"class_type": "WD14Tagger|pysssss",
                    "inputs": {"image": ["2", 0], "model": "wd-not-a-tagger", "threshold": 0.35, "character_threshold": 0.85,
                               "replace_underscore": False, "trailing_comma": False, "exclude_tags": ""}},
              "2": {"class_type": "LoadImage", "inputs": {"image": "a.png"}}}
    kinds = [e.kind for e in validate_api(tagger, bundled_core_schemas().merged(schemas)).errors]
    assert kinds == ["not_in_list"]


def test_widget_types_a_pack_adds_in_its_frontend_code_are_noted() -> None:
    assert custom_widget_types() == {"COLORCODE": "ComfyUI-RMBG"}
    assert pack_note("ComfyUI-RMBG")["custom_widget_types"] == {"COLORCODE": "web/js/colorWidget.js"}


def test_listings_a_pack_makes_itself_are_noted_from_its_source() -> None:
    assert folder_listings()["Searge_LLM_Node"] == {"model": "llm_gguf"}
    assert folder_listings()["Florence2ModelLoader"] == {"model": "LLM"}


# Corpus workflows saved by an older (or development) version of a pack whose inputs have changed since:
# (file pattern, class) → what changed. ComfyUI with today's pack would also refuse these as saved (a
# widget added since is filled with its default by the frontend and by our converter, so only changed
# orders and removed widgets are left). Each rule must still match an error, so the list stays tight.
DRIFT: dict[tuple[str, str], str] = {
    ("wyrde__*", "Text Concatenate"): "WAS before delimiter/clean_whitespace: one linebreak_addition widget",
    ("wyrde__*", "Text Add Token by Input"): "WAS before print_current_tokens",
    ("Acly__comfyui-inpaint-nodes/*", "INPAINT_InpaintWithModel"): "saved before the seed input was added",
    ("lquesada__ComfyUI-Inpaint-CropAndStitch/tests*.json", "InpaintCropImproved"):
        "the pack's DEBUG build (26 outputs) with another widget order",
    ("kijai__ComfyUI-segment-anything-2/*", "Sam2Segmentation"):
        "an older frontend kept widget slots for the forceInput coordinates",
    ("kijai__ComfyUI-CogVideoXWrapper/*", "CreateShapeImageOnPath"): "older KJNodes widget set",
    ("kijai__ComfyUI-CogVideoXWrapper/*", "CutAndDragOnPath"): "older KJNodes widget set",
    ("jags111__*", "DPMagicPrompt"): "older dynamicprompts widget set",
    ("1038lab__ComfyUI-RMBG/example_workflows__*", "AILab_LoadImage*"):
        "RMBG's loaders before their resize widgets (a mask channel widget in their place)",
    ("1038lab__ComfyUI-RMBG/example_workflows__ReferenceLatentMask.json", "AILab_ReferenceLatentMask"):
        "three INT widgets then; today expand, blur, mask_only",
    ("Kosinkadink__ComfyUI-VideoHelperSuite/tests__*", "VHS_VideoCombine"): "VHS's own test workflow before save_output",
    ("cubiq__ComfyUI_essentials/workflow_all_nodes.json", "*"): "essentials' all-nodes sampler saved by an older version",
    ("ltdrdata__ComfyUI-Impact-Pack/test__*", "*"):
        "Impact Pack's own 2023 test workflows, before cycle, labels, wildcard selectors, … were added",
}


def _unconnected_sockets(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """(node id, input) of the sockets (not widgets) a UI workflow's nodes show with no link: top-level nodes and
    the nodes of a subgraph one level in (``"<instance>:<inner>"``, as the converter names them)."""
    def open_ones(nodes: Any, prefix: str = "") -> set[tuple[str, str]]:
        return {(f"{prefix}{n.get('id')}", str(i.get("name"))) for n in nodes or [] if isinstance(n, dict)
                for i in n.get("inputs") or [] if isinstance(i, dict) and i.get("link") is None and "widget" not in i}

    found = open_ones(doc.get("nodes"))
    subgraphs = {sg.get("id"): sg for sg in (doc.get("definitions") or {}).get("subgraphs") or [] if isinstance(sg, dict)}
    for n in doc.get("nodes") or []:
        if isinstance(n, dict) and n.get("type") in subgraphs:
            found |= open_ones(subgraphs[n["type"]].get("nodes"), f"{n.get('id')}:")
    return found


def _saved_by(doc: dict[str, Any]) -> dict[str, str]:
    """Node id → the pack commit a top-level UI node says it was saved with (``properties.ver``, when a sha)."""
    return {str(n.get("id")): str(n["properties"]["ver"]) for n in doc.get("nodes") or []
            if isinstance(n, dict) and isinstance(n.get("properties"), dict)
            and re.fullmatch(r"[0-9a-f]{40}", str(n["properties"].get("ver", "")))}


def _corpus_errors(corpus: Path) -> tuple[dict[tuple[str, str], list[str]], dict[str, int], dict[str, int]]:
    """Errors on recorded-pack nodes per (corpus file, class); how many such nodes validated clean per class; and
    how many nodes with errors carry their own explanation (saved by another commit of the pack, per
    ``properties.ver``; or a custom widget type)."""
    packs = class_packs()
    schemas = bundled_core_schemas().merged(pack_schemas())
    errors: dict[tuple[str, str], list[str]] = defaultdict(list)
    clean: dict[str, int] = defaultdict(int)
    explained: dict[str, int] = defaultdict(int)
    for path in sorted(corpus.rglob("*.json")):
        doc: Any = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict):
            continue
        api = ui_to_api(doc, schemas) if isinstance(doc.get("nodes"), list) else {
            k: v for k, v in doc.items() if isinstance(v, dict) and "class_type" in v}
        ours = {nid: node["class_type"] for nid, node in api.items() if node.get("class_type") in packs}
        if not ours:
            continue
        rel = path.relative_to(corpus).as_posix()
        open_sockets, saved_by = _unconnected_sockets(doc), _saved_by(doc)
        issues: dict[str, list[str]] = defaultdict(list)
        for issue in validate_api(api, schemas).errors:
            if issue.kind == "missing_required" and (issue.node_id, issue.input) in open_sockets:
                continue  # the workflow leaves a socket of the node open: a fact of the graph, and the socket agrees
            if issue.node_id in ours:
                issues[issue.node_id].append(f"{issue.input}: {issue.message}")
        for nid, cls in ours.items():
            if nid not in issues:
                clean[cls] += 1
            elif saved_by.get(nid, pack_note(packs[cls])["commit"]) != pack_note(packs[cls])["commit"]:
                explained["saved by another commit of the pack"] += 1
            elif any(i.type in custom_widget_types() for i in schemas[cls].inputs):
                # A widget type the pack's frontend code adds: object_info cannot say it is a widget, so reading
                # widgets_values positionally shifts every value after it.
                explained["custom widget type"] += 1
            else:
                errors[(rel, cls)] += issues[nid]
    return errors, clean, explained


def test_corpus_workflows_using_recorded_packs_validate(shared_data: Path) -> None:
    """Every node of a recorded pack in the real community corpus validates with 0 errors against the
    recordings, except nodes saved by another version of the pack (the node says so in ``properties.ver``, or a
    DRIFT rule says what changed) and nodes with a widget type only the pack's frontend code knows."""
    errors, clean, explained = _corpus_errors(shared_data / "workflows" / "corpus")
    assert set(explained) == {"saved by another commit of the pack", "custom widget type"}
    unexplained = {k: v[:3] for k, v in errors.items()
                   if not any(fnmatch(k[0], pat) and fnmatch(k[1], cls) for pat, cls in DRIFT)}
    assert unexplained == {}, "recorded-pack nodes with errors no DRIFT rule explains: a recording is wrong or stale"
    unused = [rule for rule in DRIFT if not any(fnmatch(f, rule[0]) and fnmatch(c, rule[1]) for f, c in errors)]
    assert unused == [], "these DRIFT rules match no error any more (the converter or a recording improved): drop them"
    assert sum(clean.values()) >= 2000
    for cls in ("DownloadAndLoadSAM2Model", "DownloadAndLoadFlorence2Model", "Florence2Run", "SAMLoader",
                "SAMDetectorCombined", "UltralyticsDetectorProvider", "InpaintStitchImproved", "InpaintCropImproved",
                "INPAINT_LoadFooocusInpaint", "INPAINT_MaskedFill", "GrowMaskWithBlur", "Text Concatenate"):
        assert clean.get(cls, 0) >= 1, cls


def test_every_recorded_pack_is_the_repository_the_manager_installs(manager_wheel: Path) -> None:
    """Recorded from the repository ComfyUI-Manager's catalog lists (a fork it replaced would describe other nodes)."""
    with zipfile.ZipFile(manager_wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith("custom-node-list.json"))
        catalog = json.loads(zf.read(name))
    listed = {str(n.get("reference", "")).rstrip("/").lower() for n in catalog["custom_nodes"]}
    assert [p for p in recorded_packs() if pack_note(p)["repo"].lower() not in listed] == []
