"""Ratchets for ARCHITECTURE.md's "one home for each rule": each test walks the source with ``ast``
and fails when a rule gets a second implementation or is bypassed.

Each test names the rule it guards as ARCHITECTURE.md states it; break the rule on a scratch
branch and the test fails with the offending file and line.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODE = ("tools", "agent", "evals", "comfyfixer_nodes")


def _files(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from (p for p in sorted((REPO / folder).rglob("*.py")) if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _calls(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every call as dotted text: ``os.replace``, ``httpx.Client``, ``path.write_text``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node.lineno, ast.unparse(node.func)


def _offending_calls(folders: tuple[str, ...], bad: Callable[[str, str], bool]) -> list[str]:
    """``file:line call`` for every call for which ``bad(relative_path, call)`` holds."""
    return [f"{_rel(path)}:{line} {call}" for path in _files(*folders) for line, call in _calls(_tree(path))
            if bad(_rel(path), call)]


def test_commands_are_thin_and_never_import_each_other() -> None:
    """No command module imports another, and the orchestrator imports no command module."""
    offenders = []
    for path in _files("agent"):
        rel = _rel(path)
        own = "comfyfixer.agent.commands." + path.stem
        for line, name in _imported(_tree(path)):
            if not name.startswith("comfyfixer.agent.commands"):
                continue
            if rel.startswith("agent/commands/") and not name.startswith(own):
                offenders.append(f"{rel}:{line} imports {name}")
            if rel.startswith("agent/orchestrator/"):
                offenders.append(f"{rel}:{line} imports {name}")
    assert offenders == []


def test_every_http_client_is_built_by_tools_http() -> None:
    """``httpx.Client`` is constructed only in tools/http.py; ``http.client`` only in the download transport."""
    offenders = _offending_calls(CODE, lambda rel, call: call in ("httpx.Client", "httpx.AsyncClient")
                                 and rel != "tools/http.py")
    for path in _files(*CODE):
        rel = _rel(path)
        for line, name in _imported(_tree(path)):
            if name in ("http.client", "urllib.request", "requests") and rel not in (
                    "tools/download/transport.py",) and not rel.startswith("evals/fakes/"):
                offenders.append(f"{rel}:{line} imports {name}")
    assert offenders == []


def test_replacing_writes_go_through_atomic_write() -> None:
    """Files that are replaced (reports, plans, caches, catalogs, approvals) are written by
    ``tools/paths.py::atomic_write`` only: nobody else renames a temporary file into place."""
    homes = {"tools/paths.py"}
    # The download staging area places verified files (no-clobber link) and quarantines them; the
    # pack installer renames a verified clone into custom_nodes/. Those are moves, not writes.
    movers = {"tools/download/staging.py", "tools/packs/git.py", "agent/executor.py"}

    def bad(rel: str, call: str) -> bool:
        if call in ("os.replace", "tempfile.mkstemp", "tempfile.NamedTemporaryFile") or call.endswith(
                (".write_text", ".write_bytes")):
            return rel not in homes
        return call == "os.rename" and rel not in homes | movers

    assert _offending_calls(("tools", "agent", "comfyfixer_nodes"), bad) == []


def test_one_loopback_rule_and_one_token_binding() -> None:
    """Loopback is decided by ``tools/http.py::is_loopback`` alone (ipaddress, not string prefixes)."""
    offenders = []
    for path in _files(*CODE):
        rel = _rel(path)
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and "loopback" in node.name and rel != "tools/http.py":
                offenders.append(f"{rel}:{node.lineno} defines {node.name}")
        for n, line in enumerate(text.splitlines(), 1):
            if 'startswith("127.")' in line or "startswith('127.')" in line:
                offenders.append(f"{rel}:{n} tests loopback by prefix")
    assert offenders == []


def test_one_safe_name_rule() -> None:
    """Names we are given are checked by ``safe_filename``/``safe_relpath``; names we make come from
    ``safe_stem`` — all in tools/paths.py. No other module sanitises names character by character."""
    offenders = []
    for path in _files("tools", "agent"):
        rel = _rel(path)
        if rel == "tools/paths.py":
            continue
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.FunctionDef) and any(k in node.name.lower() for k in ("safe_name", "sanitize")):
                offenders.append(f"{rel}:{node.lineno} defines {node.name}")
            if isinstance(node, ast.GeneratorExp) and "isalnum" in ast.unparse(node) and "else" in ast.unparse(node):
                offenders.append(f"{rel}:{node.lineno} rewrites characters of a name")
    assert offenders == []


def test_capabilities_are_declared_once_with_their_own_docstring() -> None:
    """A capability's description is its own docstring: no ``_doc(other_function)`` borrowing, no
    hand-built ``Capability(...)`` outside the contract module, no second wrapper module."""
    by_hand = ("_doc", "inspect.getdoc", "Capability", "Capability.from_function", "ToolSpec")
    assert _offending_calls(("tools", "agent"), lambda rel, call: call in by_hand and rel != "tools/toolset.py") == []
    assert not (REPO / "tools" / "tool_adapters.py").exists()
