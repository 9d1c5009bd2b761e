"""The readiness reports carry each workflow's VRAM estimate (agent/reports/writer.py calls
tools/fit/report.py::fit_sections)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.tools.fit.report import fit_sections


def test_demo_reports_show_the_fit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    run(["check", "--demo", "--out", str(tmp_path), "--json"])
    report = (tmp_path / "reports" / "workflows" / "templates__flux_schnell_full_text_to_image.md").read_text("utf-8")
    section = report[report.index("## VRAM fit"):]
    assert "| sampling |" in section and "comfyfixer tune" in section
    assert any(v in section for v in ("**FITS", "**DOES_NOT_FIT", "**NO_GPU"))


def test_target_vram_and_unreadable_workflows(templates_dir: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone.json"
    result = SimpleNamespace(inventory={}, workflows=[
        SimpleNamespace(path=str(templates_dir / "flux_dev_full_text_to_image.json")), SimpleNamespace(path=str(gone))])
    sections = fit_sections(result, vram_gb=8)
    assert list(sections) == [str(templates_dir / "flux_dev_full_text_to_image.json")]
    text = next(iter(sections.values()))
    assert "**FITS_OFFLOAD** (target 8 GB)" in text and "×" in text
