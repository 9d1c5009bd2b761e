"""Rebuild the ComfyUI workflow behind an image: embedded graph, generation parameters, or Civitai."""

from comfyfixer.tools.reconstruct.api_to_ui import UiConversion, api_to_ui
from comfyfixer.tools.reconstruct.from_parameters import ParametersGraph, build_from_parameters
from comfyfixer.tools.reconstruct.models import (
    CustomNodeNeed,
    Inferred,
    ModelNeed,
    ModelVerdict,
    ReconstructInput,
    ReconstructResult,
    ValidationIssue,
    ValidationReport,
)
from comfyfixer.tools.reconstruct.reconstruct import reconstruct
from comfyfixer.tools.reconstruct.tool import reconstruct_workflow
from comfyfixer.tools.reconstruct.validate import validate_api

__all__ = [
    "CustomNodeNeed",
    "Inferred",
    "ModelNeed",
    "ModelVerdict",
    "ParametersGraph",
    "ReconstructInput",
    "ReconstructResult",
    "UiConversion",
    "ValidationIssue",
    "ValidationReport",
    "api_to_ui",
    "build_from_parameters",
    "reconstruct",
    "reconstruct_workflow",
    "validate_api",
]
