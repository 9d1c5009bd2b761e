"""The tool contract shared by the CLI and the agent, and the registry of the project's tools.

A tool is a plain typed function::

    def search_knowledge(query: KnowledgeQuery, ctx: ToolContext) -> KnowledgeResult:
        \"\"\"Search the knowledge pack ...\"\"\"

:meth:`ToolSpec.from_function` reads the input model, the result model and the description
(the docstring) from the function itself. Registration refuses a tool whose docstring is missing
or whose input model has a field without ``Field(description=...)``: that schema is all a language
model ever sees of the tool.

``side_effects=True`` marks a tool that changes the disk or spends money. Such a tool is never run
on a model's request: :meth:`Toolset.call` refuses it unless the caller passes
``allow_side_effects=True``, which only code acting on a user's approval does.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import time
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import ComfyFixerError

log = logging.getLogger(__name__)

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
MAX_VALIDATION_ERRORS = 8


class ToolRegistrationError(ValueError):
    """A tool does not meet the contract (a programming error, found at registration)."""


class ToolError(BaseModel):
    """Why a tool call did not produce a result, short enough to show a language model."""

    kind: Literal["invalid_arguments", "unknown_tool", "approval_required", "tool_error", "internal_error"] = Field(
        description="What went wrong: the caller's arguments, the tool name, a missing approval, or the tool."
    )
    message: str = Field(description="One line saying what went wrong.")
    hint: str | None = Field(default=None, description="What to do next.")
    error_type: str | None = Field(default=None, description="The exception class, for tool errors.")
    details: list[dict[str, Any]] = Field(default_factory=list, description="Per-field validation errors.")


class ToolOutcome(BaseModel):
    """The result of one tool call: either ``result`` or ``error``, never a traceback."""

    tool: str = Field(description="The tool's name.")
    ok: bool = Field(description="True when the tool returned a result.")
    result: dict[str, Any] | None = Field(default=None, description="The result model as JSON data.")
    error: ToolError | None = Field(default=None, description="Why there is no result.")
    duration_ms: float = Field(default=0.0, description="Wall time of the call.")

    @property
    def status(self) -> Literal["OK", "UNCERTAIN", "ERROR"]:
        """``OK``, ``UNCERTAIN`` (the tool said so) or ``ERROR``."""
        if not self.ok:
            return "ERROR"
        value = (self.result or {}).get("status")
        if isinstance(value, str) and value.upper() == "UNCERTAIN":
            return "UNCERTAIN"
        return "OK"


ToolRunner = Callable[[BaseModel, ToolContext], BaseModel]


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its name, description, input and result models, and how to run it."""

    name: str
    description: str
    input_model: type[BaseModel]
    result_model: type[BaseModel]
    run: ToolRunner
    side_effects: bool = False

    def __post_init__(self) -> None:
        check_spec(self)

    @classmethod
    def from_function(
        cls, func: Callable[..., Any], *, name: str | None = None, side_effects: bool = False
    ) -> ToolSpec:
        """Build a spec from ``func(input: InputModel[, ctx: ToolContext]) -> ResultModel``.

        The description is the docstring; the context parameter is optional and recognised by
        its annotation.
        """
        try:
            hints = typing.get_type_hints(func)
        except NameError as exc:
            raise ToolRegistrationError(f"{func.__qualname__}: cannot resolve annotations ({exc})") from None
        params = list(inspect.signature(func).parameters.values())
        input_param: str | None = None
        ctx_param: str | None = None
        for p in params:
            ann = hints.get(p.name)
            if ann is ToolContext:
                ctx_param = p.name
            elif isinstance(ann, type) and issubclass(ann, BaseModel) and input_param is None:
                input_param = p.name
            elif p.default is inspect.Parameter.empty:
                raise ToolRegistrationError(
                    f"{func.__qualname__}: parameter {p.name!r} must be the pydantic input model or a ToolContext"
                )
        result = hints.get("return")
        if input_param is None:
            raise ToolRegistrationError(f"{func.__qualname__}: no parameter annotated with a pydantic model")
        if not (isinstance(result, type) and issubclass(result, BaseModel)):
            raise ToolRegistrationError(f"{func.__qualname__}: the return annotation must be a pydantic model")
        input_model = hints[input_param]

        def run(args: BaseModel, ctx: ToolContext) -> BaseModel:
            kwargs: dict[str, Any] = {input_param: args}
            if ctx_param:
                kwargs[ctx_param] = ctx
            return typing.cast(BaseModel, func(**kwargs))

        return cls(
            name=name or func.__name__,
            description=inspect.getdoc(func) or "",
            input_model=input_model,
            result_model=result,
            run=run,
            side_effects=side_effects,
        )


def undescribed_fields(model: type[BaseModel]) -> list[str]:
    """Dotted names of every field, nested models included, that has no description."""
    schema = model.model_json_schema()
    missing: list[str] = []

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for key, prop in (node.get("properties") or {}).items():
            if not prop.get("description"):
                missing.append(prefix + key)

    walk(schema, "")
    for def_name, sub in (schema.get("$defs") or {}).items():
        if sub.get("type") == "object" or "properties" in sub:
            walk(sub, f"{def_name}.")
    return missing


def check_spec(spec: ToolSpec) -> None:
    """Raise :class:`ToolRegistrationError` when ``spec`` breaks the tool contract."""
    if not _NAME_RE.match(spec.name):
        raise ToolRegistrationError(f"tool name {spec.name!r} must be snake_case ASCII (2-64 chars)")
    if not spec.description.strip():
        raise ToolRegistrationError(f"tool {spec.name!r} has no docstring; it is the model's only description")
    for model in (spec.input_model, spec.result_model):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ToolRegistrationError(f"tool {spec.name!r}: {model!r} is not a pydantic model")
    missing = undescribed_fields(spec.input_model)
    if missing:
        raise ToolRegistrationError(
            f"tool {spec.name!r}: input fields without Field(description=...): {', '.join(missing)}"
        )


def compact_validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Validation errors as short dicts: where, what, and no documentation URLs or echoed input."""
    out = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False)[:MAX_VALIDATION_ERRORS]:
        out.append({"field": ".".join(str(p) for p in err["loc"]) or "(arguments)", "problem": err["msg"]})
    return out


class Toolset:
    """An ordered collection of tools with one validating way to call them."""

    def __init__(self, specs: Iterable[ToolSpec] = ()) -> None:
        self._specs: dict[str, ToolSpec] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: ToolSpec) -> None:
        """Register ``spec``; names are unique."""
        check_spec(spec)
        if spec.name in self._specs:
            raise ToolRegistrationError(f"tool {spec.name!r} is registered twice")
        self._specs[spec.name] = spec

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def names(self) -> list[str]:
        return list(self._specs)

    def get(self, name: str) -> ToolSpec | None:
        return self._specs.get(name)

    def call(
        self,
        name: str,
        arguments: Mapping[str, Any] | str | BaseModel | None,
        ctx: ToolContext,
        *,
        allow_side_effects: bool = False,
    ) -> ToolOutcome:
        """Validate ``arguments``, run the tool, and return a :class:`ToolOutcome`; never raises
        for a bad name, bad arguments or a failing tool."""
        start = time.perf_counter()

        def done(**kw: Any) -> ToolOutcome:
            return ToolOutcome(tool=name, duration_ms=round((time.perf_counter() - start) * 1000, 2), **kw)

        spec = self._specs.get(name)
        if spec is None:
            return done(
                ok=False,
                error=ToolError(
                    kind="unknown_tool",
                    message=f"there is no tool named {name!r}",
                    hint="call one of: " + ", ".join(self._specs),
                ),
            )
        if spec.side_effects and not allow_side_effects:
            return done(
                ok=False,
                error=ToolError(
                    kind="approval_required",
                    message=f"{name} changes the disk or spends money and needs the user's approval",
                    hint="propose it as a plan; the user approves it outside this conversation",
                ),
            )
        try:
            args = parse_arguments(spec.input_model, arguments)
        except ValidationError as exc:
            return done(
                ok=False,
                error=ToolError(
                    kind="invalid_arguments",
                    message=f"the arguments for {name} do not match its schema",
                    hint="fix the fields listed in details and call again",
                    details=compact_validation_errors(exc),
                ),
            )
        except ValueError as exc:
            return done(
                ok=False,
                error=ToolError(kind="invalid_arguments", message=str(exc), hint="send a JSON object"),
            )
        try:
            result = spec.run(args, ctx)
        except ComfyFixerError as exc:
            return done(
                ok=False,
                error=ToolError(
                    kind="tool_error", message=exc.message, hint=exc.hint, error_type=type(exc).__name__
                ),
            )
        except Exception as exc:
            # A bug in a tool: keep the traceback in our log, show the model one line.
            log.exception("tool %s failed", name)
            return done(
                ok=False,
                error=ToolError(
                    kind="internal_error",
                    message=f"{type(exc).__name__}: {str(exc)[:300]}",
                    hint="this tool failed unexpectedly; try another approach or report the bug",
                    error_type=type(exc).__name__,
                ),
            )
        if not isinstance(result, BaseModel):
            result = spec.result_model.model_validate(result)
        return done(ok=True, result=result.model_dump(mode="json"))


def parse_arguments(model: type[BaseModel], arguments: Mapping[str, Any] | str | BaseModel | None) -> BaseModel:
    """Turn a model's raw arguments (JSON text, a dict, or the model itself) into ``model``."""
    if isinstance(arguments, model):
        return arguments
    if isinstance(arguments, BaseModel):
        arguments = arguments.model_dump()
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        arguments = {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the arguments are not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(arguments, Mapping):
        raise ValueError("the arguments must be a JSON object")
    return model.model_validate(dict(arguments))


def default_toolset(ctx: ToolContext) -> Toolset:
    """The project's tools, as both the CLI and the agent see them. All are read-only; tools that
    change the disk or spend money are added with ``side_effects=True`` by whoever owns them."""
    del ctx  # every tool takes the context at call time; none is conditional yet
    from comfyfixer.tools import tool_adapters as ta
    from comfyfixer.tools.hardware import hardware_profile
    from comfyfixer.tools.knowledge import search_knowledge

    return Toolset([
        ToolSpec.from_function(search_knowledge),
        ta.inspect_spec(),
        ta.readiness_spec(),
        *ta.resolve_specs(),
        ta.image_metadata_spec(),
        ta.reconstruct_spec(),
        ToolSpec.from_function(hardware_profile),
    ])
