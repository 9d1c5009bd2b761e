"""Check an API-format prompt against node schemas, the way ComfyUI's ``validate_prompt`` would.

Differences from ComfyUI, on purpose:

* every node is checked, not only output nodes and their ancestors, and every unknown
  class is listed (ComfyUI stops at the first);
* a model-file combo whose file is not in the schema's folder listing is not an error but a
  ``ModelNeed`` ("install file X into folder Y"): the listing is the machine the schema was
  taken from, not the user's. Upload combos (LoadImage) are the same with folder ``input``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from comfyfixer.tools.reconstruct.api_to_ui import is_link
from comfyfixer.tools.reconstruct.models import ModelNeed, ValidationIssue, ValidationReport
from comfyfixer.tools.schema import InputSpec, NodeSchema
from comfyfixer.tools.schema.folders import (
    core_model_folder,
    guess_folder_from_input,
    looks_like_model_file,
    pack_model_folder,
)
from comfyfixer.tools.schema.packs import unvalidated_combos

MATCH_TYPE = "COMFY_MATCHTYPE_V3"  # io.MatchType.io_type


def _types_match(out_type: str, in_type: str) -> bool:
    """ComfyUI's rule: equal, either is ``*`` or a V3 MatchType (the frontend checks those), or a comma
    list on either side that overlaps (``comfy_execution/validation.py::validate_node_input``)."""
    if out_type == in_type or "*" in (out_type, in_type) or MATCH_TYPE in (out_type, in_type):
        return True
    outs = {t.strip() for t in out_type.split(",")}
    ins = {t.strip() for t in in_type.split(",")}
    if outs & ins:
        return True
    # A COMBO input fed by a node that outputs the combo's value (a string or a primitive).
    return in_type == "COMBO" and bool(outs & {"COMBO", "STRING", "*"})


def model_folder(class_type: str, spec: InputSpec, value: Any) -> str | None:
    """The model folder a combo reads, when it is a model-file combo; ``None`` otherwise.

    A core loader's folder from the table, or the folder a recorded pack's folder-listing combo lists;
    otherwise, when the value or any listed option looks like a model file, the folder guessed from the
    input name, or ``"unknown"``.
    """
    folder = core_model_folder(class_type, spec.name) or pack_model_folder(class_type, spec.name)
    if folder:
        return folder
    if looks_like_model_file(value) or any(looks_like_model_file(o) for o in spec.options or []):
        return guess_folder_from_input(class_type, spec.name) or "unknown"
    return None


def _check_literal(nid: str, ct: str, spec: InputSpec, value: Any, report: ValidationReport) -> None:
    """Check one literal input value against its spec: type, combo membership (a missing model or upload
    becomes a ``ModelNeed``, not an error) and min/max.
    """
    def issue(kind: str, message: str) -> None:
        """Add a :class:`ValidationIssue` of ``kind`` for this input."""
        report.errors.append(ValidationIssue(node_id=nid, class_type=ct, input=spec.name, kind=kind, message=message))

    t = spec.type
    if spec.v3_widget or t == "*":  # a frontend-drawn value (a colour, a box) or a wildcard socket: ComfyUI
        return                      # converts only INT/FLOAT/STRING/BOOLEAN literals and passes others as they are
    if t == "INT":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                issue("bad_type", f"{spec.name} must be an integer, got {value!r}")
                return
    elif t == "FLOAT":
        if isinstance(value, bool) or not isinstance(value, int | float):
            issue("bad_type", f"{spec.name} must be a number, got {value!r}")
            return
    elif t == "STRING":
        if not isinstance(value, str):
            issue("bad_type", f"{spec.name} must be a string, got {type(value).__name__}")
        return
    elif t == "BOOLEAN":
        if not isinstance(value, bool):
            issue("bad_type", f"{spec.name} must be true or false, got {value!r}")
        return
    elif t == "COMBO":
        options = spec.options or []
        if value in options or spec.validated_by_node or spec.name in unvalidated_combos().get(ct, ()):
            return
        folder = "input" if spec.image_upload else model_folder(ct, spec, value)
        if folder is not None and isinstance(value, str):
            report.needs_models.append(ModelNeed(node_id=nid, class_type=ct, input=spec.name, folder=folder, file=value))
            return
        shown = ", ".join(map(str, options[:8])) + (" …" if len(options) > 8 else "")
        issue("not_in_list", f"{spec.name}={value!r} is not one of: {shown}")
        return
    else:
        issue("bad_type", f"{spec.name} expects a {t} connection, got the literal {value!r}")
        return
    if spec.validated_by_node:  # ComfyUI leaves the bounds to the node's own check
        return
    if spec.min is not None and value < spec.min:
        issue("out_of_range", f"{spec.name}={value} is below the minimum {spec.min:g}")
    if spec.max is not None and value > spec.max:
        issue("out_of_range", f"{spec.name}={value} is above the maximum {spec.max:g}")


def expand_dynamic(specs: Iterable[InputSpec], inputs: Mapping[str, Any]) -> Iterator[InputSpec]:
    """The inputs a node has with these values, as ComfyUI expands V3 dynamic inputs before validating
    (``comfy_api/latest/_io.py``, ``_expand_schema_for_dynamic``): an Autogrow becomes its sockets
    ``name.<n>`` (the first ``grow_min`` required), a DynamicCombo is followed by its chosen option's inputs."""
    for spec in specs:
        if spec.grow_names is not None:
            if spec.grow_input is None:
                continue
            for i, sub in enumerate(spec.grow_names):
                required = i < spec.grow_min and spec.grow_input.section == "required"
                yield spec.grow_input.model_copy(update={"name": f"{spec.name}.{sub}",
                                                         "section": "required" if required else "optional"})
            continue
        yield spec
        chosen = inputs.get(spec.name)
        if spec.dynamic_options and isinstance(chosen, str):
            yield from expand_dynamic(spec.dynamic_options.get(chosen, []), inputs)


def validate_api(prompt: Mapping[str, Any], schemas: Mapping[str, NodeSchema]) -> ValidationReport:
    """Validate every node of an API prompt: known class, required inputs, link types, values.

    Returns a report whose ``errors`` would make ComfyUI refuse the prompt, and whose
    ``needs_models`` lists model files that must be installed first.
    """
    report = ValidationReport()
    nodes = {str(k): v for k, v in prompt.items() if isinstance(v, dict) and "class_type" in v}
    for nid, node in nodes.items():
        ct = str(node["class_type"])
        schema = schemas.get(ct)
        if schema is None:
            report.errors.append(ValidationIssue(node_id=nid, class_type=ct, kind="unknown_class",
                                                 message=f"node class {ct} is not installed"))
            if ct not in report.unknown_classes:
                report.unknown_classes.append(ct)
            continue
        inputs = node.get("inputs")
        if not isinstance(inputs, dict):
            report.errors.append(ValidationIssue(node_id=nid, class_type=ct, kind="bad_type",
                                                 message="the node's inputs are not an object"))
            continue
        for spec in expand_dynamic(schema.inputs, inputs):
            if spec.section == "hidden":
                continue
            if spec.name not in inputs:
                if spec.section == "required":
                    report.errors.append(ValidationIssue(node_id=nid, class_type=ct, input=spec.name,
                                                         kind="missing_required",
                                                         message=f"required input {spec.name} is missing"))
                continue
            value = inputs[spec.name]
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int):
                if not is_link(value, nodes):
                    report.errors.append(ValidationIssue(node_id=nid, class_type=ct, input=spec.name, kind="bad_link",
                                                         message=f"{spec.name} links to node {value[0]}, which is not in the graph"))
                    continue
                src = nodes[str(value[0])]
                src_schema = schemas.get(str(src["class_type"]))
                if src_schema is None:
                    continue  # already reported as unknown_class
                slot = value[1]
                if slot >= len(src_schema.outputs):
                    report.errors.append(ValidationIssue(node_id=nid, class_type=ct, input=spec.name, kind="bad_link",
                                                         message=f"{spec.name} links to output {slot} of {src['class_type']}, which has {len(src_schema.outputs)}"))
                    continue
                out_type = src_schema.outputs[slot].type
                if not _types_match(out_type, spec.type):
                    report.errors.append(ValidationIssue(node_id=nid, class_type=ct, input=spec.name, kind="link_type",
                                                         message=f"{spec.name} expects {spec.type} but is linked to {out_type}"))
                continue
            _check_literal(nid, ct, spec, value, report)
    return report
