"""Fix planning: from "what is missing" to a saved plan the user approves — one way for the CLI's
``fix`` and the assistant's ``plan_fix``.

1. :func:`gather_inputs` checks readiness and resolves every gap into :class:`PlanInputs`;
2. :func:`make_plan` pins packs to a commit, takes the registry's repository for registry-only
   packs, applies the context's policy (size caps, licences) and builds the :class:`Plan`;
3. :func:`plan_fix` (the capability) does both and saves the plan under the state folder.

Nothing here changes ComfyUI: applying is ``comfyfixer apply`` with the user's approval token.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from comfyfixer.agent.plan import (
    DownloadAction,
    DownloadCandidate,
    MisplacedNeed,
    ModelNeed,
    NodeTypeNeed,
    PackRef,
    Plan,
    PlanInputs,
    PlanPolicy,
    build_plan,
    free_disk_bytes,
    registry_only,
    save_plan,
    summary_lines,
    to_json_summary,
)
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import ComfyFixerError, ConfigError
from comfyfixer.tools.toolset import capability

log = logging.getLogger(__name__)

_TOKEN_SETTINGS = {"civitai": ("civitai_token", "COMFYFIXER_CIVITAI_TOKEN (or CIVITAI_API_TOKEN)"),
                   "hf": ("hf_token", "HF_TOKEN")}


class PlanFixInput(BaseModel):
    """Which workflows to plan for; the ComfyUI to fix comes from the user's settings."""

    paths: list[str] = Field(min_length=1, description="Workflow files (JSON or images embedding one) or folders.")
    resolve: bool = Field(default=True, description="Search catalogs, Hugging Face and Civitai for missing models.")
    pin: bool = Field(default=True, description="Ask each pack's git remote for the commit to pin it at.")
    save: bool = Field(default=True, description="Save the plan file (False: show it only).")


class PlanFixResult(BaseModel):
    """A fix plan, summarised."""

    plan_file: str | None = Field(description="Where the plan was saved; the user approves this file.")
    plan_id: str = Field(description="The plan's content id.")
    actions: list[dict[str, Any]] = Field(description="Downloads, moves and pack installs the plan would do.")
    unresolved: list[dict[str, Any]] = Field(description="Needs the plan could not settle (ask the user).")
    total_download_bytes: int = Field(description="Bytes the plan would download.")
    free_bytes: int | None = Field(default=None, description="Free disk space when the plan was made.")
    warnings: list[str] = Field(default_factory=list, description="Licence, token, disk and size warnings.")
    notes: list[str] = Field(default_factory=list, description="Tokens the user must set before applying.")
    summary: list[str] = Field(default_factory=list, description="The plan as the user reads it, line by line.")
    next_step: str = Field(description="What the user does to approve and apply the plan.")


@capability(command="fix")
def plan_fix(inp: PlanFixInput, ctx: ToolContext) -> PlanFixResult:
    """Build a fix plan that would make workflows runnable on the user's ComfyUI: model downloads
    (with sources, sizes, licences and token needs), moves of files in the wrong folder, and custom
    node pack installs. The plan is saved to a file and NOTHING is changed: tell the user the plan
    file and that they approve it with `comfyfixer approve`. List unresolved items and ambiguous
    choices as UNCERTAIN."""
    inputs = gather_inputs(inp.paths, ctx, resolve=inp.resolve and not ctx.offline)
    plan = make_plan(inputs, ctx, pin=inp.pin)
    path = save_plan(plan, ctx.state_dir) if inp.save else None
    return plan_result(plan, path, ctx)


def plan_result(plan: Plan, path: Path | None, ctx: ToolContext) -> PlanFixResult:
    """The summary of ``plan`` (saved at ``path``, or not saved) that the CLI and the assistant show."""
    doc = to_json_summary(plan, path or Path(""))
    doc["plan_file"] = str(path) if path else None
    if path is None:
        step = "The plan was not saved (dry run)."
    else:
        step = (f"The user reviews the plan, approves it with `comfyfixer approve {path}` and applies it with "
                f"`comfyfixer apply {path} --token …`. You cannot approve or apply it.")
    return PlanFixResult(**doc, notes=token_notes(plan, ctx), summary=summary_lines(plan), next_step=step)


def token_notes(plan: Plan, ctx: ToolContext) -> list[str]:
    """Which downloads will fail for want of a token, said before approval."""
    notes = []
    for a in plan.actions:
        if isinstance(a, DownloadAction) and a.token and not ctx.secret(_TOKEN_SETTINGS[a.token][0]):
            gated = " (gated: accept its license on the website too)" if a.gated else ""
            notes.append(f"{a.item} needs a {a.token} token{gated}: set {_TOKEN_SETTINGS[a.token][1]}")
    return notes


def gather_inputs(paths: list[str], ctx: ToolContext, *, resolve: bool) -> PlanInputs:
    """Readiness check, then the resolver for every missing model → :class:`PlanInputs`."""
    from comfyfixer.tools.readiness import CheckInput, check_workflows

    if ctx.comfyui_dir is None:
        raise ConfigError("no ComfyUI folder to fix", hint="pass --comfyui DIR or set COMFYFIXER_COMFYUI_DIR")
    comfy = Path(ctx.comfyui_dir)
    result = check_workflows(CheckInput(paths=paths), ctx)
    models: dict[tuple[str | None, str], ModelNeed] = {}
    misplaced: list[MisplacedNeed] = []
    node_types: dict[str, NodeTypeNeed] = {}
    for wf in result.workflows:
        for mm in wf.missing_models:
            key = (mm.folder, mm.filename)
            if key in models:
                models[key].node_ids.extend(mm.node_ids)
                continue
            if resolve:
                verdict, cands, reason = _resolve(ctx, mm.filename, mm.folder, mm.url or mm.catalog_url)
            else:
                cands = []
                for src, url in (("workflow", mm.url), ("catalog:manager", mm.catalog_url)):
                    if url and not any(c.url == url for c in cands):
                        cands.append(DownloadCandidate(source=src, url=url, filename=mm.filename.rsplit("/", 1)[-1]))
                verdict = "RESOLVED" if len(cands) == 1 else "UNCERTAIN" if cands else "NOT_FOUND"
                reason = "" if cands else "no URL in the workflow or catalogs (online search was off)"
            models[key] = ModelNeed(filename=mm.filename, folder=mm.folder, node_ids=list(mm.node_ids),
                                    verdict=verdict, candidates=cands, reason=reason)
        for mis in wf.misplaced_models:
            if mis.expected_folder and mis.move_from:
                try:
                    rel = Path(mis.move_from).resolve().relative_to(comfy.resolve()).as_posix()
                except ValueError:
                    continue  # outside the ComfyUI folder: we never move files we do not own
                misplaced.append(MisplacedNeed(filename=mis.filename, found_in=rel, expected_folder=mis.expected_folder))
        for nt in wf.missing_node_types:
            if nt.class_type not in node_types:
                node_types[nt.class_type] = NodeTypeNeed(
                    class_type=nt.class_type, status=nt.status, reason=nt.reason or nt.fix,
                    packs=[PackRef(id=p.id, reference=p.reference) for p in nt.packs])
    manager = next((p for p in (comfy / "custom_nodes" / d / "cm-cli.py" for d in ("ComfyUI-Manager", "comfyui-manager"))
                    if p.is_file()), None)
    return PlanInputs(
        comfyui_dir=comfy, workflows=[w.path for w in result.workflows], models=list(models.values()),
        misplaced=misplaced, node_types=list(node_types.values()),
        comfyui_python=str(ctx.comfyui_python) if ctx.comfyui_python else None,
        manager_cli=str(manager) if manager else None,
    )


def _resolve(ctx: ToolContext, filename: str, folder: str | None, url: str | None) -> tuple[str, list[DownloadCandidate], str]:
    """One missing model through the resolver: (verdict, candidates, reason)."""
    from comfyfixer.tools.resolver.models import ModelQuery
    from comfyfixer.tools.resolver.tools import resolve_model

    try:
        verdict = resolve_model(ModelQuery(filename=filename, folder=folder, url_hint=url), ctx)
    except ComfyFixerError as exc:
        return "NOT_FOUND", [], f"resolver failed: {exc}"
    cands = [c.model_copy(update={"folder": c.folder or verdict.folder, "note": "; ".join(c.reasons[:3])})
             for c in verdict.candidates]
    reason = "; ".join(e.said for e in verdict.evidence[-2:]) if str(verdict.status) != "RESOLVED" else ""
    return str(verdict.status), cands, reason


def make_plan(inputs: PlanInputs, ctx: ToolContext, *, pin: bool = True) -> Plan:
    """Pin packs (online), fill ComfyUI's Python, apply the context's policy and build the plan."""
    if pin and not ctx.offline:
        inputs = pin_packs(inputs, ctx)
    if inputs.comfyui_python is None and ctx.comfyui_python is not None:
        inputs.comfyui_python = str(ctx.comfyui_python)
    policy = PlanPolicy(max_download_bytes=ctx.max_download_bytes, max_total_bytes=ctx.max_total_bytes,
                        license_allowlist=list(ctx.license_allowlist))
    return build_plan(inputs, policy, free_bytes=free_disk_bytes(inputs.comfyui_dir))


def _repositories_from_registry(inputs: PlanInputs, ctx: ToolContext) -> None:
    """Packs known only by registry id get their git repository from the Comfy registry."""
    wanted = [p for nt in inputs.node_types if nt.status == "RESOLVED" for p in nt.packs[:1]
              if registry_only(p.reference)]
    registry = ctx.registry_client() if wanted else None
    if registry is None:
        return
    found: dict[str, str | None] = {}
    for pack in wanted:
        if pack.id not in found:
            try:
                repo = registry.node(pack.id).repository
                found[pack.id] = repo if repo and repo.startswith("https://") else None
            except ComfyFixerError as exc:
                log.warning("the Comfy registry could not name the repository of %s: %s", pack.id, exc)
                found[pack.id] = None
        if found[pack.id]:
            pack.reference = found[pack.id]


def pin_packs(inputs: PlanInputs, ctx: ToolContext) -> PlanInputs:
    """Pin every pack without a commit to the remote's current HEAD (so the plan is exact)."""
    from comfyfixer.tools.gitpack import remote_head

    policy = ctx.host_policy()
    heads: dict[str, str | None] = {}
    _repositories_from_registry(inputs, ctx)
    for nt in inputs.node_types:
        if nt.status != "RESOLVED":
            continue
        for pack in nt.packs[:1]:
            if pack.commit or registry_only(pack.reference):
                continue
            if pack.reference not in heads:
                try:
                    heads[pack.reference] = remote_head(pack.reference, policy, timeout=ctx.http_timeout)
                except ComfyFixerError as exc:
                    log.warning("cannot pin %s: %s", pack.id, exc)
                    heads[pack.reference] = None
            pack.commit = heads[pack.reference]
    return inputs


def recheck(plan: Plan, ctx: ToolContext) -> dict[str, Any]:
    """After applying: which of the plan's workflows run now, and what the others still miss."""
    from comfyfixer.tools.readiness import CheckInput, check_workflows

    existing = [w for w in plan.workflows if Path(w).exists()]
    if not existing:
        return {"skipped": "workflow files not found"}
    try:
        result = check_workflows(CheckInput(paths=existing),
                                 ctx.model_copy(update={"comfyui_dir": Path(plan.comfyui_dir), "use_cache": False}))
    except ComfyFixerError as exc:
        return {"error": str(exc)}
    return {
        "runnable": [w.path for w in result.workflows if w.status == "runnable"],
        "not_runnable": [{"path": w.path, "status": w.status,
                          "missing_models": [m.filename for m in w.missing_models],
                          "missing_node_types": [n.class_type for n in w.missing_node_types]}
                         for w in result.workflows if w.status != "runnable"],
    }
