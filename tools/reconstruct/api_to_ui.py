"""Build a UI-format workflow (what ComfyUI's editor opens) from an API-format prompt.

The API prompt only says ``node id → class_type + inputs``; the editor also needs node
slots, a links table, ``widgets_values`` in the order the frontend assigns them, and
positions. Everything here follows ComfyUI frontend 1.27's rules:

* ``widgets_values`` are positional over the node's widget inputs in ``input_order``
  (required, then optional); a seed-like INT carries a control value after it
  (``"fixed"`` here, so the seed that made the image is kept), an upload combo a
  trailing ``"image"``; a widget fed by a link still occupies its position.
* Every widget also gets an input slot with ``widget: {name}`` (as the frontend saves
  them), which names the values of nodes whose schema is not known here.
* links are ``[id, from_node, from_slot, to_node, to_slot, type]``.
* Nodes are laid out in columns by dependency depth, left to right.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from comfyfixer.tools.schema import InputSpec, NodeSchema
from comfyfixer.tools.schema.models import WIDGET_TYPES

COLUMN_WIDTH = 420
NODE_WIDTH = 340
ROW_GAP = 40
SLOT_HEIGHT = 22
WIDGET_HEIGHT = 26
TEXT_WIDGET_HEIGHT = 110
CONTROL_VALUE = "fixed"  # keep the seed that produced the image on re-run
# API keys some frontends send for the upload button of LoadImage-like nodes; the value is the
# trailing widgets_values entry, not an input.
UPLOAD_KEYS = ("upload", "choose file to upload")


@dataclass
class UiConversion:
    """The built workflow plus how API ids map onto UI node ids."""

    workflow: dict[str, Any]
    id_map: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def is_link(value: Any, node_ids: Mapping[str, Any] | set[str]) -> bool:
    """An API input value ``[source_id, output_slot]`` that points at a node of the prompt."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
        and isinstance(value[0], str | int)
        and str(value[0]) in node_ids
    )


def _literal_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INT"
    if isinstance(value, float):
        return "FLOAT"
    if isinstance(value, str):
        return "STRING"
    return "*"


def _widget_value(value: Any) -> Any:
    """The frontend sends list values wrapped as ``{"__value__": [...]}``; the widget holds the list."""
    if isinstance(value, dict) and set(value) == {"__value__"}:
        return value["__value__"]
    return value


def default_for(spec: InputSpec) -> Any:
    """The value the frontend shows for a widget nobody set: the default, else the first choice."""
    if spec.default is not None:
        return spec.default
    if spec.type == "COMBO" and spec.options:
        return spec.options[0]
    return {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}.get(spec.type)


def _assign_ids(nodes: Mapping[str, Any]) -> dict[str, int]:
    """Numeric API ids keep their number; others (``"CheckpointLoader_Base"``, ``"5:3"``) get fresh ones."""
    mapping: dict[str, int] = {}
    for nid in nodes:
        if nid.isdigit() and int(nid) > 0:
            mapping[nid] = int(nid)
    next_id = max(mapping.values(), default=0) + 1
    for nid in nodes:
        if nid not in mapping:
            mapping[nid] = next_id
            next_id += 1
    return mapping


def _depths(nodes: Mapping[str, dict[str, Any]], deps: Mapping[str, set[str]]) -> dict[str, int]:
    """Longest path from a source node (Kahn's order, no recursion: graphs can be thousands deep).

    Nodes on a cycle (invalid, but seen in broken files) are placed after everything else.
    """
    users: dict[str, list[str]] = {nid: [] for nid in nodes}
    waiting = {nid: len(deps.get(nid, ())) for nid in nodes}
    for nid in nodes:
        for src in deps.get(nid, ()):
            users[src].append(nid)
    depth = dict.fromkeys(nodes, 0)
    ready = [nid for nid, n in waiting.items() if n == 0]
    done: set[str] = set()
    while ready:
        nid = ready.pop()
        done.add(nid)
        for user in users[nid]:
            depth[user] = max(depth[user], depth[nid] + 1)
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    last = max(depth.values(), default=0) + 1
    for nid in nodes:
        if nid not in done:
            depth[nid] = last
    # Loaders feeding only late nodes (an upscale model for the hires pass) sit next to their user.
    for nid in nodes:
        if not deps.get(nid) and users[nid]:
            depth[nid] = max(0, min(depth[u] for u in users[nid]) - 1)
    return depth


def api_to_ui(prompt: Mapping[str, Any], schemas: Mapping[str, NodeSchema]) -> UiConversion:
    """Build a UI workflow from an API prompt, using node schemas for slots and widget order.

    Nodes whose class is not in ``schemas`` (custom packs not installed) keep their inputs
    in the prompt's order, with types guessed from values and links.
    """
    nodes = {str(k): v for k, v in prompt.items() if isinstance(v, dict) and isinstance(v.get("class_type"), str)}
    conv = UiConversion(workflow={})
    skipped = [str(k) for k in prompt if str(k) not in nodes]
    if skipped:
        conv.warnings.append(f"ignored entries that are not nodes: {', '.join(sorted(skipped))}")
    ids = _assign_ids(nodes)
    conv.id_map = ids
    deps: dict[str, set[str]] = {nid: set() for nid in nodes}
    for nid, node in nodes.items():
        inputs = node.get("inputs")
        for value in (inputs.values() if isinstance(inputs, dict) else ()):
            if is_link(value, nodes):
                deps[nid].add(str(value[0]))
    depth = _depths(nodes, deps)

    out_slots: dict[str, dict[int, dict[str, Any]]] = {nid: {} for nid in nodes}
    for nid, node in nodes.items():
        schema = schemas.get(node["class_type"])
        if schema:
            for i, out in enumerate(schema.outputs):
                out_slots[nid][i] = {"name": out.name, "type": out.type, "links": [], "slot_index": i}

    links: list[list[Any]] = []
    ui_nodes: dict[str, dict[str, Any]] = {}

    def add_link(value: Any, input_type: str, target: str, target_slot: int) -> int:
        """Record a link from output ``value[1]`` of node ``value[0]`` to input slot ``target_slot`` of
        ``target``; an output slot the source's schema does not declare is created with the input's type.
        Returns the new link id.
        """
        src, slot = str(value[0]), int(value[1])
        src_slots = out_slots[src]
        if slot not in src_slots:
            src_slots[slot] = {"name": input_type if input_type != "*" else f"output_{slot}",
                               "type": input_type, "links": [], "slot_index": slot}
        link_id = len(links) + 1
        links.append([link_id, ids[src], slot, ids[target], target_slot, src_slots[slot]["type"]])
        src_slots[slot]["links"].append(link_id)
        return link_id

    order_key = sorted(nodes, key=lambda n: (depth[n], ids[n]))
    # Create links in target order so link ids follow the layout.
    for nid in order_key:
        node = nodes[nid]
        schema = schemas.get(node["class_type"])
        inputs = node.get("inputs") or {}
        if not isinstance(inputs, dict):
            conv.warnings.append(f"node {nid}: inputs is not an object; left empty")
            inputs = {}
        ui_inputs: list[dict[str, Any]] = []
        widgets: list[Any] = []

        if schema is not None:
            known = set()
            for spec in schema.inputs:
                if spec.section == "hidden":
                    continue
                known.add(spec.name)
                value = inputs.get(spec.name)
                present = spec.name in inputs
                if spec.is_widget:
                    slot: dict[str, Any] = {"name": spec.name, "type": spec.type, "widget": {"name": spec.name},
                                            "link": None}
                    if present and is_link(value, nodes):
                        slot["link"] = add_link(value, spec.type, nid, len(ui_inputs))
                        # A linked widget keeps its position in widgets_values; the value there is not used.
                        widgets.append(default_for(spec))
                    else:
                        widgets.append(_widget_value(value) if present else default_for(spec))
                    ui_inputs.append(slot)
                    if spec.extra_widget_slots and spec.image_upload:
                        key = next((k for k in UPLOAD_KEYS if k in inputs), None)
                        if key is not None:
                            known.add(key)
                        widgets.append(inputs[key] if key is not None else "image")
                    elif spec.extra_widget_slots:
                        widgets.append(CONTROL_VALUE)
                else:
                    slot = {"name": spec.name, "type": spec.type, "link": None}
                    if spec.section == "optional" and not present:
                        slot["shape"] = 7  # the frontend draws optional sockets hollow
                    if present and not is_link(value, nodes) and spec.type in WIDGET_TYPES:
                        # forceInput widget given a value (an older version showed it): keep it, at the end.
                        known.discard(spec.name)
                        continue
                    if present and is_link(value, nodes):
                        slot["link"] = add_link(value, spec.type, nid, len(ui_inputs))
                    elif present:
                        conv.warnings.append(f"node {nid} {node['class_type']}.{spec.name}: literal given for a socket; dropped")
                    ui_inputs.append(slot)
            extras = [k for k in inputs if k not in known]
            if extras:
                conv.warnings.append(
                    f"node {nid} {node['class_type']}: inputs not in its schema kept at the end: {', '.join(extras)}")
        else:
            extras = list(inputs)
        for name in extras:
            value = inputs[name]
            if is_link(value, nodes):
                typ = "*"
                src_schema = schemas.get(nodes[str(value[0])]["class_type"])
                if src_schema and int(value[1]) < len(src_schema.outputs):
                    typ = src_schema.outputs[int(value[1])].type
                slot = {"name": name, "type": typ, "link": None}
                slot["link"] = add_link(value, typ, nid, len(ui_inputs))
                ui_inputs.append(slot)
            else:
                ui_inputs.append({"name": name, "type": _literal_type(value), "widget": {"name": name}, "link": None})
                widgets.append(_widget_value(value))

        title = (node.get("_meta") or {}).get("title") if isinstance(node.get("_meta"), dict) else None
        ui_node: dict[str, Any] = {
            "id": ids[nid],
            "type": node["class_type"],
            "pos": [0, 0],
            "size": [NODE_WIDTH, 0],
            "flags": {},
            "order": 0,
            "mode": 0,
            "inputs": ui_inputs,
            "outputs": [],
            "properties": {"Node name for S&R": node["class_type"]},
            "widgets_values": widgets,
        }
        display = (schema.display_name if schema else None) or node["class_type"]
        if isinstance(title, str) and title and title != display:
            ui_node["title"] = title
        ui_nodes[nid] = ui_node

    for nid in nodes:
        slots = out_slots[nid]
        if slots:
            top = max(slots)
            ui_nodes[nid]["outputs"] = [
                slots.get(i, {"name": f"output_{i}", "type": "*", "links": [], "slot_index": i}) for i in range(top + 1)
            ]
    _layout(ui_nodes, depth, ids)
    for i, nid in enumerate(order_key):
        ui_nodes[nid]["order"] = i

    ordered = sorted(ui_nodes.values(), key=lambda n: n["id"])
    digest = hashlib.sha256(json.dumps(prompt, sort_keys=True, default=str).encode()).hexdigest()
    conv.workflow = {
        # Derived from the prompt: rebuilding the same image gives the same workflow id.
        "id": str(uuid.UUID(digest[:32])),
        "revision": 0,
        "last_node_id": max((n["id"] for n in ordered), default=0),
        "last_link_id": len(links),
        "nodes": ordered,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {"ds": {"scale": 1, "offset": [0, 0]}},
        "version": 0.4,
    }
    return conv


def _node_height(node: dict[str, Any]) -> int:
    sockets = max(sum(1 for i in node["inputs"] if "widget" not in i), len(node["outputs"]))
    height = 30 + SLOT_HEIGHT * sockets
    for i in node["inputs"]:
        if "widget" in i:
            multiline = i.get("type") == "STRING" and i.get("name") in ("text", "prompt", "text_g", "text_l", "clip_l", "t5xxl")
            height += TEXT_WIDGET_HEIGHT if multiline else WIDGET_HEIGHT
    return height


def _layout(ui_nodes: dict[str, dict[str, Any]], depth: Mapping[str, int], ids: Mapping[str, int]) -> None:
    """Columns by dependency depth, nodes stacked top to bottom in id order."""
    y_next: dict[int, int] = {}
    for nid in sorted(ui_nodes, key=lambda n: (depth[n], ids[n])):
        col = depth[nid]
        node = ui_nodes[nid]
        height = _node_height(node)
        y = y_next.get(col, 50)
        node["pos"] = [50 + col * COLUMN_WIDTH, y]
        node["size"] = [NODE_WIDTH, height]
        y_next[col] = y + height + ROW_GAP
