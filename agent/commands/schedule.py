"""``comfyfixer schedule``: keep readiness reports and the dashboard current on the owner's schedule.

``schedule PATHS --out DIR`` runs cycles every ``schedule_every`` (2 h) in the foreground; ``--once`` runs
one cycle and exits (what the OS service runs). ``schedule install PATHS --out DIR`` shows the systemd /
launchd / Task Scheduler files for that command and writes them after approval; ``schedule uninstall``
removes them. The first path word ``install`` / ``uninstall`` selects those (a folder of that name is
``./install``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import typer

from comfyfixer.agent.options import COMFYUI
from comfyfixer.agent.output import console, emit_json


def register(app: typer.Typer) -> None:
    app.command("schedule")(schedule_command)


def schedule_command(
    paths: list[str] = typer.Argument(..., help="Workflow files or folders (first word `install` / `uninstall` "
                                      "manages the OS service instead)."),
    out: Path = typer.Option(..., "--out", help="Where the reports and dashboard are kept current."),
    every: str | None = typer.Option(None, "--every", help="Interval: 90s, 30m, 2h, 1d (default: schedule_every, 2h)."),
    comfyui: Path | None = COMFYUI,
    comfyui_url: str | None = typer.Option(None, "--comfyui-url", help="A running ComfyUI (also the 'is it open' probe)."),
    runs: int | None = typer.Option(None, "--runs", min=1, help="Stop after this many cycles (default: until Ctrl-C)."),
    once: bool = typer.Option(False, "--once", help="Run one cycle (if its conditions hold) and exit."),
    require_comfyui: bool | None = typer.Option(None, "--require-comfyui/--no-require-comfyui",
                                                help="Skip cycles while ComfyUI is closed (default: setting, on)."),
    min_vram_mb: int | None = typer.Option(None, "--min-vram-mb", min=0, help="Skip cycles with less free VRAM (MB)."),
    discover: bool | None = typer.Option(None, "--discover/--no-discover", help="Look up what is still missing "
                                         "each cycle (cached, never downloads; default: setting, on)."),
    system: str | None = typer.Option(None, "--system", help="install/uninstall: linux, darwin or windows "
                                      "(default: this machine)."),
    yes: bool = typer.Option(False, "--yes", help="install/uninstall: write without asking."),
    print_cron: bool = typer.Option(False, "--print-cron", help="Print the equivalent crontab line and exit."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document at the end."),
) -> int:
    """Re-check workflows on the owner's schedule and rewrite the reports whenever a result changes."""
    from comfyfixer.agent import services
    from comfyfixer.agent.scheduler import cron_line, parse_interval

    settings, ctx = services.context(comfyui_dir=comfyui, comfyui_url=comfyui_url)
    every_s = parse_interval(every or settings.schedule_every)
    if paths and paths[0] in ("install", "uninstall"):
        return _service(paths[0], paths[1:], out, every_s, comfyui, comfyui_url, system, yes, json_out, settings)
    if print_cron:
        line = cron_line(every_s, _cycle_args(paths, out, comfyui, comfyui_url)[1:])
        emit_json({"cron": line}) if json_out else console.print(line, markup=False)
        return 0
    from comfyfixer.agent.reports import check_json, write_reports
    from comfyfixer.agent.reports.history import watch_workflows
    from comfyfixer.agent.reports.status import refresh_schedule_note, with_schedule_note
    from comfyfixer.agent.scheduler import Conditions, Cycle, Scheduler
    from comfyfixer.tools.readiness import CheckInput, CheckResult

    inp = CheckInput(paths=list(paths), exclude=[str(out)])
    latest: dict[str, CheckResult] = {}

    from comfyfixer.agent.discovery import discover as discover_missing
    from comfyfixer.agent.discovery import write_actions

    actions: dict[str, Any] = {}
    look_up = settings.schedule_discover if discover is None else discover

    def check() -> dict[str, Any]:
        from comfyfixer.tools.fit.report import fit_target

        # The reports' VRAM fit is sized by the check, cached with each workflow's readiness.
        result = services.run("check_workflows", inp, ctx, fit=fit_target(None))
        if look_up:
            result, actions["doc"] = discover_missing(result, ctx, services.run,
                                                      comfyui_dir=comfyui or settings.comfyui_dir)
        latest["result"] = result = watch_workflows(result, out, ctx, settings.history_max_versions)  # issue 15
        return check_json(result)

    def write(status: str) -> None:
        write_reports(with_schedule_note(latest["result"], status), out)
        if "doc" in actions:
            write_actions(actions["doc"], out)

    def show_status(status: str) -> None:
        if "result" in latest:
            write(status)  # the results are in memory: same reports, new line
        else:
            refresh_schedule_note(out, status)

    def shown(c: Cycle) -> None:
        if json_out:
            return
        what = ("skipped: " + str(c.reason)) if not c.ran else (
            f"{c.summary}  {'reports updated' if c.changed else 'no change'}  ({c.seconds:.1f}s)")
        console.print(f"{c.at_iso}  {what}{'  (after sleep)' if c.after_sleep else ''}", markup=False)

    conditions = Conditions(
        comfyui_url=comfyui_url or settings.comfyui_url,
        require_comfyui=settings.schedule_require_comfyui if require_comfyui is None else require_comfyui,
        min_vram_free_mb=settings.schedule_min_vram_free_mb if min_vram_mb is None else min_vram_mb)
    scheduler = Scheduler(check, write, show=show_status, state_dir=out, every_s=every_s, conditions=conditions,
                          run_missed_on_wake=settings.schedule_run_missed_on_wake)
    try:
        with ctx:
            if once:
                done = [scheduler.run_cycle()]
                shown(done[0])
            else:
                done = scheduler.run(cycles=runs, on_cycle=shown)
    except KeyboardInterrupt:
        console.print("stopped")
        return 0
    if json_out:
        emit_json({"runs": [{**c.__dict__, "at_iso": c.at_iso} for c in done], "out": str(out),
                   "status": scheduler.state.status_line(scheduler.clock.wall())})
    return 0


def _cycle_args(paths: list[str], out: Path, comfyui: Path | None, comfyui_url: str | None) -> list[str]:
    """The one-cycle command the OS runs, with absolute paths (services start in another folder)."""
    exe = shutil.which("comfyfixer") or (str(Path(sys.argv[0]).resolve()) if sys.argv and sys.argv[0] else "comfyfixer")
    args = [exe, "schedule", *(str(Path(p).resolve()) for p in paths), "--out", str(out.resolve()), "--once"]
    args += ["--comfyui", str(comfyui.resolve())] if comfyui else []
    args += ["--comfyui-url", comfyui_url] if comfyui_url else []
    return args


def _service(action: str, paths: list[str], out: Path, every_s: int, comfyui: Path | None, comfyui_url: str | None,
             system: str | None, yes: bool, json_out: bool, settings: Any) -> int:
    """Show, then (after approval) write or remove the OS service files; every change is journaled."""
    from comfyfixer.agent.journal import Journal, path_state
    from comfyfixer.agent.service_files import (
        MARKER,
        command_text,
        current_system,
        default_service_dir,
        service_plan,
    )
    from comfyfixer.tools.errors import ConfigError, InputError
    from comfyfixer.tools.paths import atomic_write

    system = (system or current_system()).lower()
    if system not in ("linux", "darwin", "windows"):
        raise InputError(f"unknown system {system!r}", hint="use linux, darwin or windows")
    if action == "install" and not paths:
        raise InputError("schedule install needs the workflow files or folders to check",
                         hint="comfyfixer schedule install ~/ComfyUI/user/default/workflows --out ./readiness")
    folder = settings.service_dir or default_service_dir(system)
    plan = service_plan(system, _cycle_args(paths or ["."], out, comfyui, comfyui_url), every_s, folder,
                        Path(settings.state_dir) / "logs")
    if action == "install":
        for f in plan.files:
            if f.path.is_file() and MARKER.encode("utf-16-le" if f.content[:2] == b"\xff\xfe" else "utf-8") \
                    not in f.path.read_bytes():
                raise ConfigError(f"{f.path} exists and was not written by comfyfixer",
                                  hint="move it away or set COMFYFIXER_SERVICE_DIR to another folder")
        todo, commands = plan.files, plan.enable
    else:
        todo = [f for f in plan.files if f.path.is_file()]
        commands = plan.disable
    if not json_out:
        for f in todo:
            verb = "write" if action == "install" else "remove"
            console.print(f"--- {verb} {f.path}", markup=False)
            if action == "install":
                console.print(f.text, markup=False)
        word = "then start it with" if action == "install" else "stop it first with"
        console.print(f"{word}:\n  " + "\n  ".join(command_text(c) for c in commands), markup=False)
    if not todo:
        if json_out:
            emit_json({"action": action, "system": system, "files": [], "commands": [command_text(c) for c in commands]})
        else:
            console.print("nothing to remove", markup=False)
        return 0
    if not yes and (json_out or not typer.confirm(f"{action.capitalize()} these {len(todo)} file(s)?", default=False)):
        if json_out:
            raise InputError(f"schedule {action} needs approval", hint="add --yes")
        console.print("nothing written", markup=False)
        return 1
    with Journal(settings.state_dir) as journal:
        for f in todo:
            before = path_state(f.path)
            if action == "install":
                atomic_write(f.path, f.content)
            else:
                f.path.unlink()
            journal.append(f"schedule.{action}", inputs={"system": system, "every_s": every_s},
                           outputs={"path": str(f.path)}, before=before, after=path_state(f.path),
                           message=f"{action} {f.path}")
    if json_out:
        emit_json({"action": action, "system": system, "files": [str(f.path) for f in todo],
                   "commands": [command_text(c) for c in commands]})
    else:
        console.print(f"{'wrote' if action == 'install' else 'removed'} {len(todo)} file(s)", markup=False)
    return 0
