"""Shared, built-once fixtures: a real venv as "ComfyUI's Python" and a loopback package index."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from comfyfixer.evals.fakes.package_index import PackageIndex


@pytest.fixture(scope="session")
def sdist_marker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Written by the fake sdist's build backend if anything ever builds it."""
    return tmp_path_factory.mktemp("marker") / "BUILD_BACKEND_RAN"


@pytest.fixture(scope="session")
def index(sdist_marker: Path) -> Iterator[PackageIndex]:
    idx = PackageIndex()
    for name, version, requires in [
        ("torch", "2.0.0", ()), ("torch", "1.0.0+cpu", ()), ("numpy", "1.26.0", ()), ("numpy", "2.0.0", ()),
        ("foo", "1.0", ()), ("foo", "2.0", ()), ("needs-old-foo", "1.0", ("foo<2",)),
        ("nvidia-cublas-cu12", "12.1.0", ()), ("tiny", "0.5", ()), ("tiny", "1.0", ()),
    ]:
        idx.add_wheel(name, version, requires)
    idx.add_sdist("buildme", "1.0", sdist_marker)
    with idx:
        yield idx


@pytest.fixture(scope="session")
def comfy_python(tmp_path_factory: pytest.TempPathFactory, index: PackageIndex) -> Path:
    """A real venv with pip, holding torch 2.0.0, numpy 1.26.0, foo 1.0 and tiny 1.0 (from the fake index)."""
    venv = tmp_path_factory.mktemp("comfy-venv") / "venv"
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "--isolated", "install", "--quiet", "--disable-pip-version-check",
                    "--index-url", index.index_url, "--only-binary", ":all:",
                    "torch==2.0.0", "numpy==1.26.0", "foo==1.0", "tiny==1.0"],
                   check=True, capture_output=True, timeout=300)
    assert time.monotonic() - t0 < 240, "building the test venv took too long"
    return python


@pytest.fixture(scope="session")
def git_repos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    """Bare repos: ``Pack`` (two commits, tag v1.0.0 on the first), ``Sub`` (a submodule target)."""
    from comfyfixer.evals.fakes.git_server import git, make_repo

    root = tmp_path_factory.mktemp("git")
    _, pack = make_repo(root, "Pack", [{"__init__.py": "NODE_CLASS_MAPPINGS = {}\n", "requirements.txt": "tiny\n"},
                                       {"later.py": "# a later commit that must not be installed\n"}])
    git("tag", "v1.0.0", pack[0], cwd=root / "Pack.git")
    _, sub = make_repo(root, "Sub", [{"lib.py": "X = 1\n"}])
    return root, {"Pack": pack, "Sub": sub}


@pytest.fixture(scope="session")
def git_server(git_repos: tuple[Path, dict[str, list[str]]]) -> Iterator[object]:
    from comfyfixer.evals.fakes.git_server import GitServer

    with GitServer(git_repos[0]) as server:
        yield server
