"""``diff_workflows`` on real pairs: two releases of official templates, community workflows edited by a
script (fp8 swap, steps, an added LoRA, every node re-numbered), and UI workflows against the API prompts
the real frontend saved beside them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from corpora import ui_api_pairs

from comfyfixer.agent.cli import run
from comfyfixer.tools.review.diff import compare
from comfyfixer.tools.schema import load_object_info
from comfyfixer.tools.schema.loader import SchemaSet, bundled_core_schemas
from comfyfixer.tools.workflow.loader import load_workflow

PAIRS = Path(__file__).parent / "data" / "template_pairs"
# Same filter as tests/workflow/test_convert.py: what a saved UI file cannot replay at queue time.
_RUNTIME_ONLY = ('"increment"', '"decrement"', "%", "groupNodes", "Everywhere")


@pytest.fixture(scope="module")
def object_info(shared_data: Path) -> SchemaSet:
    return load_object_info(shared_data / "comfyui" / "object_info.json")


def _diff(old: Any, new: Any, schemas: SchemaSet | None = None) -> Any:
    return compare(load_workflow(old), load_workflow(new), schemas or bundled_core_schemas())


def test_two_releases_of_official_templates() -> None:
    old, new = PAIRS / "0.1.100", PAIRS / "0.1.123"
    sam = _diff(old / "utility_image_segment_sam3.json", new / "utility_image_segment_sam3.json")
    assert [(n.class_type, n.id) for n in sam.added] == [("InvertMask", "114")] and not sam.removed
    rewire = sam.rewired[0]
    assert (rewire.class_type, rewire.input, rewire.new_from) == ("JoinImageWithAlpha", "alpha", "InvertMask (114)")
    assert rewire.old_from is not None and rewire.old_from.startswith("SAM3_Detect")
    assert "InvertMask" in sam.new_dependencies and not sam.equal
    bria = _diff(old / "api_bria_image_edit.json", new / "api_bria_image_edit.json")
    assert [(r.class_type, r.input) for r in bria.rewired] == [("ImageCompare", "image_b")] and not bria.added
    ace = _diff(old / "audio_ace_step_1_5_split.json", new / "audio_ace_step_1_5_split.json")
    assert [n.class_type for n in ace.removed] == ["SaveAudioMP3"] and [n.class_type for n in ace.added] == ["SaveAudioAdvanced"]
    eleven = _diff(old / "api_elevenLabs_speech_to_text.json", new / "api_elevenLabs_speech_to_text.json")
    assert [(p.class_type, p.input, p.old, p.new) for p in eleven.parameters] == [
        ("LoadAudio", "audio", "voice_demo.mp3", "long_demo.mp3")]
    # The graph moved into a subgraph whose inputs carry the widgets: same prompt, one value changed.
    moved = _diff(old / "3d_hunyuan3d-v2.1.json", new / "3d_hunyuan3d-v2.1.json")
    assert not (moved.added or moved.removed or moved.rewired or moved.models)
    assert (moved.matched, moved.renumbered) == (10, 8)  # the 8 nodes now inside the subgraph got new ids
    assert [(p.class_type, p.input, p.old, p.new) for p in moved.parameters] == [
        ("SaveGLB", "filename_prefix", "mesh/ComfyUI", "3d/ComfyUI")]
    for name in ("api_kling_o3_image.json", "image_flux2_text_to_image_9b.json"):  # file changed, prompt did not
        assert (old / name).read_bytes() != (new / name).read_bytes()
        same = _diff(old / name, new / name)
        assert same.equal, (name, same.summary)


def _community_samplers(shared_data: Path, limit: int) -> list[tuple[Path, dict[str, Any]]]:
    """UI community workflows with one KSampler whose model comes straight from a checkpoint loader, at
    most one per source repository (so the sample is not one author's habits)."""
    found: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted((shared_data / "workflows" / "corpus").rglob("*.json")):
        if any(p.parent == path.parent for p, _ in found):
            continue
        try:
            wf = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(wf, dict) or not isinstance(wf.get("nodes"), list) or "definitions" in wf:
            continue
        by_id = {n["id"]: n for n in wf["nodes"]}
        samplers = [n for n in wf["nodes"] if n.get("type") == "KSampler" and n.get("mode", 0) == 0]
        if len(samplers) != 1:
            continue
        slot = next((i for i in samplers[0].get("inputs", []) if i.get("name") == "model" and i.get("link")), None)
        link = next((lk for lk in wf.get("links", []) if slot and lk[0] == slot["link"]), None)
        if link is None or by_id.get(link[1], {}).get("type") != "CheckpointLoaderSimple":
            continue
        found.append((path, wf))
        if len(found) == limit:
            break
    return found


def _renumber(wf: dict[str, Any], offset: int = 5000) -> dict[str, Any]:
    wf = copy.deepcopy(wf)
    ids = {n["id"]: n["id"] + offset for n in wf["nodes"]}
    for n in wf["nodes"]:
        n["id"] = ids[n["id"]]
    for link in wf["links"]:
        link[1], link[3] = ids.get(link[1], link[1]), ids.get(link[3], link[3])
    return wf


def _add_lora(wf: dict[str, Any]) -> dict[str, Any]:
    """Put a LoraLoaderModelOnly between the checkpoint loader and the KSampler, as a user would."""
    wf = copy.deepcopy(wf)
    sampler = next(n for n in wf["nodes"] if n.get("type") == "KSampler")
    slot = next(i for i in sampler["inputs"] if i.get("name") == "model")
    link = next(lk for lk in wf["links"] if lk[0] == slot["link"])
    new_id = max(n["id"] for n in wf["nodes"]) + 1
    new_link = max(lk[0] for lk in wf["links"]) + 1
    target_slot = link[4]
    link[3], link[4] = new_id, 0  # loader → LoRA
    wf["links"].append([new_link, new_id, 0, sampler["id"], target_slot, "MODEL"])  # LoRA → sampler
    slot["link"] = new_link
    wf["nodes"].append({"id": new_id, "type": "LoraLoaderModelOnly", "mode": 0,
                        "inputs": [{"name": "model", "type": "MODEL", "link": link[0]}],
                        "outputs": [{"name": "MODEL", "type": "MODEL", "links": [new_link]}],
                        "widgets_values": ["detail_tweaker_lightning_8steps.safetensors", 0.7]})
    return wf


def test_scripted_edits_of_community_workflows(shared_data: Path, object_info: SchemaSet) -> None:
    sample = _community_samplers(shared_data, 4)
    assert len(sample) >= 3
    for path, wf in sample:
        # Every node re-numbered: still equal, every node matched by its place in the graph.
        same = _diff(wf, _renumber(wf), object_info)
        assert same.equal and same.renumbered == same.matched > 0, (path.name, same.summary)

        edited = copy.deepcopy(wf)
        loader = next(n for n in edited["nodes"] if n.get("type") == "CheckpointLoaderSimple")
        old_file = loader["widgets_values"][0]
        loader["widgets_values"][0] = old_file.rsplit(".", 1)[0].replace("fp16", "") + "_fp8_e4m3fn.safetensors"
        sampler = next(n for n in edited["nodes"] if n.get("type") == "KSampler")
        old_steps = sampler["widgets_values"][2]
        sampler["widgets_values"][2] = max(1, old_steps // 2)
        d = _diff(wf, edited, object_info)
        swap = next(m for m in d.models if m.change == "swapped")
        assert (swap.old, swap.new_precision) == (old_file, "fp8"), path.name
        steps = next(p for p in d.parameters if p.input == "steps")
        assert (steps.old, steps.new, steps.key) == (old_steps, max(1, old_steps // 2), True)
        assert d.runtime_ratio is not None and d.runtime_ratio < 1
        codes = {f.code for f in d.implications}
        assert "runtime" in codes and (old_steps < 4 or "fewer-steps" in codes), (path.name, codes)
        if "fp16" in old_file:
            assert "precision" in codes

        lora = _diff(wf, _add_lora(wf), object_info)
        assert [n.class_type for n in lora.added] == ["LoraLoaderModelOnly"], (path.name, lora.summary)
        assert [(r.class_type, r.input) for r in lora.rewired] == [("KSampler", "model")]
        assert any(m.change == "added" and m.class_type == "LoraLoaderModelOnly" for m in lora.models)
        assert "lora-added" in {f.code for f in lora.implications}
        # Renumbered *and* edited: the edit is still the only difference.
        both = _diff(wf, _renumber(_add_lora(wf)), object_info)
        assert [n.class_type for n in both.added] == ["LoraLoaderModelOnly"] and not both.removed, path.name


def test_ui_workflows_diff_equal_to_their_own_api_prompts(shared_data: Path, object_info: SchemaSet) -> None:
    checked = 0
    for ui_file, api_file, _api in ui_api_pairs(shared_data / "workflows" / "corpus", object_info, _RUNTIME_ONLY):
        d = _diff(ui_file, api_file, object_info)
        # Old frontends also sent the upload button's value: the one difference a UI file cannot show.
        real = [p for p in d.parameters if not p.runtime_only and p.input not in ("upload", "choose file to upload")]
        assert not (d.added or d.removed or d.rewired or d.models or real), (ui_file.name, d.summary)
        assert (d.old_format, d.new_format) == ("ui", "api")
        checked += 1
    assert checked >= 2


def test_images_carrying_both_halves_diff_equal(shared_data: Path, object_info: SchemaSet) -> None:
    """ComfyUI images embed the UI workflow and the prompt queued from it: the two halves are one workflow
    (what the frontend changes when it queues — stripped comments, %widget% file names — aside)."""
    known = unknown_equal = unknown_total = 0
    for path in sorted((shared_data / "images" / "corpus").rglob("*")):
        if not path.is_file():
            continue
        try:
            ui = load_workflow(path)
        except Exception:  # not every image in the corpus carries a workflow
            continue
        if ui.format != "ui" or not ui.other_half:
            continue
        d = compare(ui, load_workflow(ui.other_half), object_info)
        if all(isinstance(v, dict) and v.get("class_type") in object_info for v in ui.other_half.values()):
            assert d.equal, (path.name, d.summary)
            known += 1
        else:  # custom classes: their UI widgets cannot be named, so only the wiring is compared
            unknown_total += 1
            unknown_equal += d.equal
    assert known >= 8 and unknown_total >= 8
    assert unknown_equal >= unknown_total - 1  # one RvTools image really lacks an input in its prompt


def test_diff_command_json_and_markdown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, templates_dir: Path, tmp_path: Path,
) -> None:
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    # fp8 → fp16 of the same model: twice the weights, and the fit estimate's peak goes up.
    wf = json.loads((templates_dir / "flux_schnell.json").read_text(encoding="utf-8"))
    (tmp_path / "a.json").write_text(json.dumps(wf), encoding="utf-8")
    next(n for n in wf["nodes"] if n["type"] == "CheckpointLoaderSimple")["widgets_values"][0] = \
        "flux1-schnell-fp16.safetensors"
    (tmp_path / "b.json").write_text(json.dumps(wf), encoding="utf-8")
    assert run(["diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["models"][0]["weight_ratio"] == 2.0 and doc["new_vram_gb"] > doc["old_vram_gb"]
    assert doc["models"][0]["new_gb"] > doc["models"][0]["old_gb"] > 0  # sizes from the fit estimate
    assert {"precision", "vram"} <= {f["code"] for f in doc["implications"]}
    old, new = PAIRS / "0.1.100" / "utility_image_segment_sam3.json", PAIRS / "0.1.123" / "utility_image_segment_sam3.json"
    assert run(["diff", str(old), str(new), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["equal"] is False and doc["added"] == [{"id": "114", "class_type": "InvertMask"}]
    assert run(["diff", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert "InvertMask" in out and "rewired" in out
