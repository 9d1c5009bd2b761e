"""Resolver strategy against the loopback HF/Civitai fakes: exact names, variants, conflicts, cache age."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from comfyfixer.evals.fakes.civitai_server import CivitaiFakeServer
from comfyfixer.evals.fakes.hf_server import FakeHfFile, FakeHfRepo, HfFakeServer
from comfyfixer.tools.candidates import DownloadCandidate
from comfyfixer.tools.catalogs.model_index import ModelIndex
from comfyfixer.tools.civitai import CivitaiClient
from comfyfixer.tools.http import RetryPolicy, build_client, parse_retry_after, send_with_retry
from comfyfixer.tools.huggingface import HuggingFaceClient
from comfyfixer.tools.resolver import (
    DiskCache,
    ModelQuery,
    ModelResolver,
    NodeQuery,
    NodeResolver,
    ResolveStatus,
)
from comfyfixer.tools.resolver.tokens import analyze, search_terms, variant_differences


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


REPOS = [
    FakeHfRepo("Comfy-Org/Wan_2.2_ComfyUI_Repackaged", downloads=900_000, files=[
        FakeHfFile("split_files/diffusion_models/wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors", 10, sha("wan-fp8")),
        FakeHfFile("split_files/diffusion_models/wan2.2_t2v_high_noise_14B_fp16.safetensors", 20, sha("wan-fp16")),
        FakeHfFile("split_files/text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors", 5, sha("umt5")),
    ]),
    FakeHfRepo("mirror/Wan_2.2_ComfyUI_Repackaged", downloads=50, files=[
        FakeHfFile("split_files/text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors", 5, sha("umt5"))]),
    FakeHfRepo("Comfy-Org/z_image_turbo", downloads=500_000, files=[
        FakeHfFile("split_files/text_encoders/qwen_3_4b.safetensors", 8, sha("qwen34b"))]),
    FakeHfRepo("someone/anima-merges", downloads=9_000, files=[FakeHfFile("anima-preview.safetensors", 7, sha("merge"))]),
    FakeHfRepo("circlestone-labs/Anima", downloads=3_000, files=[
        FakeHfFile("split_files/diffusion_models/anima-preview.safetensors", 7, sha("anima"))]),
    FakeHfRepo("black-forest-labs/FLUX.1-dev", downloads=2_000_000, gated=True, license="other", files=[
        FakeHfFile("flux1-dev.safetensors", 30, sha("flux"))]),
]
CIVITAI = [{"id": 77, "name": "Juggernaut XL", "type": "Checkpoint", "stats": {"downloadCount": 5},
            "modelVersions": [{"id": 770, "baseModel": "SDXL 1.0", "files": [
                {"id": 1, "name": "juggernautXL_v9.safetensors", "sizeKB": 10.0,
                 "hashes": {"AutoV2": sha("jug")[:10].upper(), "SHA256": sha("jug").upper()},
                 "downloadUrl": "https://civitai.com/api/download/models/770"}]}]}]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    with HfFakeServer(REPOS, tree_page_size=2) as hf, CivitaiFakeServer(CIVITAI) as civ:
        yield hf.url, civ.url


def make(servers: tuple[str, str], tmp_path: Path, index: ModelIndex | None = None) -> ModelResolver:
    hf = HuggingFaceClient(endpoint=servers[0], retries=0, timeout=5)
    civ = CivitaiClient(base_url=servers[1], retries=0, timeout=5, min_interval=0)
    return ModelResolver(index=index, hf=hf, civitai=civ, cache=DiskCache(tmp_path))


def test_exact_name_in_official_repo_resolves_with_hash(servers: tuple[str, str], tmp_path: Path) -> None:
    v = make(servers, tmp_path).resolve(ModelQuery(filename="wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors",
                                                    folder="diffusion_models"))
    assert v.status == ResolveStatus.RESOLVED
    assert v.best and v.best.repo == "Comfy-Org/Wan_2.2_ComfyUI_Repackaged" and v.best.sha256 == sha("wan-fp8")


def test_other_precision_is_never_resolved(servers: tuple[str, str], tmp_path: Path) -> None:
    v = make(servers, tmp_path).resolve(ModelQuery(filename="wan2.2_t2v_high_noise_14B_bf16.safetensors",
                                                    folder="diffusion_models"), sources=["hf"])
    assert v.status == ResolveStatus.UNCERTAIN
    assert all(not c.exact for c in v.candidates)
    assert any("precision" in r for c in v.candidates for r in c.reasons)


def test_same_bytes_mirror_still_resolves(servers: tuple[str, str], tmp_path: Path) -> None:
    v = make(servers, tmp_path).resolve(ModelQuery(filename="umt5_xxl_fp8_e4m3fn_scaled.safetensors", folder="text_encoders"))
    assert v.status == ResolveStatus.RESOLVED and v.best and v.best.repo and v.best.repo.startswith("Comfy-Org/")


def test_publisher_scan_finds_file_in_unrelated_repo_name(servers: tuple[str, str], tmp_path: Path) -> None:
    v = make(servers, tmp_path).resolve(ModelQuery(filename="qwen_3_4b.safetensors", folder="text_encoders"))
    assert v.status == ResolveStatus.RESOLVED and v.best and v.best.repo == "Comfy-Org/z_image_turbo"
    assert any("every Comfy-Org repo" in s for s in v.searched)


def test_same_name_different_bytes_is_uncertain(servers: tuple[str, str], tmp_path: Path) -> None:
    v = make(servers, tmp_path).resolve(ModelQuery(filename="anima-preview.safetensors"), sources=["hf"])
    assert v.status == ResolveStatus.UNCERTAIN
    assert {c.sha256 for c in v.candidates if c.exact} == {sha("merge"), sha("anima")}


def test_gated_repo_is_flagged(servers: tuple[str, str], tmp_path: Path) -> None:
    v = make(servers, tmp_path).resolve(ModelQuery(filename="flux1-dev.safetensors", folder="diffusion_models"))
    assert v.status == ResolveStatus.RESOLVED and v.best and v.best.gated and v.best.needs_token
    assert v.best.license == "other"


def test_workflow_url_checked_by_head(servers: tuple[str, str], tmp_path: Path) -> None:
    url = "https://huggingface.co/Comfy-Org/z_image_turbo/resolve/main/split_files/text_encoders/qwen_3_4b.safetensors"
    v = make(servers, tmp_path).resolve(ModelQuery(filename="qwen_3_4b.safetensors", url_hint=url), sources=["workflow"])
    assert v.status == ResolveStatus.RESOLVED and v.best and v.best.source == "workflow" and v.best.sha256 == sha("qwen34b")


def test_civitai_hash_and_search(servers: tuple[str, str], tmp_path: Path) -> None:
    r = make(servers, tmp_path)
    v = r.resolve(ModelQuery(filename="SDXL/jugger.safetensors", hashes={"AutoV2": sha("jug")[:10]}), sources=["hash"])
    assert v.status == ResolveStatus.RESOLVED and v.best and v.best.sha256 == sha("jug")
    assert any("renamed" in x for x in v.best.reasons)
    v = r.resolve(ModelQuery(filename="juggernautXL_v9.safetensors", folder="checkpoints", base_model_hint="SD1.5"),
                  sources=["civitai"])
    assert v.status == ResolveStatus.UNCERTAIN  # exact name, but its base model contradicts the workflow's
    assert any("base model" in x for x in v.candidates[0].reasons)


def test_catalog_folder_conflict_and_not_found(tmp_path: Path) -> None:
    idx = ModelIndex()
    idx.add(DownloadCandidate(filename="x.safetensors", url="https://example.org/x.safetensors", source="catalog:manager",
                         folder="checkpoints"))
    r = ModelResolver(index=idx, cache=DiskCache(tmp_path))
    assert r.resolve(ModelQuery(filename="x.safetensors", folder="checkpoints")).status == ResolveStatus.RESOLVED
    assert r.resolve(ModelQuery(filename="x.safetensors", folder="loras")).status == ResolveStatus.UNCERTAIN
    nf = r.resolve(ModelQuery(filename="nothing-like-it.bin"))
    assert nf.status == ResolveStatus.NOT_FOUND and nf.searched


def test_cache_keeps_the_verdict_age(tmp_path: Path) -> None:
    clock = [1000.0]
    idx = ModelIndex()
    idx.add(DownloadCandidate(filename="x.safetensors", url="https://example.org/x.safetensors", source="catalog:manager"))
    r = ModelResolver(index=idx, cache=DiskCache(tmp_path, clock=lambda: clock[0], ttl=100))
    first = r.resolve(ModelQuery(filename="x.safetensors"))
    clock[0] += 50
    again = r.resolve(ModelQuery(filename="x.safetensors"))
    assert again.from_cache and again.checked_at == first.checked_at
    clock[0] += 100
    assert not r.resolve(ModelQuery(filename="x.safetensors")).from_cache  # expired


def test_filename_tokens() -> None:
    i = analyze("split/wan2.2_fun_inpaint_high_noise_14B_fp8_scaled.safetensors")
    assert (i.precision, i.scaled, i.params, i.family, i.subfolder) == ("fp8", True, "14b", "wan", "split")
    assert "wan2.2" in search_terms(i) and "wan_2.2" in search_terms(i)
    g = analyze("flux1-dev-Q4_K_M.gguf")
    assert g.gguf_quant == "q4_k_m" and variant_differences(g, analyze("flux1-dev-Q8_0.gguf"))
    assert variant_differences(analyze("t5xxl_fp16.safetensors"), analyze("t5xxl_fp8_e4m3fn_scaled.safetensors"))


def test_node_resolver_uses_manager_map(manager_wheel: Path) -> None:
    from comfyfixer.tools.catalogs import load_manager_catalog

    r = NodeResolver(load_manager_catalog(wheel_dirs=[manager_wheel.parent]))
    v = r.resolve(NodeQuery(class_type="IPAdapterAdvanced"))
    assert v.status == ResolveStatus.RESOLVED and v.best and "ipadapter" in v.best.url.lower()
    assert r.resolve(NodeQuery(class_type="KSampler")).best.source == "core"
    assert r.resolve(NodeQuery(class_type="ZzqNoSuchNodeAnywhere")).status == ResolveStatus.NOT_FOUND


def test_retry_only_idempotent_and_retry_after() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(503, headers={"Retry-After": "3"})

    sleeps: list[float] = []
    policy = RetryPolicy(retries=2, sleep=sleeps.append, jitter=False)
    with httpx.Client(transport=httpx.MockTransport(handler)) as c:
        assert send_with_retry(c, "GET", "https://x.test/", policy=policy).status_code == 503
        assert send_with_retry(c, "POST", "https://x.test/", policy=policy).status_code == 503
    assert calls == ["GET", "GET", "GET", "POST"] and sleeps == [3.0, 3.0]
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0 and parse_retry_after("junk") is None


def test_catalog_refresh_writes_only_valid_json(tmp_path: Path) -> None:
    from comfyfixer.tools.catalogs.refresh import refresh_catalogs
    from comfyfixer.tools.errors import UpstreamError

    bodies = {"extension-node-map.json": {"https://github.com/a/b": [["NodeA"], {}]},
              "custom-node-list.json": {"custom_nodes": []}, "model-list.json": {"models": []}}

    def good(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=bodies[request.url.path.rsplit("/", 1)[-1]])

    from comfyfixer.tools.catalogs.manager import current_cache_folder

    with httpx.Client(transport=httpx.MockTransport(good)) as c:
        res = refresh_catalogs(tmp_path, base_url="https://raw.example.org/", client=c)
    # The set lives in a version folder that current.json names.
    assert set(res.files) == set(bodies) and (current_cache_folder(tmp_path) / "model-list.json").is_file()
    before = (current_cache_folder(tmp_path) / "model-list.json").read_bytes()

    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>rate limited</html>")

    with httpx.Client(transport=httpx.MockTransport(html)) as c, pytest.raises(UpstreamError, match="is not JSON"):
        refresh_catalogs(tmp_path, base_url="https://raw.example.org/", client=c)
    assert (current_cache_folder(tmp_path) / "model-list.json").read_bytes() == before


def test_notes_point_at_repos_and_become_evidence(servers: tuple[str, str], tmp_path: Path) -> None:
    from comfyfixer.tools.catalogs.notes import load_notes

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "anima.md").write_text(
        "---\ntitle: Anima\nsources:\n  - name: repo\n    url: https://huggingface.co/circlestone-labs/Anima\n---\n"
        "| file | folder |\n| --- | --- |\n| `anima-preview.safetensors` | `diffusion_models` |\n", encoding="utf-8")
    notes = load_notes(tmp_path / "notes")
    assert notes.lookup("anima-preview.safetensors")[0].folder == "diffusion_models"
    r = make(servers, tmp_path / "cache")
    r.notes = notes
    r.config.scan_authors = ()
    v = r.resolve(ModelQuery(filename="anima-preview.safetensors"), sources=["catalogs", "hf"])
    assert any(e.source == "notes" for e in v.evidence)
    assert any(c.repo == "circlestone-labs/Anima" and c.exact for c in v.candidates)


def test_civitai_archived_model_is_not_downloadable(shared_data: Path) -> None:
    import json

    body = json.loads((shared_data / "api" / "civitai" / "model_1580878.json").read_text(encoding="utf-8"))
    body["mode"] = "Archived"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    from comfyfixer.tools.errors import NotFound

    client = build_client(base_url="https://civitai.com", transport=httpx.MockTransport(handler))
    with CivitaiClient(client=client, min_interval=0) as c, pytest.raises(NotFound, match="archived"):
        c.get_model(1580878)


def test_hf_repo_info_reads_siblings_lfs_sha256(servers: tuple[str, str]) -> None:
    with HuggingFaceClient(endpoint=servers[0], retries=0) as hf:
        info = hf.repo_info("black-forest-labs/FLUX.1-dev")
        files = {f.path: f for f in info.files}
        assert info.gated and info.license == "other"
        assert files["flux1-dev.safetensors"].sha256 == sha("flux") and files["flux1-dev.safetensors"].size == 30
        assert hf.file_exists("Comfy-Org/z_image_turbo", "split_files/text_encoders/qwen_3_4b.safetensors")
        assert not hf.file_exists("Comfy-Org/z_image_turbo", "nope.safetensors")


def test_workflow_civitai_url_is_checked_and_early_access_told(tmp_path: Path) -> None:
    ver = {"id": 5, "modelId": 4, "baseModel": "SDXL 1.0", "earlyAccessEndsAt": "2999-01-01T00:00:00.000Z",
           "files": [{"name": "thing_v1.safetensors", "sizeKB": 2.0, "primary": True,
                      "hashes": {"SHA256": "AB" * 32}, "downloadUrl": "https://civitai.com/api/download/models/5"}]}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/model-versions/5":
            return httpx.Response(200, json=ver)
        return httpx.Response(404, json={"error": "Model not found"})

    client = build_client(base_url="https://civitai.com", transport=httpx.MockTransport(handler))
    civ = CivitaiClient(client=client, min_interval=0)
    r = ModelResolver(civitai=civ, cache=DiskCache(tmp_path))
    v = r.resolve(ModelQuery(filename="thing.safetensors", url_hint="https://civitai.com/api/download/models/5"))
    assert v.status == ResolveStatus.RESOLVED and v.best and v.best.sha256 == "ab" * 32
    assert any("early access until 2999" in x for x in v.best.reasons) and v.best.needs_token
    dead = r.resolve(ModelQuery(filename="thing.safetensors", url_hint="https://civitai.com/api/download/models/6"))
    assert dead.status != ResolveStatus.RESOLVED
