"""API prompt → UI workflow: widget order, control values, links, layout, and the round trip back."""

from __future__ import annotations

from typing import Any

import pytest
from rc_support import backend_view, canonical, corpus_images, info_for, rel, schemas

from comfyfixer.tools.reconstruct.api_to_ui import api_to_ui
from comfyfixer.tools.workflow import ui_to_api

TXT2IMG: dict[str, dict[str, Any]] = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 768, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
    "3": {"class_type": "KSampler", "inputs": {
        "seed": 42, "steps": 20, "cfg": 7.5, "sampler_name": "dpmpp_2m", "scheduler": "karras", "denoise": 1.0,
        "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}, "_meta": {"title": "Out"}},
}


def _node(wf: dict, nid: int) -> dict:
    return next(n for n in wf["nodes"] if n["id"] == nid)


def test_widgets_values_follow_schema_order_with_control_slot() -> None:
    wf = api_to_ui(TXT2IMG, schemas()).workflow
    assert _node(wf, 3)["widgets_values"] == [42, "fixed", 20, 7.5, "dpmpp_2m", "karras", 1.0]
    assert _node(wf, 5)["widgets_values"] == [512, 768, 1]
    assert _node(wf, 9)["title"] == "Out"


def test_links_are_six_element_rows_matching_slots() -> None:
    wf = api_to_ui(TXT2IMG, schemas()).workflow
    assert wf["last_link_id"] == len(wf["links"]) == 9
    for link_id, src, src_slot, dst, dst_slot, typ in wf["links"]:
        src_node, dst_node = _node(wf, src), _node(wf, dst)
        assert link_id in src_node["outputs"][src_slot]["links"]
        assert dst_node["inputs"][dst_slot]["link"] == link_id
        assert src_node["outputs"][src_slot]["type"] == typ
    # KSampler.model comes from output 0 (MODEL) of the checkpoint loader.
    ks = _node(wf, 3)
    model_in = next(i for i in ks["inputs"] if i["name"] == "model")
    row = next(r for r in wf["links"] if r[0] == model_in["link"])
    assert row[1:3] == [4, 0] and row[5] == "MODEL"


def test_layout_columns_follow_dependency_depth() -> None:
    wf = api_to_ui(TXT2IMG, schemas()).workflow
    x = {n["id"]: n["pos"][0] for n in wf["nodes"]}
    # the empty latent (a source) sits just left of the sampler that uses it, next to the text encoders
    assert x[4] < x[6] == x[7] == x[5] < x[3] < x[8] < x[9]
    order = {n["id"]: n["order"] for n in wf["nodes"]}
    assert order[4] < order[6] < order[3] < order[8] < order[9]


def test_linked_widget_keeps_its_position_and_upload_value() -> None:
    prompt = {
        "1": {"class_type": "PrimitiveInt", "inputs": {"value": 7}},
        "2": {"class_type": "EmptyLatentImage", "inputs": {"width": ["1", 0], "height": 640, "batch_size": 2}},
        "3": {"class_type": "LoadImage", "inputs": {"image": "in.png", "upload": "image"}},
    }
    wf = api_to_ui(prompt, schemas()).workflow
    latent = _node(wf, 2)
    assert latent["widgets_values"][1:] == [640, 2] and len(latent["widgets_values"]) == 3
    width = next(i for i in latent["inputs"] if i["name"] == "width")
    assert width["widget"] == {"name": "width"} and width["link"] is not None
    assert _node(wf, 3)["widgets_values"] == ["in.png", "image"]


def test_unknown_class_keeps_its_inputs_by_name() -> None:
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.safetensors"}},
        "2": {"class_type": "SomePack_Thing", "inputs": {"model": ["1", 0], "strength": 0.5, "mode": "fast"}},
    }
    conv = api_to_ui(prompt, schemas())
    node = _node(conv.workflow, 2)
    assert [i["name"] for i in node["inputs"]] == ["model", "strength", "mode"]
    assert node["inputs"][0]["type"] == "MODEL"
    assert node["widgets_values"] == [0.5, "fast"]
    back = canonical(ui_to_api(conv.workflow, schemas()))
    assert back["2"]["inputs"] == {"model": ["1", 0], "strength": 0.5, "mode": "fast"}


def test_non_numeric_ids_are_renumbered() -> None:
    prompt = {
        "Loader": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.safetensors"}},
        "5": {"class_type": "CLIPTextEncode", "inputs": {"text": "t", "clip": ["Loader", 1]}},
    }
    conv = api_to_ui(prompt, schemas())
    assert conv.id_map == {"5": 5, "Loader": 6}
    assert {n["id"] for n in conv.workflow["nodes"]} == {5, 6}


def _api_images() -> list:
    out = []
    for p in corpus_images():
        info = info_for(p)
        if info is not None and info.prompt_graph is not None:
            out.append(pytest.param(p, info.workflow is None, id=rel(p)))
    return out


@pytest.mark.parametrize(("path", "api_only"), _api_images())
def test_corpus_round_trip_through_the_inspector(path, api_only: bool) -> None:
    """Every embedded API prompt → UI workflow → the workflow package's converter → the same graph."""
    info = info_for(path)
    conv = api_to_ui(info.prompt_graph, schemas())
    original = canonical(info.prompt_graph, conv.id_map)
    back = canonical(ui_to_api(conv.workflow, schemas()))
    assert set(back) == set(original)
    assert backend_view(back, original) == backend_view(original)


def test_deep_chains_cycles_and_odd_entries_do_not_break_the_builder() -> None:
    chain: dict[str, Any] = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1,
                                                                          "color": 0}}}
    for i in range(2, 3000):
        chain[str(i)] = {"class_type": "ImageInvert", "inputs": {"image": [str(i - 1), 0]}}
    wf = api_to_ui(chain, schemas()).workflow
    assert max(n["pos"][0] for n in wf["nodes"]) > min(n["pos"][0] for n in wf["nodes"])
    cyclic = {
        "1": {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "extra": {"airs": ["urn:air:x"]},
        "3": {"class_type": "KSampler", "inputs": "broken"},
    }
    conv = api_to_ui(cyclic, schemas())
    assert {n["id"] for n in conv.workflow["nodes"]} == {1, 2, 3}
    assert any("not nodes" in w for w in conv.warnings) and any("not an object" in w for w in conv.warnings)


def test_wrapped_list_values_round_trip() -> None:
    prompt = {"1": {"class_type": "SomePack_ListNode", "inputs": {"points": {"__value__": [[0, 1], [2, 3]]}}}}
    wf = api_to_ui(prompt, schemas()).workflow
    assert wf["nodes"][0]["widgets_values"] == [[[0, 1], [2, 3]]]
    assert canonical(ui_to_api(wf, schemas()))["1"]["inputs"] == prompt["1"]["inputs"]


def test_structure_checker_catches_broken_bookkeeping() -> None:
    from rc_support import ui_structure_problems

    wf = api_to_ui(TXT2IMG, schemas()).workflow
    assert ui_structure_problems(wf) == []
    wf["links"][0][2] = 5  # a source slot the node does not have
    wf["nodes"][0]["id"] = wf["nodes"][1]["id"]
    assert len(ui_structure_problems(wf)) >= 2


def test_literal_for_a_force_input_widget_is_kept() -> None:
    prompt = {"1": {"class_type": "KlingVideoExtendNode", "inputs": {"video_id": "abc", "prompt": "p",
                                                                     "negative_prompt": "n", "cfg_scale": 0.5}}}
    node = api_to_ui(prompt, schemas()).workflow["nodes"][0]
    kept = [i for i in node["inputs"] if i["name"] == "video_id"]
    assert len(kept) == 1 and kept[0]["widget"] == {"name": "video_id"}
    assert node["widgets_values"][-1] == "abc"
