"""Node schemas: ComfyUI's ``object_info`` (V1, the frontend's V2 and V3 shapes) as one typed model."""

from comfyfixer.tools.schema.loader import (
    SchemaSet,
    bundled_core_schemas,
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
    "fetch_object_info",
    "load_object_info",
    "parse_object_info",
    "parse_schema",
]
