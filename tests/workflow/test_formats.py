"""Loading and normalising the shapes real workflows come in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from comfyfixer.tools.errors import WorkflowFormatError
from comfyfixer.tools.schema import bundled_core_schemas
from comfyfixer.tools.workflow import inspect_source, load_workflow


def _ui(nodes: list[dict[str, Any]], links: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"last_node_id": 99, "last_link_id": 99, "nodes": nodes, "links": links or [], "version": 0.4, **extra}


KSAMPLER = {"id": 3, "type": "KSampler", "mode": 0, "inputs": [{"name": "model", "type": "MODEL", "link": 1}],
            "widgets_values": [156680208700286, "randomize", 20, 8, "euler", "normal", 1]}
CKPT = {"id": 4, "type": "CheckpointLoaderSimple", "mode": 0, "outputs": [{"name": "MODEL", "type": "MODEL", "links": [1]}],
        "widgets_values": ["sd\\v1-5-pruned-emaonly.safetensors"]}


def test_widgets_map_to_inputs_with_control_value() -> None:
    result = inspect_source(_ui([KSAMPLER, CKPT], [[1, 4, 0, 3, 0, "MODEL"]]))
    sampler = result.parameters["samplers"][0]
    assert sampler["seed"] == 156680208700286
    assert sampler["steps"] == 20 and sampler["cfg"] == 8
    assert sampler["sampler_name"] == "euler" and sampler["scheduler"] == "normal" and sampler["denoise"] == 1
    model = result.models[0]
    assert model.filename == "sd/v1-5-pruned-emaonly.safetensors"  # Windows separators normalised, sub-folder kept
    assert model.folder == "checkpoints" and model.input == "ckpt_name" and model.folder_from == "core-loader"


def test_upload_widget_trailing_value_is_skipped() -> None:
    node = {"id": 1, "type": "LoadImage", "widgets_values": ["cat.png", "image"]}
    lora = {"id": 2, "type": "LoraLoader", "widgets_values": ["style.safetensors", 0.8, 0.6]}
    result = inspect_source(_ui([node, lora]))
    assert [m.filename for m in result.models] == ["style.safetensors"]
    assert result.models[0].folder == "loras"


def test_bare_nan_and_infinity_are_legal(tmp_path: Path) -> None:
    text = json.dumps(_ui([CKPT])).replace('"mode": 0', '"mode": 0, "extra_val": NaN, "other": Infinity')
    path = tmp_path / "nan.json"
    path.write_text(text)
    assert inspect_source(path).models[0].folder == "checkpoints"


def test_links_in_object_form_and_widgets_as_dict() -> None:
    wf = {
        "version": 1,
        "state": {"lastNodeId": 2},
        "nodes": [
            {"id": 1, "type": "Power Lora Loader (rgthree)", "mode": 0,
             "widgets_values": [{}, {"type": "PowerLoraLoaderHeaderWidget"},
                                {"on": True, "lora": "detail\\add_detail.safetensors", "strength": 0.7}, {}, ""]},
            {"id": 2, "type": "SomeCustomLoader", "mode": 0, "widgets_values": {"ckpt_name": "custom.ckpt", "x": 1}},
        ],
        "links": [{"id": 5, "origin_id": 2, "origin_slot": 0, "target_id": 1, "target_slot": 0, "type": "MODEL"}],
    }
    result = inspect_source(wf)
    got = {(m.filename, m.folder) for m in result.models}
    assert ("detail/add_detail.safetensors", "loras") in got
    assert ("custom.ckpt", "checkpoints") in got


def test_muted_and_bypassed_nodes_are_reported_but_inactive() -> None:
    muted = dict(CKPT, id=5, mode=2, widgets_values=["muted.safetensors"])
    bypassed = {"id": 6, "type": "LoraLoader", "mode": 4, "widgets_values": ["bypassed.safetensors", 1, 1]}
    result = inspect_source(_ui([CKPT, muted, bypassed]))
    active = {m.filename: m.active for m in result.models}
    assert active == {"sd/v1-5-pruned-emaonly.safetensors": True, "muted.safetensors": False, "bypassed.safetensors": False}


def test_virtual_nodes_need_nothing_and_primitive_values_reach_targets() -> None:
    prim = {"id": 7, "type": "PrimitiveNode", "outputs": [{"name": "COMBO", "type": "COMBO", "links": [9],
            "widget": {"name": "ckpt_name"}}], "widgets_values": ["from_primitive.safetensors", "fixed"]}
    ckpt = {"id": 8, "type": "CheckpointLoaderSimple",
            "inputs": [{"name": "ckpt_name", "type": "COMBO", "link": 9, "widget": {"name": "ckpt_name"}}],
            "widgets_values": ["stale.safetensors"]}
    note = {"id": 10, "type": "Note", "widgets_values": ["get it from https://example.invalid/x.safetensors"]}
    reroute = {"id": 11, "type": "Reroute", "inputs": [{"name": "", "type": "*", "link": None}]}
    result = inspect_source(_ui([prim, ckpt, note, reroute], [[9, 7, 0, 8, 0, "COMBO"]]))
    assert [(m.filename, m.node_id) for m in result.models] == [("from_primitive.safetensors", "8")]
    assert set(result.virtual_nodes) == {"PrimitiveNode", "Note", "Reroute"}
    assert result.custom_nodes == []
    assert {t.class_type for t in result.node_types} == {"CheckpointLoaderSimple"}


def test_nested_subgraphs_are_expanded_with_path_ids() -> None:
    inner_id, outer_id = "aaaa-inner", "bbbb-outer"
    inner = {"id": inner_id, "name": "Inner", "nodes": [dict(CKPT, id=1, widgets_values=["deep.safetensors"])],
             "links": [], "inputs": [], "outputs": []}
    outer = {"id": outer_id, "name": "Outer", "nodes": [{"id": 2, "type": inner_id, "mode": 0},
             {"id": 3, "type": "VAELoader", "widgets_values": ["ae.safetensors"]}], "links": [],
             "definitions": {"subgraphs": [inner]}}
    wf = _ui([{"id": 12, "type": outer_id, "mode": 0}], definitions={"subgraphs": [outer]})
    result = inspect_source(wf)
    ids = {m.filename: m.node_id for m in result.models}
    assert ids == {"deep.safetensors": "12:2:1", "ae.safetensors": "12:3"}
    types = {t.class_type: t.locations for t in result.node_types}
    assert types == {"CheckpointLoaderSimple": ["subgraph:Inner"], "VAELoader": ["subgraph:Outer"]}
    assert inner_id not in types and outer_id not in types


def test_self_containing_subgraph_does_not_loop() -> None:
    sid = "cccc-self"
    sg = {"id": sid, "name": "Loop", "nodes": [{"id": 1, "type": sid}, dict(CKPT, id=2)], "links": []}
    result = inspect_source(_ui([{"id": 1, "type": sid}], definitions={"subgraphs": [sg]}))
    assert any("contains itself" in w for w in result.warnings)
    assert len(result.models) >= 1


def test_group_nodes_expand() -> None:
    groups = {"MyGroup": {"nodes": [
        {"type": "CheckpointLoaderSimple", "index": 0, "widgets_values": ["grouped.safetensors"]},
        {"type": "KSampler", "index": 1, "widgets_values": [1, "fixed", 20, 7, "euler", "normal", 1]},
    ], "links": [[0, 0, 1, 0, 4, "MODEL"]], "external": []}}
    result = inspect_source(_ui([{"id": 30, "type": "workflow>MyGroup", "widgets_values": []}],
                                  extra={"groupNodes": groups}))
    assert {t.class_type for t in result.node_types} == {"CheckpointLoaderSimple", "KSampler"}
    assert [m.filename for m in result.models] == ["grouped.safetensors"]
    assert result.models[0].node_id == "30:0"


def test_api_format_with_expanded_subgraph_ids() -> None:
    api = {
        "12:3": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors", "weight_dtype": "default"}},
        "12:4": {"class_type": "KSampler", "inputs": {"model": ["12:3", 0], "seed": 5, "steps": 4, "cfg": 1.0,
                  "sampler_name": "euler", "scheduler": "simple", "denoise": 1.0, "positive": ["9", 0]}},
        "9": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat, embedding:EasyNegative", "clip": ["8", 0]}},
    }
    result = inspect_source(api)
    assert result.format == "api"
    assert {(m.filename, m.folder, m.node_id) for m in result.models} == {
        ("flux1-dev.safetensors", "diffusion_models", "12:3"), ("EasyNegative", "embeddings", "9")}
    assert any("missing node 8" in w for w in result.warnings)


def test_wrapped_prompt_body_is_unwrapped() -> None:
    body = {"input": {"workflow": {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "a.ckpt"}}}}}
    assert inspect_source(body).models[0].filename == "a.ckpt"


def test_properties_models_give_url_and_folder() -> None:
    node = {"id": 1, "type": "UNETLoader", "widgets_values": ["wan2.1.safetensors", "default"],
            "properties": {"models": [{"name": "wan2.1.safetensors", "url": "https://huggingface.co/x/y/resolve/main/wan2.1.safetensors",
                                       "directory": "unet"}]}}
    m = inspect_source(_ui([node])).models[0]
    assert m.url and m.url.endswith("wan2.1.safetensors")
    assert m.folder == "diffusion_models"


def test_properties_directories_are_read_as_comfyui_folder_keys() -> None:
    # A second directory means the key that searches it; a pack's own key keeps its case (ComfyUI's keys
    # are case-sensitive: Florence2 registers ``LLM``, and models/llm is another folder on Linux).
    nodes = [{"id": 1, "type": "SomePackApply", "widgets_values": ["ad.safetensors"],
              "properties": {"models": [{"name": "ad.safetensors", "directory": "t2i_adapter"}]}},
             {"id": 2, "type": "SomePackLoader", "widgets_values": ["florence.safetensors"],
              "properties": {"models": [{"name": "florence.safetensors", "directory": "LLM"}]}},
             {"id": 3, "type": "SomePackLoader", "widgets_values": ["l.safetensors"],
              "properties": {"models": [{"name": "l.safetensors", "directory": "Loras"}]}}]
    got = {(m.filename, m.folder) for m in inspect_source(_ui(nodes)).models}
    assert got == {("ad.safetensors", "controlnet"), ("florence.safetensors", "LLM"), ("l.safetensors", "loras")}


def test_cnr_id_comfy_core_missing_class_means_update() -> None:
    node = {"id": 1, "type": "BrandNewCoreNode", "properties": {"cnr_id": "comfy-core", "ver": "0.3.75"}}
    finding = inspect_source(_ui([node])).custom_nodes[0]
    assert finding.status == "CORE_UPDATE" and finding.min_comfyui_version == "0.3.75"


def test_pack_from_cnr_id_and_uncertain_ranking(catalog: Any) -> None:
    a = {"id": 1, "type": "SomethingKJ", "properties": {"cnr_id": "comfyui-kjnodes", "ver": "1.0"}}
    b = {"id": 2, "type": "NNLatentUpscale"}
    result = inspect_source(_ui([a, b]), catalog=catalog)
    by = {f.class_type: f for f in result.custom_nodes}
    assert by["SomethingKJ"].status == "RESOLVED"
    assert by["SomethingKJ"].packs[0].reference.lower() == "https://github.com/kijai/comfyui-kjnodes"
    assert by["NNLatentUpscale"].status in ("RESOLVED", "UNCERTAIN")
    unknown = inspect_source(_ui([{"id": 3, "type": "NoSuchClassAnywhere_zz"}]), catalog=catalog)
    assert unknown.custom_nodes[0].status == "NOT_FOUND"


def test_core_names_win_over_packs_that_reregister_them(catalog: Any) -> None:
    # Some packs list core names such as KSampler in the node map; core must be checked first.
    assert catalog.claimants("KSampler")
    result = inspect_source(_ui([KSAMPLER]), catalog=catalog)
    assert result.custom_nodes == []


def test_schema_source_is_reported() -> None:
    assert inspect_source(_ui([CKPT])).schema_source == bundled_core_schemas().source


def test_real_png_and_webp_from_comfyui(shared_data: Path) -> None:
    png = inspect_source(shared_data / "comfyui" / "inspector_probe_00001_.png")
    assert png.container == "png" and png.format == "ui"
    webp = inspect_source(shared_data / "comfyui" / "inspector_anim_00001_.webp")
    assert webp.container == "webp"
    assert {t.class_type for t in webp.node_types} >= {"SaveAnimatedWEBP"}


def test_image_detected_by_content_not_extension(shared_data: Path, tmp_path: Path) -> None:
    disguised = tmp_path / "workflow.json"
    disguised.write_bytes((shared_data / "comfyui" / "inspector_probe_00001_.png").read_bytes())
    assert inspect_source(disguised).container == "png"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"{not json", "invalid JSON"),
        (b"[1, 2, 3]", "not an object"),
        (b'{"hello": "world"}', "not a ComfyUI workflow"),
        (b"GIF89a....", "GIF"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 10, "PNG"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(WorkflowFormatError) as err:
        load_workflow(path)
    assert str(path) in str(err.value)
    assert reason.lower() in str(err.value).lower()


def test_note_urls_become_download_hints() -> None:
    note = {"id": 1, "type": "MarkdownNote", "widgets_values": [
        "Get [it](https://huggingface.co/org/repo/blob/main/split/lora_x.safetensors) and put it in loras"]}
    lora = {"id": 2, "type": "LoraLoaderModelOnly", "widgets_values": ["lora_x.safetensors", 1.0]}
    result = inspect_source(_ui([note, lora]))
    assert result.note_urls == ["https://huggingface.co/org/repo/resolve/main/split/lora_x.safetensors"]
    assert result.models[0].url == result.note_urls[0]
