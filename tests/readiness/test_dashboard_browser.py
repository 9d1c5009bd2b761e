"""The dashboard in a real headless Chromium: loads cleanly from file://, counts match, filter and search work.

Screenshots are kept in ``tests/_artifacts/`` for review. Needs Debian's ``chromium`` (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.agent.reports import write_reports

from ._synthetic import synthetic_result

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium binary found (install Debian's `chromium`; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser: Any, html: Path) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))

    def on_dialog(d: Any) -> None:
        problems.append(f"dialog: {d.message}")
        d.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda r: problems.append(f"request: {r.url}") if not r.url.startswith("file://") else None)
    page.goto(html.resolve().as_uri())
    page.wait_for_selector("body[data-ready=true]", timeout=15000)
    return page, problems


def _shown(page: Any) -> int:
    return int(page.inner_text("#shown-count"))


def test_thousand_workflows(browser: Any, tmp_path: Path) -> None:
    result = synthetic_result(1000, evil_name="evil/</script><img src=x onerror=alert(1)>.json")
    paths = write_reports(result, tmp_path)
    index = json.loads(paths.index_json.read_text("utf-8"))
    page, problems = _open(browser, paths.dashboard)
    s = index["summary"]
    for key in ("total", "runnable", "missing", "invalid"):
        assert int(page.inner_text(f"#count-{key}")) == s[key]
    assert _shown(page) == s["total"]
    assert page.locator("tr.wf-row").count() == 50  # paginated: the DOM stays small
    page.click(".seg button[data-filter=missing]")
    assert _shown(page) == s["missing"]
    statuses = page.locator("tr.wf-row").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert statuses and set(statuses) == {"missing"}
    page.click("#next")
    assert "page 2" in page.inner_text("#page-info")
    page.click(".card.invalid")
    assert _shown(page) == s["invalid"]
    page.click(".seg button[data-filter=all]")
    page.fill("#search", "workflow_0777")
    page.wait_for_function("document.getElementById('shown-count').textContent === '1'")
    page.click("tr.wf-row")
    assert page.locator("tr.details").count() == 1
    page.fill("#search", "pack-5")  # searches pack ids inside the gaps too
    expected = sum(1 for w in index["workflows"] if any(p["id"] == "pack-5" for n in w["missing_node_types"] for p in n["packs"]))
    page.wait_for_function(f"document.getElementById('shown-count').textContent === '{expected}'")
    page.fill("#search", "onerror")
    page.wait_for_function("document.getElementById('shown-count').textContent === '1'")
    assert "onerror=alert(1)" in page.inner_text("tr.wf-row .name")  # shown as text, never run
    page.fill("#search", "")
    page.wait_for_function(f"document.getElementById('shown-count').textContent === '{s['total']}'")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-1000.png"), full_page=False)
    assert problems == []


def test_demo_dashboard(browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo-out"
    assert run(["check", "--demo", "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    page, problems = _open(browser, out / "dashboard" / "index.html")
    assert int(page.inner_text("#count-runnable")) == doc["summary"]["runnable"]
    assert int(page.inner_text("#count-missing")) == doc["summary"]["missing"]
    page.select_option("#sort", "gaps")
    page.locator("tr.wf-row").first.click()
    page.locator("tr.wf-row").nth(1).click()
    text = page.inner_text("#rows")
    assert "UltimateSDUpscale" in text or "flux1-schnell" in text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-demo.png"), full_page=True)
    assert problems == []
