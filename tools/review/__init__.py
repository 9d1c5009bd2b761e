"""Workflow review and diff: what a workflow does and how two versions differ (no language model).

``review.py`` holds the ``review_workflow`` capability, ``diff.py`` ``diff_workflows``; ``families.py``
names model families from file names, ``ranges.py`` reads the knowledge pack's recommended sampling
ranges, ``graphfacts.py`` the graph facts both use, ``render.py`` their Markdown. The models are imported
on first use, so ``check`` (which reads only ``history.py``) does not build them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from comfyfixer.tools.review.models import Finding, ReviewInput, WorkflowReview

__all__ = ["Finding", "ReviewInput", "WorkflowReview"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from comfyfixer.tools.review import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
