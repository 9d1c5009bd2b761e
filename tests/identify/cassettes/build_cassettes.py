"""Build the Civitai cassettes of the identify / workflows-for tests from real data in ``../shared/data``.

Run from the repository root: ``python tests/identify/cassettes/build_cassettes.py [--shared DIR] [--out DIR]``.
``tests/test_recorded.py`` rebuilds every cassette into a temporary folder and compares: edit this script,
not the JSON.

Sources (each interaction's ``provenance`` repeats which):
* the model version is the real ``api/civitai/model_version_1421739.civitai.info.json`` (an Illustrious
  LoRA), served for ``GET /model-versions/by-hash/{its SHA256}`` (the same object shape, per SOURCES.md);
* ``civitai_identify_version.json``: that version served for ``GET /model-versions/{id}``;
* ``civitai_identify_local_lora.json``: the same version served for the SHA256 of the test's kohya SDXL
  LoRA file (its primary file's hash set to that one, so Civitai's file match holds);
* the ``/images`` page is assembled: the item shape is the real wiki capture
  ``api/civitai/wiki_images_limit1.json``; ``meta.comfy`` carries the real ComfyUI graphs embedded in
  ``images/corpus/comfyui/sd-metadata__comfyui.png`` and ``…comfyui-hires.png`` (workflow + prompt) and
  in the Civitai-generator JPEG ``images/corpus/civitai/Dataset-Tools__CivitaiComfyui_Test.jpeg``
  (prompt only); ids and reaction counts are set so the test can check the order. No token is recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2].parent / "shared" / "data"
BASE = "https://civitai.com/api/v1"


def _interaction(uri: str, body: Any, provenance: str) -> dict[str, Any]:
    return {
        "provenance": provenance,
        "request": {"method": "GET", "uri": uri, "body": None, "headers": {"Accept": ["application/json"]}},
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {"Content-Type": ["application/json; charset=utf-8"]},
            "body": {"string": json.dumps(body, ensure_ascii=False)},
        },
    }


def _write(out: Path, name: str, interactions: list[dict[str, Any]]) -> None:
    (out / name).write_text(json.dumps({"interactions": interactions, "version": 1}, indent=1, ensure_ascii=False) + "\n",
                             encoding="utf-8")


def _graphs(path: Path) -> dict[str, Any]:
    from comfyfixer.tools.imagemeta import read_embedded_graphs

    graphs = read_embedded_graphs(path)
    assert graphs is not None and graphs.prompt is not None
    out: dict[str, Any] = {"prompt": graphs.prompt}
    if graphs.workflow is not None:
        out["workflow"] = graphs.workflow
    return out


def _test_lora_sha256() -> str:
    """SHA256 of the kohya SDXL LoRA file the tests write (``real_headers.write_sparse_safetensors``)."""
    import hashlib
    import importlib.util
    import tempfile

    spec = importlib.util.spec_from_file_location("identify_real_headers", HERE.parent / "real_headers.py")
    assert spec is not None and spec.loader is not None
    headers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(headers)
    with tempfile.TemporaryDirectory() as tmp:
        path = headers.write_sparse_safetensors(Path(tmp) / "style.safetensors", *headers.KOHYA_SDXL_LORA)
        return hashlib.sha256(path.read_bytes()).hexdigest()


def build(shared: Path = SHARED, out: Path = HERE) -> None:
    """Write the identify cassettes into ``out`` from the real responses and images under ``shared``."""
    civitai = shared / "api" / "civitai"
    version = json.loads((civitai / "model_version_1421739.civitai.info.json").read_text(encoding="utf-8"))
    sha = next(f["hashes"]["SHA256"] for f in version["files"] if f.get("primary") or len(version["files"]) == 1)
    by_hash = _interaction(f"{BASE}/model-versions/by-hash/{sha.lower()}", version,
                           "api/civitai/model_version_1421739.civitai.info.json (real model version)")
    _write(out, "civitai_identify_by_hash.json", [by_hash])

    # The same version by id (a version URL, an AIR, `@id`): GET /model-versions/{id} returns the same object.
    _write(out, "civitai_identify_version.json", [_interaction(
        f"{BASE}/model-versions/{version['id']}", version,
        "api/civitai/model_version_1421739.civitai.info.json (real model version)")])

    # A local LoRA file (the kohya SDXL header of real_headers.py) looked up by its SHA256: the real version,
    # its primary file's SHA256 set to the test file's (Civitai matches the file by that hash).
    local_sha = _test_lora_sha256()
    files = [dict(f, hashes=dict(f["hashes"], SHA256=local_sha.upper())) if f.get("primary") or len(version["files"]) == 1
             else f for f in version["files"]]
    _write(out, "civitai_identify_local_lora.json", [_interaction(
        f"{BASE}/model-versions/by-hash/{local_sha}", dict(version, files=files),
        "api/civitai/model_version_1421739.civitai.info.json (real model version); its primary file's SHA256 "
        "replaced by that of the test's kohya SDXL LoRA (tests/identify/real_headers.py::KOHYA_SDXL_LORA)")])

    item = json.loads((civitai / "wiki_images_limit1.json").read_text(encoding="utf-8"))["items"][0]
    corpus = shared / "images" / "corpus"
    graphs = [
        (_graphs(corpus / "comfyui" / "sd-metadata__comfyui.png"), 3),
        (_graphs(corpus / "comfyui" / "sd-metadata__comfyui-hires.png"), 41),
        (_graphs(corpus / "civitai" / "Dataset-Tools__CivitaiComfyui_Test.jpeg"), 12),
    ]
    items = [dict(item, id=item["id"] + 1000)]  # the real A1111-style item: no graph, must be skipped
    for n, (graph, likes) in enumerate(graphs, 1):
        stats = dict(item["stats"], likeCount=likes, heartCount=n)
        items.append(dict(item, id=item["id"] + n, stats=stats, meta=dict(item["meta"], comfy=json.dumps(graph)),
                          modelVersionIds=[version["id"]]))
    page = {"items": items, "metadata": {"nextCursor": None}}
    _write(out, "civitai_workflows_for.json", [
        by_hash,
        _interaction(f"{BASE}/images?limit=50&modelVersionId={version['id']}", page,
                     "assembled: item shape from api/civitai/wiki_images_limit1.json; meta.comfy from the ComfyUI "
                     "graphs embedded in images/corpus/comfyui/sd-metadata__comfyui(.png|-hires.png) and "
                     "images/corpus/civitai/Dataset-Tools__CivitaiComfyui_Test.jpeg"),
    ])


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()
    build(args.shared, args.out)
