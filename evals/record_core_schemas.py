"""Record what ``object_info`` does not say about core nodes: the inputs each node validates itself.

ComfyUI skips its own value checks (combo lists, min/max) for every input a node's ``VALIDATE_INPUTS``
(V1) or ``validate_inputs`` (V3) takes as an argument, and for all inputs when it takes ``**kwargs``
(``execution.py::validate_inputs``). ``CustomCombo``'s choices, for one, are written by the user in the
editor, so its schema lists none. ``object_info`` carries no trace of this; it is read here from the
classes themselves, by importing the real ComfyUI source in a subprocess with ComfyUI's own Python.

Run: ``python -m comfyfixer.evals.record_core_schemas COMFYUI_DIR COMFYUI_PYTHON OUT.json``, then pass
``OUT.json`` to ``python -m comfyfixer.tools.schema.snapshot`` (see ``tools/schema/data/SOURCES.md``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from comfyfixer.tools.paths import atomic_write

# Runs inside ComfyUI's interpreter, with its folder as the working directory.
_PROBE = r"""
import asyncio, inspect, json, sys
sys.argv = ["main.py", "--cpu", "--disable-all-custom-nodes"]
import comfy.options
comfy.options.enable_args_parsing()
import nodes
asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False))
from comfy_api.internal import _ComfyNodeInternal, first_real_override
out = {}
for name, cls in sorted(nodes.NODE_CLASS_MAPPINGS.items()):
    if issubclass(cls, _ComfyNodeInternal):
        fn = first_real_override(cls, "validate_inputs")
    else:
        fn = getattr(cls, "VALIDATE_INPUTS", None)
    if fn is None:
        continue
    spec = inspect.getfullargspec(fn)
    out[name] = ["*"] if spec.varkw is not None else [a for a in spec.args if a not in ("cls", "self")]
print("@@" + json.dumps(out, sort_keys=True))
"""


def record(comfyui_dir: Path, python: str) -> dict[str, list[str]]:
    """Node class → the inputs it validates itself (``["*"]``: all of them), from the running source."""
    done = subprocess.run([python, "-c", _PROBE], cwd=comfyui_dir, capture_output=True, text=True, timeout=600,
                          check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("@@"))
    return dict(json.loads(line[2:]))


def main(argv: list[str] | None = None) -> int:
    """``record_core_schemas.py COMFYUI_DIR PYTHON OUT``: write the mapping to ``OUT``; returns 0."""
    args = argv if argv is not None else sys.argv[1:]
    data = record(Path(args[0]), args[1])
    atomic_write(Path(args[2]), json.dumps(data, indent=1, sort_keys=True))
    sys.stdout.write(f"{len(data)} node classes validate some of their inputs themselves\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
