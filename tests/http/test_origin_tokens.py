"""One host policy: loopback by ``ipaddress``, tokens bound to origins, never re-attached after a redirect.

Three loopback servers stand for three origins: two ports of 127.0.0.1 and one reached as ``localhost``
(another host name is another origin even when it is the same machine). Every request they get is
recorded with its ``Authorization`` header, so each test asserts where a token did and did not go.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from comfyfixer.agent.config import load_settings
from comfyfixer.agent.executor import host_policy
from comfyfixer.evals.fakes.loopback import LoopbackServer, QuietHandler
from comfyfixer.tools.civitai.client import CivitaiClient
from comfyfixer.tools.download import Downloader, DownloadRequest, HostPolicy
from comfyfixer.tools.download import hosts as download_hosts
from comfyfixer.tools.errors import AuthRequired
from comfyfixer.tools.http import (
    HostTokenAuth,
    RetryPolicy,
    build_client,
    is_loopback,
    origin_of,
    send_with_retry,
)
from comfyfixer.tools.huggingface.client import HuggingFaceClient

CIV = "civ-secret-token-1234"
HF = "hf_secret-token-5678"
BODY = b"model bytes " * 100


@dataclass
class Seen:
    server: str
    path: str
    authorization: str | None


class Recorder(LoopbackServer):
    """Records every request; ``/go?to=URL`` answers 302 to URL, ``/deny`` 401, anything else 200 + BODY."""

    def __init__(self, name: str, log: list[Seen], lock: threading.Lock, host: str = "127.0.0.1") -> None:
        super().__init__()
        self.name, self.log, self.lock, self.host = name, log, lock, host

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                with outer.lock:
                    outer.log.append(Seen(outer.name, parts.path, self.headers.get("Authorization")))
                if parts.path == "/go":
                    self.send_body(302, b"", headers=[("Location", parse_qs(parts.query)["to"][0])])
                elif parts.path == "/deny":
                    self.send_body(401, b'{"error":"Unauthorized"}', "application/json")
                else:
                    self.send_body(200, BODY)

        return Handler


@dataclass
class Trio:
    a: Recorder  # 127.0.0.1, port A ("Civitai")
    b: Recorder  # 127.0.0.1, port B ("Hugging Face endpoint")
    c: Recorder  # localhost, port C (another host)
    log: list[Seen]

    def seen(self) -> list[tuple[str, str, str | None]]:
        return [(s.server, s.path, s.authorization) for s in self.log]


@pytest.fixture(scope="module")
def trio() -> Iterator[Trio]:
    log: list[Seen] = []
    lock = threading.Lock()
    with Recorder("a", log, lock) as a, Recorder("b", log, lock) as b, Recorder("c", log, lock, "localhost") as c:
        yield Trio(a, b, c, log)


@pytest.fixture
def servers(trio: Trio) -> Trio:
    trio.log.clear()
    return trio


def go(first: Recorder, *hops: str) -> str:
    """A URL on ``first`` that redirects through ``hops`` (each hop a full URL, nested)."""
    from urllib.parse import quote

    url = hops[-1]
    for hop in reversed(hops[:-1]):
        url = f"{hop}/go?to={quote(url, safe='')}"
    return f"{first.origin}/go?to={quote(url, safe='')}"


# --- the definitions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.5.6.7", "::1", "[::1]", "localhost", "LOCALHOST.",
                                  "::ffff:127.0.0.1"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["127.0.0.1.nip.io", "127.evil.example", "10.0.0.1", "192.168.1.2", "::2",
                                  "example.com", "", "localhost.example.com", "127.1",
                                  "api.localhost"])
def test_not_loopback_hosts(host: str) -> None:
    assert not is_loopback(host)


def test_downloads_use_the_same_loopback_definition() -> None:
    assert download_hosts.is_loopback is is_loopback
    policy = HostPolicy.build(["127.evil.example"])
    with pytest.raises(download_hosts.HostNotAllowed, match="https only"):
        policy.check("http://127.evil.example/x")  # the old prefix test would have let this through


def test_origins_normalise_default_ports_and_keep_everything_else_apart() -> None:
    assert origin_of("https://CivitAI.com./api") == origin_of("https://civitai.com:443") == origin_of("civitai.com")
    assert origin_of("http://example.com") == ("http", "example.com", 80)
    assert origin_of("http://civitai.com") != origin_of("https://civitai.com")
    assert origin_of("https://civitai.com:8443") != origin_of("https://civitai.com")
    assert origin_of("https://www.civitai.com") != origin_of("https://civitai.com")


def test_no_sub_domain_or_other_port_gets_the_api_token() -> None:
    seen: dict[str, str | None] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[str(request.url.copy_with(path="/"))] = request.headers.get("authorization")
        return httpx.Response(200, content=b"{}")

    with build_client(token=CIV, token_origins=["https://civitai.com"], transport=httpx.MockTransport(handler)) as c:
        for url in ("https://civitai.com/a", "https://www.civitai.com/a", "https://civitai.com:8443/a",
                    "https://civitai.com.evil.example/a"):
            c.get(url)
    assert seen == {"https://civitai.com/": f"Bearer {CIV}", "https://www.civitai.com/": None,
                    "https://civitai.com:8443/": None, "https://civitai.com.evil.example/": None}


def test_an_upgrade_to_https_is_another_origin_too() -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization")))
        if request.url.scheme == "http":  # httpx itself keeps Authorization on an http → https upgrade
            return httpx.Response(301, headers={"Location": "https://127.0.0.1/x"})
        return httpx.Response(200)

    with build_client(token=CIV, token_origins=["http://127.0.0.1"], follow_redirects=True,
                      transport=httpx.MockTransport(handler)) as c:
        c.get("http://127.0.0.1/x")
    assert seen == [("http://127.0.0.1/x", f"Bearer {CIV}"), ("https://127.0.0.1/x", None)]


# --- API clients (httpx) ---------------------------------------------------------------------------


def test_api_token_goes_only_to_its_origin(servers: Trio) -> None:
    with build_client(token=CIV, token_origins=[servers.a.origin]) as c:
        for url in (servers.a.origin, servers.b.origin, servers.c.origin,
                    f"http://localhost:{servers.a.port}"):  # A's port under another host name
            assert c.get(url + "/x").status_code == 200
    assert [s[2] for s in servers.seen()] == [f"Bearer {CIV}", None, None, None]


@pytest.mark.parametrize("chain", ["ab", "ac", "aba", "abca"])
def test_api_redirect_away_strips_the_token_for_the_rest_of_the_chain(servers: Trio, chain: str) -> None:
    by = {"a": servers.a, "b": servers.b, "c": servers.c}
    hops = [by[k].origin for k in chain[1:-1]] + [by[chain[-1]].origin + "/file"]
    with build_client(token=CIV, token_origins=[servers.a.origin], follow_redirects=True) as c:
        assert c.get(go(servers.a, *hops)).content == BODY
    got = servers.seen()
    assert [s[0] for s in got] == list(chain)
    assert got[0][2] == f"Bearer {CIV}"
    assert all(auth is None for _, _, auth in got[1:])  # incl. the hop back to A


def test_a_caller_supplied_header_is_stripped_off_origin(servers: Trio) -> None:
    with build_client(token=CIV, token_origins=[servers.a.origin]) as c:
        c.get(servers.b.origin + "/x", headers={"Authorization": f"Bearer {CIV}"})
    assert servers.seen() == [("b", "/x", None)]


def test_civitai_and_hf_clients_send_their_token_to_their_own_origin_only(servers: Trio) -> None:
    with CivitaiClient(base_url=servers.a.origin, token=CIV, min_interval=0) as civ, \
            HuggingFaceClient(endpoint=servers.b.origin, token=HF) as hf:
        for client in (civ, hf):
            for srv in (servers.a, servers.b, servers.c):
                client._http.get(srv.origin + "/x")
    assert servers.seen() == [
        ("a", "/x", f"Bearer {CIV}"), ("b", "/x", None), ("c", "/x", None),
        ("a", "/x", None), ("b", "/x", f"Bearer {HF}"), ("c", "/x", None),
    ]


# --- downloads (every hop checked by the engine) --------------------------------------------------------


def _request(tmp_path: Path, url: str, name: str = "x.dat") -> DownloadRequest:
    root = tmp_path / "ComfyUI"
    return DownloadRequest(url=url, target=root / "models" / "other" / name, allowed_roots=[root],
                           staging_dir=root / ".comfyfixer" / "staging",
                           quarantine_dir=root / ".comfyfixer" / "quarantine", label=name)


def _downloader(servers: Trio, tokens: dict[str, str | None]) -> Downloader:
    policy = HostPolicy.build(["127.0.0.1", "localhost"], tokens)
    return Downloader(policy, timeout=10, retry=RetryPolicy(retries=0, base=0.01, cap=0.01, jitter=False))


def test_download_token_goes_only_to_its_origin(servers: Trio, tmp_path: Path) -> None:
    with _downloader(servers, {servers.a.origin: CIV}) as dl:
        for i, url in enumerate((servers.a.origin, servers.b.origin, servers.c.origin,
                                 f"http://localhost:{servers.a.port}")):
            assert dl.download(_request(tmp_path, url + "/f", f"{i}.dat")).size == len(BODY)
    assert [s[2] for s in servers.seen()] == [f"Bearer {CIV}", None, None, None]


def test_bare_host_token_means_https_only(servers: Trio, tmp_path: Path) -> None:
    with _downloader(servers, {"127.0.0.1": CIV}) as dl:  # = https://127.0.0.1:443, not this http port
        dl.download(_request(tmp_path, servers.a.origin + "/f"))
    assert servers.seen() == [("a", "/f", None)]


@pytest.mark.parametrize("chain", ["ab", "ac", "aba", "abca"])
def test_download_redirect_away_strips_the_token_for_the_rest_of_the_chain(servers: Trio, tmp_path: Path,
                                                                           chain: str) -> None:
    by = {"a": servers.a, "b": servers.b, "c": servers.c}
    hops = [by[k].origin for k in chain[1:-1]] + [by[chain[-1]].origin + "/file"]
    with _downloader(servers, {servers.a.origin: CIV, servers.b.origin: HF, servers.c.origin: "c-token"}) as dl:
        assert dl.download(_request(tmp_path, go(servers.a, *hops))).size == len(BODY)
    got = servers.seen()
    assert [s[0] for s in got] == list(chain)
    assert got[0][2] == f"Bearer {CIV}"
    # B and C have tokens of their own, yet a chain that started on A gets none of them, nor A's again
    assert all(auth is None for _, _, auth in got[1:])


def test_civitai_to_hf_redirect_carries_neither_token_with_the_executors_policy(
        servers: Trio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFYFIXER_CIVITAI_BASE_URL", servers.a.origin)
    monkeypatch.setenv("HF_ENDPOINT", servers.b.origin)
    monkeypatch.setenv("COMFYFIXER_CIVITAI_TOKEN", CIV)
    monkeypatch.setenv("HF_TOKEN", HF)
    monkeypatch.setenv("COMFYFIXER_ALLOWED_HOSTS", "127.0.0.1,localhost")
    policy = host_policy(load_settings())
    assert policy.token_for(servers.a.origin + "/api/download/models/1") == CIV
    assert policy.token_for(servers.b.origin + "/o/r/resolve/main/f") == HF
    assert policy.token_for(servers.c.origin) is None
    with Downloader(policy, timeout=10, retry=RetryPolicy(retries=0)) as dl:
        dl.download(_request(tmp_path, go(servers.a, servers.b.origin + "/o/r/resolve/main/f")))
        dl.download(_request(tmp_path, servers.b.origin + "/direct", "hf.dat"))
    assert servers.seen() == [("a", "/go", f"Bearer {CIV}"), ("b", "/o/r/resolve/main/f", None),
                              ("b", "/direct", f"Bearer {HF}")]


def test_executor_and_tool_context_bind_the_same_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    from comfyfixer.agent.services import build_context

    monkeypatch.setenv("COMFYFIXER_CIVITAI_BASE_URL", "http://127.0.0.1:8001")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:8002")
    monkeypatch.setenv("COMFYFIXER_CIVITAI_TOKEN", CIV)
    monkeypatch.setenv("HF_TOKEN", HF)
    settings = load_settings()
    expected = {"https://civitai.com:443": CIV, "http://127.0.0.1:8001": CIV,
                "https://huggingface.co:443": HF, "http://127.0.0.1:8002": HF}
    assert host_policy(settings).tokens == expected
    assert build_context(settings).host_policy().tokens == expected
    # one origin for both services (a local mirror) keeps a token even if only one is set
    only_civ = HostPolicy.for_services(civitai_base_url="http://127.0.0.1:9", civitai_token=CIV,
                                       hf_endpoint="http://127.0.0.1:9", hf_token=None)
    assert only_civ.token_for("http://127.0.0.1:9/x") == CIV


def test_tokens_never_reach_logs_reprs_or_exceptions(servers: Trio, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    policy = HostPolicy.build(["127.0.0.1", "localhost"], {servers.a.origin: CIV, servers.b.origin: HF})
    texts += [repr(policy), repr(policy.chain(servers.a.origin)), repr(HostTokenAuth(CIV, [servers.a.origin]))]
    with Downloader(policy, timeout=10, retry=RetryPolicy(retries=0)) as dl, \
            pytest.raises(AuthRequired) as denied:
        dl.download(_request(tmp_path, servers.a.origin + "/deny?token=" + CIV))
    texts += [str(denied.value), repr(denied.value), str(denied.value.hint),
              "".join(traceback.format_exception(denied.value))]
    with build_client(token=HF, token_origins=[servers.b.origin]) as c:
        dead = f"http://127.0.0.1:{_free_port()}/x?token={HF}"
        with pytest.raises(Exception) as failed:
            send_with_retry(c, "GET", dead, policy=RetryPolicy(retries=1, base=0, cap=0, jitter=False))
        texts += [str(failed.value), repr(failed.value), "".join(traceback.format_exception(failed.value))]
        c.get(servers.b.origin + "/x")  # httpx/httpcore debug logging of an authenticated request
    assert servers.seen()[-1][2] == f"Bearer {HF}"
    texts.append(caplog.text)
    for text in texts:
        assert CIV not in text and HF not in text


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
