"""The qwen-agent adapter: schema conversion, compaction and the wire fixes."""

from __future__ import annotations

import json
from types import SimpleNamespace

from agent_testkit import ToolBox
from pydantic import BaseModel, Field

from comfyfixer.agent.orchestrator.adapter import compact, tool_parameters
from comfyfixer.agent.orchestrator.llm import dedupe_streamed_names, fix_tool_messages
from comfyfixer.agent.orchestrator.records import Usage
from comfyfixer.agent.services import registry


class Where(BaseModel):
    folder: str = Field(description="Folder.")


class Nested(BaseModel):
    name: str = Field(description="Name.")
    where: list[Where] = Field(default_factory=list, description="Places.")


def test_schema_is_accepted_by_qwen_agent_and_raw_pydantic_is_not(tmp_path) -> None:
    from qwen_agent.tools.base import is_tool_schema

    raw = Nested.model_json_schema()
    assert not is_tool_schema({"name": "n", "description": "d", "parameters": raw})
    params = tool_parameters(Nested)
    assert is_tool_schema({"name": "n", "description": "d", "parameters": params})
    text = json.dumps(params)
    assert "$ref" not in text and "$defs" not in text and '"title"' not in text
    assert params["properties"]["where"]["items"]["properties"]["folder"]["description"] == "Folder."
    for spec in [*registry(), *ToolBox().registry()]:
        assert is_tool_schema({"name": spec.name, "description": spec.description,
                               "parameters": tool_parameters(spec.input_model)}), spec.name


def test_compact_marks_what_it_cut() -> None:
    data = {"files": [f"model_{i}.safetensors" for i in range(500)], "note": "x" * 5000}
    small = compact(data, 2000)
    assert len(json.dumps(small)) <= 2000
    assert any("not shown" in str(v) for v in small["files"])
    assert "more characters" in small["note"]
    assert compact({"a": 1}, 2000) == {"a": 1}
    # bulky nested parts go first; small top-level facts survive
    graph = {"nodes": [{"id": i, "widgets": ["x" * 50] * 5} for i in range(300)]}
    result = compact({"seed": 123, "model": {"name": "m.safetensors"}, "workflow": graph, "raw": {"k": "y" * 9000}}, 1500)
    assert result["seed"] == 123 and result["model"] == {"name": "m.safetensors"}
    assert len(json.dumps(result)) <= 1500


def test_tool_messages_get_tool_call_id() -> None:
    msgs = [{"role": "user", "content": "hi", "name": None},
            {"role": "tool", "content": "{}", "id": "call_7", "name": "t", "extra": {"function_id": "call_7"}}]
    fixed = fix_tool_messages(msgs)
    assert fixed[0] == {"role": "user", "content": "hi"}
    assert fixed[1] == {"role": "tool", "tool_call_id": "call_7", "content": "{}"}


def _chunk(tc_id, name, args, usage=None):
    fn = SimpleNamespace(name=name, arguments=args)
    tc = SimpleNamespace(id=tc_id, function=fn)
    return SimpleNamespace(choices=[SimpleNamespace(delta=SimpleNamespace(tool_calls=[tc]))], usage=usage)


def test_repeated_streamed_names_are_dropped_and_usage_collected() -> None:
    usage = Usage()
    chunks = [_chunk("a", "lookup", '{"na'), _chunk("a", "lookup", 'me": 1}'),
              _chunk("b", "other", "{}"),
              SimpleNamespace(choices=[], usage=SimpleNamespace(prompt_tokens=10, completion_tokens=3))]
    out = list(dedupe_streamed_names(iter(chunks), usage))
    names = [c.choices[0].delta.tool_calls[0].function.name for c in out[:3]]
    assert names == ["lookup", None, "other"]
    assert (usage.prompt_tokens, usage.completion_tokens, usage.source) == (10, 3, "server")
