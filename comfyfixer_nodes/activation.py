"""When the executor hooks go in: only for prompts that want capture.

ComfyUI calls every on-prompt handler with the submitted JSON before validating it. Ours looks for a
reason to capture — ``COMFYFIXER_CAPTURE=1`` / the ``capture`` setting, or a ``ComfyFixerSaveImage``
node whose ``capture`` input is true — and only then installs the hooks (once per process). The hooks'
per-prompt check (:func:`wants_capture`) applies the same rule, so prompts that do not ask are never
recorded. Without any such prompt ComfyUI's executor is never touched.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

log = logging.getLogger(__name__)

SAVE_CLASS = "ComfyFixerSaveImage"
_setting_cache: dict[str, bool] = {}


def capture_setting() -> bool:
    """The environment variable or the ``capture`` setting (the settings are read once per process)."""
    from comfyfixer.nodes import settings

    if settings.capture_env():
        return True
    if "capture" not in _setting_cache:
        _setting_cache["capture"] = settings.load().capture
    return _setting_cache["capture"]


def prompt_asks(prompt: Any) -> bool:
    """A save node of ours in ``prompt`` has its ``capture`` toggle on."""
    if not isinstance(prompt, dict):
        return False
    return any(isinstance(n, dict) and n.get("class_type") == SAVE_CLASS and (n.get("inputs") or {}).get("capture") is True
               for n in prompt.values())


def wants_capture(prompt: Any, extra_data: Any = None) -> bool:
    """Record this prompt: the setting is on, or the prompt's save node asks for it."""
    del extra_data
    return prompt_asks(prompt) or capture_setting()


def arm(execution: Any = None) -> bool:
    """Install the hooks on ComfyUI's ``execution`` module (already imported by ComfyUI) if not yet done."""
    from comfyfixer.nodes import capture

    module = execution if execution is not None else sys.modules.get("execution")
    if module is None:
        log.warning("comfyfixer capture: ComfyUI's execution module is not loaded; capture stays off")
        return False
    return capture.install(module, wants=wants_capture)


def on_prompt(json_data: Any) -> Any:
    """ComfyUI on-prompt handler: arm the hooks when this prompt wants capture; the JSON is returned unchanged."""
    try:
        if isinstance(json_data, dict) and wants_capture(json_data.get("prompt")):
            arm()
    except Exception:  # a handler error must never block a prompt
        log.warning("comfyfixer capture could not be armed", exc_info=True)
    return json_data


def register_on_prompt() -> bool:
    """Register :func:`on_prompt` with the running ComfyUI server; False outside ComfyUI."""
    server = sys.modules.get("server")
    prompt_server = getattr(getattr(server, "PromptServer", None), "instance", None)
    if prompt_server is None or not hasattr(prompt_server, "add_on_prompt_handler"):
        return False
    if on_prompt not in getattr(prompt_server, "on_prompt_handlers", []):
        prompt_server.add_on_prompt_handler(on_prompt)
    return True
