"""Every real image in the shared corpus against values checked by hand from its raw chunks.

``expected.json`` holds, per file, the values read off the raw metadata (see
``dump_raw.py``); a field missing from an entry means the bytes do not settle it
(the entry's ``_note`` says why). Negative controls have ``generator: null``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfyfixer.tools.imagemeta import read_image

EXPECTED = json.loads((Path(__file__).parent / "expected.json").read_text(encoding="utf-8"))
FIELDS = ("generator", "prompt", "negative_prompt", "seed", "steps", "cfg", "sampler", "scheduler", "width", "height")


@pytest.fixture(scope="module")
def corpus(shared_data: Path) -> Path:
    return shared_data / "images" / "corpus"


def test_expectations_cover_the_whole_corpus(shared_data: Path) -> None:
    index = json.loads((shared_data / "images" / "index.json").read_text(encoding="utf-8"))
    files = {e["file"].removeprefix("corpus/") for e in index}
    assert len(files) == 101
    assert files == set(EXPECTED)


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_image(corpus: Path, rel: str) -> None:
    exp = EXPECTED[rel]
    info = read_image(corpus / rel)
    if exp["generator"] is None:
        assert info.generator is None, f"negative control read as {info.generator}"
        assert info.prompt is None
        return
    assert isinstance(info.prompt, str), "every image with metadata yields a prompt"
    for field in FIELDS:
        if field in exp:
            assert getattr(info, field) == exp[field], field
    if "model" in exp:
        assert (info.model.name if info.model else None) == exp["model"]
    if "loras" in exp:
        assert [[lo.name, lo.weight] for lo in info.loras] == exp["loras"]
    for flag in ("has_workflow", "has_prompt_graph"):
        if flag in exp:
            assert getattr(info, flag) == exp[flag], flag
    assert info.raw, "raw fields are kept"


def test_hashes_are_typed(corpus: Path) -> None:
    info = read_image(corpus / "a1111" / "Dataset-Tools__test_img_A1111_simple_SDXL.png")
    assert info.model is not None and info.model.hashes == {"AutoV2": "238ffac319"}
    assert info.vae is not None and info.vae.name == "sdxl_vae.safetensors"
    assert [(e.name, e.hashes) for e in info.embeddings] == [("Hell4ineXLPOS", {"AutoV3": "23f5e3fc030a"})]
    assert info.hires is not None and info.hires.scale == 1.5 and info.hires.steps == 30
    assert info.clip_skip == 2 and info.denoise == 0.35


def test_lora_hashes_and_adetailer(corpus: Path) -> None:
    info = read_image(corpus / "a1111" / "Dataset-Tools__a1111_krhistia_png.png")
    lora = info.loras[0]
    assert lora.hashes == {"AutoV3": "c4d0b5c3791c"}
    assert info.adetailer is not None and info.adetailer["ADetailer model"] == "face_yolov8n.pt"
    assert info.hires is not None and info.hires.upscaler == "4x_foolhardy_Remacri"


def test_xxmjskxx_numbered_loras(corpus: Path) -> None:
    info = read_image(corpus / "comfyui" / "Dataset-Tools__ComfyUI_01803_.jpeg")
    assert info.loras[0].name == "flux-photo_v6.safetensors"
    assert info.loras[0].hashes == {"AutoV2": "f1380a97cf"}
    assert info.loras[0].clip_weight == 0.15


def test_nan_in_prompt_graph_is_accepted(corpus: Path) -> None:
    info = read_image(corpus / "comfyui_saveimagewithmetadata" / "Dataset-Tools__DailyWorldMorphChallenge_Base_0026.png")
    assert info.prompt_graph is not None
    changed = [n.get("is_changed") for n in info.prompt_graph.values() if isinstance(n.get("is_changed"), list)]
    assert any(isinstance(x, float) and x != x for v in changed for x in v)  # bare NaN survived


@pytest.mark.parametrize("rel", sorted(k for k, v in EXPECTED.items() if v["generator"] is not None))
def test_expectations_occur_in_the_raw_bytes(corpus: Path, rel: str) -> None:
    """Guard on expected.json itself: its seed, steps and prompt must be literally in the file's metadata."""
    from comfyfixer.tools.imagemeta.containers import read_container

    exp = EXPECTED[rel]
    info = read_image(corpus / rel)
    raw = " ".join([e.value for e in read_container(corpus / rel).entries] + [v for k, v in info.raw.items() if k.startswith("stealth:")])
    forms = {raw, raw.replace("\\n", "\n"), raw.encode("ascii", "backslashreplace").decode()}
    for field in ("seed", "steps"):
        if exp.get(field) is not None:
            assert str(exp[field]) in raw, field
    prompt = (exp.get("prompt") or "").strip()
    if prompt:
        probe = prompt[:40]
        candidates = {probe, json.dumps(probe)[1:-1], json.dumps(probe, ensure_ascii=False)[1:-1]}
        assert any(c in f for c in candidates for f in forms), probe
