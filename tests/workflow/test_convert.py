"""UI → API conversion agrees with the API prompts the real frontend saved beside the UI workflows."""

from __future__ import annotations

import json
from pathlib import Path

from corpora import ui_api_pairs

from comfyfixer.tools.schema import load_object_info
from comfyfixer.tools.workflow import ui_to_api

# Pairs changed by the frontend at queue time are left out by corpora.ui_api_pairs (see its markers).
_IGNORED_INPUTS = {"upload", "choose file to upload"}  # old frontends also sent the upload button


def test_real_pairs_convert_exactly(shared_data: Path) -> None:
    schemas = load_object_info(shared_data / "comfyui" / "object_info.json")
    checked = 0
    for ui_file, _api_file, api in ui_api_pairs(shared_data / "workflows" / "corpus", schemas):
        expected = {k: (v["class_type"], {a: b for a, b in v["inputs"].items() if a not in _IGNORED_INPUTS})
                    for k, v in api.items()}
        ours = {k: (v["class_type"], v["inputs"]) for k, v in ui_to_api(json.loads(ui_file.read_text(encoding="utf-8")), schemas).items()}
        assert ours == expected, ui_file.name
        checked += 1
    assert checked >= 2


def test_reroute_bypass_mute_and_primitive() -> None:
    wf = {
        "nodes": [
            {"id": 1, "type": "CheckpointLoaderSimple", "outputs": [{"type": "MODEL"}, {"type": "CLIP"}, {"type": "VAE"}],
             "widgets_values": ["m.safetensors"]},
            {"id": 2, "type": "Reroute", "inputs": [{"name": "", "type": "*"}], "outputs": [{"type": "MODEL"}]},
            {"id": 3, "type": "LoraLoaderModelOnly", "mode": 4, "inputs": [{"name": "model", "type": "MODEL"}],
             "outputs": [{"type": "MODEL"}], "widgets_values": ["l.safetensors", 1.0]},
            {"id": 4, "type": "KSampler", "inputs": [
                {"name": "model", "type": "MODEL"},
                {"name": "seed", "type": "INT", "widget": {"name": "seed"}},
                {"name": "positive", "type": "CONDITIONING"}],
             "widgets_values": [1, "fixed", 20, 7, "euler", "normal", 1]},
            {"id": 5, "type": "PrimitiveNode", "outputs": [{"type": "INT", "widget": {"name": "seed"}}],
             "widgets_values": [777, "fixed"]},
            {"id": 6, "type": "CLIPTextEncode", "mode": 2, "inputs": [{"name": "clip", "type": "CLIP"}],
             "widgets_values": ["muted"]},
        ],
        "links": [[1, 1, 0, 2, 0, "MODEL"], [2, 2, 0, 3, 0, "MODEL"], [3, 3, 0, 4, 0, "MODEL"],
                  [4, 5, 0, 4, 1, "INT"], [5, 6, 0, 4, 2, "CONDITIONING"], [6, 1, 1, 6, 0, "CLIP"]],
    }
    api = ui_to_api(wf)
    assert set(api) == {"1", "4"}
    ks = api["4"]["inputs"]
    assert ks["model"] == ["1", 0]  # through the reroute and the bypassed LoRA
    assert ks["seed"] == 777  # the primitive's value
    assert "positive" not in ks  # fed by a muted node
    assert ks["steps"] == 20 and ks["sampler_name"] == "euler"


def test_bypass_passes_the_input_of_the_type_asked_for_or_drops_the_link() -> None:
    """The frontend's rule for a bypassed node: the input of the requesting socket's type, the output's own
    index tried first; no input of that type, or that input unlinked, and the link is dropped."""
    def wf(bypassed_inputs: list[dict[str, str]], links_in: list[list[object]]) -> dict[str, object]:
        return {"nodes": [
            {"id": 1, "type": "LoadImage", "outputs": [{"type": "IMAGE"}, {"type": "MASK"}], "widgets_values": ["a.png"]},
            {"id": 2, "type": "LoadImage", "outputs": [{"type": "IMAGE"}, {"type": "MASK"}], "widgets_values": ["b.png"]},
            {"id": 3, "type": "ImageBlend", "mode": 4, "inputs": bypassed_inputs, "outputs": [{"type": "IMAGE"}],
             "widgets_values": [0.5, "normal"]},
            {"id": 4, "type": "SaveImage", "inputs": [{"name": "images", "type": "IMAGE"}], "widgets_values": ["out"]},
        ], "links": [*links_in, [9, 3, 0, 4, 0, "IMAGE"]]}

    two = [{"name": "image1", "type": "IMAGE"}, {"name": "image2", "type": "IMAGE"}]
    api = ui_to_api(wf(two, [[1, 1, 0, 3, 0, "IMAGE"], [2, 2, 0, 3, 1, "IMAGE"]]))
    assert api["4"]["inputs"]["images"] == ["1", 0]  # the output's own index first
    api = ui_to_api(wf(two, [[2, 2, 0, 3, 1, "IMAGE"]]))
    assert "images" not in api["4"]["inputs"]  # the first IMAGE input is unlinked: no other input stands in
    mask_then_image = [{"name": "mask", "type": "MASK"}, {"name": "image", "type": "IMAGE"}]
    api = ui_to_api(wf(mask_then_image, [[1, 1, 1, 3, 0, "MASK"], [2, 2, 0, 3, 1, "IMAGE"]]))
    assert api["4"]["inputs"]["images"] == ["2", 0]  # the IMAGE input, not the first one
    api = ui_to_api(wf([{"name": "mask", "type": "MASK"}], [[1, 1, 1, 3, 0, "MASK"]]))
    assert "images" not in api["4"]["inputs"]  # nothing of that type: a MASK is never passed as IMAGE
    # A V3 input that takes several types (Resize Image/Mask's "IMAGE,MASK") connects to an IMAGE, as
    # LiteGraph.isValidConnection has it: the Ming-Image edit template's bypassed resize passes its image on.
    api = ui_to_api(wf([{"name": "input", "type": "IMAGE,MASK"}], [[1, 1, 0, 3, 0, "IMAGE"]]))
    assert api["4"]["inputs"]["images"] == ["1", 0]
    api = ui_to_api(wf([{"name": "mask", "type": "MASK"}, {"name": "input", "type": "image,mask"}],
                       [[1, 1, 1, 3, 0, "MASK"], [2, 2, 0, 3, 1, "IMAGE"]]))
    assert api["4"]["inputs"]["images"] == ["2", 0]  # no exact IMAGE input: the first that connects, any case


def test_a_wildcard_socket_takes_the_bypassed_input_of_the_same_index() -> None:
    """A ``*`` input (Preview Any) asks a bypassed node for the input of the output's own index, else its first."""
    wf = {"nodes": [
        {"id": 1, "type": "LoadImage", "outputs": [{"type": "IMAGE"}, {"type": "MASK"}], "widgets_values": ["a.png"]},
        {"id": 3, "type": "ImageInvert", "mode": 4, "inputs": [{"name": "image", "type": "IMAGE"}],
         "outputs": [{"type": "IMAGE"}]},
        {"id": 4, "type": "PreviewAny", "inputs": [{"name": "source", "type": "*"}]},
    ], "links": [[1, 1, 0, 3, 0, "IMAGE"], [2, 3, 0, 4, 0, "*"]]}
    assert ui_to_api(wf)["4"]["inputs"]["source"] == ["1", 0]


def test_subgraph_boundaries_are_crossed() -> None:
    sid = "1111-2222"
    sg = {
        "id": sid, "name": "S", "inputs": [{"name": "model", "type": "MODEL"}], "outputs": [{"name": "MODEL"}],
        "nodes": [{"id": 1, "type": "LoraLoaderModelOnly", "inputs": [{"name": "model", "type": "MODEL"}],
                   "outputs": [{"type": "MODEL"}], "widgets_values": ["in.safetensors", 0.5]}],
        "links": [{"id": 1, "origin_id": -10, "origin_slot": 0, "target_id": 1, "target_slot": 0, "type": "MODEL"},
                  {"id": 2, "origin_id": 1, "origin_slot": 0, "target_id": -20, "target_slot": 0, "type": "MODEL"}],
    }
    wf = {
        "nodes": [
            {"id": 5, "type": "UNETLoader", "outputs": [{"type": "MODEL"}], "widgets_values": ["u.safetensors", "default"]},
            {"id": 6, "type": sid, "inputs": [{"name": "model", "type": "MODEL"}], "outputs": [{"type": "MODEL"}]},
            {"id": 7, "type": "ModelSamplingAuraFlow", "inputs": [{"name": "model", "type": "MODEL"}],
             "widgets_values": [3.1]},
        ],
        "links": [[10, 5, 0, 6, 0, "MODEL"], [11, 6, 0, 7, 0, "MODEL"]],
        "definitions": {"subgraphs": [sg]},
    }
    api = ui_to_api(wf)
    assert api["6:1"]["inputs"]["model"] == ["5", 0]
    assert api["7"]["inputs"]["model"] == ["6:1", 0]
    assert sid not in {v["class_type"] for v in api.values()}
