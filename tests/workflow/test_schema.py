"""object_info in its V1, V2 and V3 shapes becomes one NodeSchema."""

from __future__ import annotations

import json
from pathlib import Path

from comfyfixer.tools.schema import bundled_core_schemas, load_object_info, parse_object_info, parse_schema
from comfyfixer.tools.workflow.graph import GraphNode
from comfyfixer.tools.workflow.widgets import widget_inputs


def test_real_dump_v1_and_v3_tells(shared_data: Path) -> None:
    schemas = load_object_info(shared_data / "comfyui" / "object_info.json")
    assert len(schemas) == 498
    ks = schemas["KSampler"]
    assert [i.name for i in ks.widget_inputs()] == ["seed", "steps", "cfg", "sampler_name", "scheduler", "denoise"]
    assert ks.input("seed").extra_widget_slots == 1  # type: ignore[union-attr]
    assert "euler" in (ks.input("sampler_name").options or [])  # type: ignore[union-attr]
    v3 = schemas["ProbeV3Node"]
    assert v3.shape == "v3" and v3.is_custom
    combos = [i for i in v3.inputs if i.type == "COMBO"]
    assert combos and all(isinstance(c.options, list) for c in combos)
    hidden = [i for i in v3.inputs if i.section == "hidden"]
    assert all(i.type for i in hidden)


def test_v2_frontend_shape() -> None:
    info = {
        "name": "KSamplerV2", "display_name": "K", "python_module": "custom_nodes.x",
        "inputs": {
            "model": {"name": "model", "type": "MODEL"},
            "seed": {"name": "seed", "type": "INT", "default": 0, "control_after_generate": True},
            "sampler_name": {"name": "sampler_name", "type": "COMBO", "options": ["euler", "ddim"]},
            "mask": {"name": "mask", "type": "MASK", "isOptional": True},
        },
        "outputs": [{"index": 0, "name": "LATENT", "type": "LATENT", "is_list": False}],
    }
    s = parse_schema("KSamplerV2", info)
    assert s.shape == "v2"
    assert [i.name for i in s.widget_inputs()] == ["seed", "sampler_name"]
    assert s.input("sampler_name").options == ["euler", "ddim"]  # type: ignore[union-attr]
    assert s.input("mask").section == "optional"  # type: ignore[union-attr]
    assert s.outputs[0].type == "LATENT"


def test_v3_schema_shape() -> None:
    info = {
        "node_id": "MyV3", "display_name": "Mine", "category": "x",
        "inputs": [{"id": "steps", "io_type": "INT", "default": 20},
                   {"id": "mode", "io_type": "COMBO", "options": ["a", "b"], "optional": True}],
        "outputs": [{"id": "out", "io_type": "IMAGE", "display_name": "image"}],
        "hidden": ["PROMPT"], "is_output_node": True,
    }
    s = parse_object_info([info], "v3 list")["MyV3"]
    assert s.shape == "v3" and s.output_node
    assert [(i.name, i.type, i.section) for i in s.inputs] == [
        ("steps", "INT", "required"), ("mode", "COMBO", "optional"), ("PROMPT", "PROMPT", "hidden")]


def test_old_style_combo_and_converted_widget_position() -> None:
    schemas = bundled_core_schemas()
    # Preview3D-like: a converted (linked) widget keeps its stale value in place.
    node = GraphNode(id="1", class_type="LoraLoader", widgets_values=["a.safetensors", 0.5, 0.25],
                     ui_inputs=[{"name": "lora_name", "widget": {"name": "lora_name"}, "link": 3}])
    mapped, how, rest = widget_inputs(node, schemas["LoraLoader"])
    assert mapped == {"lora_name": "a.safetensors", "strength_model": 0.5, "strength_clip": 0.25}
    assert how == "schema" and rest == []


def test_seed_without_control_value_is_tolerated() -> None:
    schemas = bundled_core_schemas()
    node = GraphNode(id="1", class_type="KSampler", widgets_values=[42, 20, 7.5, "euler", "karras", 0.6])
    mapped, how, _ = widget_inputs(node, schemas["KSampler"])
    assert mapped["seed"] == 42 and mapped["steps"] == 20 and mapped["denoise"] == 0.6
    assert how == "schema"


def test_bundled_snapshot_has_no_machine_listings() -> None:
    schemas = bundled_core_schemas()
    assert "ProbeV1Node" not in schemas and len(schemas) > 400
    assert schemas["CheckpointLoaderSimple"].input("ckpt_name").options == []  # type: ignore[union-attr]
    assert schemas.comfyui_version == "0.3.64"


def test_unknown_shapes_do_not_break_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "oi.json"
    path.write_text(json.dumps({"Good": {"input": {"required": {"x": ["INT", {}]}}, "output": []}, "Bad": 5}))
    assert list(load_object_info(path)) == ["Good"]
