"""Build the Civitai cassettes of the reconstruct tests from the real responses in ``../shared/data``.

Run from the repository root: ``python tests/reconstruct/cassettes/build_cassettes.py [--shared DIR] [--out DIR]``.
``tests/test_recorded.py`` rebuilds every cassette into a temporary folder and compares: edit this script,
not the JSON.
Every body is a real response (or a real graph) copied verbatim; where an interaction is
assembled, its ``provenance`` says from what. No token is recorded (none was used).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2].parent / "shared" / "data"
BASE = "https://civitai.com/api/v1"


def _interaction(uri: str, body: Any, provenance: str, status: int = 200) -> dict[str, Any]:
    return {
        "provenance": provenance,
        "request": {"method": "GET", "uri": uri, "body": None, "headers": {"Accept": ["application/json"]}},
        "response": {
            "status": {"code": status, "message": "OK" if status == 200 else "Not Found"},
            "headers": {"Content-Type": ["application/json; charset=utf-8"]},
            "body": {"string": json.dumps(body, ensure_ascii=False)},
        },
    }


def _write(out: Path, name: str, interactions: list[dict[str, Any]]) -> None:
    (out / name).write_text(json.dumps({"interactions": interactions, "version": 1}, indent=1, ensure_ascii=False) + "\n",
                             encoding="utf-8")


def _civitai_generator_graph(shared: Path) -> dict[str, Any]:
    """The API prompt a Civitai-generator JPEG in the image corpus carries (real graph)."""
    from comfyfixer.tools.imagemeta import read_embedded_graphs

    graphs = read_embedded_graphs(shared / "images" / "corpus" / "civitai" / "Dataset-Tools__CivitaiComfyui_Test.jpeg")
    assert graphs.prompt is not None
    return {k: v for k, v in graphs.prompt.items() if isinstance(v, dict) and "class_type" in v}


def _extra_metadata(path: Path) -> dict[str, Any]:
    """The ``extraMetadata`` JSON string inside a Civitai-generator JPEG's UserComment."""
    from comfyfixer.tools.imagemeta import read_image

    comment = read_image(path).raw["UserComment"]
    return dict(json.loads(json.loads(comment)["extraMetadata"]))


def build(shared: Path = SHARED, out: Path = HERE) -> None:
    """Write the reconstruct cassettes into ``out`` from the real responses and images under ``shared``."""
    civitai = shared / "api" / "civitai"
    page = json.loads((civitai / "wiki_images_limit1.json").read_text(encoding="utf-8"))
    item = page["items"][0]
    real = "api/civitai/wiki_images_limit1.json (Civitai REST API wiki, real capture)"

    # 1. An image with A1111-style meta, looked up by id; its post holds only itself.
    _write(out, "civitai_image_a1111.json", [
        _interaction(f"{BASE}/images?limit=1&imageId={item['id']}", page, real),
        _interaction(f"{BASE}/images?limit=20&postId={item['postId']}", page, real),
    ])

    # 2. A post whose second image was made with Civitai's ComfyUI generator: meta.comfy is a JSON string.
    comfy_item = dict(item, id=item["id"] + 1, meta={
        "comfy": json.dumps({"prompt": _civitai_generator_graph(shared)}),
        "prompt": "see graph", "seed": 1, "steps": 1,
    })
    post_page = {"items": [item, comfy_item], "metadata": {"nextCursor": None}}
    _write(out, "civitai_post_with_graph.json", [
        _interaction(f"{BASE}/images?limit=20&postId={item['postId']}", post_page,
                     real + "; second item: the same item with meta.comfy set to the real API graph of "
                     "images/corpus/civitai/Dataset-Tools__CivitaiComfyui_Test.jpeg"),
    ])

    # 3. A LoRA identified by hash: the real model-version response of choke_hold_rnc_ilxl.
    version = json.loads((civitai / "model_version_1421739.civitai.info.json").read_text(encoding="utf-8"))
    lora_hash = version["files"][0]["hashes"]["AutoV2"]
    lora_item = dict(item, id=item["id"] + 2, meta=dict(item["meta"], resources=[
        {"name": "choke_hold", "type": "lora", "weight": 0.8, "hash": lora_hash.lower()}],
        prompt=item["meta"]["prompt"] + " <lora:choke_hold:0.8>"))
    _write(out, "civitai_image_lora_by_hash.json", [
        _interaction(f"{BASE}/images?limit=1&imageId={lora_item['id']}", {"items": [lora_item], "metadata": {}},
                     real + "; meta.resources names the LoRA of api/civitai/model_version_1421739.civitai.info.json"),
        _interaction(f"{BASE}/images?limit=20&postId={item['postId']}", {"items": [lora_item], "metadata": {}},
                     "as above"),
        # The client asks by the lower-case hash (as the image's meta gives it); no upper-case twin is needed.
        _interaction(f"{BASE}/model-versions/by-hash/{lora_hash.lower()}", version,
                     "api/civitai/model_version_1421739.civitai.info.json (real model-version object), "
                     "asked by the lower-case hash"),
    ])
    # 5. An image with parameters only, whose post sibling carries the graph it was made with.
    gen_image = shared / "images" / "corpus" / "civitai" / "Dataset-Tools__CivitaiComfyui_Test.jpeg"
    extra = _extra_metadata(gen_image)
    target_meta = {k: extra[k] for k in ("prompt", "negativePrompt", "steps", "cfgScale", "sampler", "seed")}
    target_meta["civitaiResources"] = [{"type": "checkpoint", "modelVersionId": 324619},
                                       {"type": "lora", "modelVersionId": 1284026, "weight": 0.8}]
    target = dict(item, id=item["id"] + 10, meta=target_meta, modelVersionIds=[324619, 1284026])
    sibling = dict(item, id=item["id"] + 11, meta={"comfy": json.dumps({"prompt": _civitai_generator_graph(shared)})})
    assembled = ("item shape of api/civitai/wiki_images_limit1.json; meta = the extraMetadata (and, as "
                 "civitaiResources, the resources) of images/corpus/civitai/Dataset-Tools__CivitaiComfyui_Test.jpeg; "
                 "the sibling's meta.comfy = that image's real API graph")
    _write(out, "civitai_image_sibling_graph.json", [
        _interaction(f"{BASE}/images?limit=1&imageId={target['id']}", {"items": [target], "metadata": {}}, assembled),
        _interaction(f"{BASE}/images?limit=20&postId={item['postId']}", {"items": [target, sibling], "metadata": {}},
                     assembled),
        _interaction(f"{BASE}/images?limit=20&username={item['username']}&modelVersionId=324619",
                     {"items": [target], "metadata": {}}, assembled),
    ])

    # 4. An image id Civitai does not list.
    _write(out, "civitai_image_missing.json", [
        _interaction(f"{BASE}/images?limit=1&imageId=1", {"items": [], "metadata": {}},
                     "the documented empty page of /images (CDD images.md)"),
    ])


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "cassettes"))  # the shared builder CLI
    from build_cassettes import builder_main

    builder_main(build, HERE, SHARED)
