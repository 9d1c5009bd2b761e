"""Tools that live on the agent side (they need Settings), added to the shared toolset.

``plan_fix`` builds and saves a fix plan, the same one ``comfyfixer fix`` makes, and
``prepare_runpod_job`` saves a RunPod job file like ``comfyfixer runpod prepare``. Both only plan:
nothing in ComfyUI changes and nothing is sent or paid for until the user approves the file
(``comfyfixer approve`` / ``comfyfixer runpod approve``) and applies or submits it with the
single-use token, outside the model's reach.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from comfyfixer.agent.config import Settings
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import InputError
from comfyfixer.tools.toolset import Toolset, ToolSpec, default_toolset


class PlanFixInput(BaseModel):
    """Input of ``plan_fix``."""

    paths: list[str] = Field(min_length=1, description="Workflow files (JSON or images embedding one) or folders.")
    resolve: bool = Field(default=True, description="Search catalogs, Hugging Face and Civitai for missing models.")


class PlanFixResult(BaseModel):
    """A saved fix plan, summarised."""

    plan_file: str = Field(description="Where the plan was saved; the user approves this file.")
    plan_id: str = Field(description="The plan's content id.")
    actions: list[dict[str, Any]] = Field(description="Downloads, moves and pack installs the plan would do.")
    unresolved: list[dict[str, Any]] = Field(description="Needs the plan could not settle (ask the user).")
    total_download_bytes: int = Field(description="Bytes the plan would download.")
    free_bytes: int | None = Field(default=None, description="Free disk space when the plan was made.")
    warnings: list[str] = Field(default_factory=list, description="Licence, token, disk and size warnings.")
    next_step: str = Field(description="What the user does to approve and apply the plan.")


def plan_spec(settings: Settings) -> ToolSpec:
    def run(args: BaseModel, ctx: ToolContext) -> BaseModel:
        from comfyfixer.agent.commands.fix import gather_inputs, make_plan
        from comfyfixer.agent.plan import save_plan, to_json_summary

        assert isinstance(args, PlanFixInput)
        if settings.comfyui_dir is None:
            raise InputError("no ComfyUI folder is configured", hint="the user sets COMFYFIXER_COMFYUI_DIR")
        inputs = gather_inputs(settings, list(args.paths), resolve=args.resolve and not settings.offline)
        plan = make_plan(inputs, settings)
        path = save_plan(plan, settings.state_dir)
        summary = to_json_summary(plan, path)
        step = (f"The user reviews the plan, approves it with `comfyfixer approve {path}` and applies it with "
                f"`comfyfixer apply {path} --token …`. You cannot approve or apply it.")
        return PlanFixResult(**summary, next_step=step)

    return ToolSpec(
        name="plan_fix",
        description=(
            "Build a fix plan that would make workflows runnable on the user's ComfyUI: model downloads "
            "(with sources, sizes, licences and token needs), moves of files in the wrong folder, and "
            "custom node pack installs. The plan is saved to a file and NOTHING is changed: tell the user "
            "the plan file and that they approve it with `comfyfixer approve`. List unresolved items and "
            "ambiguous choices as UNCERTAIN."
        ),
        input_model=PlanFixInput,
        result_model=PlanFixResult,
        run=run,
    )


class RunPodPrepareArgs(BaseModel):
    """Input of ``prepare_runpod_job``."""

    workflow: str = Field(description="Path of the workflow (UI or API JSON, or an image embedding one).")
    endpoint_id: str | None = Field(default=None, description="RunPod endpoint id; default: the configured one.")
    images: list[str] = Field(default_factory=list, description="Paths of input images the workflow loads.")


class RunPodPrepared(BaseModel):
    """A saved RunPod job file, summarised. Nothing was sent and nothing was spent."""

    job_file: str = Field(description="Where the job was saved; the user approves this file.")
    endpoint_id: str = Field(description="The endpoint the job is for.")
    nodes: int = Field(description="Nodes in the API-format workflow.")
    size_bytes: int = Field(description="Request size (RunPod accepts at most 10 MB).")
    models_needed: list[str] = Field(description="Model files the endpoint's workers must already have.")
    images_needed: list[str] = Field(description="Images the workflow loads by name.")
    warnings: list[str] = Field(default_factory=list, description="What may fail on the worker.")
    next_step: str = Field(description="What the user does to approve and submit the job.")


def runpod_spec(settings: Settings) -> ToolSpec:
    def run(args: BaseModel, ctx: ToolContext) -> BaseModel:
        from comfyfixer.agent.runpod_jobs import save_job, summary
        from comfyfixer.tools.runpod import RunPodPrepareInput, prepare_runpod_job

        assert isinstance(args, RunPodPrepareArgs)
        endpoint = args.endpoint_id or settings.runpod_endpoint_id
        if not endpoint:
            raise InputError("no RunPod endpoint id", hint="the user sets COMFYFIXER_RUNPOD_ENDPOINT_ID or names one")
        request = prepare_runpod_job(RunPodPrepareInput(workflow=args.workflow, endpoint_id=endpoint,
                                                        images=args.images))
        path, job = save_job(request, settings.state_dir)
        info = summary(job)
        step = (f"Submitting costs money: the user approves with `comfyfixer runpod approve {path}` and sends it "
                f"with `comfyfixer runpod submit {path} --token …`. You cannot submit it.")
        return RunPodPrepared(job_file=str(path), endpoint_id=info["endpoint_id"], nodes=info["nodes"],
                              size_bytes=info["size_bytes"], models_needed=info["models_needed"],
                              images_needed=info["images_needed"], warnings=info["warnings"], next_step=step)

    return ToolSpec(
        name="prepare_runpod_job",
        description=(
            "Prepare a workflow to run on the user's RunPod serverless GPU endpoint (worker-comfyui): converts "
            "it to API format, attaches input images, checks the 10 MB limit and lists the models the workers "
            "must have. Saves a job file and SENDS NOTHING: submitting costs money and only the user can "
            "approve and submit it."
        ),
        input_model=RunPodPrepareArgs,
        result_model=RunPodPrepared,
        run=run,
    )


def agent_toolset(settings: Settings, ctx: ToolContext) -> Toolset:
    """The shared tools plus the agent-side ones."""
    ts = default_toolset(ctx)
    ts.add(plan_spec(settings))
    ts.add(runpod_spec(settings))
    return ts
