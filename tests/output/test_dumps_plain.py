"""``dumps_plain``: the Rust-encoded ``check --json`` text is byte for byte what ``json.dumps`` writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from comfyfixer.agent.output import dumps_plain
from comfyfixer.agent.reports import check_json
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.readiness import CheckInput, check_workflows

DEMO = Path(__file__).resolve().parents[2] / "demo"


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, allow_nan=False)


@pytest.mark.parametrize("value", [
    {"a": 1e-05, "b": [1e-07, 2.5, 1e16, 1e22, -0.0, 3.0], "c": {"d": [0.00001]}},  # floats the encoders write differently
    {"s": 'ratio": 1e-05 \\n  3.0', "t": "x\u2028\x7f\x1f\u202e", "u": "名前", "k": 10**30},
    {"empty": [], "none": {}, "nested": [{}, []], "flags": [True, False, None], 1: "int key"},
    [{"path": "a.json", "size_gb": 6.938, "tuple": (1, 2)}],
    {"lone": "\ud800"},  # refused by the fast encoder: json.dumps writes it (inert_json escapes it later)
    1e-05,
])
def test_same_text_as_json_dumps(value: Any) -> None:
    assert dumps_plain(value) == _dumps(value)


@pytest.mark.parametrize("value", [{"a": float("nan")}, [float("inf")], {"b": [float("-inf")]}])
def test_nan_and_infinity_are_refused_as_json_dumps_refuses_them(value: Any) -> None:
    with pytest.raises(ValueError):
        dumps_plain(value)


def test_a_real_check_document_is_unchanged(tmp_path: Path) -> None:
    ctx = ToolContext(comfyui_dir=DEMO / "ComfyUI", cache_dir=tmp_path / "cache", state_dir=tmp_path / "state")
    doc = check_json(check_workflows(CheckInput(paths=[str(DEMO / "workflows")]), ctx))
    doc["timings"] = {"inventory_s": 0.0001, "workflows_s": 1.5e-05, "total_s": 12.25}  # small floats too
    text = dumps_plain(doc)
    assert text == _dumps(doc)
    assert json.loads(text)["workflows"]
