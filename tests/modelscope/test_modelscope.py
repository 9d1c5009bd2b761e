"""ModelScope client and resolver stage, replayed from documented responses (see the cassette builder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from recorded import Replayer

from comfyfixer.tools.candidates import DownloadCandidate
from comfyfixer.tools.catalogs.model_index import ModelIndex
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.download.hosts import HostPolicy
from comfyfixer.tools.errors import InputError, NotFound
from comfyfixer.tools.http import RetryPolicy
from comfyfixer.tools.modelscope import ModelScopeClient
from comfyfixer.tools.resolver import ModelResolver
from comfyfixer.tools.resolver.models import ModelQuery, ResolveStatus

REPO = "black-forest-labs/FLUX.1-dev"


@pytest.fixture
def ms() -> Iterator[ModelScopeClient]:
    client = ModelScopeClient(min_interval=0.0, policy=RetryPolicy(retries=0))
    yield client
    client.close()


def test_model_info_and_recursive_listing(ms: ModelScopeClient, replay: Replayer) -> None:
    with replay("modelscope_repo.json"):
        info = ms.model_info(REPO)
        files = ms.list_files(REPO)
    assert info.repo_id == REPO and info.license == "other"
    assert [f.path for f in files] == ["ae.safetensors", "flux1-dev.safetensors", "text_encoder_2/config.json"]
    flux = files[1]
    assert flux.size == 23802932552 and flux.sha256 and len(flux.sha256) == 64
    url = ms.download_url(REPO, "flux1-dev.safetensors")
    assert url == f"https://modelscope.cn/api/v1/models/{REPO}/repo?Revision=master&FilePath=flux1-dev.safetensors"
    HostPolicy.build().check(url)  # on the download allow-list


def test_errors_are_mapped(ms: ModelScopeClient, replay: Replayer) -> None:
    with replay("modelscope_missing.json"):
        with pytest.raises(NotFound, match="no repository nobody/nothing"):
            ms.list_files("nobody/nothing")
        with pytest.raises(NotFound, match="model not exists"):
            ms.model_info("nobody/soft404")
    with pytest.raises(InputError):
        ms.list_files("../etc")
    offline = ModelScopeClient(offline=True)
    with pytest.raises(Exception, match="offline"):
        offline.list_files(REPO)


def test_the_resolver_finds_a_file_on_modelscope_under_a_known_repository_id(ms: ModelScopeClient,
                                                                              replay: Replayer) -> None:
    index = ModelIndex()  # a catalog names the Hugging Face repo (gated there); ModelScope mirrors it
    index.add(DownloadCandidate(source="catalog:templates", filename="flux1-dev.safetensors",
                                url=f"https://huggingface.co/{REPO}/resolve/main/flux1-dev.safetensors"))
    resolver = ModelResolver(index=index, modelscope=ms)
    with replay("modelscope_listing.json"):
        verdict = resolver.resolve(ModelQuery(filename="flux1-dev.safetensors"), sources=["modelscope"],
                                   use_cache=False)
    assert verdict.status == ResolveStatus.RESOLVED
    best = verdict.candidates[0]
    assert best.source == "modelscope" and best.repo == REPO and best.sha256 and best.size == 23802932552
    assert best.url.startswith("https://modelscope.cn/")


def test_modelscope_is_asked_only_when_enabled(tmp_path: Path) -> None:
    base = {"cache_dir": tmp_path / "c", "state_dir": tmp_path / "s"}
    assert ToolContext(**base).modelscope() is None
    assert ToolContext(**base, use_modelscope=True, offline=True).modelscope() is None
    with ToolContext(**base, use_modelscope=True) as ctx:
        assert isinstance(ctx.modelscope(), ModelScopeClient)


def test_a_modelscope_file_takes_its_published_sha256(tmp_path: Path, replay: Replayer) -> None:
    """With ModelScope on, the file's listing gives its SHA256 (for Civitai by hash and hash matches)."""
    from comfyfixer.tools.identify.capability import identify_model
    from comfyfixer.tools.identify.models import IdentifyInput

    with replay("modelscope_listing.json"), ToolContext(cache_dir=tmp_path / "c", state_dir=tmp_path / "s",
                                                       use_modelscope=True, http_retries=0) as ctx:
        ident = identify_model(IdentifyInput(
            model="https://modelscope.cn/models/black-forest-labs/FLUX.1-dev/file/view/master/flux1-dev.safetensors"),
            ctx)
    assert ident.sha256 and len(ident.sha256) == 64
    assert (ident.family, ident.name) == ("flux", "flux1-dev.safetensors")
    assert any("23.8 GB" in e for e in ident.evidence)


def test_a_modelscope_listing_that_fails_leaves_the_names_answer(tmp_path: Path) -> None:
    """ModelScope unreachable (a closed loopback port): the URL is still read by its names, and the
    evidence says the listing failed, instead of the whole answer being a transport error."""
    import socket

    from comfyfixer.tools.identify.capability import identify_model
    from comfyfixer.tools.identify.models import IdentifyInput

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with ToolContext(cache_dir=tmp_path / "c", state_dir=tmp_path / "s", use_modelscope=True, http_retries=0,
                     modelscope_endpoint=f"http://127.0.0.1:{port}") as ctx:
        ident = identify_model(IdentifyInput(
            model="https://modelscope.cn/models/black-forest-labs/FLUX.1-dev/file/view/master/flux1-dev.safetensors"),
            ctx)
    assert (ident.family, ident.name, ident.sha256) == ("flux", "flux1-dev.safetensors", None)
    assert any(e.startswith("the ModelScope listing failed") for e in ident.evidence), ident.evidence
