"""One graph model for UI and API workflows, with subgraphs and group nodes flattened.

UI subgraph instances are expanded: inner nodes get ids ``"<instance>:<inner>"`` (nested:
``"1:2:3"``), exactly as ComfyUI's frontend names them when it queues a prompt, so a UI
workflow and the API prompt saved next to it name the same nodes. Group nodes
(``extra.groupNodes``, types ``workflow>Name``) expand the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from comfyfixer.tools.errors import WorkflowFormatError

# Core frontend-only classes: never sent to the backend, and they need nothing installed.
VIRTUAL_CLASSES = frozenset({"Reroute", "PrimitiveNode", "Note", "MarkdownNote", "Comfy.NoteNode"})

# Frontend-only classes that a pack's web extension provides: no backend class, but the
# workflow breaks without the pack (e.g. Set/Get pass values by name). Class -> pack repository.
FRONTEND_ONLY_PACK_CLASSES = {
    "GetNode": "https://github.com/kijai/ComfyUI-KJNodes",
    "SetNode": "https://github.com/kijai/ComfyUI-KJNodes",
    "Label (rgthree)": "https://github.com/rgthree/rgthree-comfy",
    "Fast Groups Bypasser (rgthree)": "https://github.com/rgthree/rgthree-comfy",
    "Fast Groups Muter (rgthree)": "https://github.com/rgthree/rgthree-comfy",
    "Fast Bypasser (rgthree)": "https://github.com/rgthree/rgthree-comfy",
    "Fast Muter (rgthree)": "https://github.com/rgthree/rgthree-comfy",
    "Fast Actions Button (rgthree)": "https://github.com/rgthree/rgthree-comfy",
    "Bookmark (rgthree)": "https://github.com/rgthree/rgthree-comfy",
    "Node Combiner (rgthree)": "https://github.com/rgthree/rgthree-comfy",
    "Reroute (rgthree)": "https://github.com/rgthree/rgthree-comfy",
}

MODE_ALWAYS, MODE_NEVER, MODE_BYPASS = 0, 2, 4

# The most nodes one workflow may flatten to (subgraph and group node expansions count).
# Real workflows have tens to a few thousand (the largest of the 1,003 official templates and community
# workflows flattens to 976); inspection is linear (~30-50 µs and a few KB per node), so this bounds one
# inspection to a few seconds and a few hundred MB. Beyond it a workflow is refused
# with ``WorkflowFormatError`` rather than inspected partially.
MAX_NODES = 100_000


def too_many_nodes(origin: str, count: int) -> WorkflowFormatError:
    """The refusal for a workflow over ``MAX_NODES`` (``count`` is how many were seen so far)."""
    return WorkflowFormatError(
        origin, f"has more than {MAX_NODES:,} nodes ({count:,} counted with subgraphs expanded); refused rather "
        "than inspected partially",
        hint=f"real workflows have at most a few thousand nodes; {MAX_NODES:,} is the inspector's limit (graph.MAX_NODES)",
    )


@dataclass
class Link:
    """An input fed by another node's output."""

    origin: str
    slot: int


@dataclass
class GraphNode:
    id: str
    class_type: str
    mode: int = MODE_ALWAYS
    # name -> literal value or Link. UI nodes get names from the schema (or positions).
    inputs: dict[str, Any] = field(default_factory=dict)
    widgets_values: Any = None
    properties: dict[str, Any] = field(default_factory=dict)
    title: str | None = None
    scope: str = "top"  # "top" or "subgraph:<name>" / "group:<name>"
    # UI inputs: slot name -> (widget name or None, link id or None)
    ui_inputs: list[dict[str, Any]] = field(default_factory=list)
    ui_outputs: list[dict[str, Any]] = field(default_factory=list)
    widgets_mapped: bool = False
    unnamed_values: list[Any] = field(default_factory=list)  # widget values no input name was found for

    @property
    def active(self) -> bool:
        return self.mode not in (MODE_NEVER, MODE_BYPASS)

    @property
    def virtual(self) -> bool:
        return self.class_type in VIRTUAL_CLASSES


@dataclass
class Graph:
    format: str  # "ui" | "api"
    nodes: dict[str, GraphNode] = field(default_factory=dict)
    # (target id, target slot) -> (origin id, origin slot) for UI links after flattening
    links: dict[int | str, tuple[str, int, str, int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    subgraph_names: dict[str, str] = field(default_factory=dict)  # subgraph id -> name
    group_node_names: set[str] = field(default_factory=set)
    # subgraph instance nodes (not executable themselves; their slots link inside and outside)
    instances: dict[str, GraphNode] = field(default_factory=dict)
    # PrimitiveNodes whose value was written into the widgets they feed
    applied_primitives: set[str] = field(default_factory=set)
