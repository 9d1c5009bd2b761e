"""Rebuild the ComfyUI workflow behind an image: embedded graph, generation parameters, or Civitai.

Entry points: the ``reconstruct_workflow`` capability (``tool.py``, collaborators from the
``ToolContext``) and :func:`reconstruct` (``reconstruct.py``, collaborators injected, used by tests and
evals). Image metadata is read by ``tools/imagemeta``; Civitai evidence comes through
``civitai_source.py``; models are identified through the model resolver (hash and version lookups
only). Every part of the result is labelled ``certain`` or ``inferred`` with a confidence, because a
rebuilt workflow that looks right but quietly differs is worse than one that says what it guessed.
Nothing is written unless the caller passes an output folder, and existing files are never replaced.
"""

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
