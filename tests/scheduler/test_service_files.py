"""`schedule install` / `uninstall`: the service files for each OS are valid in their own format, are
shown before anything is written, are written only with approval (journaled), and are removed again."""

from __future__ import annotations

import json
import plistlib
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.agent.journal import read_journal
from comfyfixer.agent.service_files import MARKER, service_plan

ARGV = ["/opt/comfy fixer/bin/comfyfixer", "schedule", "/home/o/wf 100%", "--out", "/home/o/readiness", "--once"]
NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


def test_systemd_units(tmp_path: Path) -> None:
    plan = service_plan("linux", ARGV, 7200, tmp_path, tmp_path / "logs")
    service, timer = (f.text for f in plan.files)
    assert 'ExecStart="/opt/comfy fixer/bin/comfyfixer" schedule "/home/o/wf 100%%" --out /home/o/readiness --once' \
        in service and "Type=oneshot" in service
    assert "OnCalendar=*-*-* 00/2:00:00" in timer and "Persistent=true" in timer
    assert "OnUnitActiveSec=5400s" in service_plan("linux", ARGV, 5400, tmp_path, tmp_path).files[1].text
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that the executable exists: use a real one. System mode: --user needs a session bus.
    real = service_plan("linux", [sys.executable, *ARGV[1:]], 7200, tmp_path, tmp_path / "logs")
    for f in real.files:
        f.path.write_bytes(f.content)
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", *(str(f.path) for f in real.files)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    # ... and it would notice a broken one.
    broken = real.files[1].path
    broken.write_text(broken.read_text().replace("OnCalendar=", "OnCalendr="))
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", *(str(f.path) for f in real.files)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "OnCalendr" in proc.stderr


def test_launchd_plist_and_windows_task(tmp_path: Path) -> None:
    plist = plistlib.loads(service_plan("darwin", ARGV, 7200, tmp_path, tmp_path / "logs").files[0].content)
    assert plist["ProgramArguments"] == ARGV and plist["StartInterval"] == 7200 and plist["Comment"] == MARKER
    xml = service_plan("windows", ARGV, 7200, tmp_path, tmp_path).files[0]
    assert xml.content.startswith(b"\xff\xfe")
    root = ET.fromstring(xml.text.split("?>", 1)[1])
    assert root.find("t:Triggers/t:TimeTrigger/t:Repetition/t:Interval", NS).text == "PT2H"  # type: ignore[union-attr]
    assert root.find("t:Settings/t:StartWhenAvailable", NS).text == "true"  # type: ignore[union-attr]
    assert root.find("t:Settings/t:MultipleInstancesPolicy", NS).text == "IgnoreNew"  # type: ignore[union-attr]
    assert root.find("t:Actions/t:Exec/t:Command", NS).text == ARGV[0]  # type: ignore[union-attr]
    assert root.find("t:Actions/t:Exec/t:Arguments", NS).text == (  # type: ignore[union-attr]
        'schedule "/home/o/wf 100%" --out /home/o/readiness --once')


@pytest.mark.parametrize("system", ["linux", "darwin", "windows"])
def test_install_needs_approval_then_uninstall_reverses(system: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COMFYFIXER_SERVICE_DIR", str(tmp_path / "svc"))
    monkeypatch.setenv("COMFYFIXER_STATE_DIR", str(tmp_path / "state"))
    args = ["schedule", "install", str(tmp_path / "wf"), "--out", str(tmp_path / "out"), "--system", system]
    monkeypatch.setattr("typer.confirm", lambda *a, **k: False)
    assert run(args) == 1
    shown = capsys.readouterr().out
    assert "--- write" in shown and "nothing written" in shown and not (tmp_path / "svc").exists()
    assert run([*args, "--yes", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["files"] and all(Path(p).is_file() for p in doc["files"])
    assert [e["action"] for e in read_journal(tmp_path / "state")] == ["schedule.install"] * len(doc["files"])
    assert run(["schedule", "uninstall", "--out", str(tmp_path / "out"), "--system", system, "--yes", "--json"]) == 0
    removed = json.loads(capsys.readouterr().out)
    assert sorted(removed["files"]) == sorted(doc["files"]) and not any(Path(p).exists() for p in doc["files"])


def test_install_refuses_to_overwrite_a_file_it_did_not_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFYFIXER_SERVICE_DIR", str(tmp_path))
    (tmp_path / "comfyfixer-schedule.service").write_text("[Service]\nExecStart=/bin/true\n")
    assert run(["schedule", "install", "wf", "--out", str(tmp_path / "o"), "--system", "linux", "--yes"]) == 2
    assert (tmp_path / "comfyfixer-schedule.service").read_text() == "[Service]\nExecStart=/bin/true\n"
