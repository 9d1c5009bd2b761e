"""Containers and writers with no sample in the corpus, built byte by byte from their specs."""

from __future__ import annotations

import json
from pathlib import Path

from comfyfixer.tools.imagemeta import read_embedded_graphs, read_image

from .pngmaker import chunk, jpeg, png, text_chunk, tiff, user_comment, webp

A1111 = "a cat, テスト\nNegative prompt: dog\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 11, Size: 512x512, Model: m1"
API = {"3": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 4, "cfg": 2.0, "sampler_name": "euler", "scheduler": "normal",
                                                   "denoise": 1.0, "positive": ["6", 0], "negative": ["7", 0], "model": ["4", 0]}},
       "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
       "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a dog"}},
       "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry"}}}
UI = {"nodes": [{"id": 6, "type": "CLIPTextEncode", "mode": 0, "widgets_values": ["a dog"]}], "links": [], "version": 0.4}
PIXEL = [b"\x00\x00\x00\x00"]


def _write(tmp: Path, name: str, data: bytes) -> Path:
    f = tmp / name
    f.write_bytes(data)
    return f


def test_jpeg_usercomment_utf16be_and_le(tmp_path: Path) -> None:
    for enc in ("utf-16-be", "utf-16-le"):
        exif = tiff([], [(0x9286, 7, user_comment(A1111, enc))])
        f = _write(tmp_path, f"a_{enc}.png", jpeg([(0xE1, b"Exif\x00\x00" + exif)]))  # a JPEG named .png
        info = read_image(f)
        assert (info.container, info.generator, info.prompt, info.seed, info.sampler, info.scheduler) == (
            "jpeg", "A1111", "a cat, テスト", 11, "dpmpp_2m", "karras")


def test_webp_exif_without_prefix_and_capitalised_tags(tmp_path: Path) -> None:
    exif = tiff([(0x010F, 2, b"Workflow: " + json.dumps(UI).encode() + b"\x00"),
                 (0x010E, 2, b"Prompt: " + json.dumps(API).encode() + b"\x00")], big_endian=True)
    data = webp([(b"EXIF", exif)])
    graphs = read_embedded_graphs(data)
    assert graphs is not None and graphs.container == "webp"
    assert graphs.prompt == API and graphs.workflow == UI
    info = read_image(_write(tmp_path, "x.webp", data))
    assert (info.generator, info.prompt, info.negative_prompt, info.seed) == ("ComfyUI", "a dog", "blurry", 5)


def test_png_graphs_after_idat_itxt_and_nan(tmp_path: Path) -> None:
    api_text = json.dumps(API).replace('"denoise": 1.0', '"denoise": NaN')
    itxt = chunk(b"iTXt", b"prompt\x00\x00\x00\x00\x00" + api_text.encode())
    data = png(1, 1, 2, PIXEL, post=[itxt, text_chunk("workflow", json.dumps(UI))])
    graphs = read_embedded_graphs(data)
    assert graphs is not None and graphs.prompt is not None and graphs.workflow == UI
    assert graphs.prompt["3"]["inputs"]["denoise"] != graphs.prompt["3"]["inputs"]["denoise"]  # NaN kept


def test_apng_comf_chunk() -> None:
    data = png(1, 1, 2, PIXEL, pre=[chunk(b"comf", b"prompt\x00" + json.dumps(API).encode())])
    graphs = read_embedded_graphs(data)
    assert graphs is not None and graphs.prompt == API


def test_no_graphs_is_none() -> None:
    assert read_embedded_graphs(png(1, 1, 2, PIXEL, pre=[text_chunk("parameters", A1111.encode().decode("latin-1"))])) is None
    assert read_embedded_graphs(b"GIF89a....") is None


def test_easydiffusion_png_fields(tmp_path: Path) -> None:
    fields = {"prompt": "a house", "negative_prompt": "ugly", "seed": "42", "use_stable_diffusion_model": "sd-v1-4",
              "sampler_name": "euler_a", "num_inference_steps": "25", "guidance_scale": "7.5", "width": "512", "height": "640"}
    f = _write(tmp_path, "ed.png", png(1, 1, 2, PIXEL, pre=[text_chunk(k, v) for k, v in fields.items()]))
    info = read_image(f)
    assert (info.generator, info.prompt, info.seed, info.steps, info.cfg, info.sampler, info.width) == (
        "EasyDiffusion", "a house", 42, 25, 7.5, "euler_ancestral", 512)
    assert info.model is not None and info.model.name == "sd-v1-4"


def test_fooocus_jpeg_makernote_scheme(tmp_path: Path) -> None:
    params = {"prompt": "a goldfish", "negative_prompt": "", "base_model": "juggernautXL", "steps": 30, "guidance_scale": 4,
              "seed": "123", "sampler": "dpmpp_2m_sde_gpu", "scheduler": "karras", "resolution": "(1024, 1024)", "styles": "[]"}
    exif = tiff([], [(0x9286, 7, user_comment(json.dumps(params))), (0x927C, 7, b"fooocus")])
    info = read_image(_write(tmp_path, "f.jpg", jpeg([(0xE1, b"Exif\x00\x00" + exif)])))
    assert (info.generator, info.prompt, info.seed, info.width) == ("Fooocus", "a goldfish", 123, 1024)


def test_swarmui_legacy_model_tag(tmp_path: Path) -> None:
    sui = {"sui_image_params": {"prompt": "a robot", "negativeprompt": "", "seed": 9, "steps": 20, "cfgscale": 7,
                                "model": "sdxl", "width": 1024, "height": 1024}}
    exif = tiff([(0x0110, 2, json.dumps(sui).encode() + b"\x00")])
    info = read_image(_write(tmp_path, "s.jpg", jpeg([(0xE1, b"Exif\x00\x00" + exif)])))
    assert (info.generator, info.prompt, info.seed) == ("SwarmUI", "a robot", 9)


def test_camera_photo_is_no_metadata(tmp_path: Path) -> None:
    exif = tiff([(0x010F, 2, b"NIKON CORPORATION\x00"), (0x0110, 2, b"NIKON D850\x00")], [(0x9286, 7, b"UNICODE\x00")])
    info = read_image(_write(tmp_path, "photo.jpg", jpeg([(0xE1, b"Exif\x00\x00" + exif)])))
    assert info.generator is None and info.raw["Model"] == "NIKON D850"


def test_invokeai_dream(tmp_path: Path) -> None:
    dream = '"a castle [fog, rain]" -s 30 -S 77 -W 640 -H 512 -C 7.5 -A k_euler_a'
    info = read_image(_write(tmp_path, "d.png", png(1, 1, 2, PIXEL, pre=[text_chunk("Dream", dream)])))
    assert (info.generator, info.prompt, info.negative_prompt, info.seed, info.steps, info.sampler) == (
        "InvokeAI", "a castle", "fog, rain", 77, 30, "euler_ancestral")


def test_xmp_in_jpeg_with_a1111_description(tmp_path: Path) -> None:
    xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description><rdf:Alt>'
           f'<rdf:li xml:lang="x-default">{A1111}</rdf:li></rdf:Alt></dc:description></rdf:Description></rdf:RDF></x:xmpmeta>')
    app1 = b"http://ns.adobe.com/xap/1.0/\x00" + xmp.encode()
    info = read_image(_write(tmp_path, "x.jpg", jpeg([(0xE1, app1)])))
    assert (info.generator, info.seed) == ("A1111", 11)


def test_com_marker_and_mojibake_text(tmp_path: Path) -> None:
    info = read_image(_write(tmp_path, "c.jpg", jpeg([(0xFE, A1111.encode())])))
    assert info.prompt == "a cat, テスト"
    mojibake = A1111.encode().decode("latin-1")  # UTF-8 bytes in a tEXt chunk
    info = read_image(_write(tmp_path, "m.png", png(1, 1, 2, PIXEL, pre=[text_chunk("parameters", mojibake)])))
    assert info.prompt == "a cat, テスト"


def test_sidecars(tmp_path: Path) -> None:
    bare = png(1, 1, 2, PIXEL)
    _write(tmp_path, "one.png", bare)
    (tmp_path / "one.txt").write_text(A1111, encoding="utf-8")
    info = read_image(tmp_path / "one.png")
    assert (info.generator, info.seed) == ("A1111", 11) and "sidecar:one.txt" in info.raw
    _write(tmp_path, "two.png", bare)
    (tmp_path / "two.json").write_text(json.dumps(UI), encoding="utf-8")
    info = read_image(tmp_path / "two.png")
    assert info.generator == "ComfyUI" and info.workflow == UI and info.prompt == "a dog"


def test_unknown_generation_text_is_kept_raw(tmp_path: Path) -> None:
    text = "prompt=a lake | seed=5 | steps=20 | sampler=mystery"
    info = read_image(_write(tmp_path, "u.png", png(1, 1, 2, PIXEL, pre=[text_chunk("parameters", text)])))
    assert info.generator == "unknown" and info.raw["parameters"] == text
    assert any("unknown format" in w for w in info.warnings)


def test_novelai_stealth_in_lossless_webp(tmp_path: Path) -> None:
    import gzip

    import numpy as np
    from PIL import Image

    from .pngmaker import stealth_bits

    comment = {"prompt": "1girl", "uc": "bad", "steps": 23, "scale": 5.0, "seed": 880, "sampler": "k_euler_ancestral"}
    payload = gzip.compress(json.dumps({"Comment": json.dumps(comment)}).encode())
    bits = np.array(stealth_bits(b"stealth_pngcomp", payload), dtype=np.uint8)
    w = h = 64
    alpha = np.full(w * h, 254, dtype=np.uint8)
    alpha[: bits.size] |= bits
    rgba = np.zeros((h, w, 4), dtype=np.uint8)
    rgba[..., 3] = alpha.reshape(w, h).T  # column-major bit order
    f = tmp_path / "n.webp"
    Image.fromarray(rgba, "RGBA").save(f, format="WEBP", lossless=True, exact=True)
    info = read_image(f)
    assert (info.generator, info.prompt, info.seed, info.sampler) == ("NovelAI", "1girl", 880, "euler_ancestral")


DYNAMIC = ("{red|blue} hair, 1girl, {smile|frown}, masterpiece\nNegative prompt: {lowres|blurry}, bad hands\n"
           "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234, Size: 512x768, "
           "Model hash: 879db523c3, Model: dreamshaper_8")


def test_a1111_prompt_that_starts_with_a_brace_is_not_json(tmp_path: Path) -> None:
    """Dynamic-prompts text (``{red|blue} hair``, common on Civitai) is A1111 by its settings line."""
    f = _write(tmp_path, "dynamic.png", png(1, 1, 2, PIXEL, pre=[text_chunk("parameters", DYNAMIC)]))
    info = read_image(f)
    assert (info.generator, info.seed, info.steps, info.cfg, info.width, info.height, info.sampler, info.scheduler) == (
        "A1111", 1234, 20, 7.0, 512, 768, "dpmpp_2m", "karras")
    assert info.prompt == "{red|blue} hair, 1girl, {smile|frown}, masterpiece"
    assert info.negative_prompt == "{lowres|blurry}, bad hands"
    assert info.model is not None and info.model.name == "dreamshaper_8"
    assert not any("unknown format" in w for w in info.warnings)
    # the same text in a JPEG's UserComment, and a prompt-editing prompt that starts with "["
    exif = tiff([], [(0x9286, 7, user_comment(DYNAMIC))])
    assert read_image(_write(tmp_path, "dynamic.jpg", jpeg([(0xE1, b"Exif\x00\x00" + exif)]))).seed == 1234
    editing = "[cat:dog:0.5] on a sofa\nSteps: 12, Sampler: Euler a, Seed: 9, Size: 64x64"
    info = read_image(_write(tmp_path, "editing.png", png(1, 1, 2, PIXEL, pre=[text_chunk("parameters", editing)])))
    assert (info.generator, info.prompt, info.steps, info.seed) == ("A1111", "[cat:dog:0.5] on a sofa", 12, 9)


def test_real_json_is_still_read_as_json_even_with_a_settings_like_tail(tmp_path: Path) -> None:
    """Text that parses as JSON goes to the JSON readers, whatever its last line says."""
    generic = json.dumps({"prompt": "a cat\nSteps: 20, Seed: 1", "seed": 7, "steps": 9}, indent=1)
    info = read_image(_write(tmp_path, "generic.png", png(1, 1, 2, PIXEL, pre=[text_chunk("parameters", generic)])))
    assert (info.prompt, info.seed, info.steps) == ("a cat\nSteps: 20, Seed: 1", 7, 9)
    # a JSON array is no text format: not A1111 either
    arr = json.dumps(["Steps: 20, Seed: 1, Sampler: Euler"])
    assert read_image(_write(tmp_path, "array.png", png(1, 1, 2, PIXEL, pre=[text_chunk("parameters", arr)]))).seed is None
