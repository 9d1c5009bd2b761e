"""Map a UI node's ``widgets_values`` onto input names.

The frontend stores widget values positionally, in the schema's ``input_order`` (required
then optional), skipping socket-only inputs. A seed-like INT carries a control value after
it ("fixed", "randomize", ...), and an upload combo a trailing value. Converted widgets
(fed by a link) keep their stale value in place. When the count disagrees, the frontend
leaves values as they are, so the mapping here is tolerant and says when it guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from comfyfixer.tools.schema.models import NodeSchema
from comfyfixer.tools.workflow.graph import GraphNode

CONTROL_VALUES = frozenset({"fixed", "increment", "decrement", "randomize"})


def _expected_len(schema: NodeSchema, with_extras: bool) -> int:
    own = sum(1 + (i.extra_widget_slots if with_extras else 0) for i in schema.widget_inputs())
    return own + (schema.trailing_widget_slots if with_extras else 0)


# Per schema object: (the schema, [(widget name, extra slots)], count with extras, count without).
# Schemas are read-only once loaded and the inspector maps every node, so this is worked out once per
# class instead of once per node; the schema is kept in the entry so a reused id() never matches.
_LAYOUTS: dict[int, tuple[NodeSchema, list[tuple[str, int]], int, int]] = {}
_MAX_LAYOUTS = 4096


def _layout(schema: NodeSchema) -> tuple[list[tuple[str, int]], int, int]:
    hit = _LAYOUTS.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1], hit[2], hit[3]
    if len(_LAYOUTS) >= _MAX_LAYOUTS:
        _LAYOUTS.clear()
    slots = [(i.name, i.extra_widget_slots) for i in schema.widget_inputs()]
    entry = (schema, slots, _expected_len(schema, True), _expected_len(schema, False))
    _LAYOUTS[id(schema)] = entry
    return entry[1], entry[2], entry[3]


def _map_dynamic(values: list[Any], schema: NodeSchema) -> tuple[dict[str, Any], bool, list[Any]]:
    """:func:`map_with_schema` for a schema with V3 DynamicCombo widgets: the chosen option's own widgets
    follow the combo's value (``"resize_type.width"`` after ``"resize_type"``), so the layout depends on it."""
    out: dict[str, Any] = {}
    queue = list(schema.widget_inputs())
    pos = 0
    while queue and pos < len(values):
        spec = queue.pop(0)
        value = out[spec.name] = values[pos]
        pos += 1
        if spec.extra_widget_slots and pos < len(values) and isinstance(values[pos], str) and values[pos] in CONTROL_VALUES:
            pos += 1
        subs = (spec.dynamic_options or {}).get(value) if isinstance(value, str) else None
        queue[0:0] = [i for i in subs or () if i.is_widget]
    exact = not queue and len(values) - pos in (0, schema.trailing_widget_slots)
    return out, exact, list(values[pos:])


def map_with_schema(values: list[Any], schema: NodeSchema) -> tuple[dict[str, Any], bool, list[Any]]:
    """Returns (name → value, exact, values left over). ``exact`` is False when the count did not match."""
    if any(i.dynamic_options for i in schema.widget_inputs()):
        return _map_dynamic(values, schema)
    widgets, with_extras, without = _layout(schema)
    use_extras = len(values) == with_extras or len(values) != without
    exact = len(values) in (with_extras, without)
    out: dict[str, Any] = {}
    pos = 0
    for name, spec_extra in widgets:
        if pos >= len(values):
            break
        out[name] = values[pos]
        pos += 1
        extra = spec_extra if use_extras else 0
        if not exact and extra and pos < len(values):
            # Tolerant path: only skip the slot if it really holds a control/upload value.
            nxt = values[pos]
            if not (isinstance(nxt, str) and (nxt in CONTROL_VALUES or nxt in ("image", "video", "audio"))):
                extra = 0
        pos += extra
    return out, exact, list(values[pos:])


def map_without_schema(values: list[Any], node: GraphNode) -> tuple[dict[str, Any], list[Any]]:
    """Heuristic: newer frontends list every widget among ``inputs`` with ``widget.name``, in order."""
    names = [
        str(i["widget"]["name"])
        for i in node.ui_inputs
        if isinstance(i.get("widget"), Mapping) and i["widget"].get("name")
    ]
    plain = [v for v in values if not (isinstance(v, str) and v in CONTROL_VALUES)]
    if len(names) < len(plain):
        # Older frontends list only *converted* widgets among inputs: names would shift.
        return {}, list(values)
    out: dict[str, Any] = {}
    pos = 0
    for name in names:
        if pos >= len(values):
            break
        out[name] = values[pos]
        pos += 1
        if pos < len(values) and isinstance(values[pos], str) and values[pos] in CONTROL_VALUES:
            pos += 1
    return out, list(values[pos:])


def widget_inputs(node: GraphNode, schema: NodeSchema | None) -> tuple[dict[str, Any], str, list[Any]]:
    """(name → value, how, unnamed values); ``how`` is 'schema', 'schema-tolerant', 'dict', 'ui-inputs' or 'none'."""
    values = node.widgets_values
    if isinstance(values, Mapping):
        return {str(k): v for k, v in values.items()}, "dict", []
    if not isinstance(values, list) or not values:
        return {}, "none", []
    if schema is not None and schema.widget_inputs():
        mapped, exact, rest = map_with_schema(values, schema)
        return mapped, "schema" if exact else "schema-tolerant", rest
    mapped, rest = map_without_schema(values, node)
    return mapped, "ui-inputs" if mapped else "none", rest
