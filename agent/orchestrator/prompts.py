"""Prompt templates from ``comfyfixer.prompts``, loaded by name and rendered strictly.

A missing template variable is an error (jinja2 ``StrictUndefined``), never an empty string.
Templates are package data (``prompts/*.md``) read through ``importlib.resources``, so they work from
a wheel or a zip; they are plain text, not HTML, so autoescaping is off.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

PACKAGE = "comfyfixer.prompts"
TASKS = {
    "make_runnable": "task_make_runnable",
    "explain_tune": "task_explain_tune",
    "rebuild_image": "task_rebuild_image",
    "build_schema": "task_build_schema",
    "use_model": "task_use_model",
}
# The tools each main task offers the model (a registry subset, in this order). Fewer, shorter schemas
# keep the prompt small enough for a local model's context and prompt-processing speed; a general
# question still gets every tool.
TASK_TOOLS: dict[str, list[str]] = {
    "make_runnable": ["inspect_workflow", "check_workflows", "resolve_model", "resolve_node", "plan_fix",
                      "search_knowledge"],
    "explain_tune": ["inspect_workflow", "search_knowledge", "hardware_profile", "resolve_model"],
    "rebuild_image": ["read_image_metadata", "reconstruct_workflow", "inspect_workflow", "resolve_model",
                      "search_knowledge"],
    # The user asked for one of the owner's workflow schemas by name or purpose.
    "build_schema": ["list_schemas", "build_schema", "inspect_workflow"],
    # "I downloaded this LoRA, how do I use it?": what the model is, a workflow that loads it, workflows that do.
    "use_model": ["identify_model", "build_workflow", "workflows_for_model", "search_knowledge"],
    # Any other request the orchestrator took a first step for (a knowledge question, a model name).
    "question": ["search_knowledge", "resolve_model", "inspect_workflow", "hardware_profile"],
}
# Tools offered only when the task asks for them (the owner's rule: workflow schemas inform explicit
# requests only and are never proposed unprompted), never in the full set a general request gets.
EXPLICIT_ONLY_TOOLS: dict[str, str] = {"list_schemas": "build_schema", "build_schema": "build_schema"}
# Words that point at one of the three main tasks; the first match wins.
_TASK_HINTS = (
    ("build_schema", re.compile(
        r"\b(auto[- ]?inpaint\w*|image[- ]cycling|dynamic[- ]prompts?( generator)?|workflow schemas?)\b", re.I)),
    ("rebuild_image", re.compile(r"\b(rebuild|reconstruct|recreate)\b.*\b(image|png|picture|photo)\b|behind this image", re.I)),
    ("make_runnable", re.compile(r"\b(runnable|make .* run|missing|fix (this|my|the) workflow|won'?t run)\b", re.I)),
    ("use_model", re.compile(r"\b(how (do|can|should) i use (this|my|it|the|a)|(i )?downloaded (this|a|my|the) "
                             r"(lora|lycoris|model|checkpoint|vae|upscaler|controlnet)|workflows? (for|that uses?|using) "
                             r"(this|my|the|a) (lora|model|checkpoint|file))\b", re.I)),
    ("explain_tune", re.compile(r"\b(what does|explain|tune|vram|\d+\s*gb|low memory|faster)\b", re.I)),
)


@lru_cache(maxsize=32)
def load_prompt(name: str) -> str:
    """The raw text of ``prompts/<name>.md`` (or ``.txt``); cached per name for the life of the process.
    Raises ``FileNotFoundError`` for an unknown name.
    """
    root = resources.files(PACKAGE)
    for ext in (".md", ".txt"):
        entry = root / f"{name}{ext}"
        if entry.is_file():
            return entry.read_text(encoding="utf-8")
    raise FileNotFoundError(f"no prompt named {name!r} in {PACKAGE}")


def render_prompt(name: str, **variables: Any) -> str:
    """``load_prompt(name)`` rendered with ``variables``; unknown variables raise."""
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return env.from_string(load_prompt(name)).render(**variables).strip() + "\n"


def guess_task(question: str) -> str | None:
    """Which main task a question asks for, if any (selects the task prompt).

    A cheap regular-expression guess (English only): one of the owner's workflow schemas named
    (auto-inpaint, image cycling, dynamic prompts), rebuild an image, make a workflow runnable, or
    explain/tune. None leaves the model on the general system prompt; a wrong guess only adds guidance.
    """
    for task, pattern in _TASK_HINTS:
        if pattern.search(question):
            return task
    return None


def system_prompt(*, max_rounds: int, task: str | None) -> str:
    """The system prompt, with the task guidance for ``task`` when there is one; ``max_rounds`` is rendered
    in so the model knows its budget.
    """
    task_prompt = load_prompt(TASKS[task]).strip() if task in TASKS else ""
    return render_prompt("system", max_rounds=max_rounds, task_prompt=task_prompt)
