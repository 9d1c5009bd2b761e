"""Hardened git installs against a real git smart-HTTP server on loopback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from comfyfixer.evals.fakes.git_server import GitServer, commit_files, git
from comfyfixer.tools.download.hosts import HostPolicy
from comfyfixer.tools.errors import ComfyFixerError
from comfyfixer.tools.packs.git import (
    PackInstallRequest,
    PackRefused,
    clone_verified,
    git_command,
    git_env,
    install_pack,
    read_submodules,
    remote_head,
    tag_commit,
    transport_ok,
)

POLICY = HostPolicy.build(["127.0.0.1"])  # loopback http allowed for 127.0.0.1 only, not for localhost


def _request(comfy: Path, url: str, commit: str | None, name: str = "Pack") -> PackInstallRequest:
    return PackInstallRequest(repo_url=url, commit=commit, target=comfy / "custom_nodes" / name,
                              staging_dir=comfy / ".comfyfixer" / "staging", allowed_roots=[comfy], python=None)


def _head(repo: Path) -> str:
    return git("rev-parse", "HEAD", cwd=repo)


@pytest.fixture
def comfy(tmp_path: Path) -> Path:
    (tmp_path / "ComfyUI" / "custom_nodes").mkdir(parents=True)
    return tmp_path / "ComfyUI"


def test_recorded_commit_is_what_gets_checked_out(git_server: GitServer, git_repos, comfy: Path) -> None:
    first, second = git_repos[1]["Pack"]
    res = install_pack(_request(comfy, git_server.repo_url("Pack"), first), POLICY)
    pack = comfy / "custom_nodes" / "Pack"
    assert res.status == "installed" and res.commit == first != second
    assert _head(pack) == first
    assert (pack / "__init__.py").exists() and not (pack / "later.py").exists()
    assert not any((comfy / ".comfyfixer" / "staging").glob("*.clone"))
    # the hardened configuration is on every command that ran
    assert all("protocol.allow=never" in c and "http.followRedirects=false" in c for c in res.commands)
    # no hooks copied into the clone from any template
    assert not (pack / ".git" / "hooks").exists() or not any((pack / ".git" / "hooks").iterdir())


def test_default_head_and_remote_head_agree(git_server: GitServer, git_repos, comfy: Path) -> None:
    second = git_repos[1]["Pack"][1]
    assert remote_head(git_server.repo_url("Pack"), POLICY) == second
    res = install_pack(_request(comfy, git_server.repo_url("Pack"), None), POLICY)
    assert res.commit == second


def test_tag_commit_peels_the_version_tag(git_server: GitServer, git_repos) -> None:
    assert tag_commit(git_server.repo_url("Pack"), "1.0.0", POLICY) == git_repos[1]["Pack"][0]
    assert tag_commit(git_server.repo_url("Pack"), "9.9.9", POLICY) is None


def test_commit_not_in_repo_fails_and_leaves_nothing(git_server: GitServer, comfy: Path) -> None:
    with pytest.raises(ComfyFixerError, match="fetching commit abababababab failed"):
        install_pack(_request(comfy, git_server.repo_url("Pack"), "ab" * 20), POLICY)
    assert list((comfy / "custom_nodes").iterdir()) == []
    assert not any((comfy / ".comfyfixer" / "staging").glob("*.clone"))


def test_redirect_to_another_host_is_never_followed(git_server: GitServer, comfy: Path) -> None:
    # a hostile (or renamed) repository answers with a redirect to a host the policy does not allow
    git_server.redirect("/Moved.git", git_server.repo_url("Pack", host="localhost"))
    before = len(git_server.requests)
    with pytest.raises(PackRefused, match="redirect"):
        install_pack(_request(comfy, git_server.url + "/Moved.git", None, name="Moved"), POLICY)
    with pytest.raises(PackRefused, match="redirect"):
        remote_head(git_server.url + "/Moved.git", POLICY)
    seen = git_server.requests[before:]
    assert seen and all(r.host.startswith("127.0.0.1") for r in seen)  # localhost never contacted
    assert list((comfy / "custom_nodes").iterdir()) == []


@pytest.mark.parametrize("url", [
    "git://github.com/ltdrdata/ComfyUI-Impact-Pack",
    "ssh://git@github.com/ltdrdata/ComfyUI-Impact-Pack",
    "git@github.com:ltdrdata/ComfyUI-Impact-Pack.git",
    "file:///etc",
    "ext::sh -c touch% /tmp/pwned",
    "-uhttps://github.com/x/y",
    "https://user:secret@github.com/x/y",
    "http://github.com/ltdrdata/ComfyUI-Impact-Pack",   # plain http to a real host
    "https://evil.example/ltdrdata/ComfyUI-Impact-Pack",  # not on the allow-list
    "http://localhost:9/x.git",                         # loopback, but not allowed by this policy
    "/srv/git/pack",
])
def test_transports_other_than_https_are_refused(url: str, comfy: Path) -> None:
    with pytest.raises(PackRefused, match=r"^refusing repository"):
        transport_ok(url, POLICY)
    with pytest.raises(PackRefused, match=r"^refusing repository"):
        install_pack(_request(comfy, url, None), POLICY)
    with pytest.raises(PackRefused, match=r"^refusing repository"):
        remote_head(url, POLICY)


def test_git_ignores_user_and_system_config(git_server: GitServer, comfy: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # A user config that would run a hook and rewrite the URL to another host: neither may take effect.
    marker = tmp_path / "HOOK_RAN"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "post-checkout").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (hooks / "post-checkout").chmod(0o755)
    cfg = tmp_path / "gitconfig"
    cfg.write_text(f'[core]\n\thooksPath = {hooks}\n[url "http://localhost:{git_server.port}/"]\n'
                   f"\tinsteadOf = http://127.0.0.1:{git_server.port}/\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".gitconfig").write_text(cfg.read_text())
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(cfg))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", f"'core.hooksPath'='{hooks}'")
    before = len(git_server.requests)
    install_pack(_request(comfy, git_server.repo_url("Pack"), None), POLICY)
    assert not marker.exists()
    assert all(r.host.startswith("127.0.0.1") for r in git_server.requests[before:])


def test_env_drops_inherited_git_variables() -> None:
    env = git_env(base={"PATH": "/bin", "GIT_SSH_COMMAND": "evil", "GIT_DIR": "/x", "GIT_EXEC_PATH": "/evil"})
    assert "GIT_SSH_COMMAND" not in env and "GIT_DIR" not in env and "GIT_EXEC_PATH" not in env
    assert env["GIT_CONFIG_NOSYSTEM"] == "1" and env["GIT_CONFIG_GLOBAL"] == os.devnull
    assert env["GIT_ALLOW_PROTOCOL"] == "https"
    assert git_env(allow_http=True)["GIT_ALLOW_PROTOCOL"] == "https:http"
    cmd = git_command(["ls-remote"])
    assert "protocol.http.allow=always" not in cmd and "core.hooksPath=" + os.devnull in cmd
    assert "protocol.http.allow=always" in git_command(["ls-remote"], allow_http=True)


def _repo_with_gitmodules(root: Path, name: str, gitmodules: str) -> str:
    work = root / f"{name}.work"
    work.mkdir()
    git("init", "-q", str(work))
    commit_files(work, {"__init__.py": "\n", ".gitmodules": gitmodules}, "declares submodules")
    git("clone", "-q", "--bare", str(work), str(root / f"{name}.git"))
    return _head(work)


@pytest.mark.parametrize(("label", "url"), [
    ("foreign", "https://evil.example/payload.git"),
    ("file", "file:///etc/secrets.git"),
    ("ext", "ext::sh -c touch% /tmp/pwned"),
    ("ssh", "git@evil.example:payload.git"),
])
def test_submodule_from_disallowed_host_is_refused_before_update(git_server: GitServer, git_repos, comfy: Path,
                                                                  label: str, url: str) -> None:
    root = git_repos[0]
    name = f"EvilSub-{label}"
    _repo_with_gitmodules(root, name, f'[submodule "payload"]\n\tpath = payload\n\turl = {url}\n')
    before = len(git_server.requests)
    with pytest.raises(PackRefused) as err:
        install_pack(_request(comfy, git_server.repo_url(name), None, name=name), POLICY)
    assert url in str(err.value) and "payload" in str(err.value)
    assert list((comfy / "custom_nodes").iterdir()) == []
    assert not any((comfy / ".comfyfixer" / "staging").glob("*.clone"))
    assert all(name in r.path for r in git_server.requests[before:])  # nothing else was fetched


def test_submodule_update_command_is_refused(git_server: GitServer, git_repos, comfy: Path) -> None:
    root = git_repos[0]
    _repo_with_gitmodules(root, "BangSub", f'[submodule "s"]\n\tpath = s\n\turl = {git_server.repo_url("Sub")}\n'
                                           "\tupdate = !touch /tmp/pwned\n")
    with pytest.raises(PackRefused, match="shell command"):
        install_pack(_request(comfy, git_server.repo_url("BangSub"), None, name="BangSub"), POLICY)


def test_allowed_submodule_is_fetched_at_its_recorded_commit(git_server: GitServer, git_repos, comfy: Path,
                                                             tmp_path: Path) -> None:
    root = git_repos[0]
    work = root / "GoodSub.work"
    work.mkdir()
    git("init", "-q", str(work))
    commit_files(work, {"__init__.py": "\n"}, "base")
    git("-c", "protocol.allow=always", "submodule", "add", "-q", "../Sub.git", "vendor/sub", cwd=work)
    git("commit", "-q", "-m", "add submodule", cwd=work)
    git("clone", "-q", "--bare", str(work), str(root / "GoodSub.git"))
    subs = read_submodules(work, git_server.repo_url("GoodSub"))
    assert [(s.path, s.url) for s in subs] == [("vendor/sub", git_server.url + "/Sub.git")]
    res = install_pack(_request(comfy, git_server.repo_url("GoodSub"), None, name="GoodSub"), POLICY)
    sub_dir = comfy / "custom_nodes" / "GoodSub" / "vendor" / "sub"
    assert (sub_dir / "lib.py").exists()
    assert _head(sub_dir) == git_repos[1]["Sub"][0]
    assert any("submodule" in c for c in res.commands)


def test_clone_verified_stays_in_staging(git_server: GitServer, git_repos, tmp_path: Path) -> None:
    stage = tmp_path / "stage" / "Pack.clone"
    stage.parent.mkdir()
    res = clone_verified(git_server.repo_url("Pack"), git_repos[1]["Pack"][0][:12], stage, POLICY)
    assert res.path == stage and res.commit == git_repos[1]["Pack"][0]
    assert subprocess.run(["git", "-C", str(stage), "status", "--porcelain"], capture_output=True, text=True,
                          check=True).stdout == ""


def test_recorded_commit_outside_branches_is_fetched_by_id(git_server: GitServer, git_repos, comfy: Path) -> None:
    # e.g. a workflow saved from a pull-request checkout: the commit is on no branch or tag
    root = git_repos[0]
    work = root / "PrOnly.work"
    work.mkdir()
    git("init", "-q", str(work))
    commit_files(work, {"__init__.py": "\n"}, "main")
    git("checkout", "-q", "-b", "feature", cwd=work)
    pr = commit_files(work, {"pr.py": "# only on the pull request\n"}, "pr")
    git("checkout", "-q", "main", cwd=work)
    git("clone", "-q", "--bare", str(work), str(root / "PrOnly.git"))
    bare = root / "PrOnly.git"
    git("update-ref", "refs/pull/1/head", pr, cwd=bare)
    git("branch", "-D", "feature", cwd=bare)
    res = install_pack(_request(comfy, git_server.repo_url("PrOnly"), pr, name="PrOnly"), POLICY)
    assert res.commit == pr and (comfy / "custom_nodes" / "PrOnly" / "pr.py").exists()
    assert any("fetch" in c for c in res.commands)
