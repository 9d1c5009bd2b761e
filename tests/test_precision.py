"""The one table of precision tags in file names (tools/precision.py) and its three readers: review's
label, fit's bytes per parameter and the resolver's variant words, on real names."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from comfyfixer.tools import precision
from comfyfixer.tools.fit.families import bytes_per_param_from_name
from comfyfixer.tools.modelfile import GGML_TYPES
from comfyfixer.tools.resolver.tokens import analyze, variant_differences
from comfyfixer.tools.review.families import precision_of, weight_bits

# Real names (official templates, the ComfyUI-Manager catalog) → (label, bytes per parameter).
REAL = {
    "wan2.1_t2v_14B_fp8_e4m3fn.safetensors": ("fp8", 1.0),
    "t5xxl_fp8_e4m3fn_scaled.safetensors": ("fp8", 1.0),
    "flux2_dev_fp8mixed.safetensors": ("fp8", 1.0),  # Comfy-Org's mixed-precision files, tag joined to "mixed"
    "qwen_image_bf16.safetensors": ("bf16", 2.0),
    "t5xxl_fp16.safetensors": ("fp16", 2.0),
    "control_boxdepth_LooseControlfp16.safetensors": ("fp16", 2.0),  # Manager catalog, camelCase
    "chilloutmix_NiPrunedFp32Fix.safetensors": ("fp32", 4.0),
    "z_image_turbo_int8_convrot.safetensors": ("int8", 1.0),
    "gpt_oss_20b_nvfp4.safetensors": ("fp4", 0.56),
    "gemma_3_12b_it_fp4_mixed.safetensors": ("fp4", 0.56),
    "flux1-dev-Q8_0.gguf": ("q8_0", 34 / 32),
    "flux1-dev-Q6_K.gguf": ("q6_k", 210 / 256),
    "flux1-kontext-dev-Q5_K_M.gguf": ("q5_k_m", 176 / 256),
    "flux1-dev-Q5_1.gguf": ("q5_1", 24 / 32),  # ggml block_q5_1: d, m, qh[4], qs[16]
    "flux1-kontext-dev-Q4_K_M.gguf": ("q4_k_m", 144 / 256),
    "flux1-dev-Q4_1.gguf": ("q4_1", 20 / 32),  # ggml block_q4_1: d, m, qs[16]
    "flux1-dev-Q4_0.gguf": ("q4_0", 18 / 32),
    "t5-v1_1-xxl-encoder-Q3_K_L.gguf": ("q3_k_l", 110 / 256),
    "flux1-dev-Q2_K.gguf": ("q2_k", 84 / 256),
    "flux1-dev-F16.gguf": ("fp16", 2.0),
    "t5-v1_1-xxl-encoder-f32.gguf": ("fp32", 4.0),
}


@pytest.mark.parametrize(("name", "want"), sorted(REAL.items()))
def test_real_names_read_as_their_tag(name: str, want: tuple[str, float]) -> None:
    found = precision.find_tag(name)
    assert found is not None and (found.tag.label, found.tag.bytes_per_param) == pytest.approx(want)
    assert bytes_per_param_from_name(name) == pytest.approx(want[1])


def test_names_without_a_precision_tag() -> None:
    for name in ("ae.safetensors", "sd_xl_base_1.0.safetensors", "half_body_pose_lora.safetensors",
                 "flux_1_dev_q8p.ckpt", "qwen3.5_9b_w4a8_gptq.safetensors", "clip_l.safetensors"):
        assert precision.find_tag(name) is None, name
        assert precision_of(name) is None and bytes_per_param_from_name(name) is None, name
    # Folders are not the file: this QAT checkpoint's folder says q4_0, its file holds bf16 weights.
    assert bytes_per_param_from_name("gemma-3-12b-it-qat-q4_0-unquantized_readout_proj/model/model.safetensors") is None
    assert bytes_per_param_from_name("Comfy-Org/stable-diffusion-3.5-fp8/text_encoders/clip_g.safetensors") is None


def _spelled(name: str) -> str | None:
    found = precision.find_tag(name)
    return found.tag.spelled if found else None


def test_order_longest_spelling_and_fewest_bits_first() -> None:
    assert _spelled("flux1-dev-fp8_e4m3fn_fast.safetensors") == "fp8_e4m3fn_fast"
    assert _spelled("x_nvfp4.safetensors") == "nvfp4"
    assert _spelled("x_bf16.safetensors") == "bf16"
    assert _spelled("qwen-360-diffusion-2512-int8-bf16-v2.safetensors") == "int8"  # the quantised tag wins
    # Short spellings stand apart: "f16" inside a word, a quantisation glued to other letters.
    assert precision.find_tag("surf16k.safetensors") is None
    assert precision.find_tag("fluxDevQ5KMGGUFQuantizationA_v10.gguf") is None


def test_gguf_sizes_are_the_ggml_block_sizes() -> None:
    sizes = {name: size / block for name, block, size in GGML_TYPES.values()}
    quants = [t for t in precision.TAGS if t.quant]
    assert len(quants) >= 30 and all(t.gguf and t.bounded for t in quants)
    for tag in quants:
        base = tag.spelled.upper().removesuffix("_XL").removesuffix("_S").removesuffix("_M").removesuffix("_L")
        base = {"IQ2": "IQ2_S", "IQ3_XS": "IQ3_S", "IQ3": "IQ3_S"}.get(base, base)
        assert tag.bytes_per_param == sizes.get(base, sizes.get(tag.spelled.upper())), tag


def test_the_three_readers_agree_on_the_template_and_catalog_names(templates_dir: Path, manager_wheel: Path) -> None:
    names: set[str] = set()

    def models(value: object) -> None:
        """Collect the ``{"name", "url"}`` model entries the templates list (their nodes' ``models``)."""
        if isinstance(value, dict):
            if isinstance(value.get("name"), str) and isinstance(value.get("url"), str):
                names.add(value["name"])
            for v in value.values():
                models(v)
        elif isinstance(value, list):
            for v in value:
                models(v)

    for f in templates_dir.glob("*.json"):
        models(json.loads(f.read_text(encoding="utf-8")))
    with zipfile.ZipFile(manager_wheel) as z:
        names |= {m["filename"] for m in json.loads(z.read("comfyui_manager/model-list.json"))["models"]}
    tagged = gguf = 0
    for name in sorted(names):
        found = precision.find_tag(name)
        info = analyze(name)
        label = precision_of(name)
        if name.lower().endswith(".gguf"):
            gguf += 1
            assert label == "GGUF", name
            # Every GGUF file here names its type, and the resolver reads the same one.
            assert found is not None and info.gguf_quant == found.tag.spelled, name
        elif found is not None:
            tagged += 1
            assert label == found.tag.label == info.precision, name
        else:
            assert label is None and info.precision is None, name
        assert bytes_per_param_from_name(name) == (found.tag.bytes_per_param if found else None), name
    assert tagged >= 300 and gguf >= 30, (tagged, gguf)


def test_resolver_strips_every_spelling_from_the_core() -> None:
    info = analyze("Wan21-WanMove_fp8_scaled_e4m3fn_KJ.safetensors")
    assert (info.precision, info.scaled, info.core) == ("fp8", True, "wan21_wanmove_kj")
    f32 = analyze("t5-v1_1-xxl-encoder-f32.gguf")
    assert (f32.precision, f32.gguf_quant, f32.core) == ("fp32", "f32", "t5_v1_1_xxl_encoder")
    mixed, full = analyze("flux2_dev_fp8mixed.safetensors"), analyze("flux2_dev.safetensors")
    assert mixed.precision == "fp8" and "precision unspecified ≠ wanted fp8" in variant_differences(mixed, full)


def test_review_weight_bits_size_a_swap_between_quantisations() -> None:
    assert weight_bits("flux1-dev-fp16.safetensors") == 16
    assert weight_bits("flux1-dev-Q8_0.gguf") == 8.5
    assert weight_bits("flux1-dev-Q4_K_S.gguf") == 4.5
    assert weight_bits("fluxDevQ5KMGGUFQuantizationA_v10.gguf") == 5  # a GGUF file naming no type
    assert weight_bits("ae.safetensors") is None


def test_an_integer_tag_right_after_a_letter_is_no_tag() -> None:
    """'point4' holds the letters of int4 but says nothing about precision; int8 joined to what follows
    (int8_convrot) still counts."""
    from comfyfixer.tools.precision import find_tag
    from comfyfixer.tools.resolver.tokens import analyze

    assert find_tag("point4_style.safetensors") is None
    assert analyze("point4_style.safetensors").core == "point4_style"
    assert analyze("paint8er_lora.safetensors").precision is None
    found = find_tag("flux1-dev-int8convrot.safetensors")
    assert found is not None and found.tag.label == "int8"
