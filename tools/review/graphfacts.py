"""Facts read off a workflow graph that both the review and the diff use: output nodes and what they
make, the nodes each output depends on, sampling parameters, resolutions, LoRAs and seeds.

Everything works on the inspector's :class:`~comfyfixer.tools.workflow.graph.Graph` after its widget
values were mapped to input names (``resolve_inputs``), so UI and API workflows, subgraphs and group
nodes all look the same here. Node classes are matched by name patterns as well as by schema, because
the bundled schemas are older than many official templates: a ``Save…`` node of a newer ComfyUI is
still an output.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from typing import Any

from comfyfixer.tools.schema.loader import SchemaSet
from comfyfixer.tools.workflow.api import parse_api
from comfyfixer.tools.workflow.convert import graph_to_api
from comfyfixer.tools.workflow.graph import Graph, GraphNode, Link
from comfyfixer.tools.workflow.loader import LoadedWorkflow

_OUTPUT_CLASS = re.compile(
    r"^(Save|Preview)|VideoCombine|SaveAnimated|Image Save|ImageSave|SaveGLB|ShowText|Display|^PreviewAny$", re.I)
_SAVE_CLASS = re.compile(r"^Save|VideoCombine|Image Save|ImageSave|SaveGLB", re.I)
_KIND_PATTERNS = (
    ("video", re.compile(r"video|webm|animated|gif|mp4|vhs_", re.I)),
    ("audio", re.compile(r"audio|flac|mp3|opus|music|speech", re.I)),
    ("3d", re.compile(r"glb|3d|mesh|gltf|splat|ply|obj\b", re.I)),
    ("vector", re.compile(r"svg", re.I)),
    ("text", re.compile(r"text|string|any|json|show", re.I)),
)
_SOCKET_KIND = {"VIDEO": "video", "AUDIO": "audio", "MESH": "3d", "FILE_3D": "3d", "SVG": "vector",
                "STRING": "text", "IMAGE": "image", "LATENT": "image", "MASK": "image"}
# Paid API nodes (providers of ComfyUI's comfy_api_nodes), for schemas that predate a node.
API_CLASS = re.compile(
    r"^(OpenAI|Gemini|Google|Veo|Kling|Luma|Recraft|Ideogram|Tripo|Meshy|ByteDance|Seedance|Seedream|MiniMax|Hailuo|"
    r"Vidu|PixVerse|Pika|Runway|Stability|Bria|ElevenLabs|Topaz|Magnific|Rodin|Moonvalley|Grok|HeyGen|FishAudio|"
    r"Fish|Flux(Pro|Kontext(Pro|Max)|2Pro|Ultra)|BFL|Wan(Text|Image)ToVideoApi|Kling|Hunyuan3DApi|Sora|Veed|VEED|"
    r"Anthropic|Claude|Krea(Api)?|Nano|Mai|Luma|Hedra|Lightricks|LtxvApi|Beeble|Freepik|Minimax|Reve|Sync|Wavespeed|"
    r"OpenRouter|Meta|Flux\dImage)|Api$|ApiNode$|ApiV\d$",
)
SEED_CONTROLS = frozenset({"fixed", "randomize", "increment", "decrement"})
SAMPLING_NAMES = ("steps", "cfg", "sampler_name", "scheduler", "denoise", "guidance", "shift", "seed", "noise_seed",
                  "start_at_step", "end_at_step")
SIZE_NAMES = ("width", "height", "length", "num_frames", "frames", "video_frames", "batch_size", "frame_count")


def prompt_graph(loaded: LoadedWorkflow, schemas: SchemaSet) -> Graph:
    """The graph ComfyUI would run: a UI workflow converted as the frontend queues it (reroutes,
    primitives and subgraph boundaries resolved, bypassed nodes passed through, muted ones dropped),
    an API prompt as it is. Node ids are the same as in ``loaded.graph``."""
    if loaded.format == "api":
        return loaded.graph
    prompt = graph_to_api(loaded.graph, schemas, fill_defaults=False)  # as saved: no widget newer than it
    return parse_api(prompt, origin=loaded.path)


def literal_inputs(node: GraphNode) -> dict[str, Any]:
    """The node's inputs that are values, not links."""
    return {k: v for k, v in node.inputs.items() if not isinstance(v, Link)}


def is_output(node: GraphNode, schemas: SchemaSet) -> bool:
    """Whether the node ends a branch (saves or previews something).

    The schema's ``output_node`` flag when the class is known, else the class name (``Save…``,
    ``Preview…``, VideoHelperSuite's ``VideoCombine``, …): ComfyUI only runs what an output depends on,
    so these are where the review's walk starts.
    """
    schema = schemas.get(node.class_type)
    return bool(schema and schema.output_node) or bool(_OUTPUT_CLASS.search(node.class_type))


def is_saving(node: GraphNode) -> bool:
    """Whether an output node writes a file (a ``Save…`` node), rather than only showing a preview."""
    return bool(_SAVE_CLASS.search(node.class_type))


def is_api_node(node: GraphNode, schemas: SchemaSet) -> bool:
    """Whether the node calls a paid remote API (ComfyUI's API nodes)."""
    schema = schemas.get(node.class_type)
    if schema is not None and schema.api_node:
        return True
    return bool(API_CLASS.search(node.class_type)) and not node.class_type.startswith("LTXV")


def names_kind(class_type: str, kind: str) -> bool:
    """Whether an output class's name says it makes ``kind`` (video, audio, 3d, vector, text)."""
    pattern = dict(_KIND_PATTERNS).get(kind)
    return bool(pattern is not None and pattern.search(class_type))


def output_kind(node: GraphNode) -> str:
    """What an output node makes: image, video, audio, 3d, vector or text.

    The class name decides first (``SaveVideo``, ``SaveAudioMP3``, ``Preview3D``, ``SaveSVGNode``), then
    the type of what is plugged into it (a ``PreviewAny`` of a ``STRING`` shows text), else image.
    """
    # The class name first (Preview3D shows a file path string), then what is plugged in (PreviewAny).
    for kind, pattern in _KIND_PATTERNS[:-1]:
        if pattern.search(node.class_type):
            return kind
    for slot in node.ui_inputs:
        socket = _SOCKET_KIND.get(str(slot.get("type", "")).split(",")[0].upper())
        if socket and socket != "image":
            return socket
    return "text" if _KIND_PATTERNS[-1][1].search(node.class_type) else "image"


def upstream(graph: Graph, start: Iterable[str]) -> set[str]:
    """Ids of every node the ``start`` nodes depend on (through links), ``start`` included.

    Breadth-first and iterative, so a graph of many thousand nodes cannot exhaust the stack; links to
    nodes that are not in the graph (dropped by the conversion) end the walk there.
    """
    seen: set[str] = set()
    queue = deque(start)
    while queue:
        nid = queue.popleft()
        if nid in seen or nid not in graph.nodes:
            continue
        seen.add(nid)
        for value in graph.nodes[nid].inputs.values():
            if isinstance(value, Link) and value.origin not in seen:
                queue.append(value.origin)
    return seen


def downstream_index(graph: Graph) -> dict[str, list[str]]:
    """origin id → ids of the nodes its outputs feed."""
    feeds: dict[str, list[str]] = {}
    for node in graph.nodes.values():
        for value in node.inputs.values():
            if isinstance(value, Link):
                feeds.setdefault(value.origin, []).append(node.id)
    return feeds


def seed_control(node: GraphNode) -> str | None:
    """``fixed``/``randomize``/``increment``/``decrement`` from a UI node's widget values, else ``None``
    (API prompts keep no control: the seed in them is what runs)."""
    values = node.widgets_values
    if isinstance(values, dict):
        values = list(values.values())
    if not isinstance(values, list):
        return None
    return next((v for v in values if isinstance(v, str) and v in SEED_CONTROLS), None)


def number(value: Any) -> float | None:
    """A literal number (booleans are not numbers here)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
