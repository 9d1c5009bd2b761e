"""Parse UI-format workflows (``nodes``/``links``) into a flattened ``Graph``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from comfyfixer.tools.workflow.graph import MODE_ALWAYS, Graph, GraphNode, Link

MAX_SUBGRAPH_DEPTH = 16
MAX_NODES = 200_000


def _link_tuple(link: Any) -> tuple[Any, Any, int, Any, int] | None:
    """(id, origin, origin_slot, target, target_slot) from array or object links."""
    if isinstance(link, list | tuple) and len(link) >= 5:
        return link[0], link[1], int(link[2] or 0), link[3], int(link[4] or 0)
    if isinstance(link, Mapping):
        try:
            return (
                link.get("id"),
                link.get("origin_id"),
                int(link.get("origin_slot") or 0),
                link.get("target_id"),
                int(link.get("target_slot") or 0),
            )
        except (TypeError, ValueError):
            return None
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _mode(node: Mapping[str, Any]) -> int:
    try:
        return int(node.get("mode", MODE_ALWAYS) or 0)
    except (TypeError, ValueError):
        return MODE_ALWAYS


class _UIBuilder:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.graph = Graph(format="ui", raw=dict(data))
        self.subgraphs: dict[str, Mapping[str, Any]] = {}
        self.group_nodes: dict[str, Mapping[str, Any]] = {}
        self._collect_subgraphs(data)
        extra = data.get("extra") if isinstance(data.get("extra"), Mapping) else {}
        groups = extra.get("groupNodes") if isinstance(extra, Mapping) else None
        if isinstance(groups, Mapping):
            self.group_nodes = {str(k): v for k, v in groups.items() if isinstance(v, Mapping)}
            self.graph.group_node_names = set(self.group_nodes)

    def _collect_subgraphs(self, container: Mapping[str, Any], depth: int = 0) -> None:
        defs = container.get("definitions")
        if not isinstance(defs, Mapping) or depth > MAX_SUBGRAPH_DEPTH:
            return
        for sg in defs.get("subgraphs") or []:
            if isinstance(sg, Mapping) and sg.get("id"):
                sid = str(sg["id"])
                self.subgraphs.setdefault(sid, sg)
                self.graph.subgraph_names[sid] = str(sg.get("name") or sid)
                self._collect_subgraphs(sg, depth + 1)

    def build(self) -> Graph:
        self._add_nodes(self.data.get("nodes") or [], self.data.get("links") or [], prefix="", scope="top", stack=())
        return self.graph

    def _add_nodes(
        self, nodes: Any, links: Any, *, prefix: str, scope: str, stack: tuple[str, ...], parent_mode: int = MODE_ALWAYS
    ) -> None:
        if not isinstance(nodes, list):
            self.graph.warnings.append(f"{scope}: 'nodes' is not a list; ignored")
            return
        for node in nodes:
            if not isinstance(node, Mapping) or "id" not in node:
                self.graph.warnings.append(f"{scope}: a node without an id was skipped")
                continue
            if len(self.graph.nodes) >= MAX_NODES:
                self.graph.warnings.append(f"more than {MAX_NODES} nodes; the rest were skipped")
                return
            nid = prefix + str(node["id"])
            ntype = str(node.get("type") or node.get("class_type") or "")
            mode = _mode(node)
            if parent_mode != MODE_ALWAYS and mode == MODE_ALWAYS:
                mode = parent_mode
            if ntype in self.subgraphs:
                self.graph.instances[nid] = GraphNode(
                    id=nid, class_type=ntype, mode=mode, scope=scope,
                    ui_inputs=[i for i in node.get("inputs") or [] if isinstance(i, Mapping)],
                    ui_outputs=[o for o in node.get("outputs") or [] if isinstance(o, Mapping)],
                )
                self._expand_subgraph(node, nid, ntype, stack, mode)
                continue
            group_name = self._group_name(ntype)
            if group_name is not None:
                self._expand_group_node(node, nid, group_name, scope, mode)
                continue
            if not ntype:
                self.graph.warnings.append(f"node {nid} has no type; skipped")
                continue
            props = _mapping(node.get("properties"))
            self.graph.nodes[nid] = GraphNode(
                id=nid,
                class_type=ntype,
                mode=mode,
                widgets_values=node.get("widgets_values"),
                properties=dict(props),
                title=node.get("title") if isinstance(node.get("title"), str) else None,
                scope=scope,
                ui_inputs=[i for i in node.get("inputs") or [] if isinstance(i, Mapping)],
                ui_outputs=[o for o in node.get("outputs") or [] if isinstance(o, Mapping)],
            )
        self._add_links(links, prefix)

    def _add_links(self, links: Any, prefix: str) -> None:
        if not isinstance(links, list):
            return
        for raw in links:
            lt = _link_tuple(raw)
            if lt is None:
                continue
            lid, origin, oslot, target, tslot = lt
            if origin is None or target is None:
                continue
            key = f"{prefix}{lid}"
            self.graph.links[key] = (prefix + str(origin), oslot, prefix + str(target), tslot)

    def _expand_subgraph(self, node: Mapping[str, Any], nid: str, sid: str, stack: tuple[str, ...], mode: int) -> None:
        name = self.graph.subgraph_names.get(sid, sid)
        if sid in stack or len(stack) >= MAX_SUBGRAPH_DEPTH:
            self.graph.warnings.append(f"subgraph '{name}' contains itself (via node {nid}); not expanded again")
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
                self.graph.warnings.append(f"group node type '{ntype}' has no definition in extra.groupNodes")
                return None
        return None

    def _expand_group_node(self, node: Mapping[str, Any], nid: str, name: str, scope: str, mode: int) -> None:
        definition = self.group_nodes[name]
        inner = definition.get("nodes") or []
        instance_values = node.get("widgets_values")
        for idx, inner_node in enumerate(inner):
            if not isinstance(inner_node, Mapping):
                continue
            iid = f"{nid}:{inner_node.get('index', idx)}"
            props = _mapping(inner_node.get("properties"))
            self.graph.nodes[iid] = GraphNode(
                id=iid,
                class_type=str(inner_node.get("type") or ""),
                mode=mode,
                widgets_values=inner_node.get("widgets_values"),
                properties=dict(props),
                scope=f"group:{name}",
                ui_inputs=[i for i in inner_node.get("inputs") or [] if isinstance(i, Mapping)],
                ui_outputs=[o for o in inner_node.get("outputs") or [] if isinstance(o, Mapping)],
            )
        # The instance's own values override the definition's defaults; kept for the model scan.
        if isinstance(instance_values, list) and instance_values:
            self.graph.nodes[nid] = GraphNode(
                id=nid, class_type=f"workflow>{name}", mode=mode, widgets_values=instance_values, scope=scope
            )
        for raw in definition.get("links") or []:
            if isinstance(raw, list | tuple) and len(raw) >= 4 and raw[0] is not None and raw[2] is not None:
                key = f"{nid}:g{raw[0]}-{raw[2]}-{raw[3]}"
                self.graph.links[key] = (f"{nid}:{raw[0]}", int(raw[1] or 0), f"{nid}:{raw[2]}", int(raw[3] or 0))


def parse_ui(data: Mapping[str, Any]) -> Graph:
    """Flatten a UI workflow: subgraph instances and group nodes become their inner nodes."""
    graph = _UIBuilder(data).build()
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
