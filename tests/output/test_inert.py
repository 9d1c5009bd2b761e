"""Nothing raw reaches the terminal: untrusted control, bidi and zero-width characters are shown as escapes.

The CLI runs in-process through ``comfyfixer.agent.cli.run`` with the real ``console``/``err_console``
redirected to buffers as a forced truecolor terminal, so rich emits its own style sequences and we can tell
them apart from the attacker's.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import unicodedata
from contextlib import ExitStack
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.progress import Progress, TextColumn
from rich.table import Table
from rich.text import Text

from comfyfixer.agent.cli import run
from comfyfixer.agent.output import InertConsole, InertFormatter, console, err_console, error, warn
from comfyfixer.tools.text import UNSAFE_RANGES, inert, inert_json, is_inert

ESC_CLEAR = "\x1b[2J"  # clear screen
OSC_TITLE = "\x1b]0;title\x07"  # set the window title
RIS = "\x1bc"  # full terminal reset
CR = "\r"  # back to column 0: overwrite the line
RLO = "\u202e"  # right-to-left override
ZWJ = "\u200d"  # zero-width joiner

CKPT = f"ckpt{ESC_CLEAR}{OSC_TITLE}{CR}{RLO}x{ZWJ}.safetensors"
LORA = f"lora{RLO}{RIS}{ZWJ}.safetensors"
NODE_TYPE = f"EvilNode{ESC_CLEAR}{OSC_TITLE}{RLO}{ZWJ}"
VAE_URL = f"https://huggingface.co/o/r{ZWJ}/resolve/main/vae_clean.safetensors?x={ESC_CLEAR}{RLO}"
SPOOF = f"lora_{RLO}gnp.{ZWJ}safetensors"  # no C0 control: a valid file name, shown reversed by a terminal
FORGED = "x.safetensors\n  1. download trusted.safetensors → models/loras/trusted.safetensors"  # a fake plan line
NOTE = f"Get it: https://huggingface.co/o/r/resolve/main/{LORA} {OSC_TITLE}{ESC_CLEAR}"

# The attacker's sequences; none may reach the terminal raw.
RAW = [ESC_CLEAR, "\x1b]", RIS, CR, "\x07", RLO, ZWJ]
SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own styles: the only escape sequences allowed


def _node(i: int, kind: str, widgets: list[Any], props: dict[str, Any] | None = None,
          inputs: list[dict[str, Any]] | None = None, outputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": i, "type": kind, "pos": [0, i * 100], "size": [300, 100], "flags": {}, "order": i, "mode": 0,
            "inputs": inputs or [], "outputs": outputs or [], "properties": props or {}, "widgets_values": widgets}


def evil_workflow(path: Path) -> Path:
    """A UI workflow whose model names, node type, URLs and note carry escape sequences, bidi and ZWJ."""
    nodes = [
        _node(1, "CheckpointLoaderSimple", [CKPT], {"models": [{
            "name": CKPT, "directory": "checkpoints",
            "url": f"https://huggingface.co/o/r/resolve/main/ckpt{ESC_CLEAR}{RLO}.safetensors"}]},
            outputs=[{"name": "MODEL", "type": "MODEL", "links": [1]}, {"name": "CLIP", "type": "CLIP", "links": [2]},
                     {"name": "VAE", "type": "VAE", "links": []}]),
        _node(2, "LoraLoader", [LORA, 1.0, 1.0],
              inputs=[{"name": "model", "type": "MODEL", "link": 1}, {"name": "clip", "type": "CLIP", "link": 2}],
              outputs=[{"name": "MODEL", "type": "MODEL", "links": []}, {"name": "CLIP", "type": "CLIP", "links": []}]),
        _node(3, NODE_TYPE, [f"value{ESC_CLEAR}"]),
        _node(4, "Note", [NOTE]),
        _node(5, "VAELoader", ["vae_clean.safetensors"],
              {"models": [{"name": "vae_clean.safetensors", "directory": "vae", "url": VAE_URL},
                          {"name": SPOOF, "directory": "loras", "url": "https://huggingface.co/o/r/resolve/main/x.safetensors"},
                          {"name": FORGED, "directory": "loras"}]},
              outputs=[{"name": "VAE", "type": "VAE", "links": []}]),
    ]
    wf = {"last_node_id": 5, "last_link_id": 2, "version": 0.4, "nodes": nodes,
          "links": [[1, 1, 0, 2, 0, "MODEL"], [2, 1, 1, 2, 1, "CLIP"]], "groups": [], "config": {}, "extra": {}}
    path.write_text(json.dumps(wf), encoding="utf-8")
    return path


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("COMFYFIXER_STATE_DIR", str(tmp_path / "state"))
    comfy = tmp_path / "ComfyUI"
    for sub in ("models/checkpoints", "models/loras", "models/vae", "custom_nodes"):
        (comfy / sub).mkdir(parents=True)
    return evil_workflow(tmp_path / "evil.json"), comfy


def run_terminal(*args: str) -> tuple[int, str, str]:
    """Run the CLI with stdout and stderr as forced truecolor terminals; returns (exit code, out, err)."""
    with ExitStack() as stack:
        term = {"force_terminal": True, "color_system": "truecolor", "width": 160}
        out = stack.enter_context(console.redirected(**term))
        err = stack.enter_context(err_console.redirected(**term))
        code = run(list(args))
    return code, out.getvalue(), err.getvalue()


def assert_inert(text: str, *visible: str) -> None:
    """No raw attacker sequence; every ESC left is one of rich's SGR styles; the escapes are visible."""
    for raw in RAW:
        assert raw not in text, f"raw {raw!r} reached the terminal"
    assert "\x1b" not in SGR.sub("", text)
    for v in visible:
        assert v in text, f"{v!r} not shown"


# --- the rule itself ------------------------------------------------------------------------------------


def test_every_control_format_and_separator_character_is_escaped() -> None:
    unsafe = {cp for lo, hi in UNSAFE_RANGES for cp in range(lo, hi + 1)}
    for cp in range(0x110000):
        ch = chr(cp)
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            assert cp in unsafe, f"U+{cp:04X} ({unicodedata.category(ch)}) missing from UNSAFE_RANGES"
    for cp in unsafe:
        ch = chr(cp)
        shown = inert(ch)
        assert shown != ch and shown.isascii() and shown.isprintable() and shown.startswith("\\"), hex(cp)
        assert not ch.isprintable(), hex(cp)  # inert()'s fast path relies on this


def test_examples_and_what_is_left_alone() -> None:
    assert inert(f"a{ESC_CLEAR}b") == "a\\x1b[2Jb"
    assert inert(OSC_TITLE) == "\\x1b]0;title\\x07"
    assert inert(f"x{CR}y") == "x\\ry"
    assert inert(f"{RLO}{ZWJ}\u2066\u061c\ufeff\u00ad\x7f\x9b") == "\\u202e\\u200d\\u2066\\u061c\\ufeff\\xad\\x7f\\x9b"
    assert inert("\U000e0041\udc80") == "\\U000e0041\\udc80"  # tag character; lone surrogate
    assert inert("a\nb\tc") == "a\\nb\\tc"
    assert inert(f"a\nb\tc{CR}d", multiline=True) == "a\nb\tc\\rd"
    assert inert(inert(CKPT)) == inert(CKPT)  # idempotent
    for ok in ["flux1-dev-fp8.safetensors", "モデル 模型.safetensors", "C:\\models\\x.ckpt", "no\u00a0break", "👍🏽", ""]:
        assert inert(ok) is ok and is_inert(ok)
    multi = "line one\n\tline two"
    assert inert(multi, multiline=True) is multi and not is_inert(multi)


def test_inert_json_is_exact_and_harmless() -> None:
    data = {"name": CKPT, "lora": LORA, "tag": "\U000e0041", "lone": "\udc80", "sep": "a\u2028b", "ok": "モデル"}
    text = json.dumps(data, ensure_ascii=False, indent=2)
    assert RLO in text and "\udc80" in text  # what json.dumps leaves raw
    safe = inert_json(text)
    assert json.loads(safe) == data
    assert is_inert(safe, multiline=True) and "モデル" in safe
    safe.encode("utf-8")  # a lone surrogate would make this raise


# --- the console ----------------------------------------------------------------------------------------


def test_console_inerts_every_kind_of_renderable() -> None:
    buf = StringIO()
    c = InertConsole(file=buf, force_terminal=True, color_system="truecolor", width=200, highlight=False)
    c.print(f"[bold]{NODE_TYPE}[/] plain {CKPT}")
    table = Table("model", "status", title=f"title {ESC_CLEAR}", caption=f"caption {RLO}")
    table.add_row(CKPT, "[red]missing[/]")
    c.print(table)
    c.print(Text(LORA, style="green"))  # built directly: never passes render_str
    c.print(Text.from_markup("[link=https://evil.example/]innocent[/link]"))
    c.log(f"log {ESC_CLEAR}")
    with Progress(TextColumn("{task.description}"), console=c, auto_refresh=False, transient=False) as bars:
        bars.add_task(f"get {LORA}")  # progress descriptions are Text.from_markup, not render_str
        bars.refresh()
    out = buf.getvalue()
    assert "\x1b[1m" in out and "\x1b[31m" in out  # our markup still styles
    assert "\x1b]8;" not in out  # no hyperlink: its target would be hidden
    out = out.replace("\r\x1b[2K", "")  # the progress display's own line redraw (a control segment)
    out = re.sub(r"\x1b\[\?25[lh]", "", out)  # ... and its cursor hide/show
    assert_inert(out, "\\x1b[2J", "\\u202e", "\\u200d", "\\x1bc", "innocent", "get lora")


def test_warn_and_error_show_their_message_literally() -> None:
    with err_console.redirected(force_terminal=True, color_system="truecolor") as buf:
        warn(f"cannot pin [/]pack[bold] {ESC_CLEAR}")  # `[/]` would be a markup error, `[bold]` a style
        error(f"[link=https://evil.example/]x[/link] {RLO}")
    out = buf.getvalue()
    assert_inert(out, "\\x1b[2J", "\\u202e")
    plain = SGR.sub("", out)
    assert "warning: cannot pin [/]pack[bold] " in plain and "error: [link=https://evil.example/]x[/link]" in plain


def test_formatter_inerts_log_lines_and_indents_continuations() -> None:
    record = logging.LogRecord("comfyfixer.x", logging.WARNING, __file__, 1, "cannot read %s", (f"{CKPT}\nWARNING: all fine",),
                               None)
    line = InertFormatter("%(levelname)s: %(message)s").format(record)
    assert_inert(line, "\\x1b[2J", "\\u202e")
    assert line.splitlines()[1] == "  WARNING: all fine"  # a forged line is visibly a continuation


def test_the_cli_installs_the_inert_log_formatter(tmp_path: Path) -> None:
    # pytest's own log capture owns the root logger in-process, so the CLI's logging setup runs in a child.
    script = ("import logging, sys\nfrom comfyfixer.agent.cli import run\n"
              "run(['-v', 'inspect', sys.argv[1], '--json'])\n"
              "logging.getLogger('comfyfixer.test').warning('model %s', sys.argv[2])\n")
    wf = evil_workflow(tmp_path / "evil.json")
    env = {"COMFYFIXER_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run([sys.executable, "-c", script, str(wf), CKPT], capture_output=True, text=True, env=env,
                          timeout=60, check=True)
    assert "model ckpt\\x1b[2J" in proc.stderr
    assert_inert(proc.stderr)
    assert json.loads(proc.stdout)["models"][0]["filename"] == CKPT


# --- the commands ---------------------------------------------------------------------------------------


def test_inspect(workspace: tuple[Path, Path]) -> None:
    wf, _ = workspace
    code, out, err = run_terminal("inspect", str(wf))
    assert code == 0
    assert SGR.search(out)  # a terminal: styles were emitted
    assert_inert(out + err, inert(NODE_TYPE), "ckpt\\x1b[2J", "lora\\u202e\\x1bc", "https://huggingface.co/o/r\\u200d/")


def test_check(workspace: tuple[Path, Path], tmp_path: Path) -> None:
    wf, comfy = workspace
    code, out, err = run_terminal("check", str(wf), "--comfyui", str(comfy), "--out", str(tmp_path / "out"))
    assert code == 0 and "missing" in out
    assert_inert(out + err, inert(NODE_TYPE), "ckpt\\x1b[2J\\x1b]0;title\\x07\\r\\u202ex\\u200d")
    md = (tmp_path / "out" / "reports" / "workflows" / "evil.md").read_text("utf-8")
    for raw in [*RAW, "\x1b"]:
        assert raw not in md  # `cat` on a report is harmless too
    assert "EvilNode\\x1b[2J" in md


def test_fix_dry_run_and_approve_dry_run(workspace: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    wf, comfy = workspace
    args = ("fix", str(wf), "--comfyui", str(comfy), "--no-resolve", "--no-pin")
    code, out, err = run_terminal(*args, "--dry-run")
    assert code == 0 and "dry run" in out
    assert_inert(out + err, inert(NODE_TYPE), inert(CKPT), "vae_clean.safetensors")

    capsys.readouterr()
    code = run([*args, "--json"])  # JSON goes to stdout itself, not through the console
    out = capsys.readouterr().out
    plan = json.loads(out)
    assert code == 0 and plan["plan_file"]
    assert {u["name"] for u in plan["unresolved"]} >= {CKPT, LORA, NODE_TYPE}  # JSON keeps the exact names
    assert {a["url"] for a in plan["actions"]} == {VAE_URL, "https://huggingface.co/o/r/resolve/main/x.safetensors"}
    assert SPOOF in {a["name"] for a in plan["actions"]}
    assert is_inert(out, multiline=True)

    # The approval screen shows the plan the user is about to approve, one line per fact.
    code, out, err = run_terminal("approve", plan["plan_file"], "--dry-run")
    assert code == 0
    assert not [line for line in SGR.sub("", out).splitlines() if line.startswith("  1. download trusted")]
    assert "x.safetensors\\n  1. download trusted" in out
    text = Path(plan["plan_file"]).with_suffix(".txt").read_text("utf-8")  # the plan's readable twin
    assert_inert(text, inert(CKPT), inert(SPOOF))
    assert not [line for line in text.splitlines() if line.startswith("  1. download trusted")]
    assert_inert(out + err, "download vae_clean.safetensors", "o/r\\u200d/resolve", inert(CKPT), inert(NODE_TYPE),
                 f"download {inert(SPOOF)}", "lora_\\u202egnp.\\u200dsafetensors")


def test_json_output_is_exact(workspace: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    wf, _ = workspace
    capsys.readouterr()
    assert run(["inspect", str(wf), "--json"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)
    names = {m["filename"] for m in doc["models"]}
    assert {CKPT, LORA} <= names
    assert NODE_TYPE in {n["class_type"] for n in doc["node_types"]}
    assert next(m["url"] for m in doc["models"] if m["filename"] == LORA).endswith(LORA)  # from the note
    for raw in RAW:
        assert raw not in out
    assert "\\u001b[2J" in out and "\\u202e" in out


def test_markup_in_names_is_shown_literally(tmp_path: Path) -> None:
    wf = tmp_path / "markup.json"
    wf.write_text(json.dumps({"1": {"class_type": "CheckpointLoaderSimple",
                                    "inputs": {"ckpt_name": "a[/]b[bold]c.safetensors"}}}), encoding="utf-8")
    code, out, _ = run_terminal("inspect", str(wf))
    assert code == 0 and "a[/]b[bold]c.safetensors" in SGR.sub("", out)
