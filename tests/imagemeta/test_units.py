"""Parsers and tables, on small inputs written out in the tests."""

from __future__ import annotations

from comfyfixer.tools.imagemeta.a1111 import info_from_a1111, split_settings
from comfyfixer.tools.imagemeta.containers import decode_user_comment, fix_mojibake
from comfyfixer.tools.imagemeta.generators.comfyui import summarize_api, ui_to_api
from comfyfixer.tools.imagemeta.models import GenerationInfo
from comfyfixer.tools.imagemeta.samplers import comfy_to_a1111, map_sampler, map_scheduler


def test_map_sampler() -> None:
    assert map_sampler("DPM++ 2M Karras") == ("dpmpp_2m", "karras")
    assert map_sampler("Euler a") == ("euler_ancestral", None)
    assert map_sampler("dpmpp_2m Karras") == ("dpmpp_2m", "karras")
    assert map_sampler("euler_ancestral_karras") == ("euler_ancestral", "karras")
    assert map_sampler("k_euler_ancestral") == ("euler_ancestral", None)
    assert map_sampler("DPM++ SDE Karras") == ("dpmpp_sde", "karras")
    assert map_sampler("no such sampler") == (None, None)
    assert map_scheduler("SGM Uniform") == "sgm_uniform"
    assert map_scheduler("Automatic") == "normal"
    assert comfy_to_a1111("dpmpp_2m", "karras") == "DPM++ 2M Karras"


def test_split_settings_balanced_values() -> None:
    line = ('Steps: 20, Lora hashes: "a: 0123456789ab, b: ba9876543210", Hashes: {"model": "x", "lora:a": "y"}, '
            'Civitai resources: [{"type": "lora", "weight": 0.5}], ADetailer prompt: "face, smile", Seed: 1')
    pairs = dict(split_settings(line))
    assert pairs["Lora hashes"] == "a: 0123456789ab, b: ba9876543210"
    assert pairs["Hashes"] == '{"model": "x", "lora:a": "y"}'
    assert pairs["Civitai resources"] == '[{"type": "lora", "weight": 0.5}]'
    assert pairs["ADetailer prompt"] == "face, smile"
    assert pairs["Seed"] == "1"


def test_a1111_without_sampler_and_crlf() -> None:
    text = "a cat\r\nNegative prompt: dog\r\n\r\nSteps: 20, Size: 512x768, Seed: 5, CFG scale: 7, App: SD.Next"
    info = info_from_a1111(text)
    assert (info.prompt, info.negative_prompt, info.steps, info.seed, info.width, info.height) == ("a cat", "dog", 20, 5, 512, 768)
    assert info.sampler is None


def test_user_comment_byte_orders() -> None:
    be = b"UNICODE\x00" + "Steps: 1".encode("utf-16-be")
    le = b"UNICODE\x00" + "Steps: 1".encode("utf-16-le")
    assert decode_user_comment(be) == decode_user_comment(le) == "Steps: 1"
    assert decode_user_comment(b"UNICODE\x00") is None
    assert decode_user_comment(b"ASCII\x00\x00\x00hello") == "hello"


def test_mojibake_repair() -> None:
    assert fix_mojibake("テスト".encode().decode("latin-1")) == "テスト"
    assert fix_mojibake("café") == "café"  # valid Latin-1 that is not UTF-8 stays


def test_custom_sampler_chain() -> None:
    api = {
        "1": {"class_type": "RandomNoise", "inputs": {"noise_seed": 42}},
        "2": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "3": {"class_type": "BasicScheduler", "inputs": {"scheduler": "simple", "steps": 9, "denoise": 1.0, "model": ["5", 0]}},
        "4": {"class_type": "CFGGuider", "inputs": {"cfg": 3.0, "positive": ["6", 0], "negative": ["7", 0], "model": ["8", 0]}},
        "5": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux.safetensors"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": ["9", 0]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "bad"}},
        "8": {"class_type": "LoraLoaderModelOnly", "inputs": {"lora_name": "x.safetensors", "strength_model": 0.7, "model": ["5", 0]}},
        "9": {"class_type": "StringConcatenate", "inputs": {"string_a": "a cat", "string_b": ["10", 0], "delimiter": ", "}},
        "10": {"class_type": "PrimitiveString", "inputs": {"value": "on a mat"}},
        "11": {"class_type": "SamplerCustomAdvanced", "inputs": {"noise": ["1", 0], "guider": ["4", 0], "sampler": ["2", 0],
                                                                  "sigmas": ["3", 0], "latent_image": ["12", 0]}},
        "12": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 768, "batch_size": 1}},
    }
    info = summarize_api(api, GenerationInfo())
    assert (info.seed, info.steps, info.cfg, info.sampler, info.scheduler) == (42, 9, 3.0, "euler", "simple")
    assert info.prompt == "a cat, on a mat" and info.negative_prompt == "bad"
    assert info.model is not None and info.model.name == "flux.safetensors"
    assert [(lo.name, lo.weight) for lo in info.loras] == [("x.safetensors", 0.7)]
    assert (info.width, info.height) == (1024, 768)


def test_ui_workflow_skips_muted_nodes() -> None:
    wf = {"nodes": [{"id": 1, "type": "CLIPTextEncode", "mode": 0, "widgets_values": ["kept"]},
                    {"id": 2, "type": "CLIPTextEncode", "mode": 2, "widgets_values": ["muted"]}], "links": []}
    api = ui_to_api(wf)
    assert list(api) == ["1"] and api["1"]["inputs"]["text"] == "kept"


def test_civitai_onsite_text_is_civitai() -> None:
    from comfyfixer.tools.imagemeta.reader import _apply_text

    text = ('a fox\nNegative prompt: blur\nSteps: 25, Sampler: Euler a, CFG scale: 5, Seed: 1, Size: 832x1216, '
            'Created Date: 2025-01-01T00:00:00.0000000Z, Civitai resources: [{"type":"checkpoint","modelVersionId":2514310},'
            '{"type":"lora","weight":0.8,"modelVersionId":12}], Civitai metadata: {}')
    info = GenerationInfo()
    assert _apply_text(text, info)
    assert info.generator == "Civitai"
    assert [r["modelVersionId"] for r in info.extra["civitai_resources"]] == [2514310, 12]
