"""Maps the repository's top-level folders onto the ``comfyfixer.*`` namespace.

A bare top-level ``tools`` or ``agent`` package would collide with other code in
ComfyUI's virtual environment, so ``agent/`` installs as ``comfyfixer.agent``,
``tools/`` as ``comfyfixer.tools`` and so on. setuptools cannot rename folders
through ``packages.find``, so the package list is walked here.
"""

import os

from setuptools import setup

FOLDERS = {
    "agent": "comfyfixer.agent",
    "tools": "comfyfixer.tools",
    "knowledge": "comfyfixer.knowledge",
    "prompts": "comfyfixer.prompts",
    "evals": "comfyfixer.evals",
    "demo": "comfyfixer.demo",
    "comfyfixer_nodes": "comfyfixer.nodes",
}
# Folders that hold data, not code: every file in them ships.
DATA_ONLY = {"knowledge", "prompts", "demo"}
# .safetensors: the eval cases' model headers (evals/agent_cases/data, weights zero, kilobytes).
CODE_DATA = ["*.md", "*.txt", "*.json", "*.yaml", "*.yml", "*.j2", "*.html", "*.css", "*.js", "*.safetensors"]
SKIP = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def _walk() -> tuple[list[str], dict[str, str], dict[str, list[str]]]:
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    package_data: dict[str, list[str]] = {}
    for folder, name in FOLDERS.items():
        if not os.path.isdir(folder):
            continue
        for root, dirs, _files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in SKIP and not d.startswith("."))
            rel = os.path.relpath(root, folder)
            pkg = name if rel == "." else name + "." + rel.replace(os.sep, ".")
            packages.append(pkg)
            package_dir[pkg] = root
            package_data[pkg] = ["*", ".*"] if folder in DATA_ONLY else CODE_DATA
    return packages, package_dir, package_data


packages, package_dir, package_data = _walk()
setup(packages=packages, package_dir=package_dir, package_data=package_data, include_package_data=False)
