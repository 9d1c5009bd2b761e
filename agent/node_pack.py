"""``comfyfixer comfyui install-nodes``: a plan that puts ComfyFixerSmart's node pack into a ComfyUI.

The pack (``comfyfixer_nodes``, installed as ``comfyfixer.nodes``) is linked — or copied — into the
configured ComfyUI's ``custom_nodes`` through the usual path: this capability only writes a plan
(one ``link_node_pack`` action), the user approves it with ``comfyfixer approve`` and applies it with
``comfyfixer apply``, which creates the link and journals it. ComfyUI also needs this project in its
own Python (``pip install -e <repo>`` with ComfyUI's Python): the plan says so when the configured
``comfyui_python`` cannot import ``comfyfixer``.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from comfyfixer.agent.plan import LinkPackAction, Plan, PlanPolicy, finalize, free_disk_bytes, save_plan
from comfyfixer.agent.planning import PlanFixResult, plan_result
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import ConfigError
from comfyfixer.tools.toolset import capability

log = logging.getLogger(__name__)

PACK_NAME = "comfyfixer_nodes"


class InstallNodesInput(BaseModel):
    """How to put the pack into the configured ComfyUI."""

    method: Literal["symlink", "copy"] = Field(
        default="symlink", description="symlink (the pack follows this checkout) or copy (a snapshot of it).")
    save: bool = Field(default=True, description="Save the plan file (False: show it only).")


def pack_folder() -> Path:
    """The pack's folder in this installation (``comfyfixer.nodes``' package directory)."""
    import comfyfixer.nodes as pack

    return Path(pack.__file__).resolve().parent


def _python_has_project(python: Path) -> bool | None:
    """Whether ComfyUI's Python imports ``comfyfixer.nodes`` (None when it cannot be run)."""
    try:
        out = subprocess.run([str(python), "-c", "import comfyfixer.nodes"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.returncode == 0


@capability(command="comfyui install-nodes")
def plan_install_nodes(inp: InstallNodesInput, ctx: ToolContext) -> PlanFixResult:
    """Plan installing ComfyFixerSmart's own ComfyUI node pack (Save Image with faithful metadata and
    runtime capture, Use RunPod) into the user's ComfyUI custom_nodes folder, as a link or a copy.
    The plan is saved to a file and NOTHING is changed: the user approves it with `comfyfixer approve`
    and applies it with `comfyfixer apply`."""
    if ctx.comfyui_dir is None:
        raise ConfigError("no ComfyUI folder to install the nodes into",
                          hint="pass --comfyui DIR or set COMFYFIXER_COMFYUI_DIR")
    comfy = Path(ctx.comfyui_dir).resolve()
    source = pack_folder()
    action = LinkPackAction(item=f"pack:{PACK_NAME}", source=str(source), target=f"custom_nodes/{PACK_NAME}",
                            method=inp.method)
    warnings: list[str] = []
    if (comfy / action.target).exists() or (comfy / action.target).is_symlink():
        warnings.append(f"{action.target} already exists; apply leaves it alone unless it already links {source}")
    if ctx.comfyui_python is not None:
        has = _python_has_project(Path(ctx.comfyui_python))
        if has is False:
            warnings.append(f"ComfyUI's Python ({ctx.comfyui_python}) cannot import comfyfixer: install this project "
                            "into it (`<comfyui python> -m pip install -e <this repo>`) or the pack will not load")
    else:
        warnings.append("ComfyUI's Python must have this project installed (pip install -e <this repo>) for the "
                        "pack to load; set COMFYFIXER_COMFYUI_PYTHON to have it checked")
    policy = PlanPolicy(max_download_bytes=ctx.max_download_bytes, max_total_bytes=ctx.max_total_bytes,
                        license_allowlist=list(ctx.license_allowlist))
    plan = finalize(Plan(comfyui_dir=str(comfy), actions=[action], policy=policy, warnings=warnings,
                         free_bytes=free_disk_bytes(comfy)))
    path = save_plan(plan, ctx.state_dir) if inp.save else None
    return plan_result(plan, path, ctx)
