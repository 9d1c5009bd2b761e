"""``comfyfixer schedule``: keep readiness reports and the dashboard current."""

from __future__ import annotations

from pathlib import Path

import typer

from comfyfixer.agent.options import COMFYUI
from comfyfixer.agent.output import console, emit_json


def register(app: typer.Typer) -> None:
    app.command("schedule")(schedule_command)


def schedule_command(
    paths: list[str] = typer.Argument(..., help="Workflow files or folders."),
    out: Path = typer.Option(..., "--out", help="Where the reports and dashboard are kept current."),
    every: str = typer.Option("30m", "--every", help="Interval: 90s, 30m, 2h, 1d."),
    comfyui: Path | None = COMFYUI,
    comfyui_url: str | None = typer.Option(None, "--comfyui-url", help="A running ComfyUI."),
    runs: int | None = typer.Option(None, "--runs", min=1, help="Stop after this many runs (default: until Ctrl-C)."),
    print_cron: bool = typer.Option(False, "--print-cron", help="Print the equivalent crontab line and exit."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document (the runs) at the end."),
) -> int:
    """Re-check workflows on an interval and rewrite the reports whenever a result changes."""
    from comfyfixer.agent import services
    from comfyfixer.agent.reports import check_json, write_reports
    from comfyfixer.agent.scheduler import cron_line, parse_interval, run_schedule
    from comfyfixer.tools.readiness import CheckInput, CheckResult

    every_s = parse_interval(every)
    if print_cron:
        args = [*paths, "--out", str(out.resolve())]
        args += ["--comfyui", str(comfyui.resolve())] if comfyui else []
        args += ["--comfyui-url", comfyui_url] if comfyui_url else []
        line = cron_line(every_s, args)
        emit_json({"cron": line}) if json_out else console.print(line, markup=False)
        return 0
    _, ctx = services.context(comfyui_dir=comfyui, comfyui_url=comfyui_url)
    inp = CheckInput(paths=list(paths), exclude=[str(out)])
    latest: dict[str, CheckResult] = {}

    def check() -> dict[str, object]:
        latest["result"] = services.run("check_workflows", inp, ctx)
        return check_json(latest["result"])

    def write() -> None:
        write_reports(latest["result"], out)

    def show(rec: object) -> None:
        if not json_out:
            console.print(f"{rec.at}  {rec.summary}  {'reports updated' if rec.changed else 'no change'}  "  # type: ignore[attr-defined]
                          f"({rec.seconds:.1f}s)")  # type: ignore[attr-defined]

    try:
        with ctx:
            records = run_schedule(check, write, every_s, runs=runs, on_run=show)
    except KeyboardInterrupt:
        console.print("stopped")
        return 0
    if json_out:
        emit_json({"runs": [r.__dict__ for r in records], "out": str(out)})
    return 0
