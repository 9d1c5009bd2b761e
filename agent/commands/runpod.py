"""``comfyfixer runpod``: send a workflow to a RunPod serverless (worker-comfyui) endpoint.

Submitting costs money, so it follows the same rule as downloads: ``prepare`` writes a job file
(free), ``approve`` turns the user's yes into a single-use token, ``submit`` needs that token.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from comfyfixer.agent.options import ENDPOINT, JSON_OUT
from comfyfixer.agent.output import console, emit_json

if TYPE_CHECKING:
    from comfyfixer.tools.runpod import RunPodClient

runpod_app = typer.Typer(help="Run a workflow on a RunPod serverless GPU endpoint (worker-comfyui).",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(runpod_app, name="runpod")


def _endpoint(explicit: str | None) -> str:
    from comfyfixer.agent.config import load_settings
    from comfyfixer.tools.errors import ConfigError

    endpoint = explicit or load_settings().runpod_endpoint_id
    if not endpoint:
        raise ConfigError("no RunPod endpoint given", hint="pass --endpoint or set COMFYFIXER_RUNPOD_ENDPOINT_ID")
    return endpoint


def _client(endpoint: str) -> RunPodClient:
    from comfyfixer.agent.config import load_settings
    from comfyfixer.tools.runpod import RunPodClient

    s = load_settings()
    return RunPodClient(endpoint, s.secret("runpod_api_key"), base_url=s.runpod_base_url,
                        timeout=s.http_timeout, retries=s.http_retries)


@runpod_app.command("prepare")
def prepare_command(
    workflow: str = typer.Argument(..., help="Workflow JSON (UI or API) or an image that embeds one."),
    endpoint: str | None = ENDPOINT,
    image: list[str] = typer.Option([], "--image", help="An input image the workflow loads (repeatable)."),
    json_out: bool = JSON_OUT,
) -> int:
    """Write a job file (API-format workflow + input images). Sends nothing, costs nothing."""
    from comfyfixer.agent import services
    from comfyfixer.tools.runpod import RunPodPrepareInput

    _, ctx = services.context(runpod_endpoint_id=endpoint)
    with ctx:
        prepared = services.run("prepare_runpod_job", RunPodPrepareInput(workflow=workflow, images=image), ctx)
    info = prepared.model_dump(mode="json", exclude={"next_step"})
    path = prepared.job_file
    if json_out:
        emit_json(info)
        return 0
    console.print(f"Job file: [bold]{escape(path)}[/] ({info['nodes']} nodes, {info['size_bytes'] / 1e3:.0f} kB)")
    for w in info["warnings"]:
        console.print(f"[yellow]note:[/] {escape(w)}")
    console.print(f"Next: [bold]comfyfixer runpod approve {escape(path)}[/]")
    return 0


@runpod_app.command("approve")
def approve_command(
    job_file: Path = typer.Argument(..., help="A job file from `comfyfixer runpod prepare`."),
    yes: bool = typer.Option(False, "--yes", help="Approve without asking (you reviewed the job)."),
    json_out: bool = JSON_OUT,
) -> int:
    """Review a job and approve it: prints a single-use token that `runpod submit` needs."""
    from comfyfixer.agent import approval
    from comfyfixer.agent.config import load_settings
    from comfyfixer.agent.runpod_jobs import load_job, summary
    from comfyfixer.tools.errors import ApprovalError

    settings = load_settings()
    job = load_job(job_file)
    info = summary(job)
    if not json_out:
        console.print(f"Run {info['nodes']} nodes on RunPod endpoint [bold]{escape(info['endpoint_id'])}[/] "
                      f"(this starts paid GPU time).")
        for m in info["models_needed"]:
            console.print(f"  the workers must have: {m}", markup=False)
    if not yes:
        import sys

        if not sys.stdin.isatty():
            raise ApprovalError("approval needs a terminal", hint="review the job and pass --yes")
        if not typer.confirm("Approve this job?", default=False):
            raise ApprovalError("not approved")
    granted = approval.issue(job_file, job.plan_id, settings.state_dir, settings.approval_ttl_seconds)
    if json_out:
        emit_json({"token": granted.token, "expires_at": granted.expires_at})
    else:
        console.print(f"Token (single use, expires {granted.expires_at}):\n{granted.token}")
    return 0


@runpod_app.command("submit")
def submit_command(
    job_file: Path = typer.Argument(..., help="An approved job file."),
    token: str = typer.Option(..., "--token", help="The approval token from `comfyfixer runpod approve`."),
    out: Path = typer.Option(Path("runpod-out"), "--out", help="Where returned images are saved."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for the job and save its images."),
    timeout: float = typer.Option(900.0, "--timeout", help="Seconds to wait before giving up (the job keeps running)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the token and the job; send nothing."),
    json_out: bool = JSON_OUT,
) -> int:
    """Send an approved job to RunPod (spends money), wait for it, and save the images it returns."""
    from comfyfixer.agent import approval
    from comfyfixer.agent.config import load_settings
    from comfyfixer.agent.journal import Journal
    from comfyfixer.agent.runpod_jobs import load_job
    from comfyfixer.tools.runpod import ComfyJobOutput, save_outputs

    settings = load_settings()
    job = load_job(job_file)
    if dry_run:
        approval.check(token, job_file, job.plan_id, settings.state_dir)
        checked = {"dry_run": True, "plan_id": job.plan_id, "would_send_to": job.request.endpoint_id}
        emit_json(checked) if json_out else console.print("Token valid; nothing sent (dry run).")
        return 0
    approval.consume(token, job_file, job.plan_id, settings.state_dir)
    with Journal(settings.state_dir) as journal, _client(job.request.endpoint_id) as rp:
        queued = rp.run(job.request.input.model_dump(mode="json"))
        journal.append("runpod.submit", plan_id=job.plan_id,
                       inputs={"endpoint_id": job.request.endpoint_id, "job_file": str(job_file)},
                       outputs={"job_id": queued.id, "status": queued.status})
        result: dict[str, object] = {"job_id": queued.id, "status": queued.status}
        if wait:
            try:
                done = rp.wait(queued.id, deadline_s=timeout,
                               on_update=None if json_out else (lambda j: console.print(f"  {j.status}", markup=False)))
            except Exception as exc:
                journal.append("runpod.result", plan_id=job.plan_id, status="failed",
                               inputs={"job_id": queued.id}, message=str(exc))
                raise
            files, urls = save_outputs(ComfyJobOutput.model_validate(done.output or {}), out)
            journal.append("runpod.result", plan_id=job.plan_id, inputs={"job_id": queued.id},
                           outputs={"files": [str(f) for f in files], "urls": urls,
                                    "execution_time_ms": done.execution_time_ms},
                           after={str(f): True for f in files})
            result.update(status=done.status, files=[str(f) for f in files], urls=urls,
                          delay_time_ms=done.delay_time_ms, execution_time_ms=done.execution_time_ms)
    if json_out:
        emit_json(result)
    else:
        console.print(f"RunPod job {result['job_id']}: {result['status']}", markup=False)
        for f in result.get("files") or []:  # type: ignore[attr-defined]
            console.print(f"  saved {f}", markup=False)
    return 0


def _job_command(op: str, doc: str) -> Any:
    """``runpod status`` and ``runpod cancel``: the same arguments, one call each."""

    def command(job_id: str = typer.Argument(...), endpoint: str | None = ENDPOINT, json_out: bool = JSON_OUT) -> int:
        return _job_call(op, job_id, endpoint, json_out)

    command.__doc__ = doc
    return command


runpod_app.command("status")(_job_command("status", "Show a job's state."))
runpod_app.command("cancel")(_job_command("cancel", "Cancel a queued or running job (stops spending)."))


def _job_call(op: str, job_id: str, endpoint: str | None, json_out: bool) -> int:
    with _client(_endpoint(endpoint)) as rp:
        job = rp.status(job_id) if op == "status" else rp.cancel(job_id)
    emit_json(job.model_dump(mode="json", by_alias=True)) if json_out else console.print(f"{job.id}: {job.status}", markup=False)
    return 0


@runpod_app.command("health")
def health_command(
    endpoint: str | None = ENDPOINT,
    json_out: bool = JSON_OUT,
) -> int:
    """Show the endpoint's queue and workers."""
    with _client(_endpoint(endpoint)) as rp:
        health = rp.health()
    emit_json(health) if json_out else console.print(f"jobs {health.jobs}; workers {health.workers}", markup=False)
    return 0
