"""A sibling image's graph, re-used with this image's values (real Civitai generator graph)."""

from __future__ import annotations

import copy

import pytest
from rc_support import CORPUS, info_for

from comfyfixer.tools.imagemeta import read_embedded_graphs
from comfyfixer.tools.reconstruct.sibling import adapt_sibling_graph, air_version

IMG = CORPUS / "civitai" / "Dataset-Tools__CivitaiComfyui_Test.jpeg"


def _graph_and_info():
    if not IMG.exists():
        pytest.skip("corpus not available")
    graph = read_embedded_graphs(IMG).prompt
    nodes = {k: v for k, v in graph.items() if isinstance(v, dict) and "class_type" in v}
    return nodes, info_for(IMG)


def test_air_names_carry_the_version_id() -> None:
    assert air_version("urn:air:sdxl:checkpoint:civitai:288584@324619") == ("checkpoint", 324619)
    assert air_version("model.safetensors") is None


def test_own_values_reproduce_the_graph_but_embedding_refs_are_flagged() -> None:
    nodes, info = _graph_and_info()
    adapted = adapt_sibling_graph(nodes, info, [324619])
    assert adapted.same_model and adapted.missing == []
    # Civitai's meta names the embedding ("PonyXLV6_Scores"), its graph loads it by AIR: the only change.
    assert {k for k in nodes if adapted.prompt[k] != nodes[k]} == {"6"}
    assert adapted.prompt["6"]["inputs"]["text"].startswith("PonyXLV6_Scores, SN3K")
    assert any("urn:air:sdxl:embedding:civitai:384756@563234" in w for w in adapted.warnings)


def test_new_values_go_to_the_first_pass_and_shared_seeds_follow() -> None:
    nodes, info = _graph_and_info()
    other = copy.deepcopy(info)
    other.seed, other.steps, other.width, other.height = 42, 20, 896, 1152
    other.prompt = "a red fox <lora:fox:0.5>"
    adapted = adapt_sibling_graph(nodes, other, [324619])
    p = adapted.prompt
    assert (p["11"]["inputs"]["seed"], p["11"]["inputs"]["steps"]) == (42, 20)
    assert p["24"]["inputs"]["seed"] == 42 and p["24"]["inputs"]["steps"] == 30  # hires pass keeps its steps
    assert (p["26"]["inputs"]["width"], p["26"]["inputs"]["height"]) == (896, 1152)
    assert p["6"]["inputs"]["text"] == "a red fox "
    assert p["6"]["inputs"]["parser"] == nodes["6"]["inputs"]["parser"]  # smZ settings untouched
    changed = {k for k in p if p[k] != nodes[k]}
    assert changed == {"11", "24", "26", "6"}


def test_other_model_is_not_the_same_workflow() -> None:
    nodes, info = _graph_and_info()
    other = copy.deepcopy(info)
    other.model.name = "someOtherModel_v2"
    assert not adapt_sibling_graph(nodes, other, [999]).same_model
