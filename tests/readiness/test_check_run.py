"""The plain ``check PATHS [--comfyui DIR] --json [--strict]`` form run by the console script without typer
(``agent/check_run.py``) answers exactly as the typer command does: stdout, stderr and exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from comfyfixer.agent.check_run import plain_args

DEMO = Path(__file__).resolve().parents[2] / "demo"

# Either the console script's main() or the typer app's run(); prints which heavy modules were loaded.
_CODE = """import sys
from comfyfixer.agent.cli import main, run
argv = sys.argv[2:]
loaded = lambda: 'LOADED:' + ','.join(m for m in ('typer', 'comfyfixer.agent.cli_app', 'rich') if m in sys.modules)
if sys.argv[1] == 'main':
    sys.argv = ['comfyfixer', *argv]
    try:
        main()
    except SystemExit as e:
        print(loaded(), file=sys.stderr)
        raise
code = run(argv)
print(loaded(), file=sys.stderr)
sys.exit(code)
"""


def _both(argv: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMFYFIXER_")}
    env["COMFYFIXER_OFFLINE"] = "1"
    return tuple(subprocess.run(  # type: ignore[return-value]
        [sys.executable, "-c", _CODE, how, *argv], capture_output=True, text=True, check=False, cwd=tmp_path,
        env={**env, "COMFYFIXER_HOME": str(tmp_path / f"home_{how}")}) for how in ("main", "run"))


def _doc(out: str) -> dict:
    return {k: v for k, v in json.loads(out).items() if k not in ("generated_at", "timings")}


def test_the_plain_form_answers_as_the_typer_command_and_never_builds_it(tmp_path: Path) -> None:
    argv = ["check", str(DEMO / "workflows"), "--json", f"--comfyui={DEMO / 'ComfyUI'}", "--strict"]
    plain, typer_run = _both(argv, tmp_path)
    assert plain.returncode == typer_run.returncode == 1  # --strict: the demo has missing workflows
    assert _doc(plain.stdout) == _doc(typer_run.stdout)
    assert plain.stdout.count("\n") == typer_run.stdout.count("\n")
    *plain_log, plain_loaded = plain.stderr.splitlines()
    *typer_log, typer_loaded = typer_run.stderr.splitlines()
    assert plain_log == typer_log
    assert plain_loaded == "LOADED:"  # neither typer nor rich
    assert typer_loaded == "LOADED:typer,comfyfixer.agent.cli_app,rich"


def test_an_input_error_is_reported_as_the_typer_command_reports_it(tmp_path: Path) -> None:
    plain, typer_run = _both(["check", str(tmp_path / "nowhere"), "--json"], tmp_path)
    assert plain.returncode == typer_run.returncode == 2
    assert plain.stdout == typer_run.stdout  # one JSON document saying what failed
    doc = json.loads(plain.stdout)
    assert doc["status"] == "ERROR" and doc["exit_code"] == 2 and doc["hint"]
    assert plain.stderr.splitlines()[:-1] == typer_run.stderr.splitlines()[:-1]
    assert "error:" in plain.stderr


@pytest.mark.parametrize(("argv", "expected"), [
    (["check", "a", "b", "--json"], (["a", "b"], None, False)),
    (["check", "--comfyui", "--weird", "a", "--json", "--strict"], (["a"], Path("--weird"), True)),
    (["check", "a", "--comfyui", "x", "--comfyui=y", "--json"], (["a"], Path("y"), False)),  # the last one wins
    (["check", "--json", "--strict"], ([], None, True)),
    (["check", "a", "--json", "--out", "o"], None),  # not the plain form: typer runs it
    (["check", "a", "--json", "-v"], None),
    (["check", "a", "--comfyui"], None),
    (["inspect", "a", "--json"], None),
])
def test_plain_args_reads_the_command_line_as_click_does(argv: list[str], expected: object) -> None:
    assert plain_args(argv) == expected
