"""Build the vcrpy cassettes for the Civitai and Hugging Face client tests.

Bodies are the real responses kept in ``../shared/data/api/civitai`` (verbatim); status codes,
error bodies and headers that have no recorded sample follow the documented shapes
(``shared/docs/apis.md`` §1.8-1.9, §2.2-2.3). Requests carry no secrets.

Run: ``python tests/cassettes/build_cassettes.py [--shared PATH] [--out DIR]`` (rewrites the YAML files here).
``tests/test_recorded.py`` rebuilds every cassette into a temporary folder and compares: edit this script,
not the YAML.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_SHARED = HERE.parents[2] / "shared" / "data" / "api"
UA = "comfyfixer-smart/0.1 (+https://github.com/comfyfixer/comfyfixer-smart)"
CIV = "https://civitai.com"
HF = "https://huggingface.co"
SIGNED = ("https://civitai-delivery-worker-prod.5ac0637cfd0766c97916cefa3764fbdf.r2.cloudflarestorage.com/model/"
          "1234567/semiRealistic.safetensors?X-Amz-Expires=86400&response-content-disposition=attachment%3B%20"
          "filename%3D%22SemiRealisticIllustrious_v10.safetensors%22&X-Amz-Algorithm=AWS4-HMAC-SHA256"
          "&X-Amz-Date=20251101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=0000000000000000")
FLUX_SHA = "8e91b68084b53a7fc44ed2a3756d821e355ac1a7b6fe29be760c1db532f3d88a"
CDN_ETAG = "2f1a8d0c6b7e4a93b5c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9"


def req(method: str, uri: str, headers: dict[str, str] | None = None, body: str | None = None) -> dict[str, Any]:
    h = {"User-Agent": [UA], "Accept": ["application/json"]}
    for k, v in (headers or {}).items():
        h[k] = [v]
    return {"method": method, "uri": uri, "body": body, "headers": h}


def resp(code: int, message: str, body: str = "", headers: dict[str, str] | None = None,
         content_type: str = "application/json; charset=utf-8") -> dict[str, Any]:
    h = {"Content-Type": [content_type]}
    for k, v in (headers or {}).items():
        h[k] = [v]
    return {"status": {"code": code, "message": message}, "headers": h, "body": {"string": body}}


def write(out: Path, name: str, interactions: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Write cassette ``name``.yaml into ``out``."""
    doc = {"interactions": [{"request": r, "response": s} for r, s in interactions], "version": 1}
    (out / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")


def build(shared: Path, out: Path = HERE) -> None:
    """Write the Civitai and Hugging Face cassettes into ``out`` from the samples under ``shared``."""
    civ = shared / "civitai"
    model = (civ / "model_1580878.json").read_text(encoding="utf-8")
    version = (civ / "model_version_1421739.civitai.info.json").read_text(encoding="utf-8")
    listing = json.loads((civ / "wiki_models_list.json").read_text(encoding="utf-8"))
    images = (civ / "wiki_images_limit1.json").read_text(encoding="utf-8")
    public = {"Cache-Control": "public, s-maxage=300, stale-while-revalidate=150"}

    write(out, "civitai_model", [(req("GET", f"{CIV}/api/v1/models/1580878"), resp(200, "OK", model, public))])
    write(out, "civitai_by_hash", [(req("GET", f"{CIV}/api/v1/model-versions/by-hash/b76a1fc247"), resp(200, "OK", version))])
    # The wiki sample is a page-numbered answer; give it the cursor a query search gets.
    listing["metadata"] = {"nextCursor": "75363|932023|257749"}
    page2: dict[str, Any] = {"items": [], "metadata": {}}
    write(out, "civitai_search", [
        (req("GET", f"{CIV}/api/v1/models?limit=2&query=punk&types=TextualInversion"),
         resp(200, "OK", json.dumps(listing), public)),
        (req("GET", f"{CIV}/api/v1/models?limit=2&query=punk&types=TextualInversion&cursor=75363%7C932023%7C257749"),
         resp(200, "OK", json.dumps(page2), public)),
    ])
    write(out, "civitai_images", [(req("GET", f"{CIV}/api/v1/images?limit=1&imageId=5"), resp(200, "OK", images, public))])
    write(out, "civitai_not_found", [(req("GET", f"{CIV}/api/v1/models/0"), resp(404, "Not Found", '{"error":"No model with id 0"}'))])
    write(out, "civitai_download_redirect", [
        (req("GET", f"{CIV}/api/download/models/1967584", {"Content-Type": "application/json"}),
         resp(307, "Temporary Redirect", "", {"Location": SIGNED}, content_type="text/plain")),
    ])
    write(out, "civitai_download_unauthorized", [
        (req("GET", f"{CIV}/api/download/models/1967584", {"Content-Type": "application/json"}),
         resp(401, "Unauthorized", '{"error":"Unauthorized"}')),
    ])
    login = ("<!DOCTYPE html><html lang=\"en\"><head><title>Sign In | Civitai</title></head>"
             "<body><div id=\"__next\">Sign in to continue</div></body></html>")
    write(out, "civitai_download_login_page", [
        (req("GET", f"{CIV}/api/download/models/1967584", {"Content-Type": "application/json"}),
         resp(200, "OK", login, content_type="text/html; charset=utf-8")),
    ])
    write(out, "civitai_early_access", [
        (req("GET", f"{CIV}/api/download/models/2514310", {"Content-Type": "application/json"}),
         resp(403, "Forbidden", '{"error":"Early Access","deadline":"2026-12-01T00:00:00.000Z"}')),
    ])
    write(out, "civitai_too_many_pages", [
        (req("GET", f"{CIV}/api/v1/models?limit=100"),
         resp(429, "Too Many Requests", '{"error":"You\'ve requested too many pages, please use cursors instead"}')),
    ])
    write(out, "civitai_rate_limited_then_ok", [
        (req("GET", f"{CIV}/api/v1/models/1580878"),
         resp(429, "Too Many Requests", "error code: 1015", {"Retry-After": "2"}, content_type="text/plain; charset=UTF-8")),
        (req("GET", f"{CIV}/api/v1/models/1580878"), resp(200, "OK", model, public)),
    ])
    # Hugging Face: documented header shapes (no recorded sample exists).
    path = "Comfy-Org/flux1-dev/resolve/main/flux1-dev-fp8.safetensors"
    cdn = (f"https://cas-bridge.xethub.hf.co/xet-bridge-us/66a8c7b1/{FLUX_SHA}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Expires=3600&X-Amz-Signature=0000000000000000")
    write(out, "hf_resolve_head", [
        (req("HEAD", f"{HF}/{path}", {"Accept-Encoding": "identity"}),
         resp(302, "Found", "", {"X-Repo-Commit": "0f45e1f1e4f6ea0b1bbd6e4e9c1b5f1c8c3a9d62",
                                 "X-Linked-Etag": f'"{FLUX_SHA}"', "X-Linked-Size": "17246524772",
                                 "ETag": '"4a7d1ed414474e4033ac29ccb8653d9bf48a8f6b"', "Location": cdn},
              content_type="text/plain; charset=utf-8")),
        (req("HEAD", cdn), resp(200, "OK", "", {"ETag": f'"{CDN_ETAG}"', "Content-Length": "17246524772"},
                                content_type="application/octet-stream")),
    ])
    gated_msg = ("Access to model black-forest-labs/FLUX.1-dev is restricted. You must have access to it and be "
                 "authenticated to access it. Please log in.")
    write(out, "hf_gated", [
        (req("HEAD", f"{HF}/black-forest-labs/FLUX.1-dev/resolve/main/flux1-dev.safetensors", {"Accept-Encoding": "identity"}),
         resp(401, "Unauthorized", "", {"X-Error-Code": "GatedRepo", "X-Error-Message": gated_msg})),
    ])
    tree = [
        {"type": "file", "oid": "a6344aac8c09253b3b630fb776ae94478aa0275b", "size": 1519, "path": ".gitattributes"},
        {"type": "directory", "oid": "6d9c3b1f0a1e2d3c4b5a69788796a5b4c3d2e1f0", "size": 0, "path": "split_files"},
        {"type": "file", "oid": "9b2e4cb2ab5a0d3f6a4a3f5e07a9c7a1f7c2b4e1", "size": 17246524772, "path": "flux1-dev-fp8.safetensors",
         "lfs": {"oid": FLUX_SHA, "size": 17246524772, "pointerSize": 136}},
    ]
    write(out, "hf_tree", [
        (req("GET", f"{HF}/api/models/Comfy-Org/flux1-dev/tree/main?recursive=true"),
         resp(200, "OK", json.dumps(tree))),
    ])
    write(out, "hf_private", [
        (req("GET", f"{HF}/api/models/someone/private-repo/tree/main?recursive=true"),
         resp(401, "Unauthorized", '{"error":"Repository not found"}',
              {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})),
    ])


def builder_main(build: Any, out: Path, shared: Path | None = DEFAULT_SHARED) -> None:
    """The command line every cassette builder shares: ``[--shared DIR] [--out DIR]``, then ``build``."""
    ap = argparse.ArgumentParser()
    if shared is not None:
        ap.add_argument("--shared", type=Path, default=shared)
    ap.add_argument("--out", type=Path, default=out)
    args = ap.parse_args()
    build(args.shared, args.out) if shared is not None else build(args.out)


if __name__ == "__main__":
    builder_main(build, HERE)
