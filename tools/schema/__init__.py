"""Node schemas: ComfyUI's ``object_info`` (V1, the frontend's V2 and V3 shapes) as one typed model.

A schema says which inputs a node class has, in which order, and which are widgets; the workflow
inspector needs it to read a UI workflow's ``widgets_values`` (positional, so without the schema a model
name cannot be told from a seed), the readiness check uses it to find model inputs, and reconstruction
uses it to build valid nodes. ``ToolContext.schemas()`` picks the source: a live ComfyUI, a saved
``object_info`` file, or the bundled core snapshot (core nodes of one ComfyUI version, so custom nodes
are then unknown and reported as such).
"""

from comfyfixer.tools.schema.loader import (
    SchemaSet,
    bundled_core_schemas,
    bundled_newer_core_schemas,
    bundled_newest_core_schemas,
    fetch_object_info,
    load_object_info,
    parse_object_info,
    parse_schema,
)
from comfyfixer.tools.schema.models import InputSpec, NodeSchema, OutputSpec

__all__ = [
    "InputSpec",
    "NodeSchema",
    "OutputSpec",
    "SchemaSet",
    "bundled_core_schemas",
    "bundled_newer_core_schemas",
    "bundled_newest_core_schemas",
    "fetch_object_info",
    "load_object_info",
    "parse_object_info",
    "parse_schema",
]
