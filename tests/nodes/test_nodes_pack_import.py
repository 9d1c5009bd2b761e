"""The pack loads the way ComfyUI loads a custom-node folder, with no side effects at import time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACK = Path(__file__).resolve().parents[2] / "comfyfixer_nodes"

CODE = f"""
import importlib.util, sys, types
# What ComfyUI has loaded before custom nodes: its executor module and a server with a PromptServer.
import fake_execution as execution
sys.modules["execution"] = execution
handlers = []
server = types.ModuleType("server")
class PromptServer:
    instance = None
    on_prompt_handlers = handlers
    def add_on_prompt_handler(self, fn):
        handlers.append(fn)
PromptServer.instance = PromptServer()
server.PromptServer = PromptServer
sys.modules["server"] = server
before = (execution.get_input_data, execution.execute, execution.PromptExecutor.__dict__["execute_async"])
# nodes.py:load_custom_node: module name from the path, __init__.py with the folder as its package path.
spec = importlib.util.spec_from_file_location("custom_nodes_x_comfyfixer_nodes", {str(PACK / "__init__.py")!r},
                                              submodule_search_locations=[{str(PACK)!r}])
mod = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = mod
spec.loader.exec_module(mod)
import comfyfixer.nodes.nodes as lib
assert mod.NODE_CLASS_MAPPINGS == lib.NODE_CLASS_MAPPINGS, "one set of classes, one capture state"
assert set(mod.NODE_DISPLAY_NAME_MAPPINGS) == set(mod.NODE_CLASS_MAPPINGS)
after = (execution.get_input_data, execution.execute, execution.PromptExecutor.__dict__["execute_async"])
assert all(a is b for a, b in zip(before, after)), "patched at import"
assert len(handlers) == 1
heavy = [m for m in ("torch", "PIL", "httpx", "numpy", "comfyfixer.tools.runpod") if m in sys.modules]
assert heavy == [], heavy
print("ok")
"""


def test_loads_like_a_custom_node_without_side_effects() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).parent, env={"PYTHONPATH": str(Path(__file__).parent), "PATH": ""})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
