"""Parse API-format prompts (``{id: {class_type, inputs}}``) into a ``Graph``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from comfyfixer.tools.workflow.graph import MAX_NODES, Graph, GraphNode, Link, too_many_nodes


def is_link_value(value: Any) -> bool:
    """API inputs fed by another node are ``[origin_id, slot]``."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and not isinstance(value[0], bool)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


def looks_like_api(data: Any) -> bool:
    if not isinstance(data, Mapping) or not data:
        return False
    nodes = [v for v in data.values() if isinstance(v, Mapping)]
    return bool(nodes) and sum(1 for v in nodes if "class_type" in v) >= max(1, len(nodes) // 2)


def parse_api(data: Mapping[str, Any], *, origin: str = "<workflow>") -> Graph:
    """An API prompt as a ``Graph``; malformed nodes and fields become warnings naming the node.

    More than ``MAX_NODES`` nodes raise ``WorkflowFormatError`` naming ``origin``, before any is built.
    """
    if len(data) > MAX_NODES:
        raise too_many_nodes(origin, len(data))
    graph = Graph(format="api", raw=dict(data))
    for nid, node in data.items():
        if not isinstance(node, Mapping):
            graph.warnings.append(f"entry {nid!r} is not a node; skipped")
            continue
        ctype = node.get("class_type")
        if not isinstance(ctype, str) or not ctype:
            graph.warnings.append(f"node {nid} has no class_type; skipped")
            continue
        raw_inputs = node.get("inputs")
        if raw_inputs is not None and not isinstance(raw_inputs, Mapping):
            kind = "a list" if isinstance(raw_inputs, list) else type(raw_inputs).__name__
            graph.warnings.append(f"node {nid}: 'inputs' is {kind}, not an object; ignored")
        if not isinstance(raw_inputs, Mapping):
            raw_inputs = {}
        inputs: dict[str, Any] = {}
        for name, value in raw_inputs.items():
            inputs[str(name)] = Link(str(value[0]), int(value[1])) if is_link_value(value) else value
        meta = node.get("_meta")
        if meta is not None and not isinstance(meta, Mapping):
            graph.warnings.append(f"node {nid}: '_meta' is {type(meta).__name__}, not an object; ignored")
        title = meta.get("title") if isinstance(meta, Mapping) else None
        if title is not None and not isinstance(title, str):
            graph.warnings.append(f"node {nid}: '_meta.title' is {type(title).__name__}, not a string; ignored")
        graph.nodes[str(nid)] = GraphNode(
            id=str(nid),
            class_type=ctype,
            inputs=inputs,
            title=title if isinstance(title, str) else None,
            scope="top",
            widgets_mapped=True,
        )
    for node in graph.nodes.values():
        for name, value in node.inputs.items():
            if isinstance(value, Link) and value.origin not in graph.nodes:
                graph.warnings.append(f"node {node.id} input '{name}' links to missing node {value.origin}")
    return graph
