"""Readiness: will each workflow run on this ComfyUI, and exactly what is missing."""

from comfyfixer.tools.readiness.assess import VIRTUAL_CLASSES, Assessor, invalid, version_at_least
from comfyfixer.tools.readiness.check import check_workflows, display_names
from comfyfixer.tools.readiness.models import (
    CheckInput,
    CheckResult,
    MisplacedModel,
    MissingModel,
    MissingNodeType,
    PackSuggestion,
    PresentModel,
    Summary,
    WorkflowReadiness,
)

__all__ = [
    "VIRTUAL_CLASSES",
    "Assessor",
    "CheckInput",
    "CheckResult",
    "MisplacedModel",
    "MissingModel",
    "MissingNodeType",
    "PackSuggestion",
    "PresentModel",
    "Summary",
    "WorkflowReadiness",
    "check_workflows",
    "display_names",
    "invalid",
    "version_at_least",
]
