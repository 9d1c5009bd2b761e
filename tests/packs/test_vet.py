"""A plan's packs vetted in one call: snapshots at the pinned commit, requirements dry-run alone and together."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfyfixer.evals.fakes.git_server import GitServer, make_repo
from comfyfixer.evals.fakes.package_index import PackageIndex
from comfyfixer.tools.download.hosts import HostPolicy
from comfyfixer.tools.packs.vet import PackToVet, VetPacksRequest, vet_packs

POLICY = HostPolicy.build(["127.0.0.1"])


def test_vet_packs_of_a_plan(git_server: GitServer, git_repos, comfy_python: Path, index: PackageIndex,
                             tmp_path: Path) -> None:
    root = git_repos[0]
    _, (torch_commit,) = make_repo(root, "VetTorch", [{"requirements.txt": "torch==1.0.0+cpu\n"}])
    _, (old_commit,) = make_repo(root, "VetOldFoo", [{"requirements.txt": "needs-old-foo\n"}])
    _, (new_commit,) = make_repo(root, "VetNewFoo", [{"requirements.txt": "foo>=2\n"}])
    _, (evil_commit,) = make_repo(root, "VetEvilSub", [{".gitmodules": '[submodule "x"]\n\tpath = x\n'
                                                                        "\turl = https://evil.example/x.git\n"}])
    pack_first = git_repos[1]["Pack"][0]
    packs = [PackToVet(pack_id="pack", repo_url=git_server.repo_url("Pack"), commit=pack_first),
             PackToVet(pack_id="torch", repo_url=git_server.repo_url("VetTorch"), commit=torch_commit),
             PackToVet(pack_id="old", repo_url=git_server.repo_url("VetOldFoo"), commit=old_commit),
             PackToVet(pack_id="new", repo_url=git_server.repo_url("VetNewFoo"), commit=new_commit),
             PackToVet(pack_id="evil", repo_url=git_server.repo_url("VetEvilSub"), commit=evil_commit)]
    req = VetPacksRequest(packs=packs, python=comfy_python, index_url=index.index_url,
                          snapshot_root=tmp_path / "cache" / "packs", staging_dir=tmp_path / "cache" / "staging",
                          allowed_roots=[tmp_path])
    res = vet_packs(req, POLICY)
    by_id = {p.pack_id: p for p in res.packs}
    assert by_id["pack"].snapshot is not None and not (by_id["pack"].snapshot / "later.py").exists()
    assert by_id["pack"].requirements and by_id["pack"].requirements.requirements == ["tiny"]
    assert res.verdict("pack") == "ok"
    assert res.verdict("torch") == "refused" and by_id["torch"].check is not None
    assert any("torch 2.0.0 -> 1.0.0+cpu" in r for r in by_id["torch"].check.reasons)
    assert by_id["old"].check and by_id["old"].check.verdict == "ok"
    assert by_id["new"].check and by_id["new"].check.verdict == "ok"
    assert res.combined is not None and res.combined.conflicts  # old and new cannot be installed together
    assert res.combined.conflicting_packs == ["new", "old"]
    assert res.verdict("old") == res.verdict("new") == "refused"
    assert by_id["evil"].refused and "https://evil.example/x.git" in by_id["evil"].refused
    assert res.python is not None and res.python.path == str(comfy_python.absolute())
    # a second vetting reuses the snapshots
    again = vet_packs(req.model_copy(update={"python": None}), POLICY)
    assert [p.snapshot for p in again.packs] == [p.snapshot for p in res.packs]


def test_install_pack_runs_the_checked_requirements_in_comfyui_python(
        git_server: GitServer, git_repos, comfy_python: Path, index: PackageIndex, tmp_path: Path) -> None:
    from comfyfixer.tools.errors import ComfyFixerError
    from comfyfixer.tools.packs.git import PackInstallRequest, install_pack
    from comfyfixer.tools.packs.requirements import python_identity

    ident = python_identity(comfy_python)
    comfy = tmp_path / "ComfyUI"
    base = dict(repo_url=git_server.repo_url("Pack"), commit=git_repos[1]["Pack"][0], staging_dir=comfy / ".staging",
                allowed_roots=[comfy], python=comfy_python, index_url=index.index_url,
                expected_python_sha256=ident.sha256)
    # 'tiny' is already installed at 1.0 and the plan pinned tiny==1.0: pip runs and changes nothing
    res = install_pack(PackInstallRequest(target=comfy / "custom_nodes" / "Pack", constraints=["tiny==1.0"], **base),
                       POLICY)
    assert res.requirements_installed and res.requirements_file == "requirements.txt"
    pip = res.commands[-1]
    assert pip[:6] == [str(comfy_python), "-I", "-m", "pip", "--isolated", "install"]
    assert pip[pip.index("--index-url") + 1] == index.index_url and "-c" in pip
    assert python_identity(comfy_python).installed == ident.installed
    # pins the plan did not approve cannot be satisfied: the install fails instead of drifting
    with pytest.raises(ComfyFixerError, match="requirements of Pack2"):
        install_pack(PackInstallRequest(target=comfy / "custom_nodes" / "Pack2", constraints=["tiny==7.0"], **base),
                     POLICY)
    assert python_identity(comfy_python).installed == ident.installed
