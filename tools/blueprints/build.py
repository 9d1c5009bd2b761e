"""Build a workflow from a schema: pick a candidate per role, wire the nodes, validate, convert.

1. :func:`flatten` turns a schema and the schemas it requires into one list of roles (a required
   schema's roles prefixed ``alias/``; a bound role dropped and its port replaced by ours), one list
   of connections and one set of parameters.
2. :func:`choose` picks, per role, the user's choice (``--with role=ID|NodeClass|none``), else the
   first candidate whose classes are all installed here, else the first candidate (its packs are then
   listed as missing, for a fix plan).
3. :func:`wire` lays the chosen candidates' nodes out as an API prompt (ids in role order) and wires
   the connections; a role composed into a workflow may reuse one of its existing nodes instead.
4. :func:`compose_into` adds the new nodes and links to a copy of a UI workflow, leaving every
   existing node, link, group and id as it was.

Validation is ComfyUI's own check (``validate_api``) against the node schemas: the context's (live
``/object_info`` or a saved one) or the bundled core snapshot, merged with the recorded ``object_info``
of the packs the chosen candidates use (``tools/schema/packs.py``); the context's win on clashes.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from comfyfixer.tools.blueprints.format import (
    Blueprint,
    Candidate,
    NodeLink,
    Pack,
    Parameter,
    ParamRef,
    Role,
    load_blueprint,
)
from comfyfixer.tools.errors import InputError
from comfyfixer.tools.text import inert
from comfyfixer.tools.workflow.copies import bump_ids, next_ids

log = logging.getLogger(__name__)

NONE = "none"
MAX_VALUE_CHARS = 4000
ROLE_BLOCK = 100  # API ids per role: role k has ids k*100+1 …
GAP = 200  # editor units between an existing workflow and the nodes added below it


@dataclass
class FlatSchema:
    """A schema with its requirements built in: roles in build order, connections, parameters."""

    blueprint: Blueprint
    roles: dict[str, Role]
    connections: list[tuple[str, str]]
    parameters: dict[str, Parameter]


@dataclass
class Choice:
    """The candidate picked for one role (None: an optional role left out)."""

    role: str
    candidate: Candidate | None
    installed: bool = True
    why: str = ""
    reused: int | None = None  # the UI id of an existing node the role reuses (compose_into)


@dataclass
class Wiring:
    """The API prompt, which role each node came from, and the stubs standing for reused nodes."""

    api: dict[str, dict[str, Any]]
    node_roles: dict[str, str] = field(default_factory=dict)
    stubs: dict[str, int] = field(default_factory=dict)  # API id → existing UI node id


def flatten(bp: Blueprint, prefix: str = "") -> FlatSchema:
    """``bp`` with every required schema built in (recursively), role names prefixed by their alias."""
    roles: dict[str, Role] = {}
    connections: list[tuple[str, str]] = []
    parameters: dict[str, Parameter] = {}
    for req in bp.requires:
        sub = flatten(load_blueprint(req.schema_), f"{prefix}{req.alias}/")
        bound = {f"{prefix}{req.alias}/{_role(k)}" for k in req.bind}
        replace = {f"{prefix}{req.alias}/{k}": _qualify(v, prefix) for k, v in req.bind.items()}
        roles.update({n: r for n, r in sub.roles.items() if n not in bound})
        connections += [(replace.get(a, a), b) for a, b in sub.connections if _role(b) not in bound]
        parameters.update(sub.parameters)
    roles.update({f"{prefix}{n}": r for n, r in bp.roles.items()})
    connections += [(_qualify(c.from_, prefix), _qualify(c.to, prefix)) for c in bp.connections]
    parameters.update(bp.parameters)
    return FlatSchema(bp, roles, connections, parameters)


def _qualify(ref: str, prefix: str) -> str:
    return f"{prefix}{ref}"


def _role(ref: str) -> str:
    return ref.rsplit(".", 1)[0]


def _shown(value: str) -> str:
    """A value from the user, safe to echo in one line."""
    return inert(value[:80]) if value.strip() else "(empty)"


def parameter_values(flat: FlatSchema, given: dict[str, Any]) -> dict[str, Any]:
    """Defaults with the user's ``given`` values, each checked against its parameter's type and choices."""
    values = {name: p.default for name, p in flat.parameters.items()}
    for name, raw in given.items():
        param = flat.parameters.get(name)
        if param is None:
            raise InputError(f"schema {flat.blueprint.name} has no parameter {_shown(str(name))}",
                             hint="its parameters: " + (", ".join(flat.parameters) or "none"))
        values[name] = _coerce(name, param, raw)
    return values


def _coerce(name: str, param: Parameter, raw: Any) -> Any:
    """``raw`` (text from a flag, or a JSON value) as the parameter's type."""
    try:
        if param.type == "bool":
            value: Any = raw if isinstance(raw, bool) else {"true": True, "false": False, "1": True,
                                                            "0": False}[str(raw).strip().lower()]
        elif param.type == "int":
            value = int(raw) if not isinstance(raw, bool) else None
        elif param.type == "float":
            value = float(raw) if not isinstance(raw, bool) else None
            if value is not None and not math.isfinite(value):  # JSON has no NaN or infinity
                raise InputError(f"parameter {name} must be a finite number, not {_shown(str(raw))}")
        else:
            value = str(raw)
    except (KeyError, ValueError, TypeError):
        value = None
    if value is None:
        kind = {"int": "an integer", "float": "a number", "bool": "true or false"}.get(param.type, f"a {param.type}")
        raise InputError(f"parameter {name} must be {kind}, not {_shown(str(raw))}")
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        raise InputError(f"parameter {name} is longer than {MAX_VALUE_CHARS} characters")
    if param.choices is not None and value not in param.choices:
        raise InputError(f"parameter {name} must be one of: {', '.join(param.choices)}")
    return value


def choose(flat: FlatSchema, wanted: dict[str, str], installed: set[str]) -> list[Choice]:
    """One :class:`Choice` per role, in build order (see the module docstring for the rule)."""
    unknown = [r for r in wanted if r not in flat.roles]
    if unknown:
        raise InputError(f"schema {flat.blueprint.name} has no role {_shown(unknown[0])}",
                         hint="its roles: " + ", ".join(flat.roles))
    choices = []
    for name, role in flat.roles.items():
        pick = wanted.get(name)
        if pick is not None and pick.strip().lower() == NONE:
            if not role.optional:
                raise InputError(f"role {name} of {flat.blueprint.name} cannot be left out",
                                 hint="choose one of: " + ", ".join(c.id for c in role.candidates))
            choices.append(Choice(name, None, why="left out as asked"))
            continue
        if pick is not None:
            cand = next((c for c in role.candidates if pick in (c.id, *c.classes())), None)
            if cand is None:
                raise InputError(f"role {name} has no candidate {_shown(pick)}",
                                 hint="choose a candidate id or one of its node classes: " + "; ".join(
                                     f"{c.id} ({', '.join(c.classes())})" for c in role.candidates))
            choices.append(Choice(name, cand, set(cand.classes()) <= installed, "chosen"))
            continue
        here = next((c for c in role.candidates if set(c.classes()) <= installed), None)
        if here is not None:
            choices.append(Choice(name, here, True, "installed here" if here.packs else "core nodes"))
        else:
            first = role.candidates[0]
            choices.append(Choice(name, first, False, "first preference; its pack is not installed here"))
    return choices


def missing_packs(choices: list[Choice], installed: set[str]) -> dict[str, tuple[Pack, list[str]]]:
    """Packs the chosen candidates need that are not installed, with the classes wanted from each."""
    from comfyfixer.tools.schema.packs import class_packs

    recorded = class_packs()  # class → the recorded pack folder (the repository's name) providing it
    out: dict[str, tuple[Pack, list[str]]] = {}
    for ch in choices:
        if ch.candidate is None or ch.installed or ch.reused is not None:
            continue
        packs = ch.candidate.packs
        for cls in (c for c in ch.candidate.classes() if c not in installed):
            pack = next((p for p in packs if p.repo.rsplit("/", 1)[-1] == recorded.get(cls)), packs[0] if packs else None)
            if pack is not None:
                entry = out.setdefault(pack.repo, (pack, []))
                if cls not in entry[1]:
                    entry[1].append(cls)
    return out


def wire(flat: FlatSchema, choices: list[Choice], values: dict[str, Any],
         existing: dict[int, str] | None = None) -> Wiring:
    """The API prompt for ``choices``. ``existing`` (UI id → class of a workflow's top-level nodes) lets
    ``reuse`` roles point at a node already there; such a node appears as a stub entry with no inputs."""
    w = Wiring(api={})
    outputs: dict[str, list[Any]] = {}  # "role.port" → [api id, slot]
    feeds: dict[str, list[tuple[str, str]]] = {}  # "role.port" → [(api id, input)]
    for block, ch in enumerate(choices, start=1):
        cand, role = ch.candidate, flat.roles[ch.role]
        if cand is None:
            continue
        reuse = _reusable(role, cand, existing) if existing else None
        if reuse is not None:
            ch.reused = reuse
            stub = f"r{reuse}"
            w.api[stub] = {"class_type": existing[reuse], "inputs": {}}  # type: ignore[index]
            w.stubs[stub] = reuse
            w.node_roles[stub] = ch.role
            for port, link in cand.outputs.items():
                outputs[f"{ch.role}.{port}"] = [stub, link.slot]
            continue
        # Ids in blocks of ROLE_BLOCK per role: choosing another candidate for one role never renumbers
        # the nodes of the others.
        ids = {key: str(block * ROLE_BLOCK + n) for n, key in enumerate(cand.nodes, start=1)}
        for key, spec in cand.nodes.items():
            inputs: dict[str, Any] = {}
            for name, value in spec.inputs.items():
                if isinstance(value, NodeLink):
                    inputs[name] = [ids[value.node], value.slot]
                elif isinstance(value, ParamRef):
                    inputs[name] = values[value.param]
                elif value is not None:
                    inputs[name] = value
            node: dict[str, Any] = {"class_type": spec.class_type, "inputs": inputs}
            node["_meta"] = {"title": spec.title or f"{ch.role}: {spec.class_type}"}
            w.api[ids[key]] = node
            w.node_roles[ids[key]] = ch.role
        for port, link in cand.outputs.items():
            outputs[f"{ch.role}.{port}"] = [ids[link.node], link.slot]
        for port, targets in cand.inputs.items():
            feeds[f"{ch.role}.{port}"] = [(ids[t.node], t.input) for t in targets]
    for src, dst in flat.connections:
        for nid, name in feeds.get(dst, []):
            if src in outputs:
                w.api[nid]["inputs"][name] = list(outputs[src])
            else:
                port = flat.roles[_role(dst)].ports.inputs[dst.rsplit(".", 1)[1]]
                if port.default is not None:
                    w.api[nid]["inputs"][name] = port.default
    return w


def _reusable(role: Role, cand: Candidate, existing: dict[int, str]) -> int | None:
    """The first existing node a ``reuse`` role can stand on: one whose class is the class every output
    port of ``cand`` comes from."""
    if not role.reuse or not cand.outputs:
        return None
    classes = {cand.nodes[link.node].class_type for link in cand.outputs.values()}
    if len(classes) != 1:
        return None
    cls = classes.pop()
    return next((nid for nid, c in existing.items() if c == cls), None)


def compose_into(doc: dict[str, Any], wiring: Wiring, ui: dict[str, Any], id_map: dict[str, int]) -> dict[str, Any]:
    """A copy of the UI workflow ``doc`` with ``ui``'s nodes and links added (``ui`` built by
    ``api_to_ui`` from ``wiring.api``, ``id_map`` its API id → UI id). Stub nodes are dropped and their
    links start from the existing node they stand for; the new nodes are placed below the old ones."""
    problem = composable_problem(doc)
    if problem:
        raise InputError(f"cannot compose into this workflow: {problem}",
                         hint="open and re-save it in ComfyUI, or build the schema on its own (--out)")
    out = copy.deepcopy(doc)
    nodes = out["nodes"]
    links = out.setdefault("links", [])
    first_node, first_link = next_ids(out)
    base_node, base_link = first_node - 1, first_link - 1
    stub_ui = {id_map[s]: existing for s, existing in wiring.stubs.items()}
    new_id: dict[int, int] = {}
    for uid in sorted(id_map.values()):
        if uid not in stub_ui:
            new_id[uid] = base_node + len(new_id) + 1
    by_id = {n["id"]: n for n in nodes}
    boxes = [(pos, _pair(n.get("size")) or (0.0, 0.0)) for n in nodes if (pos := _pair(n.get("pos")))]
    bottom = max((pos[1] + size[1] for pos, size in boxes), default=0.0)
    left = min((pos[0] for pos, _ in boxes), default=0.0)
    dict_links = bool(links) and isinstance(links[0], dict)
    link_id: dict[int, int] = {}
    for lk in ui["links"]:
        lid, src, src_slot, dst, dst_slot, typ = lk
        link_id[lid] = base_link + len(link_id) + 1
        src_id = stub_ui.get(src) or new_id[src]
        entry: Any = [link_id[lid], src_id, src_slot, new_id[dst], dst_slot, typ]
        if dict_links:
            entry = dict(zip(("id", "origin_id", "origin_slot", "target_id", "target_slot", "type"), entry, strict=True))
        links.append(entry)
        if src in stub_ui:
            _attach_output(by_id[stub_ui[src]], src_slot, typ, link_id[lid])
    for node in ui["nodes"]:
        if node["id"] in stub_ui:
            continue
        node = copy.deepcopy(node)
        node["id"] = new_id[node["id"]]
        node["pos"] = [left + node["pos"][0], bottom + GAP + node["pos"][1]]
        for slot in node.get("inputs", []):
            if slot.get("link") is not None:
                slot["link"] = link_id[slot["link"]]
        for slot in node.get("outputs", []):
            slot["links"] = [link_id[i] for i in slot.get("links") or []]
        nodes.append(node)
    out["last_node_id"] = base_node + len(new_id)
    out["last_link_id"] = base_link + len(link_id)
    bump_ids(out, out["last_node_id"], out["last_link_id"])
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _pair(value: Any) -> tuple[float, float] | None:
    """``[x, y]`` (or LiteGraph's ``{"0": x, "1": y}``) as two finite numbers, else None."""
    if isinstance(value, dict):
        value = [value.get("0"), value.get("1")]
    if not (isinstance(value, list | tuple) and len(value) == 2):
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        return None
    return float(value[0]), float(value[1])


def composable_problem(doc: dict[str, Any]) -> str | None:
    """What keeps a UI workflow from taking new nodes safely (ids and links we must number after), or None."""
    nodes, links = doc.get("nodes"), doc.get("links", [])
    if not isinstance(nodes, list) or not isinstance(links, list):
        return "its nodes or links are not lists"
    for key in ("last_node_id", "last_link_id"):
        if doc.get(key) is not None and not _is_int(doc[key]):
            return f"{key} is not a whole number"
    ids = set()
    for n in nodes:
        if not (isinstance(n, dict) and _is_int(n.get("id")) and isinstance(n.get("type"), str)):
            return "a node has no numeric id or no type"
        if n["id"] in ids:
            return f"node id {n['id']} is used twice"
        ids.add(n["id"])
        if "outputs" in n and not (isinstance(n["outputs"], list) and all(isinstance(o, dict) for o in n["outputs"])):
            return f"node {n['id']}'s outputs are not a list of slots"
    for lk in links:
        if not ((isinstance(lk, list) and len(lk) >= 6 and _is_int(lk[0]))
                or (isinstance(lk, dict) and _is_int(lk.get("id")))):
            return "a link has no numeric id"
    return None


def _attach_output(node: dict[str, Any], slot: int, typ: str, link: int) -> None:
    """Record ``link`` on output ``slot`` of an existing node (created when the node lists fewer)."""
    outs = node.setdefault("outputs", [])
    while len(outs) <= slot:
        outs.append({"name": typ, "type": typ, "links": [], "slot_index": len(outs)})
    if not isinstance(outs[slot].get("links"), list):
        outs[slot]["links"] = []
    outs[slot]["links"].append(link)

