"""The pack's configuration: ComfyFixerSmart's own settings (environment, ``.env``, ``comfyfixer.toml``).

Nothing a node shows as a widget is a secret: the RunPod key, endpoint and base URL, the capture
switch and the metadata budget are read here, from ``comfyfixer.agent.config.load_settings`` (the one
module that reads secrets), when a node runs, never at import time.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackSettings:
    """What the nodes need. ``runpod_api_key`` is the secret itself; it is only ever handed to
    ``RunPodClient`` (which sends it to RunPod's origin only) and never printed or stored."""

    capture: bool = False
    metadata_inline_budget: int = 32 * 1024
    runpod_endpoint_id: str | None = None
    runpod_base_url: str = "https://api.runpod.ai/v2"
    runpod_api_key: str | None = None
    http_timeout: float = 30.0

    def __repr__(self) -> str:  # never show the key, even in a traceback's locals
        return (f"PackSettings(capture={self.capture}, metadata_inline_budget={self.metadata_inline_budget}, "
                f"runpod_endpoint_id={self.runpod_endpoint_id!r}, runpod_base_url={self.runpod_base_url!r}, "
                f"runpod_api_key={'set' if self.runpod_api_key else None})")


def capture_env() -> bool:
    """``COMFYFIXER_CAPTURE`` set to a true value (1, true, yes, on) — cheap, no settings file read."""
    return os.environ.get("COMFYFIXER_CAPTURE", "").strip().lower() in ("1", "true", "yes", "on")


def load() -> PackSettings:
    """The settings now (read on each call, so a changed ``.env`` applies to the next run). Invalid
    settings are logged and the defaults used for the capture and budget; RunPod then reports what to set."""
    from comfyfixer.agent.config import load_settings
    from comfyfixer.tools.errors import ConfigError

    try:
        s = load_settings()
    except ConfigError as exc:
        log.warning("comfyfixer settings are invalid (%s); using defaults", exc)
        return PackSettings(capture=capture_env())
    return PackSettings(capture=s.capture, metadata_inline_budget=s.metadata_inline_budget,
                        runpod_endpoint_id=s.runpod_endpoint_id, runpod_base_url=s.runpod_base_url,
                        runpod_api_key=s.secret("runpod_api_key"), http_timeout=s.http_timeout)
