"""Workflow review and diff: what a workflow does and how two versions differ (no language model).

``review.py`` holds the ``review_workflow`` capability, ``diff.py`` ``diff_workflows``; ``families.py``
names model families from file names, ``ranges.py`` reads the knowledge pack's recommended sampling
ranges, ``graphfacts.py`` the graph facts both use, ``render.py`` their Markdown. The models are imported
on first use, so ``check`` (which reads only ``history.py``) does not build them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from comfyfixer.tools.lazy import lazy_exports

if TYPE_CHECKING:
    from comfyfixer.tools.review.models import Finding, ReviewInput, WorkflowReview

__all__ = ["Finding", "ReviewInput", "WorkflowReview"]


__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "models"))
