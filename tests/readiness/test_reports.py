"""Report writers: safe unique names, escaping, JSON structure."""

from __future__ import annotations

import json
from pathlib import Path

from comfyfixer.agent.reports import check_json, safe_stem, unique_stems, write_reports
from comfyfixer.agent.reports.markdown import cell
from comfyfixer.agent.reports.writer import script_json

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
    assert "evil/<b>x</b>\\|pipe.json" in md
    html = paths.dashboard.read_text("utf-8")
    assert "<b>x</b>" not in html
    doc = check_json(result)
    assert doc["needs"]["packs"][0]["workflows"] >= 1
    assert not list(tmp_path.rglob(".*.tmp*")) and not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]
