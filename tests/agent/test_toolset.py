"""The capability contract: registration rules (ratchet), validation and compact errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import NotFound
from comfyfixer.tools.toolset import Capability, Registry, ToolRegistrationError, capability, tool_registry


class Inner(BaseModel):
    folder: str = Field(description="A ComfyUI model folder.")


class Args(BaseModel):
    name: str = Field(description="A file name.")
    limit: int = Field(default=3, ge=1, le=10, description="How many.")
    where: Inner | None = Field(default=None, description="Where to look.")


class Out(BaseModel):
    found: list[str] = Field(description="Matches.")


def find(args: Args, ctx: ToolContext) -> Out:
    """Find model files by name."""
    if args.name == "gone":
        raise NotFound("no such model", hint="check the name")
    if args.name == "bug":
        raise KeyError("internal detail")
    return Out(found=[args.name] * args.limit)


@pytest.fixture
def ctx(tmp_path) -> ToolContext:
    return ToolContext(cache_dir=tmp_path / "c", state_dir=tmp_path / "s", civitai_token="secret-value")


def test_spec_from_function_reads_models_and_docstring() -> None:
    spec = Capability.from_function(find)
    assert (spec.name, spec.description, spec.input_model, spec.result_model) == (
        "find", "Find model files by name.", Args, Out)
    assert spec.side_effects is False


def test_registration_refuses_missing_docstring() -> None:
    def nodoc(args: Args, ctx: ToolContext) -> Out:
        return Out(found=[])

    with pytest.raises(ToolRegistrationError, match="no docstring"):
        Capability.from_function(nodoc)


class BadInner(BaseModel):
    folder: str


class BadArgs(BaseModel):
    name: str = Field(description="ok")
    inner: BadInner = Field(description="nested")


def undocumented_field_tool(args: BadArgs, ctx: ToolContext) -> Out:
    """Doc."""
    return Out(found=[])


def test_registration_refuses_undescribed_fields_even_nested() -> None:
    with pytest.raises(ToolRegistrationError, match=r"BadInner\.folder"):
        Capability.from_function(undocumented_field_tool)


def test_registration_refuses_bad_signatures_and_duplicates() -> None:
    def untyped(x, y) -> Out:  # type: ignore[no-untyped-def]
        """Doc."""
        return Out(found=[])

    with pytest.raises(ToolRegistrationError, match=r"a capability takes \(input: <pydantic model>, ctx: ToolContext\)"):
        Capability.from_function(untyped)
    with pytest.raises(ToolRegistrationError, match="snake_case"):
        Capability.from_function(find, name="Find-Models")
    with pytest.raises(ToolRegistrationError, match="twice"):
        Registry([Capability.from_function(find), Capability.from_function(find)])


def test_call_validates_and_returns_results(ctx) -> None:
    ts = Registry([Capability.from_function(find)])
    out = ts.call("find", '{"name": "a", "limit": 2}', ctx)
    assert out.ok and out.result == {"found": ["a", "a"]} and out.status == "OK"
    assert out.duration_ms >= 0


def test_call_turns_problems_into_compact_errors(ctx) -> None:
    ts = Registry([Capability.from_function(find)])
    bad = ts.call("find", {"name": "a", "limit": 99, "where": {"folder": 3}}, ctx)
    assert bad.error and bad.error.kind == "invalid_arguments"
    fields = {d["field"] for d in bad.error.details}
    assert fields == {"limit", "where.folder"}
    assert "99" not in json.dumps(bad.error.model_dump()), "the rejected input is not echoed back"
    assert ts.call("find", "{not json", ctx).error.kind == "invalid_arguments"
    assert ts.call("find", "[1, 2]", ctx).error.kind == "invalid_arguments"
    unknown = ts.call("fnd", {}, ctx)
    assert unknown.error.kind == "unknown_tool" and "find" in (unknown.error.hint or "")
    gone = ts.call("find", {"name": "gone"}, ctx)
    assert (gone.error.kind, gone.error.error_type, gone.error.hint) == ("tool_error", "NotFound", "check the name")
    bug = ts.call("find", {"name": "bug"}, ctx)
    assert bug.error.kind == "internal_error" and "Traceback" not in bug.error.message


def test_side_effect_tools_need_explicit_approval(ctx) -> None:
    calls = []

    def wipe(args: Args, ctx: ToolContext) -> Out:
        """Delete files."""
        calls.append(args.name)
        return Out(found=[])

    ts = Registry([Capability.from_function(wipe, side_effects=True)])
    refused = ts.call("wipe", {"name": "x"}, ctx)
    assert refused.error.kind == "approval_required" and calls == []
    assert ts.call("wipe", {"name": "x"}, ctx, allow_side_effects=True).ok and calls == ["x"]


def test_context_keeps_tokens_out_of_repr_and_dumps(ctx) -> None:
    assert "secret-value" not in repr(ctx) and "secret-value" not in ctx.model_dump_json()
    assert ctx.secret("civitai_token") == "secret-value"


def test_registration_refuses_fields_only_the_caller_may_choose() -> None:
    from pydantic import create_model

    for name in ("out_dir", "cache_dir", "hf_token", "state_dir", "api_key", "output", "dest", "comfyui_dir"):
        bad = create_model("Bad", paths=(list[str], Field(description="What to read.")),
                           **{name: (str, Field(description="x"))})
        with pytest.raises(ToolRegistrationError, match=name):
            Capability(name="save", description="Save things.", input_model=bad, result_model=Out,
                       func=lambda args, ctx: Out(found=[]))
    nested = create_model("Outer", where=(create_model("Where", target=(str, Field(description="x"))),
                                          Field(description="y")))
    with pytest.raises(ToolRegistrationError, match=r"Where\.target"):
        Capability(name="save", description="Save things.", input_model=nested, result_model=Out,
                   func=lambda args, ctx: Out(found=[]))


def test_decorator_declares_once_and_leaves_the_function_callable(ctx) -> None:
    @capability(command="find")
    def lookup(args: Args, ctx: ToolContext) -> Out:
        """Look up files."""
        return Out(found=[args.name])

    assert lookup(Args(name="a"), ctx).found == ["a"]
    reg = Registry([lookup])
    assert reg.get("lookup").command == "find"
    seen: list[str] = []
    reg.observers.append(seen.append)
    assert reg.run("lookup", Args(name="b"), ctx).found == ["b"]
    assert reg.call("lookup", {"name": "c"}, ctx).result == {"found": ["c"]}
    assert seen == ["lookup", "lookup"]
    with pytest.raises(TypeError, match="Args"):
        reg.run("lookup", Out(found=[]), ctx)
    with pytest.raises(ToolRegistrationError, match="not declared"):
        Registry([find])


def test_default_toolset_meets_the_contract(ctx) -> None:
    """Ratchet: every registered tool has a docstring and fully described inputs (checked on add)."""
    ts = tool_registry()
    assert "search_knowledge" in ts
    for spec in ts:
        assert spec.description.strip()
        assert spec.input_model.model_json_schema()["type"] == "object"


def test_registered_tools_run_on_real_files(ctx, templates_dir, shared_data, manager_wheel) -> None:
    """Every read-only tool answers through the registry with a result or a compact error."""
    ts = tool_registry()
    offline = ctx.model_copy(update={"offline": True})
    wf = templates_dir / "hidream_i1_dev.json"
    inspected = ts.call("inspect_workflow", {"path": str(wf)}, offline)
    assert inspected.ok, inspected.error
    assert "hidream_i1_dev_fp8.safetensors" in json.dumps(inspected.result)
    demo_dir = Path(__file__).resolve().parents[2] / "demo" / "ComfyUI"
    if demo_dir.is_dir():
        demo = ctx.model_copy(update={"offline": True, "comfyui_dir": demo_dir})
        checked = ts.call("check_workflows", {"paths": [str(wf)]}, demo)
        assert checked.ok, checked.error
        assert checked.result["workflows"][0]["missing_models"], "the demo ComfyUI lacks HiDream files"
    no_comfy = ts.call("check_workflows", {"paths": [str(wf)]}, offline)
    assert no_comfy.error and no_comfy.error.error_type == "ConfigError"
    image = next((shared_data / "images" / "corpus").rglob("*.png"))
    meta = ts.call("read_image_metadata", {"path": str(image)}, offline)
    assert meta.ok and "generator" in meta.result
    rebuilt = ts.call("reconstruct_workflow", {"image": str(image)}, offline)
    assert rebuilt.ok and rebuilt.result["status"] in ("OK", "UNCERTAIN", "FAILED")
    assert ts.call("reconstruct_workflow", {}, offline).error.kind == "tool_error"
    with_catalog = offline.model_copy(update={"manager_wheel_dirs": (manager_wheel.parent,)})
    node = ts.call("resolve_node", {"class_type": "VHS_VideoCombine"}, with_catalog)
    assert node.ok and node.result["status"] == "RESOLVED"
    assert "VideoHelperSuite" in node.result["candidates"][0]["url"]
    hw = ts.call("hardware_profile", {}, offline)
    assert hw.ok and hw.result["cpu_count"] >= 1


def test_hardware_parsers() -> None:
    from comfyfixer.tools.hardware import parse_meminfo, parse_nvidia_smi

    gpus = parse_nvidia_smi("NVIDIA GeForce RTX 3060, 12288, 11800, 550.54\nbad line\n")
    assert [(g.name, g.vram_total_mb, g.vram_free_mb, g.driver) for g in gpus] == [
        ("NVIDIA GeForce RTX 3060", 12288, 11800, "550.54")]
    assert parse_meminfo("MemTotal:       24684544 kB\nMemAvailable:   2048000 kB\n") == (24106, 2000)
