"""V3 dynamic inputs (DynamicCombo, Autogrow, MatchType) and promoted subgraph widgets, read from the
bundled schemas of ComfyUI 0.33.0 and the official templates that use them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from comfyfixer.tools.reconstruct.validate import validate_api
from comfyfixer.tools.schema.loader import bundled_newer_core_schemas, bundled_newest_core_schemas
from comfyfixer.tools.workflow.convert import ui_to_api
from comfyfixer.tools.workflow.widgets import map_with_schema

S = bundled_newer_core_schemas()


def test_a_dynamic_combo_is_a_combo_of_its_keys_with_sub_inputs_in_source_order() -> None:
    spec = S["ResizeImageMaskNode"].input("resize_type")
    assert spec is not None and spec.type == "COMBO" and "scale dimensions" in (spec.options or [])
    assert spec.dynamic_options is not None
    assert [i.name for i in spec.dynamic_options["scale dimensions"]] == [
        "resize_type.width", "resize_type.height", "resize_type.crop"]


def test_the_chosen_option_s_widgets_follow_the_combo_in_widgets_values() -> None:
    # As the official templates save it: ['scale dimensions', 1024, 1024, 'center', 'lanczos'].
    mapped, exact, rest = map_with_schema(["scale dimensions", 1024, 1024, "center", "lanczos"], S["ResizeImageMaskNode"])
    assert mapped == {"resize_type": "scale dimensions", "resize_type.width": 1024, "resize_type.height": 1024,
                      "resize_type.crop": "center", "scale_method": "lanczos"}
    assert exact and rest == []
    mapped, exact, _ = map_with_schema(["scale by multiplier", 1.5, "area"], S["ResizeImageMaskNode"])
    assert mapped == {"resize_type": "scale by multiplier", "resize_type.multiplier": 1.5, "scale_method": "area"}


def test_validation_expands_dynamic_inputs_as_comfyui_does() -> None:
    node = {"class_type": "ResizeImageMaskNode", "inputs": {"input": ["2", 0], "resize_type": "scale dimensions",
                                                           "resize_type.width": 512, "scale_method": "area"}}
    prompt = {"1": node, "2": {"class_type": "LoadImage", "inputs": {"image": "a.png"}}}
    missing = {e.input for e in validate_api(prompt, S).errors if e.kind == "missing_required"}
    assert missing == {"resize_type.height", "resize_type.crop"}
    node["inputs"].update({"resize_type.height": 512, "resize_type.crop": "center"})
    assert validate_api(prompt, S).errors == []  # and the MatchType input takes the IMAGE
    # Autogrow: "values" is not an input itself; its first `min` sockets are required.
    math = {"1": {"class_type": "ComfyMathExpression", "inputs": {"expression": "a + 1"}}}
    assert [e.input for e in validate_api(math, S).errors] == ["values.a"]
    math["1"]["inputs"]["values.a"] = ["2", 0]
    math["2"] = {"class_type": "PrimitiveInt", "inputs": {"value": 2}}
    assert validate_api(math, S).errors == []


def test_promoted_widgets_and_subgraph_inputs_are_matched_by_name(templates_dir: Path) -> None:
    """FLUX.2's template keeps the model names on the inner loaders (promoted widgets, no outer link), and its
    instance lists fewer inputs than the subgraph defines: slots are matched by name, not position."""
    api = ui_to_api(json.loads((templates_dir / "image_flux2_text_to_image.json").read_text(encoding="utf-8")), S)
    by_class = {n["class_type"]: n["inputs"] for n in api.values()}
    assert by_class["UNETLoader"]["unet_name"] == "flux2_dev_fp8mixed.safetensors"
    assert by_class["CLIPLoader"]["type"] == "flux2"
    assert isinstance(by_class["CLIPTextEncode"]["text"], str)
    assert validate_api(api, S).errors == []
    h3 = ui_to_api(json.loads((templates_dir / "video_minimax_h3_t2v.json").read_text(encoding="utf-8")), S)
    i2v = next(n["inputs"] for n in h3.values() if n["class_type"] == "MiniMaxH3ImageToVideo")
    assert isinstance(i2v["prompt"], str) and len(i2v["prompt"]) > 100  # the text, not the width socket


def test_inputs_a_node_validates_itself_skip_the_list_check_as_in_comfyui() -> None:
    """CustomCombo's choices are written in the editor (its schema lists none) and ModelAttentionBackend's
    list is the recording machine's: ComfyUI leaves both to the node's validate_inputs."""
    assert S["CustomCombo"].input("choice").validated_by_node  # type: ignore[union-attr]
    prompt = {"1": {"class_type": "CustomCombo", "inputs": {"choice": "Music"}},
              "2": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "not-a-sampler"}}}
    assert [(e.class_type, e.kind) for e in validate_api(prompt, S).errors] == [("KSamplerSelect", "not_in_list")]


def test_a_socket_fed_by_a_promoted_widget_s_subgraph_input_gets_its_value(templates_dir: Path) -> None:
    """ERNIE-Image's subgraph shows its width and height as text (PreviewAny) from the same subgraph inputs
    its latent's promoted widgets use: the sockets get the widgets' values, and a wildcard takes a literal."""
    api = ui_to_api(json.loads((templates_dir / "image_ernie_image.json").read_text(encoding="utf-8")), S)
    latent = next(n["inputs"] for n in api.values() if n["class_type"] == "EmptyFlux2LatentImage")
    shown = sorted(n["inputs"]["source"] for n in api.values() if n["class_type"] == "PreviewAny"
                   and not isinstance(n["inputs"].get("source"), list))
    assert shown == sorted([latent["width"], latent["height"]])
    assert not [e for e in validate_api(api, S).errors if e.class_type == "PreviewAny"]


def test_nested_dynamic_combos_map_and_expand_with_dotted_paths() -> None:
    """BuildPoseFile (SAM 3D Body, newer than 0.33.0) nests DynamicCombos two deep: the chosen options' widgets
    follow their combo depth-first, then the outer option's own, as the official template saves them."""
    newest = bundled_newest_core_schemas()
    saved = ["glb", "scail", 0.022, 0, 0.3, False, 0.005, 0.003, "full", 0, 24, "off", -1]  # utility_sam3d_body
    mapped, exact, rest = map_with_schema(saved, newest["BuildPoseFile"])
    assert exact and rest == []
    assert mapped["format.mesh_style"] == "scail" and mapped["format.mesh_style.face_style"] == "full"
    assert mapped["format.bone_smooth_window"] == 0 and mapped["fps"] == 24 and mapped["track_index"] == -1
    widgets = {k: v for k, v in mapped.items() if k != "format.mesh_style.stick_radius_m"}
    prompt: dict[str, dict[str, Any]] = {
        "1": {"class_type": "SAM3DBody_Loader", "inputs": {"model_file": "sam_3d_body_dinov3_bf16.safetensors"}},
        "2": {"class_type": "BuildPoseFile",
              "inputs": {"pose_data": ["3", 0], "sam3d_body_model": ["1", 0], **widgets}},
        "3": {"class_type": "SAM3DBody_Smooth",
              "inputs": {"mhr_pose_data": ["4", 0], "strength": 1.0, "method": "gaussian", "window": 7,
                         "rotation_threshold_degrees": 15}},
        "4": {"class_type": "SAM3DBody_Predict",
              "inputs": {"sam3d_body_model": ["1", 0], "image": ["5", 0], "run_hand_refinement": True, "fov": 0.0,
                         "batch_size": 64}},
        "5": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
    }
    report = validate_api(prompt, newest)
    stick = "format.mesh_style.stick_radius_m"
    assert [(e.input, e.kind) for e in report.errors] == [(stick, "missing_required")]
    needs = [(n.class_type, n.folder) for n in report.needs_models if n.folder != "input"]
    assert needs == [("SAM3DBody_Loader", "detection")]
    prompt["2"]["inputs"][stick] = 0.5  # above the scail option's maximum (0.1)
    assert [(e.input, e.kind) for e in validate_api(prompt, newest).errors] == [(stick, "out_of_range")]
