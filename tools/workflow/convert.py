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
from comfyfixer.tools.schema.models import NodeSchema
from comfyfixer.tools.workflow.graph import (
    FRONTEND_ONLY_PACK_CLASSES,
    MODE_BYPASS,
    MODE_NEVER,
    Graph,
    GraphNode,
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


class _Resolver:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.into: dict[tuple[str, int], tuple[str, int]] = {}
        for origin, oslot, target, tslot in graph.links.values():
            self.into[(target, tslot)] = (origin, oslot)

    def origin(self, node_id: str, slot: int, hops: int = 0) -> tuple[str, int] | _Literal | None:
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
                return self.origin(*up, hops + 1) if up else None
            if node.mode == MODE_NEVER:
                return None
            if node.mode == MODE_BYPASS:
                return self._bypass(node, slot, hops)
            return node_id, slot
        if node_id.endswith(":-10"):  # a subgraph's input node: continue outside the instance
            up = self.into.get((node_id[:-4], slot))
            return self.origin(*up, hops + 1) if up else None
        if node_id in g.instances:  # an instance's output: continue inside, from its output node
            up = self.into.get((node_id + ":-20", slot))
            return self.origin(*up, hops + 1) if up else None
        return None

    def _bypass(self, node: GraphNode, slot: int, hops: int) -> tuple[str, int] | _Literal | None:
        wanted = _slot_type(node.ui_outputs, slot)
        candidates = [i for i, s in enumerate(node.ui_inputs) if s.get("type") == wanted and (node.id, i) in self.into]
        if not candidates and (node.id, slot) in self.into:
            candidates = [slot]
        if not candidates:
            return None
        up = self.into[(node.id, candidates[0])]
        return self.origin(*up, hops + 1)


def _api_value(value: Any) -> Any:
    return {"__value__": value} if isinstance(value, list) else value


def _own_widget_value(node: GraphNode, name: str, schema: NodeSchema | None) -> Any:
    """The value ``node`` itself holds for widget ``name`` (its ``widgets_values`` read with the schema)."""
    value = node.inputs.get(name)
    if value is not None and not hasattr(value, "origin"):
        return value
    if schema is None or not isinstance(node.widgets_values, list):
        return None
    return map_with_schema(node.widgets_values, schema)[0].get(name)


def graph_to_api(graph: Graph, schemas: SchemaSet) -> dict[str, dict[str, Any]]:
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
            src = resolver.origin(*up)
            if src is None and up[0].endswith(":-10"):
                # A widget promoted to an unlinked subgraph input: the frontend's proxy widget shows and
                # sends the inner node's own value.
                own = _own_widget_value(node, name, schema)
                if own is not None:
                    inputs[name] = _api_value(own)
                    linked.add(name)
                continue
            linked.add(name)
            if isinstance(src, _Literal):
                inputs[name] = _api_value(src.value)
            elif src is not None:
                inputs[name] = [src[0], src[1]]
        widget_names = [i.name for i in schema.widget_inputs()] if schema else list(node.inputs)
        for name in widget_names:
            if name in linked or name not in node.inputs:
                continue
            value = node.inputs[name]
            if hasattr(value, "origin"):  # a Link: handled above
                continue
            inputs[name] = _api_value(value)
        title = node.title or (schema.display_name if schema else None) or node.class_type
        prompt[node.id] = {"inputs": inputs, "class_type": node.class_type, "_meta": {"title": title}}
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
