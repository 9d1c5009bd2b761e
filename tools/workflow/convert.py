"""UI workflow → API prompt, as the frontend's ``graphToPrompt`` does it.

Virtual nodes (Reroute, PrimitiveNode, notes) vanish: links are followed through reroutes,
bypassed nodes pass their matching input through, muted nodes drop what they fed, primitive
values are written into the widgets they feed, and subgraph boundaries are crossed so inner
nodes get ids ``"<instance>:<inner>"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from comfyfixer.tools.schema.loader import SchemaSet, bundled_core_schemas
from comfyfixer.tools.schema.models import WIDGET_TYPES, NodeSchema
from comfyfixer.tools.workflow.graph import (
    FRONTEND_ONLY_PACK_CLASSES,
    MODE_BYPASS,
    MODE_NEVER,
    Graph,
    GraphNode,
    Link,
)
from comfyfixer.tools.workflow.inspect import resolve_inputs
from comfyfixer.tools.workflow.loader import load_workflow
from comfyfixer.tools.workflow.widgets import map_with_schema

_MAX_HOPS = 256


class _Literal:
    def __init__(self, value: Any) -> None:
        self.value = value


def _slot_type(slots: list[dict[str, Any]], index: int) -> Any:
    return slots[index].get("type") if 0 <= index < len(slots) else None


def _connects(a: Any, b: Any) -> bool:
    """The frontend's ``LiteGraph.isValidConnection``: a missing, empty or ``*`` type fits anything; otherwise
    equal types, case-insensitively, or comma lists (``IMAGE,MASK``) with a member in common."""
    a = 0 if a in ("", "*") else a
    b = 0 if b in ("", "*") else b
    if not a or not b or a == b:
        return True
    sa, sb = str(a).lower(), str(b).lower()
    if "," not in sa and "," not in sb:
        return sa == sb
    return any(_connects(x, y) for x in sa.split(",") for y in sb.split(","))


class _Resolver:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.into: dict[tuple[str, int], tuple[str, int]] = {}
        for origin, oslot, target, tslot in graph.links.values():
            self.into[(target, tslot)] = (origin, oslot)
        self._inputs: dict[str, list[Any]] | None = None  # subgraph id -> its definition's input names

    def origin(self, node_id: str, slot: int, hops: int = 0, want: Any = None) -> tuple[str, int] | _Literal | None:
        """Where output ``slot`` of ``node_id`` really comes from, for an input of type ``want``."""
        if hops > _MAX_HOPS:
            return None
        g = self.graph
        node = g.nodes.get(node_id)
        if node is not None:
            if node.class_type == "PrimitiveNode":
                vals = node.widgets_values
                return _Literal(vals[0]) if isinstance(vals, list) and vals else None
            if node.class_type == "Reroute" or node.class_type in FRONTEND_ONLY_PACK_CLASSES:
                up = self.into.get((node_id, 0))
                return self.origin(*up, hops + 1, want) if up else None
            if node.mode == MODE_NEVER:
                return None
            if node.mode == MODE_BYPASS:
                return self._bypass(node, slot, hops, want)
            return node_id, slot
        if node_id.endswith(":-10"):  # a subgraph's input node: continue outside the instance
            up = self.into.get((node_id[:-4], self._instance_slot(node_id[:-4], slot)))
            return self.origin(*up, hops + 1, want) if up else None
        if node_id in g.instances:  # an instance's output: continue inside, from its output node
            up = self.into.get((node_id + ":-20", slot))
            return self.origin(*up, hops + 1, want) if up else None
        return None

    def _instance_slot(self, instance: str, index: int) -> int:
        """The instance's input slot for input ``index`` of its subgraph definition: matched by name, since an
        instance lists only some of the definition's inputs (promoted widgets without a link are left out)."""
        inst = self.graph.instances.get(instance)
        if inst is None:
            return index
        if self._inputs is None:
            defs = (self.graph.raw.get("definitions") or {}).get("subgraphs") or []
            self._inputs = {str(d.get("id")): [i.get("name") for i in d.get("inputs") or [] if isinstance(i, Mapping)]
                            for d in defs if isinstance(d, Mapping)}
        names = self._inputs.get(inst.class_type) or []
        if not 0 <= index < len(names):
            return index
        return next((j for j, i in enumerate(inst.ui_inputs) if i.get("name") == names[index]), -1)

    def _bypass(self, node: GraphNode, slot: int, hops: int, want: Any) -> tuple[str, int] | _Literal | None:
        """The frontend's rule (``ExecutableNodeDTO.#getBypassSlotIndex``) for a bypassed node asked for output
        ``slot`` by an input of type ``want``: a wildcard asks for the input of the same index (else the first);
        otherwise that input when it connects to both the output's type and ``want``, else the first input of
        exactly ``want``, else the first that connects to both. No match, or that input unlinked, and the link
        is dropped (no other input stands in). The search goes on with the chosen input's own type."""
        inputs = node.ui_inputs
        if want in ("*", ""):
            match = slot if len(inputs) > slot else 0
        else:
            out_type = _slot_type(node.ui_outputs, slot)
            fits = [_connects(i.get("type"), out_type) and _connects(i.get("type"), want) for i in inputs]
            exact = next((i for i, s in enumerate(inputs) if s.get("type") == want), None)
            match = (slot if slot < len(inputs) and fits[slot] else exact if exact is not None
                     else next((i for i, ok in enumerate(fits) if ok), -1))
        up = self.into.get((node.id, match)) if 0 <= match < len(inputs) else None
        return self.origin(*up, hops + 1, _slot_type(inputs, match)) if up else None


def _api_value(value: Any) -> Any:
    return {"__value__": value} if isinstance(value, list) else value


def _widget_names(schema: NodeSchema, node: GraphNode) -> list[str]:
    """The schema's widgets, then the sub-widgets a DynamicCombo's chosen option gave ``node``
    (``"resize_type.width"``)."""
    names = [i.name for i in schema.widget_inputs()]
    dynamic = tuple(f"{i.name}." for i in schema.widget_inputs() if i.dynamic_options)
    return names + [n for n in node.inputs if dynamic and n.startswith(dynamic)]


_MISSING = object()


def _raw_instance(graph: Graph, inst: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The saved instance node ``inst`` ("12" or nested "12:5") and its subgraph definition."""
    raw = graph.raw
    defs = {d.get("id"): d for d in (raw.get("definitions") or {}).get("subgraphs") or [] if isinstance(d, dict)}
    nodes: Any = raw.get("nodes")
    found = None
    for part in inst.split(":"):
        if not isinstance(nodes, list):
            return None
        found = next((n for n in nodes if isinstance(n, dict) and str(n.get("id")) == part), None)
        if found is None:
            return None
        nodes = (defs.get(found.get("type")) or {}).get("nodes")
    sg = defs.get(found.get("type")) if found else None
    return (found, sg) if found is not None and sg is not None else None


def _promoted_value(graph: Graph, inst: str, slot: int, inner: GraphNode, schema: Any, name: str) -> Any:
    """The value a subgraph instance gives its input ``slot`` (see :func:`fill_promoted_widgets`), or ``_MISSING``."""
    found = _raw_instance(graph, inst)
    if found is None:
        return _MISSING
    node, sg = found
    inputs = [i for i in sg.get("inputs") or [] if isinstance(i, dict)]
    values = node.get("widgets_values")
    widget_slots = [k for k, i in enumerate(inputs) if str(i.get("type")) in WIDGET_TYPES]
    if isinstance(values, list) and values and len(values) == len(widget_slots) and slot in widget_slots:
        return values[widget_slots.index(slot)]
    # Newer frontends keep promoted values on the inner node itself (properties.proxyWidgets name them).
    if isinstance(inner.widgets_values, list):
        mapped, _, _ = map_with_schema(inner.widgets_values, schema)
        return mapped.get(name, _MISSING)
    return _MISSING


def fill_promoted_widgets(graph: Graph, schemas: SchemaSet, prompt: dict[str, dict[str, Any]]) -> int:
    """Write into ``prompt`` the values of widgets promoted to a subgraph's inputs, which the conversion
    leaves out when nothing outside feeds them: the instance's own widget value (aligned with the
    subgraph's widget-type inputs), else the inner node's saved value. Returns how many were filled."""
    filled = 0
    by_input: dict[tuple[str, int], Any] = {}  # (subgraph input node, slot) → the value its widget gives
    for nid, entry in prompt.items():
        node, schema = graph.nodes.get(nid), schemas.get(str(entry.get("class_type")))
        if node is None or schema is None:
            continue
        for name in _widget_names(schema, node):
            link = node.inputs.get(name)
            if name in entry["inputs"] or not isinstance(link, Link) or not link.origin.endswith(":-10"):
                continue
            value = _promoted_value(graph, link.origin[:-4], link.slot, node, schema, name)
            if value is not _MISSING and not isinstance(value, list | dict):
                entry["inputs"][name] = value
                by_input.setdefault((link.origin, link.slot), value)
                filled += 1
    # A socket fed by the same subgraph input (a width shown by a PreviewAny) gets that widget's value.
    for nid, entry in prompt.items():
        node = graph.nodes.get(nid)
        for name, link in (node.inputs.items() if node is not None else ()):
            if isinstance(link, Link) and name not in entry["inputs"] and (link.origin, link.slot) in by_input:
                entry["inputs"][name] = by_input[(link.origin, link.slot)]
                filled += 1
    return filled



def graph_to_api(graph: Graph, schemas: SchemaSet, *, fill_defaults: bool = True) -> dict[str, dict[str, Any]]:
    resolve_inputs(graph, schemas)
    resolver = _Resolver(graph)
    prompt: dict[str, dict[str, Any]] = {}
    for node in graph.nodes.values():
        if node.virtual or node.class_type in FRONTEND_ONLY_PACK_CLASSES or not node.active:
            continue
        if node.class_type.startswith("workflow>"):
            continue
        schema = schemas.get(node.class_type)
        inputs: dict[str, Any] = {}
        linked: set[str] = set()
        for idx, slot in enumerate(node.ui_inputs):
            up = resolver.into.get((node.id, idx))
            widget = slot.get("widget")
            name = widget.get("name") if isinstance(widget, Mapping) and widget.get("name") else slot.get("name")
            if not isinstance(name, str) or up is None:
                continue
            src = resolver.origin(*up, want=slot.get("type"))
            if src is None and up[0].endswith(":-10"):
                continue  # a widget promoted to an unlinked subgraph input: fill_promoted_widgets below
            linked.add(name)
            if isinstance(src, _Literal):
                inputs[name] = _api_value(src.value)
            elif src is not None:
                inputs[name] = [src[0], src[1]]
        widget_names = _widget_names(schema, node) if schema else list(node.inputs)
        for name in widget_names:
            if name in linked:
                continue
            if name not in node.inputs:
                # A widget newer than the saved workflow: a frontend of the schema's version creates it
                # with its default (``fill_defaults``; left out otherwise, as the saved workflow has it).
                spec = (schema.input(name) if fill_defaults and schema is not None
                        and isinstance(node.widgets_values, list) else None)
                if spec is not None and spec.default is not None:
                    inputs[name] = _api_value(spec.default)
                continue
            value = node.inputs[name]
            if hasattr(value, "origin"):  # a Link: handled above
                continue
            inputs[name] = _api_value(value)
        title = node.title or (schema.display_name if schema else None) or node.class_type
        prompt[node.id] = {"inputs": inputs, "class_type": node.class_type, "_meta": {"title": title}}
    fill_promoted_widgets(graph, schemas, prompt)
    # Links to nodes that are not in the prompt are dropped, as the frontend does.
    for entry in prompt.values():
        for name, value in list(entry["inputs"].items()):
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and value[0] not in prompt:
                del entry["inputs"][name]
    return prompt


def ui_to_api(workflow: Mapping[str, Any], schemas: SchemaSet | None = None) -> dict[str, dict[str, Any]]:
    """Convert a UI-format workflow into the API prompt ComfyUI would be sent."""
    loaded = load_workflow(workflow)
    if loaded.format == "api":
        return dict(loaded.data)
    return graph_to_api(loaded.graph, schemas if schemas is not None else bundled_core_schemas())
