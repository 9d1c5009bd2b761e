"""The ``inspect_workflow`` capability: the inspector with the context's schemas and catalogs."""

from __future__ import annotations

from pathlib import Path

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.toolset import capability
from comfyfixer.tools.workflow.inspect import InspectInput, inspect_source
from comfyfixer.tools.workflow.models import InspectionResult


@capability(command="inspect")
def inspect_workflow(inp: InspectInput, ctx: ToolContext) -> InspectionResult:
    """Inspect a ComfyUI workflow (UI or API JSON, or an image that embeds one).

    Lists the node types it uses, every model file it loads (with the model folder its loader reads
    and any download URL the workflow gives), which custom node pack provides each non-core node
    (RESOLVED, UNCERTAIN with ranked candidates, NOT_FOUND, or CORE_UPDATE when ComfyUI itself is
    too old), and key sampler parameters. Reads only; changes nothing.
    """
    return inspect_source(Path(inp.path).expanduser(), schemas=ctx.schemas(inp.object_info), catalog=ctx.catalog())
