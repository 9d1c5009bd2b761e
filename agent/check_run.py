"""The body of ``comfyfixer check`` without typer: ``agent/commands/check.py`` gives it typer's options,
and :func:`run_plain` runs the plain ``check PATHS [--comfyui DIR] --json [--strict]`` form (the only one
``agent/recheck.py`` stores) straight from the console script, so a check on warm caches does not import
and build the typer application (about 0.1 s of a 0.6 s run). Same output, exit codes and log lines as
the typer path (tests/readiness/test_check_run.py runs both)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comfyfixer.agent.output import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, emit_json

if TYPE_CHECKING:
    from comfyfixer.agent.reports import ReportPaths
    from comfyfixer.tools.readiness import CheckResult

DEMO_OUT = "comfyfixer-demo-out"


def demo_dir() -> Path:
    """The bundled demo workspace (workflows + a miniature ComfyUI)."""
    import comfyfixer.demo

    return Path(next(iter(comfyfixer.demo.__path__)))


def run_check(paths: list[str] | None, *, comfyui: Path | None = None, comfyui_url: str | None = None,
              extra_model_paths: list[Path] | None = None, object_info: Path | None = None, out: Path | None = None,
              json_out: bool = False, strict: bool = False, demo: bool = False, hashes: bool = False,
              no_cache: bool = False, vram: str | None = None,
              render: Callable[[CheckResult, ReportPaths | None], None] | None = None) -> int:
    """Check the workflows under ``paths`` (the options are ``comfyfixer check``'s); ``render`` shows the
    result when it is not written as JSON. Returns the exit code."""
    from comfyfixer.agent import services
    from comfyfixer.agent.reports import check_json
    from comfyfixer.agent.reports.history import watch_workflows
    from comfyfixer.tools.errors import InputError
    from comfyfixer.tools.readiness import CheckInput

    if demo:
        if paths or comfyui or comfyui_url:
            raise InputError("--demo checks the bundled demo", hint="leave out PATHS, --comfyui and --comfyui-url with --demo")
        root = demo_dir()
        paths = [str(root / "workflows")]
        comfyui = root / "ComfyUI"
        out = out or Path(DEMO_OUT)
    if not paths:
        raise InputError("no workflows given", hint="pass workflow files or folders, or try `comfyfixer check --demo`")
    vram_gb = None
    if vram is not None:  # the fit models are imported only when asked for
        from comfyfixer.tools.fit.models import parse_vram

        vram_gb = parse_vram(vram)  # a bad value fails before the check runs
    settings, ctx = services.context(
        use_cache=not no_cache, comfyui_dir=comfyui, comfyui_url=comfyui_url, object_info_file=object_info,
        extra_model_paths=list(extra_model_paths) if extra_model_paths else None)
    fit = None
    if out is not None:  # the reports show each workflow's VRAM fit: the check sizes it (and caches it)
        from comfyfixer.tools.fit.report import fit_target

        fit = fit_target(vram_gb)
    with ctx:
        result = services.run("check_workflows", CheckInput(paths=list(paths), hashes=hashes,
                                                            exclude=[str(out)] if out else []), ctx, fit=fit)
        result = watch_workflows(result, out, ctx, settings.history_max_versions)  # history; regression reports
        if json_out and out is None and not (demo or hashes or no_cache):
            from comfyfixer.agent import recheck

            recheck.watch_check(settings, ctx, list(paths), result)  # the next identical check may be replayed
    reports = None
    if out is not None:
        from comfyfixer.agent.reports import write_reports

        reports = write_reports(result, out)
    if json_out:
        doc: dict[str, Any] = check_json(result)
        if reports is not None:
            doc["reports"] = {"index_md": str(reports.index_md), "index_json": str(reports.index_json),
                              "dashboard": str(reports.dashboard)}
        emit_json(doc, plain=True)  # check_json gives plain data: encoded in Rust, same text
    elif render is not None:
        render(result, reports)
    s = result.summary
    return EXIT_FINDINGS if strict and (s.missing or s.invalid) else EXIT_OK


def plain_args(argv: list[str]) -> tuple[list[str], Path | None, bool] | None:
    """(paths, --comfyui, --strict) of the plain ``check PATHS [--comfyui DIR] --json [--strict]`` form, or
    None for any other command line (read by :func:`comfyfixer.agent.recheck.plain_check`)."""
    from comfyfixer.agent.recheck import plain_check

    args = plain_check(argv)
    if args is None:
        return None
    paths, comfyui, strict = args
    return paths, (Path(comfyui) if comfyui is not None else None), strict


def run_plain(argv: list[str]) -> int | None:
    """Run the plain ``check … --json`` form as the typer app would (its log set-up at the default
    verbosity, its error and exit-code handling); None when ``argv`` is any other command line."""
    args = plain_args(argv)
    if args is None:
        return None
    from comfyfixer.agent.output import fail, setup_logging
    from comfyfixer.tools.errors import ComfyFixerError

    setup_logging()
    paths, comfyui, strict = args
    try:
        return run_check(paths or None, comfyui=comfyui, json_out=True, strict=strict)
    except ComfyFixerError as exc:
        return fail(exc.message, exc.exit_code, json_out=True, hint=exc.hint, kind=type(exc).__name__)
    except (EOFError, KeyboardInterrupt):
        sys.stderr.write("\n")
        return fail("aborted", EXIT_USAGE, json_out=True)
