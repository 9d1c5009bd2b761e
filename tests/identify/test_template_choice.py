"""Which official template a build starts from, and which file a template's main model is."""

from __future__ import annotations

import json
from pathlib import Path

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.identify.build import BuildInput, build_workflow
from comfyfixer.tools.identify.template_recipes import primary_of
from comfyfixer.tools.identify.workflows import workflow_models
from comfyfixer.tools.schema.loader import newer_core_schema_sets


def test_the_reader_takes_a_files_folder_from_the_loader_inside_a_subgraph(templates_dir: Path) -> None:
    """LTX-2's templates name the checkpoint first as a promoted widget of the subgraph instance (no folder),
    then in the CheckpointLoaderSimple inside it: the reader keeps the loader's folder, so the checkpoint,
    not the muted camera LoRA, is the main model, as the inspector says."""
    path = templates_dir / "video_ltx2_i2v.json"
    wm = workflow_models(json.loads(path.read_text(encoding="utf-8")), "t", "t")
    assert ("ltx-2-19b-dev-fp8.safetensors", "checkpoints") in wm.models
    assert wm.primary == "ltx-2-19b-dev-fp8.safetensors" == (primary_of(path) or ("", ""))[0]


def test_a_depth_estimator_is_not_the_main_model(templates_dir: Path) -> None:
    """Flux's depth LoRA example loads Lotus to draw the depth map: Flux is the main model."""
    assert primary_of(templates_dir / "flux_depth_lora_example.json") == ("flux1-dev-fp8.safetensors",
                                                                          "diffusion_models")


def test_a_family_build_takes_a_template_of_the_same_size_without_paid_api_nodes(ctx: ToolContext) -> None:
    """No template's main model is ``ltx-2-19b-dev.safetensors`` (the one that loads it is broken), so the build
    borrows a chain of its family: one made for LTX-2 19B, not LTX-2.3 22B, and never one that calls a paid
    API (the speech-to-video template sends text to ElevenLabs and Gemini)."""
    result = build_workflow(BuildInput.model_validate({"model": "ltx-2-19b-dev.safetensors", "task": "video"}), ctx)
    assert result.status == "BUILT", result.errors
    source = result.notes[0]
    assert "ltx-2-19b" in source and "22b" not in source, source
    schemas = newer_core_schema_sets()[-1]  # the set that knows ComfyUI's API nodes and flags them
    classes = {n["class_type"] for n in result.api.values()}
    assert not {"ElevenLabsTextToSpeech", "GeminiNode"} & classes
    assert all(not (s := schemas.get(c)) or not s.api_node for c in classes)
    assert any(v == "ltx-2-19b-dev.safetensors" for n in result.api.values() for v in n["inputs"].values())


def test_a_chain_that_calls_a_paid_api_is_offered_last(ctx: ToolContext) -> None:
    """LTX-2.3 22B is the main model of several templates; one of them (speech to video) sends text to
    ElevenLabs and Gemini. Every chain without a paid API node comes before it."""
    from comfyfixer.tools.identify.build import template_recipes
    from comfyfixer.tools.identify.detect import family_from_name

    recipes = template_recipes(ctx)
    found = list(recipes.candidates("ltx-2.3-22b-dev-fp8.safetensors", "checkpoint", "ltx2", "video",
                                    lambda file: family_from_name(file)[0]))
    paid = [recipes._paid(n["class_type"] for n in r.api.values()) for r in found]
    assert True in paid and False in paid
    assert paid == sorted(paid), [r.template for r in found]  # every unpaid chain first
    result = build_workflow(BuildInput.model_validate({"model": "ltx-2.3-22b-dev-fp8.safetensors", "task": "video"}),
                            ctx)
    assert result.status == "BUILT" and result.paid_api_nodes == []


def test_a_template_newer_than_every_node_list_here_is_said_so_with_a_next_step(ctx: ToolContext) -> None:
    """MOSS-Image's text encoder node and CLIPLoader type are newer than every ComfyUI whose node list is
    bundled: the build is not called valid, and the note says how to check it against a newer ComfyUI."""
    result = build_workflow(BuildInput.model_validate({"model": "moss_image_sft_int8_convrot.safetensors",
                                                       "task": "img2img"}), ctx)
    assert result.status == "INVALID" and not result.written
    assert any("TextEncodeMOSSImageEdit" in e for e in result.errors)
    note = result.notes[-1]
    assert "newer than every node list known here" in note and "--object-info" in note and "0.33.0" in note


def test_a_file_is_not_put_into_the_chain_of_another_model_built_on_its_family(ctx: ToolContext) -> None:
    """Bernini-R is an image editor built on Wan 2.2: its template is no recipe for a Wan 2.1 text-to-video
    file, whose image-to-image build is refused with the task that fits."""
    result = build_workflow(BuildInput.model_validate({"model": "wan2.1_t2v_14B_fp16.safetensors", "task": "img2img",
                                                       "family": "wan"}), ctx)
    assert result.status == "UNSUPPORTED" and not result.api
    assert not any("bernini" in n for n in result.notes) and any("--task video" in n for n in result.notes)


def test_a_build_that_needs_a_newer_comfyui_names_what_the_users_lacks(ctx: ToolContext) -> None:
    """FLUX.2 builds against the bundled 0.33.0 core nodes; against the user's 0.3.64 node list the note names
    the classes that list lacks, so the next step (update ComfyUI) is plain."""
    result = build_workflow(BuildInput.model_validate({"model": "flux2_dev_fp8mixed.safetensors", "task": "txt2img"}),
                            ctx)
    assert result.status == "BUILT"
    note = next(n for n in result.notes if n.startswith("needs a ComfyUI with the core nodes of 0.33.0"))
    assert "EmptyFlux2LatentImage" in note and "Flux2Scheduler" in note and "update ComfyUI" in note
    assert "object_info.json" in note
