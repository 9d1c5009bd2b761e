"""Parse UI-format workflows (``nodes``/``links``) into a flattened ``Graph``.

Untrusted input: every field a node or link may carry is checked for its type, and a
field of the wrong type (``inputs: 5``, ``pos: "x"``, ``properties: []``, a link with
three entries, a node without an id, ...) becomes a warning naming the node or link
and is ignored, never a traceback. The first ``MAX_FIELD_WARNINGS`` are kept, then a
count. A graph that flattens to more than ``MAX_NODES`` nodes is refused (see
``graph.MAX_NODES``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from comfyfixer.tools.workflow.graph import MAX_NODES, MODE_ALWAYS, Graph, GraphNode, Link, too_many_nodes

__all__ = ["MAX_NODES", "MAX_SUBGRAPH_DEPTH", "parse_ui"]

MAX_SUBGRAPH_DEPTH = 16
MAX_FIELD_WARNINGS = 200

# Node fields and the JSON types LiteGraph writes for them. ``pos``/``size`` are [x, y] or, from older
# frontends that serialised a Float32Array, {"0": x, "1": y}.
_NODE_FIELDS: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "mode": (int, float),
    "inputs": (list,),
    "outputs": (list,),
    "widgets_values": (list, dict),
    "properties": (dict,),
    "title": (str,),
    "pos": (list, dict),
    "size": (list, dict),
    "flags": (dict,),
    "order": (int, float),
}
_SLOT_FIELDS: dict[str, tuple[tuple[str, tuple[type, ...]], ...]] = {
    "inputs": (("name", (str,)), ("widget", (dict,)), ("link", (int,))),
    "outputs": (("name", (str,)), ("links", (list,)), ("slot_index", (int,))),
}
_JSON_TYPE = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean",
              type(None): "null"}


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    return _JSON_TYPE.get(type(value), type(value).__name__)


def _has_type(value: Any, types: tuple[type, ...]) -> bool:
    """JSON type check: a boolean is no number, and any Mapping counts as an object."""
    if isinstance(value, bool):
        return False
    return isinstance(value, types) or (dict in types and isinstance(value, Mapping))


def _slot(value: Any) -> int:
    """A slot index: an int (or an integral float), anything else is malformed."""
    if isinstance(value, bool):
        raise ValueError("a boolean slot")
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int):
        raise ValueError(f"slot is {_json_type(value)}")
    return value


def _node_ref(value: Any) -> Any:
    """A node id inside a link: an int or a string."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"node id is {_json_type(value)}")
    return value


def _link_tuple(link: Any) -> tuple[Any, Any, int, Any, int]:
    """(id, origin, origin_slot, target, target_slot) from array or object links; ValueError says what is wrong."""
    if isinstance(link, list | tuple):
        if len(link) < 5:
            raise ValueError(f"an array of {len(link)} entries, not [id, origin, slot, target, slot, type]")
        return link[0], _node_ref(link[1]), _slot(link[2]), _node_ref(link[3]), _slot(link[4])
    if isinstance(link, Mapping):
        return (link.get("id"), _node_ref(link.get("origin_id")), _slot(link.get("origin_slot")),
                _node_ref(link.get("target_id")), _slot(link.get("target_slot")))
    raise ValueError(f"{_json_type(link)}, not an array or object")


def _mode(fields: Mapping[str, Any]) -> int:
    """The node's mode from its checked fields (a mode of the wrong type was warned about: always)."""
    mode = fields.get("mode")
    if isinstance(mode, float):  # JSON allows 4.0, and Python's parser NaN and Infinity
        return int(mode) if mode.is_integer() else MODE_ALWAYS
    return mode if isinstance(mode, int) and not isinstance(mode, bool) else MODE_ALWAYS


class _UIBuilder:
    def __init__(self, data: Mapping[str, Any], origin: str) -> None:
        self.data = data
        self.origin = origin
        self.graph = Graph(format="ui", raw=dict(data))
        self.subgraphs: dict[str, Mapping[str, Any]] = {}
        self.group_nodes: dict[str, Mapping[str, Any]] = {}
        self.node_count = 0  # flattened nodes and subgraph instances so far
        self.field_warnings = 0
        self._collect_subgraphs(data)
        extra = data.get("extra") if isinstance(data.get("extra"), Mapping) else {}
        groups = extra.get("groupNodes") if isinstance(extra, Mapping) else None
        if isinstance(groups, Mapping):
            self.group_nodes = {str(k): v for k, v in groups.items() if isinstance(v, Mapping)}
            self.graph.group_node_names = set(self.group_nodes)

    def expect(self, value: Any, kind: type, label: str) -> Any:
        """``value`` if it has the JSON type ``kind`` (``list`` or ``Mapping``); else ``None``, with a
        warning naming ``label`` unless the field is simply absent."""
        if value is None or isinstance(value, kind):
            return value
        self.warn(f"{label} is {_json_type(value)}, not {'a list' if kind is list else 'an object'}; ignored")
        return None

    def warn(self, message: str) -> None:
        """A malformed field: kept up to MAX_FIELD_WARNINGS, then only counted."""
        self.field_warnings += 1
        if self.field_warnings <= MAX_FIELD_WARNINGS:
            self.graph.warnings.append(message)

    def count(self, n: int = 1) -> None:
        self.node_count += n
        if self.node_count > MAX_NODES:
            raise too_many_nodes(self.origin, self.node_count)

    def _collect_subgraphs(self, container: Mapping[str, Any], depth: int = 0) -> None:
        if depth > MAX_SUBGRAPH_DEPTH:
            return
        defs = self.expect(container.get("definitions"), Mapping, "'definitions'")
        subgraphs = self.expect(defs.get("subgraphs"), list, "'definitions.subgraphs'") if defs else None
        if subgraphs is None:
            return
        for i, sg in enumerate(subgraphs):
            if isinstance(sg, Mapping) and isinstance(sg.get("id"), str | int) and sg.get("id") != "":
                sid = str(sg["id"])
                self.subgraphs.setdefault(sid, sg)
                name = sg.get("name")
                self.graph.subgraph_names[sid] = name if isinstance(name, str) and name else sid
                self._collect_subgraphs(sg, depth + 1)
            else:
                self.warn(f"subgraph definition #{i} has no id (or is not an object); ignored")

    def flat_size(self, nodes: Any, stack: tuple[str, ...], memo: dict[str, int]) -> int:
        """How many nodes ``nodes`` flatten to, counted before anything is built (stops once over MAX_NODES).

        Nested subgraphs multiply (A holds 50 B, B holds 50 C, ...): counting first refuses such a
        file at once instead of after building a hundred thousand nodes.
        """
        if not isinstance(nodes, list):
            return 0
        total = 0
        for node in nodes:
            ntype = node.get("type") if isinstance(node, Mapping) else None
            total += 1
            if isinstance(ntype, str) and ntype in self.subgraphs:
                if ntype not in stack and len(stack) < MAX_SUBGRAPH_DEPTH:
                    if ntype not in memo:
                        memo[ntype] = self.flat_size(self.subgraphs[ntype].get("nodes"), (*stack, ntype), memo)
                    total += memo[ntype]
            elif isinstance(ntype, str) and ntype.startswith(("workflow>", "workflow/")):
                inner = self.group_nodes.get(ntype[len("workflow") + 1 :], {}).get("nodes")
                total += len(inner) if isinstance(inner, list) else 0
            if total > MAX_NODES:
                break
        return total

    def build(self) -> Graph:
        nodes = self.data.get("nodes") or []
        size = self.flat_size(nodes, (), {})
        if size > MAX_NODES:  # refused before building anything
            raise too_many_nodes(self.origin, size)
        self._add_nodes(nodes, self.data.get("links"), prefix="", scope="top", stack=())
        if self.field_warnings > MAX_FIELD_WARNINGS:
            self.graph.warnings.append(
                f"{self.field_warnings - MAX_FIELD_WARNINGS} more malformed fields not listed (first {MAX_FIELD_WARNINGS} shown)"
            )
        return self.graph

    def _node_fields(self, node: Mapping[str, Any], nid: str) -> dict[str, Any]:
        """The node's known fields with their JSON types checked: wrong ones are warned about and dropped."""
        fields: dict[str, Any] = {}
        for name, types in _NODE_FIELDS.items():
            value = node.get(name)
            if value is None:
                continue
            if type(value) in types:  # the common case, at the cost of one lookup (bool is not int here)
                fields[name] = value
                continue
            if not _has_type(value, types):
                expected = " or ".join(dict.fromkeys(_JSON_TYPE[t] for t in types))
                self.warn(f"node {nid}: '{name}' is {_json_type(value)}, not {expected}; ignored")
                continue
            fields[name] = value
        mode = fields.get("mode")
        if isinstance(mode, float) and not mode.is_integer():
            self.warn(f"node {nid}: 'mode' is {mode}, not a whole number; ignored")
            del fields["mode"]
        for name in ("inputs", "outputs"):
            slots = fields.get(name)
            if slots is None:
                continue
            if not all(type(s) is dict for s in slots):
                good = [s for s in slots if isinstance(s, Mapping)]
                if len(good) != len(slots):
                    bad = next(i for i, s in enumerate(slots) if not isinstance(s, Mapping))
                    self.warn(f"node {nid}: {name}[{bad}] is {_json_type(slots[bad])}, not an object"
                              f"{f' ({len(slots) - len(good)} such)' if len(slots) - len(good) > 1 else ''}; ignored")
                slots = [dict(s) for s in good]
            fields[name] = self._check_slots(slots, name, nid)
        return fields

    def _check_slots(self, slots: list[dict[str, Any]], kind: str, nid: str) -> list[dict[str, Any]]:
        """Slot fields the inspector reads (``name``, ``widget``) or that locate links; a wrong type is dropped
        from a copy (the workflow's own dicts are never changed)."""
        checks = _SLOT_FIELDS[kind]
        out = slots
        for i, slot in enumerate(slots):
            for key, types in checks:
                value = slot.get(key)
                if value is not None and type(value) not in types and not _has_type(value, types):
                    expected = " or ".join(dict.fromkeys(_JSON_TYPE[t] for t in types))
                    self.warn(f"node {nid}: {kind}[{i}].{key} is {_json_type(value)}, not {expected}; ignored")
                    if out is slots:
                        out = list(slots)
                    out[i] = {k: v for k, v in out[i].items() if k != key}
        return out

    def _add_nodes(
        self, nodes: Any, links: Any, *, prefix: str, scope: str, stack: tuple[str, ...], parent_mode: int = MODE_ALWAYS
    ) -> None:
        if not isinstance(nodes, list):
            self.warn(f"{scope}: 'nodes' is {_json_type(nodes)}, not a list; ignored")
            return
        where = "" if scope == "top" else f" in {scope}"
        for index, node in enumerate(nodes):
            if not isinstance(node, Mapping):
                self.warn(f"node #{index}{where} is {_json_type(node)}, not an object; skipped")
                continue
            raw_id = node.get("id")
            if raw_id is None or isinstance(raw_id, bool) or not isinstance(raw_id, int | str):
                what = "has no id" if raw_id is None else f"has an id that is {_json_type(raw_id)}"
                ntype_hint = node.get("type")
                self.warn(f"node #{index}{where}"
                          f"{f' ({ntype_hint})' if isinstance(ntype_hint, str) else ''} {what}; skipped")
                continue
            nid = prefix + str(raw_id)
            fields = self._node_fields(node, nid)
            ntype = fields.get("type") or ""
            if not ntype and isinstance(node.get("class_type"), str):
                ntype = node["class_type"]
            mode = _mode(fields)
            if parent_mode != MODE_ALWAYS and mode == MODE_ALWAYS:
                mode = parent_mode
            if ntype in self.subgraphs:
                self.count()
                self.graph.instances[nid] = GraphNode(
                    id=nid, class_type=ntype, mode=mode, scope=scope,
                    ui_inputs=fields.get("inputs", []), ui_outputs=fields.get("outputs", []),
                )
                self._expand_subgraph(node, nid, ntype, stack, mode)
                continue
            group_name = self._group_name(ntype)
            if group_name is not None:
                self._expand_group_node(node, nid, group_name, scope, mode)
                continue
            if not ntype:
                self.warn(f"node {nid} has no type; skipped")
                continue
            self.count()
            self.graph.nodes[nid] = GraphNode(
                id=nid,
                class_type=ntype,
                mode=mode,
                widgets_values=fields.get("widgets_values"),
                properties=dict(fields.get("properties") or {}),
                title=fields.get("title"),
                scope=scope,
                ui_inputs=fields.get("inputs", []),
                ui_outputs=fields.get("outputs", []),
            )
        self._add_links(links, prefix, where)

    def _add_links(self, links: Any, prefix: str, where: str = "") -> None:
        links = self.expect(links, list, f"'links'{where}")
        if links is None:
            return
        for index, raw in enumerate(links):
            try:
                lid, origin, oslot, target, tslot = _link_tuple(raw)
            except ValueError as exc:
                lid = raw[0] if isinstance(raw, list | tuple) and raw else raw.get("id") if isinstance(raw, Mapping) else None
                name = f"link {lid}" if isinstance(lid, int | str) and not isinstance(lid, bool) else f"link #{index}"
                self.warn(f"{name}{where} is malformed ({exc}); ignored")
                continue
            key = f"{prefix}{lid}"
            self.graph.links[key] = (prefix + str(origin), oslot, prefix + str(target), tslot)

    def _expand_subgraph(self, node: Mapping[str, Any], nid: str, sid: str, stack: tuple[str, ...], mode: int) -> None:
        name = self.graph.subgraph_names.get(sid, sid)
        if sid in stack or len(stack) >= MAX_SUBGRAPH_DEPTH:
            self.warn(f"subgraph '{name}' contains itself (via node {nid}); not expanded again")
            return
        sg = self.subgraphs[sid]
        self._add_nodes(
            sg.get("nodes") or [], sg.get("links") or [], prefix=nid + ":", scope=f"subgraph:{name}",
            stack=(*stack, sid), parent_mode=mode,
        )

    def _group_name(self, ntype: str) -> str | None:
        for sep in (">", "/"):
            if ntype.startswith("workflow" + sep):
                name = ntype[len("workflow") + 1 :]
                if name in self.group_nodes:
                    return name
                self.warn(f"group node type '{ntype}' has no definition in extra.groupNodes")
                return None
        return None

    def _expand_group_node(self, node: Mapping[str, Any], nid: str, name: str, scope: str, mode: int) -> None:
        definition = self.group_nodes[name]
        where = f" in group node '{name}'"
        inner = self.expect(definition.get("nodes") or [], list, f"group node '{name}': 'nodes'") or []
        instance_values = node.get("widgets_values")
        self.count(len(inner))
        for idx, inner_node in enumerate(inner):
            if not isinstance(inner_node, Mapping):
                self.warn(f"node #{idx}{where} is {_json_type(inner_node)}, not an object; skipped")
                continue
            index = inner_node.get("index", idx)
            iid = f"{nid}:{index if isinstance(index, int | str) and not isinstance(index, bool) else idx}"
            fields = self._node_fields(inner_node, iid)
            self.graph.nodes[iid] = GraphNode(
                id=iid,
                class_type=fields.get("type") or "",
                mode=mode,
                widgets_values=fields.get("widgets_values"),
                properties=dict(fields.get("properties") or {}),
                scope=f"group:{name}",
                ui_inputs=fields.get("inputs", []),
                ui_outputs=fields.get("outputs", []),
            )
        # The instance's own values override the definition's defaults; kept for the model scan.
        if isinstance(instance_values, list) and instance_values:
            self.graph.nodes[nid] = GraphNode(
                id=nid, class_type=f"workflow>{name}", mode=mode, widgets_values=instance_values, scope=scope
            )
        links = self.expect(definition.get("links") or [], list, f"group node '{name}': 'links'")
        if links is None:
            return
        for index, raw in enumerate(links):
            # Group node links are [origin index, origin slot, target index, target slot, ...].
            if isinstance(raw, list | tuple) and len(raw) >= 4 and (raw[0] is None or raw[2] is None):
                continue  # an end outside the group (the instance's own input or output): no inner link
            try:
                if not isinstance(raw, list | tuple) or len(raw) < 4:
                    raise ValueError(f"{_json_type(raw)} of the wrong shape")
                origin, oslot, target, tslot = _node_ref(raw[0]), _slot(raw[1]), _node_ref(raw[2]), _slot(raw[3])
            except ValueError as exc:
                self.warn(f"link #{index}{where} is malformed ({exc}); ignored")
                continue
            key = f"{nid}:g{origin}-{target}-{tslot}"
            self.graph.links[key] = (f"{nid}:{origin}", oslot, f"{nid}:{target}", tslot)


def parse_ui(data: Mapping[str, Any], *, origin: str = "<workflow>") -> Graph:
    """Flatten a UI workflow: subgraph instances and group nodes become their inner nodes.

    Malformed fields become warnings in ``graph.warnings``; more than ``MAX_NODES`` flattened
    nodes raise ``WorkflowFormatError`` naming ``origin``.
    """
    graph = _UIBuilder(data, origin).build()
    _resolve_input_links(graph)
    return graph



def _resolve_input_links(graph: Graph) -> None:
    """Turn UI links into ``Link`` inputs on their target nodes (named by the target slot's name)."""
    for origin, oslot, target, tslot in graph.links.values():
        tnode = graph.nodes.get(target)
        if tnode is None:
            continue
        if 0 <= tslot < len(tnode.ui_inputs):
            slot = tnode.ui_inputs[tslot]
            name = slot.get("name")
            widget = slot.get("widget")
            if isinstance(widget, Mapping) and widget.get("name"):
                name = widget["name"]
            if isinstance(name, str):
                tnode.inputs[name] = Link(origin, oslot)
