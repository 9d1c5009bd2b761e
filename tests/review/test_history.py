"""The workflow history of ``check``/``schedule`` and the regression report a change produces."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.agent.commands.check import demo_dir
from comfyfixer.agent.config import load_settings
from comfyfixer.tools.review.history import prune_objects, record_version, resolver


def _demo_copy(tmp_path: Path) -> tuple[Path, Path]:
    """The demo workflows in a folder the test may edit, and one KSampler workflow among them."""
    folder = tmp_path / "workflows"
    shutil.copytree(demo_dir() / "workflows", folder)
    for path in sorted(folder.rglob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        nodes = doc.get("nodes") if isinstance(doc, dict) else None
        if isinstance(nodes, list) and any(n.get("type") == "KSampler" for n in nodes):
            return folder, path
    raise AssertionError("the demo has no UI workflow with a KSampler")


def test_schedule_writes_a_regression_report_and_marks_the_dashboard_after_a_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    folder, watched = _demo_copy(tmp_path)
    out = tmp_path / "out"
    args = ["schedule", str(folder), "--comfyui", str(demo_dir() / "ComfyUI"), "--out", str(out), "--once",
            "--no-discover", "--no-require-comfyui", "--json"]
    assert run(args) == 0
    capsys.readouterr()
    reports = out / "reports" / "workflows"
    assert not list(reports.glob("regression_report_*"))  # first sight: history only

    doc = json.loads(watched.read_text(encoding="utf-8"))
    sampler = next(n for n in doc["nodes"] if n["type"] == "KSampler")
    old_steps = sampler["widgets_values"][2]
    sampler["widgets_values"][2] = old_steps * 2
    watched.write_text(json.dumps(doc), encoding="utf-8")
    assert run(args) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["changed"]

    found = list(reports.glob("regression_report_*.md"))
    assert len(found) == 1, found
    text = found[0].read_text(encoding="utf-8")
    assert "steps" in text and str(old_steps * 2) in text and "runtime proxy" in text
    data = json.loads(found[0].with_suffix(".json").read_text(encoding="utf-8"))
    steps = next(p for p in data["diff"]["parameters"] if p["input"] == "steps")
    assert (steps["old"], steps["new"]) == (old_steps, old_steps * 2)
    assert data["diff"]["runtime_ratio"] > 1  # more steps on one of its samplers
    index = json.loads((reports / "index.json").read_text(encoding="utf-8"))
    changed = [w for w in index["workflows"] if w.get("regression_report")]
    assert [Path(w["path"]).name for w in changed] == [watched.name]
    assert f"({found[0].name})" in (reports / "index.md").read_text(encoding="utf-8").replace("<", "(").replace(">", ")")
    dashboard = (out / "dashboard" / "index.html").read_text(encoding="utf-8")
    assert found[0].stem in dashboard and "badge changed" in dashboard

    # Unchanged on the next run: the mark stays, no new report, no new stored version.
    assert run(args) == 0
    capsys.readouterr()
    assert list(reports.glob("regression_report_*.md")) == found
    index = json.loads((reports / "index.json").read_text(encoding="utf-8"))
    assert [Path(w["path"]).name for w in index["workflows"] if w.get("regression_report")] == [watched.name]
    # The history under the state folder: two versions of the edited workflow, one of each other one.
    entries = [json.loads(p.read_text(encoding="utf-8"))
               for p in (load_settings().state_dir / "history" / "workflows").glob("*.json")]
    counts = {Path(e["path"]).name: len(e["versions"]) for e in entries}
    assert counts[watched.name] == 2 and set(counts.values()) == {1, 2}
    # `diff NEW` compares the workflow with its predecessor in that history.
    assert run(["diff", str(watched), "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert [(p["input"], p["old"], p["new"]) for p in alone["parameters"] if p["input"] == "steps"] == [
        ("steps", old_steps, old_steps * 2)] and "first seen" in alone["old"]
    assert run(["diff", str(folder / "nowhere.json"), "--json"]) == 2  # no history: a usage error with a hint


def test_check_with_out_writes_the_regression_report_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    _, watched = _demo_copy(tmp_path)
    args = ["check", str(watched), "--comfyui", str(demo_dir() / "ComfyUI"), "--out", str(tmp_path / "out"), "--json"]
    assert run(args) == 0
    assert not json.loads(capsys.readouterr().out)["workflows"][0].get("regression_report")
    doc = json.loads(watched.read_text(encoding="utf-8"))
    loader = next(n for n in doc["nodes"] if n["type"] == "CheckpointLoaderSimple")
    loader["widgets_values"][0] = "some_other_model_fp8_e4m3fn.safetensors"
    watched.write_text(json.dumps(doc), encoding="utf-8")
    assert run(args) == 0
    report = json.loads(capsys.readouterr().out)["workflows"][0]["regression_report"]
    data = json.loads((tmp_path / "out" / "reports" / "workflows" / f"{report}.json").read_text(encoding="utf-8"))
    swap = data["diff"]["models"][0]
    assert (swap["change"], swap["new"], swap["new_precision"]) == ("swapped", loader["widgets_values"][0], "fp8")
    assert "some_other_model_fp8_e4m3fn.safetensors" in data["diff"]["new_dependencies"]


def test_history_stores_each_version_once_and_stays_bounded(tmp_path: Path) -> None:
    root, wf = tmp_path / "history", tmp_path / "wf.json"
    for i in range(5):
        wf.write_text(json.dumps({"1": {"class_type": "KSampler", "inputs": {"steps": i}}}), encoding="utf-8")
        entry, previous = record_version(root, wf, max_versions=3, now=f"2026-12-0{i + 1}T00:00:00+00:00")
        assert (previous is None) == (i == 0)
        again, unchanged = record_version(root, wf, max_versions=3)
        assert unchanged is None and len(again["versions"]) == len(entry["versions"])
    versions = entry["versions"]
    assert len(versions) == 3 and versions[0]["first_seen"] == "2026-12-03T00:00:00+00:00"
    assert prune_objects(root) == 2
    stored = sorted(p.name for p in (root / "objects").iterdir())
    assert stored == sorted(f"{v['sha256']}.json" for v in versions)
    # Only the workflow's own bytes are kept.
    assert {(root / "objects" / f"{v['sha256']}.json").read_bytes() for v in versions[-1:]} == {wf.read_bytes()}


def test_history_reads_a_file_again_only_when_its_size_or_mtime_changed(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    root, wf = tmp_path / "history", tmp_path / "wf.json"
    wf.write_text(json.dumps({"1": {"class_type": "KSampler", "inputs": {"steps": 1}}}), encoding="utf-8")
    first, _ = record_version(root, wf, max_versions=5)
    real_read = Path.read_bytes
    reads: list[Path] = []
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or real_read(self))
    same, previous = record_version(root, wf, max_versions=5)
    assert previous is None and reads == [] and same["versions"] == first["versions"]
    st = wf.stat()
    os.utime(wf, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched: read again, still one version
    touched, previous = record_version(root, wf, max_versions=5)
    assert previous is None and reads == [wf] and len(touched["versions"]) == 1
    wf.write_text(json.dumps({"1": {"class_type": "KSampler", "inputs": {"steps": 2}}}), encoding="utf-8")
    os.utime(wf, ns=(st.st_atime_ns, st.st_mtime_ns + 2 * 10**9))  # same size, new content
    edited, previous = record_version(root, wf, max_versions=5)
    assert previous is not None and len(edited["versions"]) == 2


def test_resolver_names_every_file_as_path_resolve_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "real" / "deep"
    real.mkdir(parents=True)
    (real / "a.json").write_text("{}", encoding="utf-8")
    (tmp_path / "elsewhere.json").write_text("{}", encoding="utf-8")
    (tmp_path / "folder_link").symlink_to(real, target_is_directory=True)
    (real / "file_link.json").symlink_to(tmp_path / "elsewhere.json")
    monkeypatch.chdir(tmp_path)
    paths = [real / "a.json", tmp_path / "folder_link" / "a.json", tmp_path / "folder_link" / "file_link.json",
             tmp_path / "folder_link" / ".." / "elsewhere.json",  # '..' after a folder link leaves its target
             Path("folder_link/a.json"), Path("elsewhere.json"), real / "missing.json", tmp_path / "folder_link" / ".."]
    resolve = resolver()
    for path in paths * 2:  # the second pass reads the folders it cached
        assert resolve(path) == str(path.resolve()), path
