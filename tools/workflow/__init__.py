"""Workflow inspector: load any ComfyUI workflow and say what it needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from comfyfixer.tools.lazy import lazy_exports

if TYPE_CHECKING:
    from comfyfixer.tools.workflow.convert import graph_to_api, ui_to_api
    from comfyfixer.tools.workflow.inspect import InspectInput, inspect_loaded, inspect_source
    from comfyfixer.tools.workflow.loader import LoadedWorkflow, iter_workflow_files, load_workflow
    from comfyfixer.tools.workflow.models import (
        CustomNodeFinding,
        InspectionResult,
        ModelRef,
        NodeTypeCount,
        PackRef,
    )

# Each name is imported from its module on first use: a check whose workflows are all in the readiness
# cache lists files (``loader``) and never converts or inspects one.
_HOME = {"graph_to_api": "convert", "ui_to_api": "convert", "InspectInput": "inspect", "inspect_loaded": "inspect",
         "inspect_source": "inspect", "LoadedWorkflow": "loader", "iter_workflow_files": "loader",
         "load_workflow": "loader", "CustomNodeFinding": "models", "InspectionResult": "models",
         "ModelRef": "models", "NodeTypeCount": "models", "PackRef": "models"}

__all__ = [
    "CustomNodeFinding",
    "InspectInput",
    "InspectionResult",
    "LoadedWorkflow",
    "ModelRef",
    "NodeTypeCount",
    "PackRef",
    "graph_to_api",
    "inspect_loaded",
    "inspect_source",
    "iter_workflow_files",
    "load_workflow",
    "ui_to_api",
]


__getattr__ = lazy_exports(__name__, _HOME)
