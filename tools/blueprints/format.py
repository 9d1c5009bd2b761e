"""The workflow-schema format (``comfyfixer.workflow-schema/1``): a named, versioned build pattern.

A schema is data (``knowledge/schemas/<name>.json``, read through ``importlib.resources``); this module
is its one definition. The pydantic models below validate a file, and the JSON Schema shipped beside
the files (``knowledge/schemas/format.schema.json``) is generated from them
(``python -m comfyfixer.tools.blueprints.format`` rewrites it; a test keeps the two equal).

The shape, top down:

* ``roles``: named jobs in the chain (``detector``, ``segmenter``, ``mask_grow``, ``image_source``,
  ``tagger``, ``prompt_llm``…), in build order. Each role declares typed ``ports`` (its inputs and
  outputs, ComfyUI socket types) and ``candidates``: the ways to fill it, in order of preference.
  ``optional`` roles can be left out (``--with tagger=none``); ``reuse`` roles take an existing node
  of one of their classes when the chain is composed into a workflow.
* a candidate is a small graph: ``nodes`` (a key → ``class_type`` and ``inputs``), the ``packs`` that
  provide its classes (the ComfyUI-Manager catalog's id and repository; none for core nodes), which
  node inputs each role input port feeds, and which node output is each role output port.
* an input value is a literal, ``{"param": NAME}`` (a user parameter), or ``{"node": KEY, "slot": N}``
  (an output of another node of the same candidate).
* ``connections`` wire the roles: ``{"from": "role.port", "to": "role.port"}``. When the source role
  is left out, the target's port takes its ``default`` value, or, without one, its node inputs stay
  unset (they must then be optional inputs).
* ``parameters``: what the user may set (``--set target=hand``), with defaults.
* ``requires``: other schemas built in with this one, their roles prefixed ``<alias>/``; ``bind``
  replaces a role of the required schema by a port of this one (``"image_source.image":
  "image_source.image"``: use our image source, drop theirs).
* ``sources``: where the classes, inputs and wiring were taken from (pack files, real workflows).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from comfyfixer.tools.errors import InputError

FORMAT = "comfyfixer.workflow-schema/1"
PACKAGE = "comfyfixer.knowledge"
FOLDER = "schemas"
FORMAT_FILE = "format.schema.json"
_KEY = r"^[a-z][a-z0-9_]{0,39}$"
_NAME = r"^[a-z][a-z0-9-]{0,39}$"
_VERSION = r"^\d+\.\d+\.\d+$"
# A port reference: "role.port", a required schema's role as "alias/role.port".
PORT_REF = re.compile(r"^(?:([a-z][a-z0-9_]{0,39})/)?([a-z][a-z0-9_]{0,39})\.([a-z][a-z0-9_]{0,39})$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Pack(_Strict):
    """A node pack that provides a candidate's classes, as ComfyUI-Manager's catalog names it."""

    id: str | None = Field(description="The pack's id in ComfyUI-Manager's custom-node-list (its cnr id); null "
                                       "for a pack the catalog lists without one.")
    repo: str = Field(pattern=r"^https://github\.com/[\w.-]+/[\w.-]+$", description="The pack's git repository.")


class NodeLink(_Strict):
    """An input fed by output ``slot`` of another node of the same candidate."""

    node: str = Field(pattern=_KEY, description="The key of the source node.")
    slot: int = Field(ge=0, description="The source node's output index.")


class ParamRef(_Strict):
    """An input set from a user parameter."""

    param: str = Field(pattern=_KEY, description="The parameter's name.")


InputValue = NodeLink | ParamRef | str | int | float | bool | None


class NodeSpec(_Strict):
    """One node of a candidate."""

    class_type: str = Field(min_length=1, max_length=120, description="The node class, as object_info names it.")
    inputs: dict[str, InputValue] = Field(default_factory=dict, description="Input name → literal, parameter or link.")
    title: str | None = Field(default=None, max_length=80, description="A title shown in the editor.")


class NodeInput(_Strict):
    """One node input a role input port feeds."""

    node: str = Field(pattern=_KEY, description="The node's key.")
    input: str = Field(min_length=1, max_length=80, description="The input's name.")


class Candidate(_Strict):
    """One way to fill a role: a small graph of real node classes and the packs providing them."""

    id: str = Field(pattern=_KEY, description="The candidate's id (for --with role=ID).")
    label: str = Field(description="One line for the user.")
    packs: list[Pack] = Field(default_factory=list, description="Packs providing the classes; empty for core nodes.")
    nodes: dict[str, NodeSpec] = Field(min_length=1, description="The nodes, by key, in build order.")
    inputs: dict[str, list[NodeInput]] = Field(default_factory=dict, description="Role input port → node inputs.")
    outputs: dict[str, NodeLink] = Field(default_factory=dict, description="Role output port → node output.")

    def classes(self) -> list[str]:
        """The node classes this candidate uses, in order, once each."""
        return list(dict.fromkeys(n.class_type for n in self.nodes.values()))


class Port(_Strict):
    """A typed port of a role."""

    type: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$", description="The ComfyUI socket type (IMAGE, MASK, STRING…).")
    default: str | int | float | bool | None = Field(
        default=None, description="The value an input port takes when its source role is left out.")
    description: str = Field(default="", description="What flows through the port.")


class Ports(_Strict):
    """A role's input and output ports."""

    inputs: dict[str, Port] = Field(default_factory=dict, description="Input ports by name.")
    outputs: dict[str, Port] = Field(default_factory=dict, description="Output ports by name.")


class Role(_Strict):
    """A job in the chain and the candidates that can do it, in order of preference."""

    description: str = Field(description="What the role does.")
    optional: bool = Field(default=False, description="The role may be left out (--with ROLE=none).")
    reuse: bool = Field(default=False, description="Composed into a workflow, an existing node of one of the "
                                                   "candidates' classes is used instead of a new one.")
    ports: Ports = Field(default_factory=Ports, description="The role's typed ports.")
    candidates: list[Candidate] = Field(min_length=1, description="The ways to fill the role, best first.")


class Connection(_Strict):
    """A role output port wired to a role input port."""

    from_: str = Field(alias="from", pattern=PORT_REF.pattern, description="role.port (an output).")
    to: str = Field(pattern=PORT_REF.pattern, description="role.port (an input).")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Parameter(_Strict):
    """A value the user may set when building."""

    type: Literal["string", "int", "float", "bool"] = Field(description="The value's type.")
    default: str | int | float | bool = Field(description="The value used when the user sets none.")
    description: str = Field(description="What it changes.")
    choices: list[str] | None = Field(default=None, description="The allowed values, when a fixed list.")


class Requirement(_Strict):
    """Another schema built in with this one."""

    schema_: str = Field(alias="schema", pattern=_NAME, description="The required schema's name.")
    alias: str = Field(pattern=_KEY, description="Prefix of its roles here (alias/role).")
    bind: dict[str, str] = Field(default_factory=dict, description="Its output port (role.port) → ours: the "
                                                                   "role is dropped and ours used instead.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Source(_Strict):
    """Where part of the schema was taken from."""

    kind: Literal["pack", "workflow", "catalog", "doc"] = Field(description="A pack's source file, a real "
                                                                           "workflow, the Manager catalog, a document.")
    ref: str = Field(description="Repository and file (with commit when known), or a corpus path.")
    used_for: str = Field(description="What was taken from it.")


class Blueprint(_Strict):
    """One workflow schema."""

    format: Literal["comfyfixer.workflow-schema/1"] = Field(description="The format and its version.")
    name: str = Field(pattern=_NAME, description="The schema's name (comfyfixer schema build NAME).")
    version: str = Field(pattern=_VERSION, description="The schema's own version (semver).")
    title: str = Field(description="One line for lists.")
    description: str = Field(description="What the built chain does.")
    requires: list[Requirement] = Field(default_factory=list, description="Schemas built in with this one.")
    parameters: dict[str, Parameter] = Field(default_factory=dict, description="User parameters by name.")
    roles: dict[str, Role] = Field(min_length=1, description="The roles, by name, in build order.")
    connections: list[Connection] = Field(default_factory=list, description="How the roles are wired.")
    sources: list[Source] = Field(min_length=1, description="Where the classes and wiring come from.")

    @model_validator(mode="after")
    def _references(self) -> Blueprint:
        problems = reference_problems(self)
        if problems:
            raise ValueError("; ".join(problems[:6]))
        return self


def reference_problems(bp: Blueprint) -> list[str]:
    """What inside ``bp`` points at nothing: keys, ports, parameters (``requires`` targets are checked
    when loading, as they live in other files)."""
    out: list[str] = []
    for rname, role in bp.roles.items():
        if not re.match(_KEY, rname):
            out.append(f"role name {rname!r} must be snake_case")
        ids = [c.id for c in role.candidates]
        if len(set(ids)) != len(ids):
            out.append(f"role {rname}: candidate ids repeat")
        for cand in role.candidates:
            where = f"role {rname} candidate {cand.id}"
            for key, node in cand.nodes.items():
                if not re.match(_KEY, key):
                    out.append(f"{where}: node key {key!r} must be snake_case")
                for name, value in node.inputs.items():
                    if isinstance(value, NodeLink) and value.node not in cand.nodes:
                        out.append(f"{where}: {key}.{name} links to unknown node {value.node}")
                    if isinstance(value, ParamRef) and value.param not in bp.parameters:
                        out.append(f"{where}: {key}.{name} uses unknown parameter {value.param}")
            for port, targets in cand.inputs.items():
                if port not in role.ports.inputs:
                    out.append(f"{where}: input port {port} is not a port of the role")
                out += [f"{where}: port {port} feeds unknown node {t.node}" for t in targets if t.node not in cand.nodes]
            for port, link in cand.outputs.items():
                if port not in role.ports.outputs:
                    out.append(f"{where}: output port {port} is not a port of the role")
                if link.node not in cand.nodes:
                    out.append(f"{where}: output port {port} comes from unknown node {link.node}")
            out += [f"{where}: does not provide output port {p}" for p in role.ports.outputs if p not in cand.outputs]
    aliases = {r.alias for r in bp.requires}
    for req in bp.requires:
        for key, ours in req.bind.items():
            if not (PORT_REF.match(key) and PORT_REF.match(ours)) or "/" in key:
                out.append(f"requires {req.schema_}: bind {key!r} → {ours!r} must map role.port to role.port")
            elif ours.split(".")[0] not in bp.roles:
                out.append(f"requires {req.schema_}: bind target {ours} is not one of our roles")
    for conn in bp.connections:
        for ref, side in ((conn.from_, "outputs"), (conn.to, "inputs")):
            alias, rname, port = PORT_REF.match(ref).groups()  # type: ignore[union-attr]
            if alias is not None:
                if alias not in aliases:
                    out.append(f"connection {ref}: no required schema is called {alias}")
                continue
            target = bp.roles.get(rname)
            if target is None:
                out.append(f"connection {ref}: no role {rname}")
            elif port not in getattr(target.ports, side):
                out.append(f"connection {ref}: role {rname} has no {side[:-1]} port {port}")
    return out


def format_json_schema() -> dict[str, Any]:
    """The JSON Schema of the format, generated from :class:`Blueprint`."""
    schema = Blueprint.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = FORMAT
    return schema


def _folder() -> Any:
    return resources.files(PACKAGE).joinpath(FOLDER)


@cache
def schema_names() -> tuple[str, ...]:
    """The names of the shipped schemas, sorted."""
    return tuple(sorted(e.name[:-5] for e in _folder().iterdir()
                        if e.name.endswith(".json") and e.name != FORMAT_FILE))


def parse_blueprint(data: Any, origin: str) -> Blueprint:
    """``data`` as a :class:`Blueprint`; raises :class:`InputError` saying what is wrong."""
    try:
        return Blueprint.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[:4]
        said = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in first)
        raise InputError(f"{origin} is not a valid workflow schema: {said}",
                         hint=f"see knowledge/schemas/{FORMAT_FILE} for the format") from None


@cache
def load_blueprint(name: str) -> Blueprint:
    """The shipped schema called ``name``. Raises :class:`InputError` for a name we do not ship (a
    path-like name included: names are looked up, never opened as paths)."""
    if name not in schema_names():
        shown = name if re.fullmatch(r"[\w.-]{1,60}", name) else repr(name[:60])
        raise InputError(f"there is no workflow schema called {shown}",
                         hint="choose one of: " + ", ".join(schema_names()))
    text = _folder().joinpath(f"{name}.json").read_text(encoding="utf-8")
    bp = parse_blueprint(json.loads(text), f"knowledge/schemas/{name}.json")
    if bp.name != name:
        raise InputError(f"knowledge/schemas/{name}.json calls itself {bp.name!r}", hint="make the two agree")
    for req in bp.requires:
        if req.schema_ == name:
            raise InputError(f"schema {name} requires itself", hint="remove the requirement")
        load_blueprint(req.schema_)
    return bp


if __name__ == "__main__":  # regenerate knowledge/schemas/format.schema.json
    from pathlib import Path

    from comfyfixer.tools.paths import atomic_write

    target = Path(__file__).resolve().parents[2] / "knowledge" / FOLDER / FORMAT_FILE
    atomic_write(target, json.dumps(format_json_schema(), indent=2) + "\n")
