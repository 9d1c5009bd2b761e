"""``comfyfixer chat`` and ``comfyfixer ask``: the assistant in the terminal.

The LLM stack (qwen-agent, openai) is imported inside the commands so ``comfyfixer --help`` stays
fast. Proposed side-effect actions are shown after the answer and run only when the user types
``y`` at the approval prompt; the model never sees the approval token.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from comfyfixer.agent.output import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, console, emit_json, err_console

if TYPE_CHECKING:
    from comfyfixer.agent.config import Settings
    from comfyfixer.agent.orchestrator import AgentAnswer, Conversation, Orchestrator, ToolCallRecord

_STATUS_STYLE = {"OK": "bold green", "UNCERTAIN": "bold yellow", "FAILED": "bold red"}
_MODEL_COMMANDS = {"chat", "ask"}


def register(app: typer.Typer) -> None:
    app.command("ask")(ask_command)
    app.command("chat")(chat_command)


# --- shared -----------------------------------------------------------------------
def _settings(base_url: str | None, model: str | None, native_tools: bool | None,
              comfyui: Path | None = None) -> Settings:
    from comfyfixer.agent.config import load_settings

    return load_settings(llm_base_url=base_url, llm_model=model, llm_native_tools=native_tools, comfyui_dir=comfyui)


def direct_commands() -> list[str]:
    """The CLI's commands that work without a model, for the no-server message."""
    from comfyfixer.agent.cli import COMMAND_MODULES

    # The command table, not the typer app: command modules are registered lazily, on first use.
    return sorted(n for names in COMMAND_MODULES.values() for n in names if n not in _MODEL_COMMANDS)


# What each main use of the assistant maps to without a model (shown only for commands that exist).
_DIRECT_JOBS = (
    ("check", "is a workflow runnable here"),
    ("fix", "plan the downloads that make it runnable"),
    ("inspect", "what a workflow needs"),
    ("resolve", "where a model or node pack comes from"),
    ("reconstruct", "the workflow behind an image"),
)


def no_server_message(settings: Settings) -> str:
    from comfyfixer.agent.orchestrator.prompts import render_prompt

    available = direct_commands()
    jobs = [f"`comfyfixer {name}` ({what})" for name, what in _DIRECT_JOBS if name in available]
    commands = "; ".join(jobs) or ", ".join(f"`comfyfixer {c}`" for c in available) or "`comfyfixer --help`"
    return render_prompt("no_server", base_url=settings.llm_base_url, model=settings.llm_model,
                         commands=commands).strip()


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _on_tool_start(name: str, args: Any) -> None:
    console.print(f"  [dim]→ {escape(name)} {escape(_short(args))}[/dim]", markup=True, highlight=False)


def _on_tool_end(rec: ToolCallRecord) -> None:
    detail = rec.error.get("message", "") if rec.error else ""
    style = "dim" if rec.status in ("OK", "PROPOSED") else "yellow"
    console.print(f"  [{style}]← {rec.status} {rec.duration_ms:.0f} ms {escape(_short(detail, 100))}[/{style}]",
                  markup=True, highlight=False)


class _TextPrinter:
    """Prints streamed answer text and remembers whether anything arrived."""

    def __init__(self) -> None:
        self.printed = False

    def __call__(self, text: str) -> None:
        self.printed = True
        console.print(text, end="", markup=False, highlight=False)

    def finish(self, answer: AgentAnswer) -> None:
        if not self.printed and answer.answer:
            console.print(answer.answer, markup=False, highlight=False)


def _print_summary(answer: AgentAnswer) -> None:
    style = _STATUS_STYLE[answer.status]
    console.print(f"[{style}]{answer.status}[/{style}]" + (f" — {answer.reason}" if answer.reason else ""),
                  markup=True, highlight=False)
    if answer.candidates:
        console.print("Candidates:", markup=False)
        for c in answer.candidates:
            console.print(f"  - {_short(c, 200)}", markup=False, highlight=False)
    # Next steps for saved plans come from the tool results, not from the model's text.
    for rec in answer.tool_calls:
        result = rec.result or {}
        if rec.status == "OK" and result.get("plan_file"):
            console.print(f"Fix plan saved: {result['plan_file']}\n  review and approve: "
                          f"comfyfixer approve {result['plan_file']}", markup=False, highlight=False)
        if rec.status == "OK" and result.get("job_file"):
            console.print(f"RunPod job saved (nothing sent): {result['job_file']}\n  review and approve: "
                          f"comfyfixer runpod approve {result['job_file']}", markup=False, highlight=False)
    u = answer.usage
    console.print(f"[dim]{len(answer.tool_calls)} tool calls, {u.llm_calls} model calls, "
                  f"{u.prompt_tokens}+{u.completion_tokens} tokens ({u.source}), {u.seconds:.1f} s[/dim]",
                  markup=True, highlight=False)


def _open_conversation(settings: Settings, resume: str | None, save: bool) -> Conversation | None:
    from comfyfixer.agent.orchestrator import Conversation

    if resume:
        return Conversation.load(settings.state_dir, resume)
    return Conversation.new(settings.state_dir) if save else None


def _check_files(files: list[Path]) -> list[Path]:
    from comfyfixer.tools.errors import InputError

    for f in files:
        if not f.expanduser().exists():
            raise InputError(f"{f}: no such file", hint="give the path of a workflow JSON or an image")
    return [f.expanduser().resolve() for f in files]


def _approve(orch: Orchestrator, answer: AgentAnswer, conversation: Conversation | None) -> None:
    """Ask the user about each proposal; the model has no part in this exchange."""
    for p in answer.proposals:
        console.print(f"[bold]Proposed action {p.proposal_id}:[/bold] {escape(p.summary)}", markup=True, highlight=False)
        try:
            approved = typer.confirm("Run it?", default=False)
        except (typer.Abort, EOFError, KeyboardInterrupt):
            approved = False  # no answer is a no
        if approved:
            rec = orch.execute_proposal(p, p.approval_token, conversation=conversation)
            console.print(f"  {rec.status}: {_short(rec.result or rec.error, 300)}", markup=False)
        else:
            console.print("  not run.", markup=False)
            if conversation is not None:
                conversation.append_event("refused", {"proposal": p.model_dump(mode="json")})


# --- ask ---------------------------------------------------------------------------
def ask_command(
    question: str = typer.Argument(..., help="What to ask, e.g. \"make this workflow runnable\"."),
    file: list[Path] = typer.Option([], "--file", "-f", help="A workflow or image the question is about (repeatable)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document: status, answer, candidates, tool_calls, usage."),
    task: str | None = typer.Option(None, "--task", help="make_runnable, explain_tune or rebuild_image (guessed if omitted)."),
    resume: str | None = typer.Option(None, "--resume", help="Continue a saved conversation (an id or 'last')."),
    save: bool = typer.Option(True, "--save/--no-save", help="Save the conversation under the state folder."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server (default: local Ollama)."),
    model: str | None = typer.Option(None, "--model", help="Model name on that server."),
    native_tools: bool | None = typer.Option(None, "--native-tools/--prompt-tools",
                                             help="Native tool calls, or prompt-based (nous) for servers without them."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 unless the status is OK."),
    comfyui: Path | None = typer.Option(None, "--comfyui", help="The ComfyUI folder the tools check and plan against."),
) -> int:
    """Ask the assistant one question; it plans, calls tools and answers with a status."""
    from comfyfixer.agent.orchestrator import ModelUnavailable, Orchestrator
    from comfyfixer.agent.orchestrator.prompts import TASKS
    from comfyfixer.tools.errors import InputError

    if task is not None and task not in TASKS:
        raise InputError(f"unknown task {task!r}", hint="use one of: " + ", ".join(TASKS))
    settings = _settings(base_url, model, native_tools, comfyui)
    files = _check_files(file)
    conversation = _open_conversation(settings, resume, save)
    orch = Orchestrator(settings)
    streaming = not json_out
    printer = _TextPrinter()
    try:
        answer = orch.run(
            question, conversation=conversation, files=files, task=task,
            on_text=printer if streaming else None,
            on_tool_start=_on_tool_start if streaming else None,
            on_tool_end=_on_tool_end if streaming else None,
        )
    except ModelUnavailable:
        message = no_server_message(settings)
        if json_out:
            emit_json({"status": "FAILED", "answer": message, "reason": "no model server", "candidates": [],
                       "tool_calls": [], "usage": {}})
        else:
            err_console.print(message, markup=False, highlight=False)
        return EXIT_USAGE
    if json_out:
        emit_json(answer.to_json())
    else:
        printer.finish(answer)
        _print_summary(answer)
        for p in answer.proposals:
            console.print(f"Proposed, not executed: {p.summary} (approve it in `comfyfixer chat`)", markup=False)
        if conversation is not None:
            console.print(f"[dim]conversation {conversation.id} (resume with --resume {conversation.id})[/dim]",
                          markup=True, highlight=False)
    return EXIT_FINDINGS if strict and answer.status != "OK" else EXIT_OK


# --- chat --------------------------------------------------------------------------
_HELP = "Type a question. /file PATH attaches a file, /trace shows tool calls, /exit quits."


def chat_command(
    resume: str | None = typer.Option(None, "--resume", help="Continue a saved conversation (an id or 'last')."),
    file: list[Path] = typer.Option([], "--file", "-f", help="Attach a workflow or image to the first question."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server (default: local Ollama)."),
    model: str | None = typer.Option(None, "--model", help="Model name on that server."),
    native_tools: bool | None = typer.Option(None, "--native-tools/--prompt-tools",
                                             help="Native tool calls, or prompt-based (nous) for servers without them."),
    comfyui: Path | None = typer.Option(None, "--comfyui", help="The ComfyUI folder the tools check and plan against."),
) -> int:
    """Chat with the assistant: answers stream, tool calls show as they happen, plans wait for your approval."""
    from comfyfixer.agent.orchestrator import ModelUnavailable, Orchestrator

    settings = _settings(base_url, model, native_tools, comfyui)
    pending = _check_files(file)
    conversation = _open_conversation(settings, resume, True)
    assert conversation is not None
    orch = Orchestrator(settings)
    console.print(f"[bold]ComfyFixerSmart chat[/bold] — {settings.llm_model} at {settings.llm_base_url}\n{_HELP}",
                  markup=True, highlight=False)
    if resume:
        console.print(f"[dim]resumed {conversation.id}: {len(conversation.turns)} earlier turns[/dim]", markup=True)
    while True:
        try:
            line = typer.prompt("you", prompt_suffix="> ").strip()
        except (EOFError, KeyboardInterrupt, typer.Abort):
            break
        if not line:
            continue
        if line in ("/exit", "/quit"):
            break
        if line.startswith("/file "):
            pending += _check_files([Path(line[6:].strip())])
            console.print(f"attached: {', '.join(map(str, pending))}", markup=False)
            continue
        if line == "/trace":
            for rec in conversation.trace:
                console.print(f"  {rec.call_id} {rec.tool} {rec.status} {rec.duration_ms:.0f} ms {_short(rec.arguments)}",
                              markup=False, highlight=False)
            continue
        if line.startswith("/"):
            console.print(_HELP, markup=False)
            continue
        printer = _TextPrinter()
        try:
            answer = orch.run(line, conversation=conversation, files=pending, on_text=printer,
                              on_tool_start=_on_tool_start, on_tool_end=_on_tool_end)
        except ModelUnavailable:
            err_console.print(no_server_message(settings), markup=False, highlight=False)
            return EXIT_USAGE
        pending = []
        printer.finish(answer)
        _print_summary(answer)
        _approve(orch, answer, conversation)
    console.print(f"[dim]saved as {conversation.id} (resume with `comfyfixer chat --resume {conversation.id}`)[/dim]",
                  markup=True, highlight=False)
    return EXIT_OK
