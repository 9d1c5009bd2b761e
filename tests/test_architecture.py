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
    offenders = [f"{p.relative_to(REPO)}: {m}" for folder in ("tools", "agent", "evals", "tests")
                 for p in _py_files(folder) for m in _imports(p) if bare.match(m)]
    assert offenders == []


def test_secrets_are_read_only_by_the_settings_module() -> None:
    pattern = re.compile(r"os\.(environ|getenv)\b.*(TOKEN|KEY|SECRET|PASSWORD)", re.IGNORECASE)
    offenders = []
    for folder in ("tools", "agent", "evals"):
        for p in _py_files(folder):
            if p == REPO / "agent" / "config.py":
                continue
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{p.relative_to(REPO)}:{n}")
    assert offenders == []


def test_help_is_fast_and_does_not_import_heavy_stacks() -> None:
    code = (
        "import sys\n"
        "from comfyfixer.agent.cli import run\n"
        "try:\n    run(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('qwen_agent', 'openai', 'httpx', 'huggingface_hub', 'bm25s', 'PIL') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:"
