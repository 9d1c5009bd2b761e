"""API graph validation against ComfyUI 0.3.64's real node schemas."""

from __future__ import annotations

import copy
from typing import Any

from rc_support import schemas

from comfyfixer.tools.reconstruct import validate_api

GOOD: dict[str, dict[str, Any]] = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "dummy_ckpt.safetensors"}},
    "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a", "clip": ["1", 1]}},
    "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
    "4": {"class_type": "KSampler", "inputs": {
        "model": ["1", 0], "seed": 1, "steps": 20, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal",
        "positive": ["2", 0], "negative": ["2", 0], "latent_image": ["3", 0], "denoise": 1.0}},
    "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 2]}},
    "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "x"}},
}


def _kinds(prompt: dict) -> set[tuple[str, str | None, str]]:
    return {(e.node_id, e.input, e.kind) for e in validate_api(prompt, schemas()).errors}


def test_good_graph_has_no_errors_and_installed_model_needs_nothing() -> None:
    report = validate_api(GOOD, schemas())
    assert report.ok and report.needs_models == []


def test_missing_model_file_is_a_need_not_an_error() -> None:
    p = copy.deepcopy(GOOD)
    p["1"]["inputs"]["ckpt_name"] = "sub/other.safetensors"
    report = validate_api(p, schemas())
    assert report.ok
    assert [(n.node_id, n.folder, n.file) for n in report.needs_models] == [("1", "checkpoints", "sub/other.safetensors")]


def test_each_error_kind() -> None:
    p = copy.deepcopy(GOOD)
    del p["4"]["inputs"]["steps"]  # missing required
    p["4"]["inputs"]["sampler_name"] = "DPM++ 2M Karras"  # not a ComfyUI name
    p["4"]["inputs"]["cfg"] = "7"  # wrong type
    p["4"]["inputs"]["denoise"] = 1.5  # above max 1.0
    p["5"]["inputs"]["vae"] = ["1", 1]  # CLIP into a VAE input
    p["2"]["inputs"]["clip"] = ["99", 0]  # dangling
    p["3"]["inputs"]["width"] = 8  # below min 16
    p["7"] = {"class_type": "NoSuchNode", "inputs": {}}
    kinds = _kinds(p)
    assert kinds == {
        ("4", "steps", "missing_required"), ("4", "sampler_name", "not_in_list"), ("4", "cfg", "bad_type"),
        ("4", "denoise", "out_of_range"), ("5", "vae", "link_type"), ("2", "clip", "bad_link"),
        ("3", "width", "out_of_range"), ("7", None, "unknown_class"),
    }
    assert validate_api(p, schemas()).unknown_classes == ["NoSuchNode"]


def test_link_to_a_missing_output_slot() -> None:
    p = copy.deepcopy(GOOD)
    p["5"]["inputs"]["vae"] = ["1", 5]
    assert ("5", "vae", "bad_link") in _kinds(p)


def test_inputs_that_are_not_an_object() -> None:
    assert ("1", None, "bad_type") in _kinds({"1": {"class_type": "KSampler", "inputs": "broken"}})
