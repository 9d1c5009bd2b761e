"""A tiny builder for API-format prompts: add nodes, wire outputs, keep notes for the UI.

Used by ``from_parameters.py`` only. API format is built first because it is what ComfyUI validates and
runs; ``api_to_ui`` turns it into an editor workflow afterwards, and :func:`add_notes` adds the Note
nodes, which exist in the UI format only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Link = list[Any]  # [source node id, output slot]


@dataclass
class Note:
    """Text for a Note node in the UI workflow (optional parts that are not in the API graph)."""

    title: str
    text: str


@dataclass
class GraphBuilder:
    """Numbered nodes in insertion order; ``add`` returns the new node's id.

    Ids are ``"1"``, ``"2"``… so the API prompt reads in build order and ``api_to_ui`` keeps them as UI ids.
    ``notes`` collects Note nodes for the UI workflow only (see :func:`add_notes`).
    """

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)

    def add(self, class_type: str, inputs: dict[str, Any], title: str | None = None) -> str:
        """Add a node with these ``inputs`` (copied) and an optional UI title; returns its id (``"1"``,
        ``"2"``…).
        """
        nid = str(len(self.nodes) + 1)
        node: dict[str, Any] = {"inputs": dict(inputs), "class_type": class_type}
        if title:
            node["_meta"] = {"title": title}
        self.nodes[nid] = node
        return nid

    @staticmethod
    def out(nid: str, slot: int = 0) -> Link:
        """The link value for output ``slot`` of node ``nid``, as API inputs write it."""
        return [nid, slot]

    def prompt(self) -> dict[str, dict[str, Any]]:
        """The API prompt: a copy of every node (inputs copied too), in insertion order."""
        return {k: {"inputs": dict(v["inputs"]), **{kk: vv for kk, vv in v.items() if kk != "inputs"}}
                for k, v in self.nodes.items()}


def add_notes(workflow: dict[str, Any], notes: list[Note]) -> None:
    """Append frontend-only Note nodes (dropped from the API prompt) under the graph.

    Notes are placed in a row below the lowest node (each 420 × 220, 440 apart) with fresh ids, and
    ``last_node_id`` is updated so the editor does not reuse an id. Changes ``workflow`` in place.
    """
    if not notes:
        return
    nodes = workflow.setdefault("nodes", [])
    bottom = max((n["pos"][1] + n["size"][1] for n in nodes), default=0) + 60
    next_id = max((int(n["id"]) for n in nodes if isinstance(n.get("id"), int)), default=0) + 1
    for i, note in enumerate(notes):
        nodes.append({
            "id": next_id + i,
            "type": "Note",
            "pos": [50 + i * 440, bottom],
            "size": [420, 220],
            "flags": {},
            "order": len(nodes),
            "mode": 0,
            "inputs": [],
            "outputs": [],
            "title": note.title,
            "properties": {"text": ""},
            "widgets_values": [note.text],
            "color": "#432",
            "bgcolor": "#653",
        })
    workflow["last_node_id"] = max(int(n["id"]) for n in nodes if isinstance(n.get("id"), int))
