"""``extra_model_paths.yaml``: extra search folders, read the way ComfyUI's ``utils/extra_config.py`` does.

Each top-level section may carry ``base_path`` (``~`` and env vars expanded; relative to the yaml's folder)
and ``is_default: true`` (its folders are searched *first*); every other key is a folder key whose value is
one path or a multi-line string of paths, each joined to ``base_path``. Keys go through ComfyUI's ``map_legacy``
(exactly: a ``t2i_adapter:`` key is a key of its own, not ``controlnet``'s second directory).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from comfyfixer.tools.errors import ConfigError
from comfyfixer.tools.model_folders import map_legacy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtraPath:
    """One folder added by a yaml file: the canonical folder ``key``, the normalised ``path``, whether its
    section has ``is_default``, the section name and the yaml file it came from (for reports).
    """

    key: str
    path: Path
    is_default: bool
    section: str
    source: Path


def parse_extra_model_paths(yaml_path: Path) -> list[ExtraPath]:
    """Every (folder key, directory) pair the yaml adds, in file order. Missing dirs are kept (ComfyUI keeps
    them).

    Sections that are not mappings are skipped. Raises ``ConfigError`` when the file cannot
    be read, is not YAML, or is not a mapping of sections. Uses ``yaml.safe_load``: no tags are executed.
    """
    import yaml  # only when there is a yaml to read

    try:
        text = yaml_path.read_text(encoding="utf-8")
        config = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"cannot read {yaml_path}: {exc.strerror}", hint="check the extra_model_paths path") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{yaml_path} is not valid YAML: {exc}", hint="fix the file or leave it out") from None
    if config is None:
        return []
    if not isinstance(config, dict):
        raise ConfigError(f"{yaml_path}: expected a mapping of sections", hint="see extra_model_paths.yaml.example")
    yaml_dir = yaml_path.resolve().parent
    out: list[ExtraPath] = []
    for section, conf in config.items():
        if not isinstance(conf, dict):
            continue
        conf = dict(conf)
        base: Path | None = None
        if "base_path" in conf:
            raw = str(conf.pop("base_path"))
            expanded = os.path.expandvars(os.path.expanduser(raw))
            base = Path(expanded) if os.path.isabs(expanded) else yaml_dir / expanded
        is_default = bool(conf.pop("is_default", False))
        for key, value in conf.items():
            if value is None:
                continue
            for line in str(value).split("\n"):
                line = line.strip()
                if not line:
                    continue
                if base is not None:
                    full = base / line
                elif os.path.isabs(line):
                    full = Path(line)
                else:
                    full = yaml_dir / line
                out.append(
                    ExtraPath(
                        key=map_legacy(str(key)),
                        path=Path(os.path.normpath(full)),
                        is_default=is_default,
                        section=str(section),
                        source=yaml_path,
                    )
                )
    return out


def apply_extra_paths(folders: dict[str, list[Path]], extras: list[ExtraPath]) -> dict[str, list[Path]]:
    """Add ``extras`` to a folder table like ``folder_paths.add_model_folder_path`` (default ones go first).

    Returns a new table; the input is not changed. A directory already listed is not added twice, but an
    ``is_default`` one is moved to the front.
    """
    table = {k: list(v) for k, v in folders.items()}
    for extra in extras:
        dirs = table.setdefault(extra.key, [])
        if extra.path in dirs:
            if extra.is_default:
                dirs.remove(extra.path)
                dirs.insert(0, extra.path)
            continue
        if extra.is_default:
            dirs.insert(0, extra.path)
        else:
            dirs.append(extra.path)
    return table
