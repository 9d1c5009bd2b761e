"""Civitai and Hugging Face clients against cassettes built from real Civitai responses and documented HF headers."""

from __future__ import annotations

import httpx
import pytest
from recorded import Replayer

from comfyfixer.tools.civitai import CivitaiClient, SearchQuery
from comfyfixer.tools.errors import AuthRequired, EarlyAccess, NotFound, RateLimited
from comfyfixer.tools.http import RetryPolicy
from comfyfixer.tools.huggingface import GatedRepo, HuggingFaceClient

SLEEPS: list[float] = []


def civ(token: str | None = None) -> CivitaiClient:
    return CivitaiClient(token=token, min_interval=0, policy=RetryPolicy(retries=2, sleep=SLEEPS.append, jitter=False))


def test_model_lookup_parses_real_body(replay: Replayer) -> None:
    with replay("civitai_model.yaml"), civ() as c:
        m = c.get_model(1580878)
    f = m.model_versions[0].files[0]
    assert f.name == "Semi_realistic.safetensors"
    assert f.sha256 == f.hashes["SHA256"].lower() and f.sha256.startswith(f.hashes["AutoV2"].lower())
    assert isinstance(m.allow_commercial_use, list) and "Sell" in m.license_summary()


def test_by_hash_confirms_short_hash_with_sha256(replay: Replayer) -> None:
    with replay("civitai_by_hash.yaml"), civ() as c:
        version, file = c.by_hash("B76A1FC247")
    assert file.name == "choke_hold_rnc_ilxl.safetensors"
    assert file.sha256 is not None and file.sha256.startswith("b76a1fc247")
    assert version.base_model


def test_search_follows_cursor_until_absent(replay: Replayer) -> None:
    with replay("civitai_search.yaml") as cas, civ() as c:
        items = list(c.search_models(SearchQuery(query="punk", types=["TextualInversion"], limit=2), max_pages=5))
        assert cas.play_count == 2
    assert len(items) == 2 and all(i.type == "TextualInversion" for i in items)


def test_images_comfy_meta_tolerates_missing(replay: Replayer) -> None:
    with replay("civitai_images.yaml"), civ() as c:
        imgs = list(c.images(image_id=5, limit=1))
    assert imgs and imgs[0].comfy is None  # an A1111 image has no meta.comfy


def test_not_found_is_typed(replay: Replayer) -> None:
    with replay("civitai_not_found.yaml"), civ() as c, pytest.raises(NotFound, match="No model with id 0"):
        c.get_model(0)


def test_download_redirect_gives_signed_url_and_token_only_to_civitai(replay: Replayer) -> None:
    seen: list[httpx.Request] = []
    with replay("civitai_download_redirect.yaml"), civ(token="secret-token") as c:
        c._http.event_hooks["request"].append(seen.append)
        probe = c.probe_download(c.download_url(1967584))
    assert probe.signed_url and "r2.cloudflarestorage.com" in probe.signed_url
    assert seen[0].headers.get("authorization") == "Bearer secret-token"
    assert "secret-token" not in probe.model_dump_json()


def test_download_without_token_401_and_login_page(replay: Replayer) -> None:
    with replay("civitai_download_unauthorized.yaml"), civ() as c, pytest.raises(AuthRequired, match="token"):
        c.probe_download(c.download_url(1967584))
    with replay("civitai_download_login_page.yaml"), civ() as c, pytest.raises(AuthRequired, match="login"):
        c.probe_download(c.download_url(1967584))


def test_early_access_has_deadline(replay: Replayer) -> None:
    with replay("civitai_early_access.yaml"), civ() as c, pytest.raises(EarlyAccess, match="early access until") as ei:
        c.probe_download(c.download_url(2514310))
    assert ei.value.until == "2026-12-01T00:00:00.000Z"


def test_too_many_pages_429_is_not_retried(replay: Replayer) -> None:
    SLEEPS.clear()
    with replay("civitai_too_many_pages.yaml") as cas, civ() as c, pytest.raises(RateLimited, match="cursor"):
        c._get("/api/v1/models", {"limit": 100})
    assert cas.play_count == 1 and SLEEPS == []


def test_edge_429_is_retried_honouring_retry_after(replay: Replayer) -> None:
    SLEEPS.clear()
    with replay("civitai_rate_limited_then_ok.yaml") as cas, civ() as c:
        m = c.get_model(1580878)
        assert cas.play_count == 2
    assert m.id == 1580878 and SLEEPS == [2.0]


def test_hf_head_reads_linked_etag_not_cdn_etag(replay: Replayer) -> None:
    with replay("hf_resolve_head.yaml"), HuggingFaceClient(retries=0) as hf:
        meta = hf.file_metadata("Comfy-Org/flux1-dev", "flux1-dev-fp8.safetensors")
        assert meta.location
        cdn = hf._http.head(meta.location)
    cdn_etag = cdn.headers["ETag"].strip('"')
    assert meta.sha256 and len(meta.sha256) == 64 and meta.sha256 != cdn_etag
    assert meta.size == 17246524772 and meta.commit


def test_hf_tree_sha256_from_lfs_oid(replay: Replayer) -> None:
    with replay("hf_tree.yaml"), HuggingFaceClient(retries=0) as hf:
        files = hf.list_files("Comfy-Org/flux1-dev")
    by_name = {f.path: f for f in files}
    assert "split_files" not in by_name  # directories are not files
    assert by_name["flux1-dev-fp8.safetensors"].sha256 and by_name[".gitattributes"].sha256 is None


def test_hf_gated_and_private_are_told_apart(replay: Replayer) -> None:
    with replay("hf_gated.yaml"), HuggingFaceClient(retries=0) as hf, pytest.raises(
            GatedRepo, match=r"is gated on Hugging Face \(accept its terms.*HF_TOKEN"):
        hf.file_metadata("black-forest-labs/FLUX.1-dev", "flux1-dev.safetensors")
    with replay("hf_private.yaml"), HuggingFaceClient(retries=0) as hf, pytest.raises(NotFound) as ei:
        hf.list_files("someone/private-repo")
    assert not isinstance(ei.value, GatedRepo) and "private" in str(ei.value)


def test_hf_offline_makes_no_request() -> None:
    with HuggingFaceClient(offline=True) as hf, pytest.raises(Exception, match="offline"):
        hf.search_models("flux")
