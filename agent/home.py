"""Where ComfyFixerSmart keeps config, cache and state, and the files settings are read from.

Part of the settings (``agent/config.py`` builds them) but free of pydantic, so the start of a command
(``agent/recheck.py``) can find the cache folder before anything heavy is imported.
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_FILE_NAME = "comfyfixer.toml"


def home_dir() -> Path:
    """Where config, cache and state live; ``COMFYFIXER_HOME`` moves all of it (tests use this).

    Without the variable this is the platform config folder (``~/.config/comfyfixer`` on Linux). With it,
    cache and state become ``$COMFYFIXER_HOME/cache`` and ``/state`` too, so one variable isolates a run.
    """
    env = os.environ.get("COMFYFIXER_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs  # only without COMFYFIXER_HOME

    return Path(platformdirs.user_config_dir("comfyfixer"))


def default_cache_dir() -> Path:
    """The cache folder when no setting names another."""
    env = os.environ.get("COMFYFIXER_HOME")
    if env:
        return Path(env).expanduser() / "cache"
    import platformdirs  # only without COMFYFIXER_HOME

    return Path(platformdirs.user_cache_dir("comfyfixer"))


def default_state_dir() -> Path:
    """The state folder (plans, journal, approvals, history) when no setting names another."""
    env = os.environ.get("COMFYFIXER_HOME")
    if env:
        return Path(env).expanduser() / "state"
    import platformdirs  # only without COMFYFIXER_HOME

    return Path(platformdirs.user_state_dir("comfyfixer"))


def settings_files() -> list[Path]:
    """The files settings may be read from, whether or not they exist: ``.env`` and ``comfyfixer.toml``
    in the current folder, ``comfyfixer.toml`` in :func:`home_dir`."""
    return [Path(".env"), Path.cwd() / CONFIG_FILE_NAME, home_dir() / CONFIG_FILE_NAME]


def settings_variables() -> dict[str, str]:
    """The ``COMFYFIXER_*`` environment variables (what a replayed answer must have been computed under;
    the other names settings accept are service tokens, which no check reads)."""
    return {k: v for k, v in os.environ.items() if k.upper().startswith("COMFYFIXER_")}
