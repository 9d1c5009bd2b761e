"""The readiness reports and the dashboard carry each workflow's VRAM estimate (agent/reports/writer.py
calls tools/fit/report.py::fit_reports once per run)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.agent.reports import write_reports
from comfyfixer.tools.fit.report import fit_sections
from comfyfixer.tools.readiness import CheckResult, Summary, WorkflowReadiness


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


def _two_templates(templates_dir: Path) -> CheckResult:
    workflows = [WorkflowReadiness(path=str(templates_dir / n), name=n, status="missing")
                 for n in ("flux_dev_full_text_to_image.json", "sdxl_simple_example.json")]
    return CheckResult(workflows=workflows, summary=Summary(total=2, missing=2), inventory={}, generated_at="2026-12-02T00:00:00Z")


def test_dashboard_data_has_each_workflows_fit_for_the_target(templates_dir: Path, tmp_path: Path) -> None:
    paths = write_reports(_two_templates(templates_dir), tmp_path, vram_gb=8)
    index = json.loads(paths.index_json.read_text("utf-8"))
    fits = {Path(w["path"]).name: w["fit"] for w in index["workflows"]}
    flux, sdxl = fits["flux_dev_full_text_to_image.json"], fits["sdxl_simple_example.json"]
    assert flux["verdict"] == "FITS_OFFLOAD" and flux["vram_gb"] == 8.0 and flux["peak_gb"] > 20
    assert sdxl["verdict"] == "FITS" and 4 < sdxl["peak_gb"] <= 8 and sdxl["vram_source"] == "target 8 GB"
    html = paths.dashboard.read_text("utf-8")
    data = json.loads(html.split('<script id="report-data" type="application/json">', 1)[1].split("</script>", 1)[0])
    assert [w["fit"]["verdict"] for w in data["workflows"]] == ["FITS_OFFLOAD", "FITS"]
    assert "<th>VRAM fit</th>" in html


@pytest.mark.browser
def test_dashboard_shows_the_fit_in_a_browser(templates_dir: Path, tmp_path: Path) -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("no chromium binary")
    sync_api = pytest.importorskip("playwright.sync_api")
    paths = write_reports(_two_templates(templates_dir), tmp_path, vram_gb=8)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(paths.dashboard.resolve().as_uri())
        page.wait_for_selector("body[data-ready=true]", timeout=15000)
        cells = page.locator("td.fit").evaluate_all("cs => cs.map(c => [c.dataset.verdict, c.textContent])")
        page.click("tr.wf-row")
        details = page.text_content("tr.details") or ""
        browser.close()
    assert sorted(v for v, _ in cells) == ["FITS", "FITS_OFFLOAD"] and all(" / 8 GB" in t for _, t in cells)
    assert "VRAM fit (target 8 GB)" in details and errors == []


def test_check_vram_option_sizes_the_dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    run(["check", "--demo", "--out", str(tmp_path), "--vram", "6GB", "--json"])
    index = json.loads((tmp_path / "reports" / "workflows" / "index.json").read_text("utf-8"))
    fits = [w["fit"] for w in index["workflows"] if w.get("fit")]
    assert fits and all(f["vram_gb"] == 6.0 and f["vram_source"] == "target 6 GB" for f in fits)
    assert run(["check", "--demo", "--out", str(tmp_path), "--vram", "lots"]) != 0
