"""The first step every answer needs, taken before the model is asked anything.

A small local model often answers a question about a workflow without ever opening it. When a
request carries a workflow, an image, an image URL or a model file name — or is a plain question
for the knowledge pack — the tool every answer needs first is obvious, so the orchestrator calls it
itself: :func:`plan_first_steps` lists those calls and the engine runs them through the same
adapter and ``Registry.call`` as a model's calls, records them in the trace (turn 0) and puts each
call and its compact result into the message history as an ordinary assistant tool call and tool
result. Both tool modes then see them exactly as if the model had made them; the model explains,
chooses among candidates or calls follow-up tools. One follow-up is as obvious as the first step:
when the user asked to make a workflow runnable and the readiness check found something missing,
:func:`follow_up_steps` adds ``plan_fix`` (a saved plan is not a change; applying it still needs the
user's approval), and when the user asked how to use a model it identified, ``build_workflow``. Larger models lose nothing: the first step is the same for all and every tool stays
callable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from comfyfixer.tools.model_folders import MODEL_FILE_EXTENSIONS

WORKFLOW_SUFFIXES = (".json",)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MODEL_SUFFIXES = MODEL_FILE_EXTENSIONS
# Model weights a question may name ("my workflow wants juggernaut.safetensors").
_MODEL_FILE = re.compile(r"(?<![\w/.-])([\w][\w.+\-]*\.(?:"
                         + "|".join(sorted((e[1:] for e in MODEL_FILE_EXTENSIONS), key=len, reverse=True))
                         + r"))\b", re.I)
_CIVITAI_IMAGE = re.compile(r"https?://(?:www\.)?civitai\.(?:com|green)/(images|posts)/(\d+)", re.I)
# A question the knowledge pack answers: an error message, a how/why/what question.
_KNOWLEDGE = re.compile(
    r"\b(error|errors|fails?|failed|failing|exception|traceback|out of memory|oom|crash(es|ed)?|"
    r"how (do|can|should) i|how to|why (does|is|do)|what (is|are) (a|an|the)?)\b|'[^']{12,}'|\"[^\"]{12,}\"",
    re.I,
)
# Tuning advice (VRAM, speed) comes from the knowledge pack, whatever the workflow says.
_TUNING = re.compile(r"\b(tune|tuning|vram|\d+\s*gb|low memory|faster|speed up|optimi[sz]e|oom|out of memory)\b", re.I)
MAX_MODEL_NAMES = 3
# The owner's workflow schemas a request may name (the build_schema task), and words asking to add one to
# the attached workflow rather than build it alone.
_SCHEMAS = (("auto-inpaint", re.compile(r"\bauto[- ]?inpaint", re.I)),
            ("image-cycling", re.compile(r"\bimage[- ]cycling\b", re.I)),
            ("dynamic-prompts", re.compile(r"\bdynamic[- ]prompts?\b", re.I)))
_INTO = re.compile(r"\b(add|adds|adding|insert|put|compose|into|to (this|my|the|that) workflow)\b", re.I)
# The tools :func:`follow_up_steps` may call, per task (a tool subset must keep them).
FOLLOW_UP_TOOLS: dict[str, tuple[str, ...]] = {"make_runnable": ("plan_fix",), "use_model": ("build_workflow",)}
# Identified roles a workflow can be built around (build_workflow refuses the others with a next step).
_BUILDABLE_ROLES = frozenset({"checkpoint", "diffusion_model", "lora", "lycoris", "vae", "text_encoder", "controlnet",
                              "upscaler"})


@dataclass(frozen=True)
class FirstCall:
    """One call the orchestrator makes before the model: ``tool`` with ``arguments`` (plain JSON)."""

    tool: str
    arguments: dict[str, Any]


def plan_first_steps(question: str, files: Sequence[Path | str], task: str | None,
                     available: Sequence[str]) -> list[FirstCall]:
    """The calls to make before the model is asked, in order; only tools in ``available`` are used.

    * a workflow file → ``inspect_workflow``; when the task is to make it runnable, also
      ``check_workflows`` (what is missing on this ComfyUI);
    * an image file or a civitai.com image/post URL → ``read_image_metadata`` (files only), and
      ``reconstruct_workflow`` when the task is to rebuild the workflow;
    * a model file (.safetensors, .gguf, …) → ``identify_model`` (at most ``MAX_MODEL_NAMES``);
    * no file, but model file names in the question → ``resolve_model`` for each (at most
      ``MAX_MODEL_NAMES``), or ``identify_model`` when the task is to use a model the user has;
    * otherwise a knowledge question (an error message, how/why/what) or an explain/tune task →
      ``search_knowledge`` with the question as the query. An explain/tune task with a workflow also
      gets the knowledge search when it asks about tuning (VRAM, speed), since that advice comes from
      the pack;
    * a request for one of the owner's workflow schemas (the ``build_schema`` task, which only a
      request naming one gets) → ``build_schema`` for the schema named, into the attached workflow
      when asked to add it there (it writes nothing), or ``list_schemas`` when none is named.

    Anything else (a greeting, a question the heuristics do not recognise) gets no first step, and
    the model decides alone.
    """
    calls: list[FirstCall] = []
    workflows = [str(Path(f).expanduser()) for f in files if str(f).lower().endswith(WORKFLOW_SUFFIXES)]
    images = [str(Path(f).expanduser()) for f in files if str(f).lower().endswith(IMAGE_SUFFIXES)]
    models = [str(Path(f).expanduser()) for f in files if str(f).lower().endswith(MODEL_SUFFIXES)]
    for path in workflows:
        calls.append(FirstCall("inspect_workflow", {"path": path}))
    if workflows and task == "make_runnable":
        calls.append(FirstCall("check_workflows", {"paths": workflows}))
    for path in images:
        calls.append(FirstCall("read_image_metadata", {"path": path}))
        if task == "rebuild_image":
            calls.append(FirstCall("reconstruct_workflow", {"image": path}))
    if not images:
        for m in _CIVITAI_IMAGE.finditer(question):
            key = "civitai_image_id" if m.group(1).lower() == "images" else "civitai_post_id"
            calls.append(FirstCall("reconstruct_workflow", {key: int(m.group(2))}))
            break
    calls += [FirstCall("identify_model", {"model": path}) for path in models[:MAX_MODEL_NAMES]]
    if not files:
        names = list(dict.fromkeys(m.group(1) for m in _MODEL_FILE.finditer(question)))[:MAX_MODEL_NAMES]
        # A model the user has and asks how to use is identified; one a workflow wants is looked up to download.
        tool, key = ("identify_model", "model") if task == "use_model" else ("resolve_model", "filename")
        calls += [FirstCall(tool, {key: name}) for name in names]
    knowledge_question = not calls and (task == "explain_tune" or bool(_KNOWLEDGE.search(question)))
    if knowledge_question or (workflows and _TUNING.search(question)):
        calls.append(FirstCall("search_knowledge", {"query": question[:300]}))
    if task == "build_schema":
        calls += _schema_steps(question, workflows)
    return [c for c in calls if c.tool in available]


def _schema_steps(question: str, workflows: Sequence[str]) -> list[FirstCall]:
    """The user asked for a workflow schema: build the one named (into the attached workflow when asked
    to add it there; nothing is written), or list them when none is named."""
    named = [name for name, pattern in _SCHEMAS if pattern.search(question)]
    if len(named) != 1:
        return [FirstCall("list_schemas", {})]
    args: dict[str, Any] = {"name": named[0]}
    if workflows and _INTO.search(question):
        args["into"] = workflows[0]
    return [FirstCall("build_schema", args)]


def follow_up_steps(call: FirstCall, result: Any, task: str | None, available: Sequence[str]) -> list[FirstCall]:
    """The calls a first-step ``result`` makes obvious, to run right after ``call``.

    * The task is to make a workflow runnable and ``check_workflows`` found a workflow that is not
      runnable (missing models, nodes or files in the wrong folder) → ``plan_fix`` for the same paths, so
      the user gets the plan to approve without the model having to ask for it.
    * The task is to use a model the user has and ``identify_model`` named its family and role
      (IDENTIFIED) → ``build_workflow`` for it, so "I downloaded this LoRA, how do I use it?" ends with a
      validated workflow (it writes nothing; the answer says how to write it with ``comfyfixer build``).
    """
    if call.tool == "identify_model" and task == "use_model" and "build_workflow" in available:
        if isinstance(result, dict) and result.get("status") == "IDENTIFIED" and result.get("role") in _BUILDABLE_ROLES:
            return [FirstCall("build_workflow", {"model": call.arguments.get("model")})]
        return []
    if call.tool != "check_workflows" or task != "make_runnable" or "plan_fix" not in available:
        return []
    workflows = result.get("workflows") if isinstance(result, dict) else None
    if not isinstance(workflows, list):
        return []
    if any(isinstance(w, dict) and w.get("status") == "missing" for w in workflows):
        return [FirstCall("plan_fix", {"paths": list(call.arguments.get("paths") or [])})]
    return []
