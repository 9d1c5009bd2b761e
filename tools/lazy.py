"""Names a package exports but imports from their modules only on first use (PEP 562 ``__getattr__``).

``check`` must start fast: a package such as ``tools/workflow`` or ``agent/reports`` lists its public
names, and each is imported from its home module the first time someone reads it, so a run that never
converts a workflow or renders a dashboard never loads that code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``name`` comes from ``<package>.<homes[name]>``."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{home}"), name)

    return __getattr__
