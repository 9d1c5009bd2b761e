"""Workflow inspector: load any ComfyUI workflow and say what it needs."""

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
