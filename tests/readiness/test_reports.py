"""Report writers: safe unique names, escaping, JSON structure."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from comfyfixer.agent.reports import check_json, safe_stem, unique_stems, write_reports
from comfyfixer.agent.reports.markdown import cell, code, code_cell, index_markdown, link, workflow_markdown
from comfyfixer.agent.reports.writer import script_json
from comfyfixer.tools import readiness as rd

from ._synthetic import synthetic_result


def test_safe_unique_names() -> None:
    assert safe_stem("sub dir/Flux Dev.json") == "sub_dir__Flux_Dev"
    assert safe_stem("../../etc/passwd") == "etc__passwd"
    assert safe_stem("index.json") == "index_"  # never clobbers the index
    assert safe_stem("CON.json") == "CON_"
    assert safe_stem("...json") == "workflow"
    stems = unique_stems(["a/b.json", "a__b.json", "A/B.json", "x.png", "x.json"])
    assert stems == ["a__b", "a__b-2", "A__B-3", "x", "x-2"]
    assert len({s.lower() for s in stems}) == len(stems)


def test_markdown_cells_are_escaped() -> None:
    assert cell("a|b\nc`d") == "a\\|b c'd"


def test_script_json_cannot_close_the_script() -> None:
    text = script_json({"name": "</script><script>alert(1)</script>", "amp": "&"})
    assert "</" not in text and "<" not in text and "&" not in text
    assert json.loads(text)["name"] == "</script><script>alert(1)</script>"


def test_written_reports_match_the_result(tmp_path: Path) -> None:
    result = synthetic_result(23, evil_name="evil/<b>x</b>|pipe.json")
    paths = write_reports(result, tmp_path)
    index = json.loads(paths.index_json.read_text("utf-8"))
    assert index["summary"] == result.summary.model_dump()
    assert len(index["workflows"]) == 23
    files = sorted(p.name for p in (tmp_path / "reports" / "workflows").iterdir())
    assert len(files) == 2 * 23 + 2 and "index.md" in files
    for w in index["workflows"]:
        for key in ("path", "status", "missing_models", "misplaced_models", "missing_node_types", "error"):
            assert key in w
        if w["status"] == "missing":
            assert w["fixes"]
    md = paths.index_md.read_text("utf-8")
    assert "evil/&lt;b&gt;x&lt;/b&gt;\\|pipe.json" in md and "<b>" not in md
    html = paths.dashboard.read_text("utf-8")
    assert "<b>x</b>" not in html
    doc = check_json(result)
    assert doc["needs"]["packs"][0]["workflows"] >= 1
    assert not list(tmp_path.rglob(".*.tmp*")) and not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


def test_a_report_is_rewritten_only_when_more_than_its_date_changed(tmp_path: Path) -> None:
    result = synthetic_result(6)
    write_reports(result, tmp_path)
    wf_dir = tmp_path / "reports" / "workflows"
    reports = sorted(p for p in wf_dir.iterdir() if not p.name.startswith("index."))
    before = {p: (p.stat().st_ino, p.read_bytes()) for p in reports}
    later = result.model_copy(update={"generated_at": "2031-05-06T07:08:09+00:00"})
    again = write_reports(later, tmp_path)
    assert again.unchanged_reports == 6
    assert {p: (p.stat().st_ino, p.read_bytes()) for p in reports} == before  # not even replaced by an equal copy
    assert "2031-05-06" in again.index_md.read_text("utf-8")  # the index carries this run's date
    changed = later.workflows[2].model_copy(update={"status": "invalid", "error": "the file changed"})
    third = write_reports(later.model_copy(update={"workflows": [*later.workflows[:2], changed, *later.workflows[3:]]}),
                          tmp_path)
    assert third.unchanged_reports == 5
    rewritten = [p for p in reports if p.read_bytes() != before[p][1]]
    assert len(rewritten) == 2 and all("2031-05-06" in p.read_text("utf-8") for p in rewritten)


# --- untrusted strings in Markdown ------------------------------------------------------------------------

ESC, RLO, ZWJ = "\x1b[2J", "\u202e", "\u200d"
HTML = "<img src=x onerror=alert(1)><script>alert(2)</script>"
LINK = "](javascript:alert(3)) [click](javascript:alert(4)) ![i](https://evil.example/t.png)"
ROW = "a|b\nc`d | e"  # would add cells, break the row, end a code span
ENTITY = "&#x202e;&lt;b&gt;"  # would decode to a bidi override and a tag


def _evil_result() -> rd.CheckResult:
    name = f"# {HTML}{LINK}{ROW}{ESC}{RLO}{ZWJ}{ENTITY}.json"
    missing = rd.WorkflowReadiness(
        path=f"/wf/{name}", name=name, status="missing",
        missing_node_types=[rd.MissingNodeType(
            class_type=f"Node{ROW}{HTML}", status="RESOLVED", node_count=1, fix=f"- {LINK}",
            packs=[rd.PackSuggestion(id=f"pack{LINK}{ROW}", reference="javascript:alert(5)"),
                   rd.PackSuggestion(id="ok", reference=f"https://github.com/o/p> |x`{ESC}{RLO} y")])],
        missing_models=[rd.MissingModel(filename=f"m{ROW}{HTML}\\|z.safetensors", folder=f"loras{ROW}", node_ids=["3|4"],
                                     url=f"https://huggingface.co/o/r/resolve/main/m.safetensors?a=1&b=<{ESC}>|",
                                     target=f"models/loras/m{ROW}.safetensors")],
        misplaced_models=[rd.MisplacedModel(filename=f"v{ROW}.safetensors", found_in=f"models\\ckpt\\v{ROW}",
                                         expected_folder=f"vae{ROW}", fix=f"1. {HTML}")],
        present_models=[rd.PresentModel(filename=f"p{ROW}", folder="checkpoints", location=f"models/{HTML}")],
        warnings=[f"> {HTML}", f"1) {LINK}"],
    )
    invalid = rd.WorkflowReadiness(path="/wf/bad.json", name="bad.json", status="invalid", error=f"# {HTML}\n---\n{LINK}")
    return rd.CheckResult(generated_at="2026-01-02T03:04:05+00:00", inventory={"source": f"static {HTML}", "limits": ROW},
                       schema_source=f"{LINK}", notes=[f"- {HTML}{ESC}"], workflows=[missing, invalid],
                       summary=rd.Summary(total=2, missing=1, invalid=1))


def _render(text: str) -> str:
    markdown_it = pytest.importorskip("markdown_it")  # rich's own dependency
    # The most permissive renderer: raw HTML passes through, as in many Markdown viewers.
    return str(markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").render(text))


def test_helpers_neutralise_markdown_and_html() -> None:
    assert cell(LINK) == "\\](javascript:alert(3)) \\[click\\](javascript:alert(4)) !\\[i\\](https://evil.example/t.png)"
    assert cell(HTML) == "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;"
    assert cell(ENTITY) == "&amp;#x202e;&amp;lt;b&amp;gt;"
    assert cell(f"{ESC}{RLO}") == "\\\\x1b\\[2J\\\\u202e"  # renders as the visible text \x1b[2J\u202e
    assert [cell(x) for x in ("# h", "- i", "1. j", "12) k", "x - y")] == ["\\# h", "\\- i", "1\\. j", "12\\) k", "x - y"]
    assert code("a|b`c\nd") == "`a|b'c d`" and code_cell("a|b") == "`a\\|b`"
    assert code_cell("a\\\\|b") == "`a\\\\\\|b`"  # two backslashes + pipe: one more keeps the pipe escaped
    assert link("x", "javascript:alert(1)") == "x" and link("x", "data:text/html,hi") == "x"
    assert link("x", "https://h.example/a b>|c") == "[x](<https://h.example/a%20b%3E%7Cc>)"


def test_markdown_reports_render_no_html_links_or_broken_rows() -> None:
    result = _evil_result()
    stems = {w.path: f"r{i}" for i, w in enumerate(result.workflows)}
    for md in [index_markdown(result, stems), *(workflow_markdown(w, result) for w in result.workflows)]:
        for raw in ("\x1b", RLO, ZWJ):
            assert raw not in md
        html = _render(md)
        assert "<img" not in html and "<script" not in html and "<b>" not in html and "onerror=alert(1)>" not in html
        assert RLO not in html and "&#x202e;" not in html.replace("&amp;#x202e;", "")
        hrefs = re.findall(r'<a href="([^"]*)"', html)
        assert all(h.startswith(("https://", "http://", "r0.md", "r1.md")) for h in hrefs), hrefs
        assert "javascript" not in " ".join(hrefs) and "<img" not in html
        for table in re.findall(r"<table>.*?</table>", html, flags=re.S):
            width = table.split("</thead>")[0].count("<th>")
            for row in re.findall(r"<tr>(.*?)</tr>", table.split("</thead>")[1], flags=re.S):
                assert row.count("<td>") == width, row  # no cell added or lost
        assert not re.search(r"<h[1-6]>|<blockquote>|<hr", html.split("</h1>", 1)[-1].replace("<h2>", "")), html
    page = _render(workflow_markdown(result.workflows[0], result))
    assert "\\x1b[2J\\u202e\\u200d" in page  # the escapes are what the reader sees
    assert "<code>m|b" not in page and "<code>ma|b c'd | e" in page  # pipes kept inside code, row intact


def test_json_reports_and_dashboard_hold_the_exact_data_but_no_raw_controls(tmp_path: Path) -> None:
    result = _evil_result()
    paths = write_reports(result, tmp_path)
    text = paths.index_json.read_text("utf-8")
    assert json.loads(text)["workflows"][0]["name"] == result.workflows[0].name  # exact
    page = paths.dashboard.read_text("utf-8")
    for raw in ("\x1b", RLO, ZWJ):
        assert raw not in text and raw not in page
    assert "\\u202e" in text and "\\u202e" in page
