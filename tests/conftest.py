"""Hermetic test environment: no network but loopback, no real home, no real secrets."""

from __future__ import annotations

import os
import socket
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from dlkit import TOKEN, fast_retry
from hostile_fixtures import gigabyte_bomb, many_ztxt_png  # noqa: F401  (session fixtures shared by test modules)
from recorded import Replayer

from comfyfixer.evals.fakes.file_server import FileServer
from comfyfixer.tools.download import Downloader, HostPolicy
from comfyfixer.tools.http import is_loopback

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COMFYFIXER_SHARED", REPO.parent / "shared"))
SHARED_DATA = SHARED / "data"
# `.ci/run` puts `pip download`ed corpora (comfyui-manager wheel, templates wheel) here.
CORPORA = Path(os.environ.get("COMFYFIXER_TEST_CORPORA", REPO / ".cache" / "corpora"))

_SECRET_VARS = (
    "CIVITAI_API_TOKEN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "RUNPOD_API_KEY", "DASHSCOPE_API_KEY",
    "OPENAI_API_KEY", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
    "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "HF_ENDPOINT",
)

_real_connect = socket.socket.connect


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        return is_loopback(str(address[0]))  # the project's one definition of loopback
    return True  # AF_UNIX paths


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise RuntimeError(f"tests may only talk to loopback, tried {address!r}")
    return _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("COMFYFIXER_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    for name in list(os.environ):
        if name in _SECRET_VARS or (name.startswith("COMFYFIXER_") and name != "COMFYFIXER_HOME"
                                    and name not in ("COMFYFIXER_SHARED", "COMFYFIXER_TEST_CORPORA")):
            monkeypatch.delenv(name, raising=False)
    # No automatic catalog download (it would try GitHub): tests that want one set their own mirror and age.
    monkeypatch.setenv("COMFYFIXER_CATALOGS_MAX_AGE_HOURS", "0")
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared reference data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def manager_wheel() -> Path:
    wheels = sorted(CORPORA.glob("comfyui_manager-*.whl"))
    if not wheels:
        pytest.fail(f"comfyui-manager wheel missing in {CORPORA}: run `pip download --no-deps comfyui-manager==4.3 -d {CORPORA}`")
    return wheels[-1]


@pytest.fixture
def installed_manager_catalogs(manager_wheel: Path) -> Path:
    """The real ComfyUI-Manager catalogs where `comfyfixer catalogs refresh` keeps them (the settings' cache
    folder under the hermetic COMFYFIXER_HOME), so a command finds them without the network."""
    import shutil

    target = Path(os.environ["COMFYFIXER_HOME"]) / "cache" / "catalogs" / "comfyui-manager"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(manager_wheel, target)
    return target


@pytest.fixture(scope="session")
def templates_dir() -> Path:
    try:
        import comfyui_workflow_templates_json as pkg
    except ImportError:
        pytest.fail("comfyui-workflow-templates-json is not installed (it is in the [test] extra)")
    return Path(pkg.__file__).parent / "templates"


@pytest.fixture(scope="session")
def served_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files the loopback file server generates, reused across tests (generating them is the slow part)."""
    return tmp_path_factory.mktemp("served")


@pytest.fixture
def server(served_files: Path) -> Iterator[FileServer]:
    """A loopback file server imitating Civitai's and Hugging Face's download paths."""
    with FileServer(served_files, civitai_token=TOKEN) as srv:
        yield srv


@pytest.fixture
def comfy(tmp_path: Path) -> Path:
    """A miniature ComfyUI folder: the model folders the tests place into, and custom_nodes/."""
    root = tmp_path / "ComfyUI"
    for sub in ("models/checkpoints", "models/loras", "models/vae", "custom_nodes"):
        (root / sub).mkdir(parents=True)
    return root


@pytest.fixture
def downloader(server: FileServer) -> Iterator[Downloader]:
    """The real download engine, allowed on loopback; the test token is bound to the server's api origin."""
    policy = HostPolicy.build(["127.0.0.1", "localhost"], {server.api_url: TOKEN})
    with Downloader(policy, timeout=10, retry=fast_retry()) as dl:
        yield dl


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state folder for plans, approvals and the journal, with loopback download servers allowed and
    no retries (the fake servers answer at once)."""
    folder = tmp_path / "state"
    monkeypatch.setenv("COMFYFIXER_STATE_DIR", str(folder))
    monkeypatch.setenv("COMFYFIXER_ALLOWED_HOSTS", "127.0.0.1,localhost")
    monkeypatch.setenv("COMFYFIXER_HTTP_RETRIES", "0")
    return folder


# --- recorded HTTP (vcrpy): one configuration for the suite, see tests/recorded.py ---------------------------
_CALL_REPORT = pytest.StashKey["pytest.TestReport"]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # `replay` checks its cassettes only after a passing test: a failed test has already said what is wrong.
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report


@pytest.fixture
def replay(request: pytest.FixtureRequest) -> Iterator[Replayer]:
    """``with replay("name.yaml") as cassette:`` replays a cassette; the test fails unless all of it was played."""
    player = Replayer(Path(str(request.path)).parent)
    yield player
    report = request.node.stash.get(_CALL_REPORT, None)
    if report is not None and report.passed:
        player.verify()
