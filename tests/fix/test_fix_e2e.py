"""fix → approve → apply through the CLI, against the loopback file server, checked on disk and in the journal."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from dlkit import MB, TOKEN, model_files

from comfyfixer.agent.cli import run
from comfyfixer.agent.journal import read_journal
from comfyfixer.evals.fakes.file_server import FileServer
from comfyfixer.tools.download import sha256_file

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main"]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, server: FileServer, tmp_path: Path) -> Path:
    """Settings for the CLI: loopback hosts allowed, the fake Civitai's token, fast retries."""
    monkeypatch.setenv("COMFYFIXER_ALLOWED_HOSTS", "127.0.0.1,localhost")
    monkeypatch.setenv("COMFYFIXER_CIVITAI_TOKEN", TOKEN)
    monkeypatch.setenv("COMFYFIXER_CIVITAI_BASE_URL", server.api_url)
    monkeypatch.setenv("COMFYFIXER_HTTP_RETRIES", "1")
    monkeypatch.setenv("COMFYFIXER_HTTP_TIMEOUT", "10")
    state = tmp_path / "state"
    monkeypatch.setenv("COMFYFIXER_STATE_DIR", str(state))
    return state


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = run(list(args))
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip().startswith(("{", "[")) else out)


def approve_and_apply(capsys: pytest.CaptureFixture[str], plan_file: str, *extra: str) -> dict[str, Any]:
    code, ok = cli(capsys, "approve", plan_file, "--yes", "--json", *extra)
    assert code == 0, ok
    code, report = cli(capsys, "apply", ok["plan_file"], "--token", ok["token"], "--json")
    assert code == 0
    return dict(report)


def workflow(path: Path, url: str, name: str = "e2e_model.safetensors") -> Path:
    node = {"id": 1, "type": "CheckpointLoaderSimple", "pos": [0, 0], "size": [300, 100], "flags": {}, "order": 0,
            "mode": 0, "inputs": [],
            "outputs": [{"name": "MODEL", "type": "MODEL", "links": []}, {"name": "CLIP", "type": "CLIP", "links": []},
                        {"name": "VAE", "type": "VAE", "links": [1]}],
            "properties": {"models": [{"name": name, "url": url, "directory": "checkpoints"}]},
            "widgets_values": [name]}
    latent = {"id": 2, "type": "EmptyLatentImage", "pos": [0, 200], "size": [300, 100], "flags": {}, "order": 1,
              "mode": 0, "inputs": [], "outputs": [{"name": "LATENT", "type": "LATENT", "links": [2]}],
              "properties": {}, "widgets_values": [512, 512, 1]}
    decode = {"id": 3, "type": "VAEDecode", "pos": [400, 0], "size": [300, 100], "flags": {}, "order": 2, "mode": 0,
              "inputs": [{"name": "samples", "type": "LATENT", "link": 2}, {"name": "vae", "type": "VAE", "link": 1}],
              "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": []}], "properties": {}, "widgets_values": []}
    wf = {"last_node_id": 3, "last_link_id": 2, "version": 0.4, "nodes": [node, latent, decode],
          "links": [[1, 1, 2, 3, 1, "VAE"], [2, 2, 0, 3, 0, "LATENT"]], "groups": [], "config": {}, "extra": {}}
    path.write_text(json.dumps(wf))
    return path


def test_workflow_goes_from_missing_to_runnable(server: FileServer, comfy: Path, env: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    f = server.add_file("e2e_model.safetensors", 16 * MB, seed=11)
    wf = workflow(tmp_path / "wf.json", server.direct_url(f.name))
    code, plan = cli(capsys, "fix", str(wf), "--comfyui", str(comfy), "--no-resolve", "--no-pin", "--json")
    assert code == 0 and set(plan) >= {"plan_file", "plan_id", "actions", "unresolved"}
    [action] = plan["actions"]
    assert action["target"] == "models/checkpoints/e2e_model.safetensors"
    assert model_files(comfy) == []  # planning changes nothing
    report = approve_and_apply(capsys, plan["plan_file"])
    [outcome] = report["outcomes"]
    assert outcome["status"] == "done", outcome
    assert sha256_file(comfy / "models/checkpoints/e2e_model.safetensors") == f.sha256
    assert report["recheck"]["runnable"] == [str(wf)]
    downloads = [e for e in read_journal(env) if e["action"] == "download_model"]
    assert len(downloads) == 1 and downloads[0]["outputs"]["sha256"] == f.sha256
    assert downloads[0]["before"] == {str(comfy / "models/checkpoints/e2e_model.safetensors"): False}
    assert list(downloads[0]["after"].values()) == [True]
    # nothing left to do: a new fix has no actions
    code, again = cli(capsys, "fix", str(wf), "--comfyui", str(comfy), "--no-resolve", "--no-pin", "--json")
    assert again["actions"] == []


def make_pack_repo(tmp_path: Path) -> tuple[Path, str]:
    work = tmp_path / "pack-src"
    work.mkdir()
    (work / "__init__.py").write_text("NODE_CLASS_MAPPINGS = {}\n")
    (work / "requirements.txt").write_text("tqdm\n")
    subprocess.run([*GIT, "init", "-q", str(work)], check=True)
    subprocess.run([*GIT, "-C", str(work), "add", "."], check=True)
    subprocess.run([*GIT, "-C", str(work), "commit", "-q", "-m", "v1"], check=True)
    commit = subprocess.run(["git", "-C", str(work), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    (work / "later.py").write_text("# a later commit that must not be installed\n")
    subprocess.run([*GIT, "-C", str(work), "add", "."], check=True)
    subprocess.run([*GIT, "-C", str(work), "commit", "-q", "-m", "v2"], check=True)
    bare = tmp_path / "git" / "ComfyUI-TestPack.git"
    subprocess.run([*GIT, "clone", "-q", "--bare", str(work), str(bare)], check=True)
    subprocess.run(["git", "-C", str(bare), "update-server-info"], check=True)
    return bare.parent, commit


def test_every_failure_mode_ends_specifically_and_the_rest_continues(
        server: FileServer, comfy: Path, env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    civ = server.add_file("civ_e2e.safetensors", 24 * MB, seed=21, fail_after=9 * MB, fail_times=1,
                          disposition_name="renamedByCivitai.safetensors")
    hf = server.add_file("hf_e2e.safetensors", 8 * MB, seed=22)
    wrong = server.add_file("wrong_e2e.safetensors", 2 * MB, seed=23, advertised_sha256="cd" * 32)
    server.add_file("html_e2e.safetensors", data=b"<html><body>login</body></html>")
    server.add_file("evil_e2e.ckpt", data=pickle.dumps(_Evil(), protocol=2))
    server.add_file("limited.safetensors", data=b"x", status=429, retry_after="0")
    alt = server.add_file("alt_e2e.safetensors", 3 * MB, seed=24)
    git_root, commit = make_pack_repo(tmp_path)
    git_url = server.add_static("git", git_root) + "/ComfyUI-TestPack.git"
    fake_python = tmp_path / "fakepython"
    fake_python.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'pip.log'}\n")
    fake_python.chmod(0o755)
    monkeypatch.setenv("COMFYFIXER_COMFYUI_PYTHON", str(fake_python))
    (comfy / "models/vae/misplaced_lora.safetensors").write_bytes(b"lora bytes")

    def model(name: str, folder: str, url: str, **kw: Any) -> dict[str, Any]:
        return {"filename": name, "folder": folder, "verdict": "RESOLVED",
                "candidates": [{"source": kw.pop("source", "hf"), "url": url, **kw}]}

    inputs = {
        "comfyui_dir": str(comfy),
        "models": [
            model("civ_e2e.safetensors", "checkpoints", server.add_civitai(101, civ.name), source="civitai",
                  sha256=civ.sha256.upper(), size=civ.size),
            model("hf_e2e.safetensors", "loras", server.add_hf("org/r", "hf_e2e.safetensors", hf.name)),
            model("wrong_e2e.safetensors", "vae", server.add_hf("org/r", "wrong_e2e.safetensors", wrong.name)),
            model("missing_e2e.safetensors", "checkpoints", server.direct_url("nothing_here.safetensors")),
            model("html_e2e.safetensors", "checkpoints", server.direct_url("html_e2e.safetensors")),
            model("evil_e2e.ckpt", "checkpoints", server.direct_url("evil_e2e.ckpt")),
            model("limited.safetensors", "checkpoints", server.direct_url("limited.safetensors")),
            {"filename": "pick_me.safetensors", "folder": "loras", "verdict": "UNCERTAIN", "candidates": [
                {"source": "hf", "url": server.direct_url("nothing.safetensors")},
                {"source": "hf", "url": server.direct_url(alt.name), "sha256": alt.sha256, "size": alt.size}]},
            {"filename": "../escape.safetensors", "folder": "checkpoints", "verdict": "RESOLVED",
             "candidates": [{"source": "hf", "url": server.direct_url(hf.name)}]},
        ],
        "misplaced": [{"filename": "misplaced_lora.safetensors", "found_in": "models/vae/misplaced_lora.safetensors",
                       "expected_folder": "loras"}],
        "node_types": [{"class_type": "TestNode", "status": "RESOLVED",
                        "packs": [{"id": "test-pack", "reference": git_url, "commit": commit}]}],
    }
    inp = tmp_path / "inputs.json"
    inp.write_text(json.dumps(inputs))
    code, plan = cli(capsys, "fix", "--inputs", str(inp), "--json")
    assert code == 0
    assert {u["verdict"] for u in plan["unresolved"]} == {"UNCERTAIN", "REJECTED"}
    pack = next(a for a in plan["actions"] if a["kind"] == "install_node_pack")
    assert any(commit in " ".join(c) for c in pack["commands"])  # the exact commands are in the plan

    # an action that needs confirmation (plain-http repository) is left out unless confirmed
    code, unconfirmed = cli(capsys, "approve", plan["plan_file"], "--yes", "--json", "--dry-run")
    assert '"pack:test-pack"' not in Path(unconfirmed["plan_file"]).read_text()
    # dry-run: reports, changes nothing, keeps the token usable
    code, ok = cli(capsys, "approve", plan["plan_file"], "--yes", "--json", "--choose",
                   "model:loras/pick_me.safetensors=2", "--confirm", "pack:test-pack")
    assert ok["plan_id"] != plan["plan_id"]
    code, dry = cli(capsys, "apply", ok["plan_file"], "--token", ok["token"], "--dry-run", "--json")
    assert code == 0 and {o["status"] for o in dry["outcomes"]} == {"dry_run"}
    assert not (comfy / "custom_nodes/ComfyUI-TestPack").exists()
    assert (comfy / "models/vae/misplaced_lora.safetensors").exists()

    code, report = cli(capsys, "apply", ok["plan_file"], "--token", ok["token"], "--json")
    assert code == 0
    out = {o["item"]: o for o in report["outcomes"]}

    def status(item: str) -> str:
        return str(out[item]["status"])

    assert status("model:checkpoints/civ_e2e.safetensors") == "done"
    assert out["model:checkpoints/civ_e2e.safetensors"]["details"]["attempts"] == 2  # resumed after the drop
    assert status("model:loras/hf_e2e.safetensors") == "done"
    assert status("model:loras/pick_me.safetensors") == "done"
    assert out["model:vae/wrong_e2e.safetensors"]["error_type"] == "IntegrityError"
    assert "sha256 mismatch" in out["model:vae/wrong_e2e.safetensors"]["message"]
    assert out["model:checkpoints/missing_e2e.safetensors"]["error_type"] == "NotFound"
    assert "HTML" in out["model:checkpoints/html_e2e.safetensors"]["message"]
    assert "refused: the pickle imports" in out["model:checkpoints/evil_e2e.ckpt"]["message"]
    assert out["model:checkpoints/limited.safetensors"]["error_type"] == "RateLimited"
    assert status("move:loras/misplaced_lora.safetensors") == "done"
    assert status("pack:test-pack") == "done"

    # on disk: exactly the verified files, nothing half-done in model folders
    assert model_files(comfy) == ["models/checkpoints/civ_e2e.safetensors", "models/loras/hf_e2e.safetensors",
                                  "models/loras/misplaced_lora.safetensors", "models/loras/pick_me.safetensors"]
    assert sha256_file(comfy / "models/checkpoints/civ_e2e.safetensors") == civ.sha256
    assert sha256_file(comfy / "models/loras/pick_me.safetensors") == alt.sha256
    assert not (tmp_path / "escape.safetensors").exists()
    quarantine = sorted(p.name for p in (comfy / ".comfyfixer/quarantine").glob("*.quarantined"))
    assert len(quarantine) == 3  # wrong hash, HTML page, dangerous pickle
    pack_dir = comfy / "custom_nodes/ComfyUI-TestPack"
    assert (pack_dir / "__init__.py").exists() and not (pack_dir / "later.py").exists()
    assert subprocess.run(["git", "-C", str(pack_dir), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip() == commit
    # the pack's file sanitised, binary-only, isolated (the fake also saw plan time's and the snapshot's probes,
    # which it cannot answer: the plan said the requirements were not checked)
    [pip_line] = [ln for ln in (tmp_path / "pip.log").read_text().splitlines() if " install " in ln]
    pip_args = pip_line.split()
    assert pip_args[:5] == ["-I", "-m", "pip", "--isolated", "install"] and "--only-binary" in pip_args
    assert pip_args[-2] == "-r" and pip_args[-1] != str(pack_dir / "requirements.txt")
    assert not any((comfy / "custom_nodes").glob("*.clone"))

    # the journal has one line per change, with hashes and before/after
    journal = read_journal(env)
    actions = [e["action"] for e in journal]
    assert actions[:3] == ["approve", "approval_used", "apply_started"] and actions[-1] == "apply_finished"
    assert ok["token"] not in (env / "journal.jsonl").read_text()
    assert actions.count("quarantine") == 3
    placed = {e["inputs"]["item"]: e for e in journal if e["action"] == "download_model" and e["status"] == "downloaded"}
    assert placed["model:checkpoints/civ_e2e.safetensors"]["outputs"]["resumed_from"] == 0
    assert placed["model:checkpoints/civ_e2e.safetensors"]["outputs"]["attempts"] == 2
    failed = [e for e in journal if e["status"] == "failed"]
    assert len(failed) == 5
    moved = next(e for e in journal if e["action"] == "move_model")
    src, dst = str(comfy / "models/vae/misplaced_lora.safetensors"), str(comfy / "models/loras/misplaced_lora.safetensors")
    assert moved["before"] == {src: True, dst: False} and moved["after"] == {src: False, dst: True}
    assert TOKEN not in (env / "journal.jsonl").read_text()

    # the token was used up; re-applying needs a new approval and downloads nothing again
    capsys.readouterr()
    assert run(["apply", ok["plan_file"], "--token", ok["token"], "--json"]) == 2
    assert "already used" in capsys.readouterr().err
    server.reset_records()
    report2 = approve_and_apply(capsys, ok["plan_file"], "--confirm", "pack:test-pack")
    again = {o["item"]: o["status"] for o in report2["outcomes"]}
    assert again["model:checkpoints/civ_e2e.safetensors"] == "already_done"
    assert again["pack:test-pack"] == "already_done"
    assert server.records("civ_e2e") == [] and server.records("/api/download/") == []


def test_apply_refuses_without_token_when_not_interactive(server: FileServer, comfy: Path, env: Path,
                                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inp = tmp_path / "inputs.json"
    inp.write_text(json.dumps({"comfyui_dir": str(comfy), "models": [
        {"filename": "x.safetensors", "folder": "checkpoints", "verdict": "RESOLVED",
         "candidates": [{"source": "hf", "url": server.direct_url("x.safetensors")}]}]}))
    _, plan = cli(capsys, "fix", "--inputs", str(inp), "--json")
    assert run(["apply", plan["plan_file"], "--yes"]) == 2
    assert "needs an approval token when not at a terminal" in capsys.readouterr().err
    assert run(["approve", plan["plan_file"]]) == 2  # no terminal to ask at, no --yes
    err = capsys.readouterr().err
    assert "approval needs a terminal" in err and "--yes" in err
    _code, ok = cli(capsys, "approve", plan["plan_file"], "--yes", "--json")
    Path(ok["plan_file"]).write_text(Path(ok["plan_file"]).read_text().replace("x.safetensors", "y.safetensors"))
    assert run(["apply", ok["plan_file"], "--token", ok["token"]]) == 2  # edited plan: refused
    assert "plan content does not match its id" in capsys.readouterr().err
    assert [e["action"] for e in read_journal(env)] == ["approve"]  # approved, never applied


def test_kill_during_download_then_rerun_resumes(server: FileServer, comfy: Path, env: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    f = server.add_file("killme.safetensors", 32 * MB, seed=31, stall_after=20 * MB)
    url = server.add_civitai(555, f.name)
    inp = tmp_path / "inputs.json"
    inp.write_text(json.dumps({"comfyui_dir": str(comfy), "models": [
        {"filename": "killme.safetensors", "folder": "checkpoints", "verdict": "RESOLVED",
         "candidates": [{"source": "civitai", "url": url, "sha256": f.sha256, "size": f.size}]}]}))
    _, plan = cli(capsys, "fix", "--inputs", str(inp), "--json")
    _, ok = cli(capsys, "approve", plan["plan_file"], "--yes", "--json")
    proc = subprocess.Popen([sys.executable, "-c", "from comfyfixer.agent.cli import main; main()", "apply",
                             ok["plan_file"], "--token", ok["token"], "--json"],
                            env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = comfy / ".comfyfixer/staging"
    deadline = time.monotonic() + 30
    part_size = 0
    while time.monotonic() < deadline:
        parts = list(staging.glob("*.part")) if staging.exists() else []
        part_size = parts[0].stat().st_size if parts else 0
        if part_size >= 20 * MB:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert part_size >= 20 * MB, "the download never reached the stall point"
    assert model_files(comfy) == []  # no half-file in a model folder
    f.stall_after = None
    f.stall_release.set()
    server.reset_records()
    _code, plan2 = cli(capsys, "fix", "--inputs", str(inp), "--json")
    assert plan2["plan_id"] == plan["plan_id"]  # same findings, same plan
    report = approve_and_apply(capsys, plan2["plan_file"])
    [outcome] = report["outcomes"]
    assert outcome["status"] == "done" and outcome["details"]["resumed_from"] >= 20 * MB
    resent = server.bytes_sent(f.name)
    assert resent <= f.size - 20 * MB  # bytes re-downloaded after the kill ≈ 0
    assert sha256_file(comfy / "models/checkpoints/killme.safetensors") == f.sha256
    assert not list(staging.glob("*.part"))


def test_crash_between_link_and_unlink_is_cleaned_up(server: FileServer, comfy: Path, env: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """kill -9 right after placing: target complete, staged copy still there. A re-run keeps the target."""
    from dlkit import request

    from comfyfixer.tools.download import Downloader, HostPolicy, staging_dir_for
    from comfyfixer.tools.download.staging import part_paths

    f = server.add_file("placed.safetensors", 2 * MB, seed=41)
    req = request(comfy, server.direct_url(f.name), "placed.safetensors", expected_sha256=f.sha256)
    assert staging_dir_for(req.target, comfy) == req.staging_dir
    part, _meta = part_paths(req.staging_dir, req.target, f"{req.url}|{f.sha256}|")
    part.parent.mkdir(parents=True)
    part.write_bytes(f.path.read_bytes())
    os.link(part, req.target)  # the state a crash between link and unlink leaves
    with Downloader(HostPolicy.build(["127.0.0.1"])) as dl:
        res = dl.download(req)
    assert res.status == "already_present" and not part.exists()
    assert server.records() == []


def test_interrupted_clone_leaves_no_pack_and_is_redone(server: FileServer, comfy: Path, tmp_path: Path) -> None:
    from comfyfixer.tools.download import HostPolicy
    from comfyfixer.tools.packs import PackInstallRequest, install_pack

    git_root, commit = make_pack_repo(tmp_path)
    url = server.add_static("git", git_root) + "/ComfyUI-TestPack.git"
    staging = comfy / ".comfyfixer/staging"
    leftover = staging / "ComfyUI-TestPack.1234-abcdef.clone"
    leftover.mkdir(parents=True)
    (leftover / "half").write_text("a clone killed half way")
    req = PackInstallRequest(repo_url=url, commit=commit, target=comfy / "custom_nodes/ComfyUI-TestPack",
                             staging_dir=staging, allowed_roots=[comfy], python=None)
    res = install_pack(req, HostPolicy.build(["127.0.0.1"]))
    assert res.commit == commit and res.pending_commands  # no Python configured: the pip command is handed back
    assert not leftover.exists() and (comfy / "custom_nodes/ComfyUI-TestPack/__init__.py").exists()
    assert sorted(p.name for p in (comfy / "custom_nodes").iterdir()) == ["ComfyUI-TestPack"]


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_fix_uses_the_resolver_verdicts(server: FileServer, comfy: Path, env: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from comfyfixer.tools.context import ToolContext
    from comfyfixer.tools.resolver.models import (
        DownloadCandidate,
        Evidence,
        ModelQuery,
        ResolveStatus,
        Verdict,
    )

    f = server.add_file("resolved.safetensors", 4 * MB, seed=51)
    seen: list[ModelQuery] = []

    class FakeResolver:
        def resolve(self, query: ModelQuery, **how: object) -> Verdict:
            seen.append(query)
            if query.filename == "resolved.safetensors":
                return Verdict(query=query.filename, status=ResolveStatus.RESOLVED, candidates=[DownloadCandidate(
                    source="hf", url=server.direct_url(f.name), filename=f.name, size=f.size, sha256=f.sha256,
                    score=1.0, license="apache-2.0")])
            return Verdict(query=query.filename, status=ResolveStatus.UNCERTAIN, evidence=[Evidence(source="hf", said="2 near names")],
                           candidates=[DownloadCandidate(source="hf", url=server.direct_url("a.safetensors"), filename="a", score=0.7),
                                       DownloadCandidate(source="civitai", url=server.direct_url("b.safetensors"), filename="b",
                                                 score=0.6)])

    monkeypatch.setattr(ToolContext, "model_resolver", lambda self, **kw: FakeResolver())
    wf = workflow(tmp_path / "wf.json", "", name="resolved.safetensors")
    data = json.loads(wf.read_text())
    data["nodes"][0]["properties"] = {}
    data["nodes"].append({**data["nodes"][0], "id": 4, "widgets_values": ["fuzzy.safetensors"]})
    wf.write_text(json.dumps(data))
    code, plan = cli(capsys, "fix", str(wf), "--comfyui", str(comfy), "--no-pin", "--json")
    assert code == 0 and {q.filename for q in seen} == {"resolved.safetensors", "fuzzy.safetensors"}
    [action] = plan["actions"]
    assert action["sha256"] == f.sha256 and action["size"] == f.size and action["license"] == "apache-2.0"
    [unresolved] = plan["unresolved"]
    assert unresolved["verdict"] == "UNCERTAIN" and len(unresolved["candidates"]) == 2
    assert "2 near names" in unresolved["reason"]
    assert run(["fix", str(wf), "--comfyui", str(comfy), "--no-pin", "--json", "--strict"]) == 1


def test_fix_dry_run_token_notes_and_total_cap(server: FileServer, comfy: Path, env: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMFYFIXER_CIVITAI_TOKEN")
    monkeypatch.setenv("COMFYFIXER_MAX_TOTAL_BYTES", "1000")
    inp = tmp_path / "inputs.json"
    inp.write_text(json.dumps({"comfyui_dir": str(comfy), "models": [
        {"filename": "c.safetensors", "folder": "checkpoints", "verdict": "RESOLVED",
         "candidates": [{"source": "civitai", "url": "https://civitai.com/api/download/models/1", "size": 5000}]}]}))
    code, dry = cli(capsys, "fix", "--inputs", str(inp), "--json", "--dry-run")
    assert code == 0 and dry["plan_file"] is None and not (env / "plans").exists()
    assert any("civitai token" in n for n in dry["notes"])
    assert any("over the plan cap" in w for w in dry["warnings"])
    _, plan = cli(capsys, "fix", "--inputs", str(inp), "--json")
    assert run(["approve", plan["plan_file"], "--yes", "--json"]) == 2  # over the total cap
    err = capsys.readouterr().err
    assert "over the cap of 1000" in err and "--confirm-all" in err
    code, ok = cli(capsys, "approve", plan["plan_file"], "--yes", "--json", "--confirm-all")
    assert code == 0 and ok["token"].startswith("approve:")


def test_kill_during_clone_leaves_no_pack_then_rerun_installs(server: FileServer, comfy: Path, env: Path,
                                                              tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git_root, commit = make_pack_repo(tmp_path)
    url = server.add_static("git", git_root) + "/ComfyUI-TestPack.git"
    inp = tmp_path / "inputs.json"
    inp.write_text(json.dumps({"comfyui_dir": str(comfy), "node_types": [
        {"class_type": "TestNode", "status": "RESOLVED", "packs": [{"id": "test-pack", "reference": url, "commit": commit}]}]}))
    _, plan = cli(capsys, "fix", "--inputs", str(inp), "--json")
    _, ok = cli(capsys, "approve", plan["plan_file"], "--yes", "--json", "--confirm-all")
    server.static_stall = "/objects/"  # the clone hangs while fetching objects
    proc = subprocess.Popen([sys.executable, "-c", "from comfyfixer.agent.cli import main; main()", "apply",
                             ok["plan_file"], "--token", ok["token"], "--json"],
                            env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not server.records("/objects/"):
        time.sleep(0.05)
    assert server.records("/objects/"), "the clone never started fetching objects"
    os.killpg(proc.pid, signal.SIGKILL)  # the process and its git child, as a terminal kill would
    proc.wait()
    assert list((comfy / "custom_nodes").iterdir()) == []  # nothing half-cloned where ComfyUI imports packs
    server.static_stall = None
    server.static_release.set()
    report = approve_and_apply(capsys, ok["plan_file"], "--confirm-all")
    assert report["outcomes"][0]["status"] == "done"
    assert [p.name for p in (comfy / "custom_nodes").iterdir()] == ["ComfyUI-TestPack"]
    assert not any((comfy / ".comfyfixer/staging").glob("*.clone"))


def test_rounded_sizes_get_a_tolerance_and_exact_ones_are_enforced(server: FileServer, comfy: Path, env: Path,
                                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    civ = server.add_file("rounded.safetensors", 3 * MB + 123, seed=61)
    hf = server.add_file("exact.safetensors", 2 * MB, seed=62)
    inp = tmp_path / "inputs.json"
    inp.write_text(json.dumps({"comfyui_dir": str(comfy), "models": [
        {"filename": "rounded.safetensors", "folder": "checkpoints", "verdict": "RESOLVED",  # sizeKB-style rounding
         "candidates": [{"source": "civitai", "url": server.add_civitai(71, civ.name), "sha256": civ.sha256,
                         "size": round(civ.size / 1024) * 1024}]},
        {"filename": "exact.safetensors", "folder": "loras", "verdict": "RESOLVED",
         "candidates": [{"source": "hf", "url": server.add_hf("o/r", "exact.safetensors", hf.name),
                         "size": hf.size + 1}]}]}))
    _, plan = cli(capsys, "fix", "--inputs", str(inp), "--json")
    report = approve_and_apply(capsys, plan["plan_file"])
    out = {o["item"]: o for o in report["outcomes"]}
    assert out["model:checkpoints/rounded.safetensors"]["status"] == "done"
    assert out["model:loras/exact.safetensors"]["error_type"] == "IntegrityError"
    assert "plan expects" in out["model:loras/exact.safetensors"]["message"]
    assert model_files(comfy) == ["models/checkpoints/rounded.safetensors"]
