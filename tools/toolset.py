"""The capability contract and its registry: every job declared once, reached the same way by the
CLI and the assistant.

A capability is a plain typed function with one pydantic input and one pydantic result::

    @capability(command="knowledge")
    def search_knowledge(query: KnowledgeQuery, ctx: ToolContext) -> KnowledgeResult:
        \"\"\"Search the knowledge pack ...\"\"\"

The decorator reads the input model, the result model and the description (the docstring — the one
text both a user and a language model read) from the function itself and leaves the function as it
was, so it can still be called directly. :func:`tool_registry` lists the project's capabilities once;
the CLI runs them with :meth:`Registry.run`, the assistant with :meth:`Registry.call`, which parses and
validates a model's raw arguments once and never raises.

Registration refuses a capability whose docstring is missing, whose input model has a field without
``Field(description=...)`` (that schema is all a model ever sees), or whose input lets the caller
choose where to write, a cache or a secret (:data:`CALLER_ONLY_FIELD`): those come from the
:class:`ToolContext`.

``side_effects=True`` marks a capability that changes the disk or spends money. :meth:`Registry.call`
refuses it unless the caller passes ``allow_side_effects=True``, which only code acting on a user's
approval does.
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
    arguments: dict[str, Any] | str = Field(default_factory=dict, description="The arguments as validated (or as sent).")
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


CapabilityFunc = Callable[[Any, ToolContext], BaseModel]

# Input fields that only the caller's side may set: where to write, caches, credentials, state.
CALLER_ONLY_FIELD = re.compile(
    r"(^|_)(out|output|dest|destination|target|cache|state|token|secret|password|api_key|key)(_|$)|_dir$|_dirs$",
    re.I,
)


@dataclass(frozen=True)
class Capability:
    """One capability: its name, description, input and result models, and the function itself.

    ``command`` names the CLI command that runs it (``"check"``, ``"image read"``); ``None`` marks
    an assistant-only capability.
    """

    name: str
    description: str
    input_model: type[BaseModel]
    result_model: type[BaseModel]
    func: CapabilityFunc
    command: str | None = None
    side_effects: bool = False

    def __post_init__(self) -> None:
        check_spec(self)

    @classmethod
    def from_function(
        cls, func: Callable[..., Any], *, name: str | None = None, command: str | None = None,
        side_effects: bool = False,
    ) -> Capability:
        """Build a capability from ``func(input: InputModel, ctx: ToolContext) -> ResultModel``."""
        try:
            hints = typing.get_type_hints(func)
        except NameError as exc:
            raise ToolRegistrationError(f"{func.__qualname__}: cannot resolve annotations ({exc})") from None
        params = [p for p in inspect.signature(func).parameters.values() if p.kind != p.KEYWORD_ONLY]
        if len(params) != 2 or hints.get(params[1].name) is not ToolContext:
            raise ToolRegistrationError(
                f"{func.__qualname__}: a capability takes (input: <pydantic model>, ctx: ToolContext)")
        input_model = hints.get(params[0].name)
        result = hints.get("return")
        if not (isinstance(input_model, type) and issubclass(input_model, BaseModel)):
            raise ToolRegistrationError(f"{func.__qualname__}: the first parameter must be a pydantic model")
        if not (isinstance(result, type) and issubclass(result, BaseModel)):
            raise ToolRegistrationError(f"{func.__qualname__}: the return annotation must be a pydantic model")
        return cls(name=name or func.__name__, description=inspect.getdoc(func) or "", input_model=input_model,
                   result_model=result, func=func, command=command, side_effects=side_effects)


def capability(
    *, command: str | None = None, side_effects: bool = False, name: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare ``func`` a capability (checked at once); the function itself is returned unchanged."""

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        func.__capability__ = Capability.from_function(  # type: ignore[attr-defined]
            func, name=name, command=command, side_effects=side_effects)
        return func

    return wrap


def capability_of(func: Callable[..., Any]) -> Capability:
    """The :class:`Capability` declared on ``func`` with :func:`capability`."""
    cap = getattr(func, "__capability__", None)
    if not isinstance(cap, Capability):
        raise ToolRegistrationError(f"{getattr(func, '__qualname__', func)!r} is not declared with @capability")
    return cap


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


def caller_only_fields(model: type[BaseModel]) -> list[str]:
    """Dotted names of input fields (nested models included) that name a place to write, a cache or a
    secret — things only the caller's side may decide."""
    schema = model.model_json_schema()
    found = [key for key in (schema.get("properties") or {}) if CALLER_ONLY_FIELD.search(key)]
    for def_name, sub in (schema.get("$defs") or {}).items():
        found += [f"{def_name}.{key}" for key in (sub.get("properties") or {}) if CALLER_ONLY_FIELD.search(key)]
    return found


def check_spec(spec: Capability) -> None:
    """Raise :class:`ToolRegistrationError` when ``spec`` breaks the capability contract."""
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
    forbidden = caller_only_fields(spec.input_model)
    if forbidden:
        raise ToolRegistrationError(
            f"tool {spec.name!r}: input fields a caller must not choose (take them from the ToolContext): "
            f"{', '.join(forbidden)}"
        )


def compact_validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Validation errors as short dicts: where, what, and no documentation URLs or echoed input."""
    out = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False)[:MAX_VALIDATION_ERRORS]:
        out.append({"field": ".".join(str(p) for p in err["loc"]) or "(arguments)", "problem": err["msg"]})
    return out


class Registry:
    """An ordered collection of capabilities with one typed way to run them (the CLI) and one
    validating, never-raising way to call them with a model's raw arguments (the assistant)."""

    def __init__(self, capabilities: Iterable[Capability | Callable[..., Any]] = ()) -> None:
        self._caps: dict[str, Capability] = {}
        #: Called with each capability's name as it starts, whichever surface called it.
        self.observers: list[Callable[[str], None]] = []
        for cap in capabilities:
            self.add(cap)

    def add(self, cap: Capability | Callable[..., Any]) -> None:
        """Register a capability (or a function declared with :func:`capability`); names are unique."""
        spec = cap if isinstance(cap, Capability) else capability_of(cap)
        check_spec(spec)
        if spec.name in self._caps:
            raise ToolRegistrationError(f"tool {spec.name!r} is registered twice")
        self._caps[spec.name] = spec

    def __iter__(self) -> Iterator[Capability]:
        return iter(self._caps.values())

    def __len__(self) -> int:
        return len(self._caps)

    def __contains__(self, name: object) -> bool:
        return name in self._caps

    def names(self) -> list[str]:
        """The capability names, in registration order."""
        return list(self._caps)

    def get(self, name: str) -> Capability | None:
        """The capability called ``name``, if registered."""
        return self._caps.get(name)

    def subset(self, names: Iterable[str]) -> Registry:
        """A registry of just ``names`` (in that order), sharing this one's observers."""
        sub = Registry(self._caps[n] for n in names if n in self._caps)
        sub.observers = self.observers
        return sub

    def run(self, name: str, args: BaseModel, ctx: ToolContext, **caller_options: Any) -> Any:
        """Run ``name`` with an already-typed input, raising its errors (the CLI's way in).

        ``caller_options`` go to the capability's keyword-only parameters — choices only the user's
        side makes (where to save, a progress callback); no model-facing schema has them.
        """
        spec = self._caps[name]
        if not isinstance(args, spec.input_model):
            raise TypeError(f"{name} takes {spec.input_model.__name__}, not {type(args).__name__}")
        for observe in self.observers:
            observe(name)
        return spec.func(args, ctx, **caller_options)

    def call(
        self,
        name: str,
        arguments: Mapping[str, Any] | str | BaseModel | None,
        ctx: ToolContext,
        *,
        allow_side_effects: bool = False,
    ) -> ToolOutcome:
        """Parse and validate a model's raw ``arguments`` once, run the capability, and return a
        :class:`ToolOutcome`; never raises for a bad name, bad arguments or a failing capability."""
        start = time.perf_counter()
        spec = self._caps.get(name)
        args: BaseModel | None = None
        error: ToolError | None = None
        result: BaseModel | None = None
        if spec is None:
            error = ToolError(kind="unknown_tool", message=f"there is no tool named {name!r}",
                              hint="call one of: " + ", ".join(self._caps))
        elif spec.side_effects and not allow_side_effects:
            error = ToolError(kind="approval_required",
                              message=f"{name} changes the disk or spends money and needs the user's approval",
                              hint="propose it as a plan; the user approves it outside this conversation")
        else:
            try:
                args = parse_arguments(spec.input_model, arguments)
            except ValidationError as exc:
                error = ToolError(kind="invalid_arguments", message=f"the arguments for {name} do not match its schema",
                                  hint="fix the fields listed in details and call again",
                                  details=compact_validation_errors(exc))
            except ValueError as exc:
                error = ToolError(kind="invalid_arguments", message=str(exc), hint="send a JSON object")
        if spec is not None and args is not None:
            for observe in self.observers:
                observe(name)
            try:
                result = spec.func(args, ctx)
            except ComfyFixerError as exc:
                error = ToolError(kind="tool_error", message=exc.message, hint=exc.hint, error_type=type(exc).__name__)
            except Exception as exc:
                # A bug in a capability: keep the traceback in our log, show the model one line.
                log.exception("tool %s failed", name)
                error = ToolError(kind="internal_error", message=f"{type(exc).__name__}: {str(exc)[:300]}",
                                  hint="this tool failed unexpectedly; try another approach or report the bug",
                                  error_type=type(exc).__name__)
        return ToolOutcome(
            tool=name, ok=error is None, error=error,
            arguments=args.model_dump(mode="json") if args is not None else _raw(arguments),
            result=result.model_dump(mode="json") if result is not None else None,
            duration_ms=round((time.perf_counter() - start) * 1000, 2),
        )


def _raw(arguments: Any) -> dict[str, Any] | str:
    """Arguments that did not validate, kept for the trace as they came."""
    if isinstance(arguments, Mapping):
        return dict(arguments)
    return "" if arguments is None else str(arguments)[:2000]


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


# The modules that declare the project's capabilities, in the order the assistant lists them.
CAPABILITY_FUNCTIONS: tuple[tuple[str, str], ...] = (
    ("comfyfixer.tools.knowledge", "search_knowledge"),
    ("comfyfixer.tools.workflow.capability", "inspect_workflow"),
    ("comfyfixer.tools.readiness.check", "check_workflows"),
    ("comfyfixer.tools.resolver.tools", "resolve_model"),
    ("comfyfixer.tools.resolver.tools", "resolve_node"),
    ("comfyfixer.tools.resolver.tools", "resolve_workflow"),
    ("comfyfixer.tools.imagemeta.reader", "read_image_metadata"),
    ("comfyfixer.tools.reconstruct.tool", "reconstruct_workflow"),
    ("comfyfixer.tools.hardware", "hardware_profile"),
    ("comfyfixer.tools.fit.capability", "estimate_fit"),
    ("comfyfixer.tools.fit.tune", "tune_workflow"),
    ("comfyfixer.tools.review.review", "review_workflow"),
    ("comfyfixer.tools.review.diff", "diff_workflows"),
    ("comfyfixer.tools.identify.capability", "identify_model"),
    ("comfyfixer.tools.identify.workflows", "workflows_for_model"),
    ("comfyfixer.tools.identify.build", "build_workflow"),
    # Explicit requests only: the assistant is offered these only when the user asks for a schema.
    ("comfyfixer.tools.blueprints.capability", "list_schemas"),
    ("comfyfixer.tools.blueprints.capability", "build_schema"),
)


def tool_registry(extra: Iterable[Callable[..., Any]] = ()) -> Registry:
    """The project's capabilities (plus ``extra`` ones declared on the user-facing side), as both the
    CLI and the assistant see them. Declaration modules are imported here, on first use, so
    importing the contract stays cheap."""
    import importlib

    funcs = [getattr(importlib.import_module(module), name) for module, name in CAPABILITY_FUNCTIONS]
    return Registry([*funcs, *extra])
