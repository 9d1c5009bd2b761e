"""Ratchets that keep the structure from rotting."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _py_files(folder: str) -> list[Path]:
    return [p for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_tools_never_import_the_agent() -> None:
    offenders = [str(p.relative_to(REPO)) for p in _py_files("tools")
                 if any(m == "comfyfixer.agent" or m.startswith("comfyfixer.agent.") for m in _imports(p))]
    assert offenders == []


def test_no_bare_top_level_imports_of_our_folders() -> None:
    bare = re.compile(r"^(tools|agent|evals|knowledge|prompts|demo)(\.|$)")
    offenders = [f"{p.relative_to(REPO)}: {m}" for folder in ("tools", "agent", "evals", "tests", "comfyfixer_nodes")
                 for p in _py_files(folder) for m in _imports(p) if bare.match(m)]
    assert offenders == []


def test_secrets_are_read_only_by_the_settings_module() -> None:
    pattern = re.compile(r"os\.(environ|getenv)\b.*(TOKEN|KEY|SECRET|PASSWORD)", re.IGNORECASE)
    offenders = []
    for folder in ("tools", "agent", "evals", "comfyfixer_nodes"):
        for p in _py_files(folder):
            if p == REPO / "agent" / "config.py":
                continue
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{p.relative_to(REPO)}:{n}")
    assert offenders == []


def _loaded_after(argv: list[str]) -> set[str]:
    """The modules a fresh interpreter has imported after running the CLI on ``argv``."""
    code = (
        "import sys\n"
        "from comfyfixer.agent.cli import run\n"
        f"try:\n    run({argv!r})\nexcept SystemExit:\n    pass\n"
        "print('LOADED:' + ','.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return set(out.stdout.strip().splitlines()[-1].removeprefix("LOADED:").split(","))


def test_help_is_fast_and_does_not_import_heavy_stacks() -> None:
    heavy = {"qwen_agent", "openai", "httpx", "huggingface_hub", "bm25s", "PIL"}
    assert _loaded_after(["--help"]) & heavy == set()


def _replayed_cassettes(path: Path) -> set[Path]:
    """Cassette files a test module opens with the shared ``replay(...)`` fixture (literal or module constant)."""
    import recorded

    tree = ast.parse(path.read_text(encoding="utf-8"))
    consts = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
              and isinstance(n.value.value, str) for t in n.targets if isinstance(t, ast.Name)}
    found: set[Path] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "replay" and node.args:
            arg = node.args[0]
            name = arg.value if isinstance(arg, ast.Constant) else consts.get(arg.id) if isinstance(arg, ast.Name) else None
            if isinstance(name, str):
                found.add(recorded.locate(name, path.parent))
    return found


def test_recorded_http_goes_through_the_one_vcr_configuration() -> None:
    import json

    import recorded
    import yaml

    # 1. No test module configures vcrpy itself (vcr.errors, to name an exception, is fine).
    direct = re.compile(r"\bvcr\.(VCR|use_cassette)\b|^\s*import vcr\s*$|^\s*from vcr import|^\s*from vcr\.config import",
                        re.MULTILINE)
    offenders = [str(p.relative_to(REPO)) for p in _py_files("tests")
                 if p != REPO / "tests" / "recorded.py" and direct.search(p.read_text(encoding="utf-8"))]
    assert offenders == [], "use the `replay` fixture (tests/recorded.py), not vcrpy directly"

    # 2. Every cassette file is replayed by at least one test.
    used = set().union(*(_replayed_cassettes(p) for p in _py_files("tests") if p.name.startswith("test_")))
    cassettes = recorded.cassette_files()
    assert len(cassettes) >= 30  # the scan found the suite's cassettes
    assert [str(c.relative_to(REPO)) for c in cassettes if c not in used] == []

    # 3. No cassette holds a credential: filtered headers, a token query parameter.
    leaks = []
    for c in cassettes:
        text = c.read_text(encoding="utf-8")
        doc = json.loads(text) if c.suffix == ".json" else yaml.safe_load(text)
        for i, it in enumerate(doc["interactions"]):
            bad = [h for h in it["request"].get("headers") or {} if h.lower() in recorded.FILTERED_REQUEST_HEADERS]
            bad += [h for h in it["response"].get("headers") or {} if h.lower() in recorded.FILTERED_RESPONSE_HEADERS]
            bad += [q for q in recorded.FILTERED_QUERY_PARAMETERS if re.search(rf"[?&]{q}=", it["request"]["uri"])]
            if bad:
                leaks.append(f"{c.relative_to(REPO)} #{i}: {bad}")
    assert leaks == []


def test_command_modules_declare_what_they_register_and_load_lazily() -> None:
    """``COMMAND_MODULES`` names exactly the commands each module registers (the lazy root group finds a
    command's module from it), and running one command imports no other command module."""
    import importlib

    import typer

    from comfyfixer.agent.cli import COMMAND_MODULES

    for module, names in COMMAND_MODULES.items():
        sub = typer.Typer()
        importlib.import_module(f"comfyfixer.agent.commands.{module}").register(sub)
        registered = tuple(c.name or "" for c in sub.registered_commands) + tuple(g.name or "" for g in sub.registered_groups)
        assert registered == names, module
    commands = {m for m in _loaded_after(["check", "--help"]) if m.startswith("comfyfixer.agent.commands.")}
    assert commands == {"comfyfixer.agent.commands.check"}
