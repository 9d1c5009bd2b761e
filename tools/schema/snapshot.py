"""Build the bundled core-schema snapshot from a real ``object_info`` dump.

``python -m comfyfixer.tools.schema.snapshot object_info.json VERSION OUT.json``

Custom-node classes are dropped, and combo lists that are folder listings of the machine the
dump came from (model files, inputs/uploads) are emptied: they describe that machine, not ComfyUI.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from comfyfixer.tools.model_folders import MODEL_FILE_EXTENSIONS
from comfyfixer.tools.paths import atomic_write
from comfyfixer.tools.schema.folders import core_model_folder
from comfyfixer.tools.schema.loader import VALIDATED_BY_NODE

_MEDIA_EXT = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".mp4", ".webm", ".wav", ".mp3", ".flac", ".yaml", ".glb", ".obj")


def _is_listing(cls: str, name: str, options: list[Any]) -> bool:
    if core_model_folder(cls, name) is not None:
        return True
    strs = [o for o in options if isinstance(o, str)]
    return bool(strs) and all(o.lower().endswith(MODEL_FILE_EXTENSIONS + _MEDIA_EXT) for o in strs)


def build(info: dict[str, Any]) -> dict[str, Any]:
    """The snapshot form of an ``object_info`` mapping: custom-node classes dropped, model and upload listings
    emptied, tooltips and descriptions removed (they are large and not needed to read workflows).
    Changes ``info`` in place.
    """
    out: dict[str, Any] = {}
    for cls, node in info.items():
        if str(node.get("python_module", "")).startswith("custom_nodes"):
            continue
        for section in ("required", "optional"):
            for name, spec in (node.get("input", {}).get(section) or {}).items():
                if isinstance(spec, list) and spec and isinstance(spec[0], list) and _is_listing(cls, name, spec[0]):
                    spec[0] = []
                elif (
                    isinstance(spec, list) and len(spec) > 1 and spec[0] == "COMBO" and isinstance(spec[1], dict)
                    and _is_listing(cls, name, spec[1].get("options") or [])
                ):
                    spec[1]["options"] = []
                if isinstance(spec, list) and len(spec) > 1 and isinstance(spec[1], dict):
                    spec[1].pop("tooltip", None)
        node.pop("output_tooltips", None)
        node.pop("description", None)
        out[cls] = node
    return out


def main(argv: list[str] | None = None) -> int:
    """``snapshot.py SRC VERSION DST [SELF_VALIDATED]``: write the snapshot of ``SRC`` tagged with ``VERSION``
    (and the inputs nodes validate themselves) to ``DST``; returns 0. Arguments are positional and unchecked
    (a developer tool).
    """
    args = argv if argv is not None else sys.argv[1:]
    src, version, dst = Path(args[0]), args[1], Path(args[2])
    data = build(json.loads(src.read_text(encoding="utf-8")))
    data["__comfyui_version__"] = version
    if len(args) > 3:  # the inputs each node validates itself (evals/record_core_schemas.py)
        data[VALIDATED_BY_NODE] = json.loads(Path(args[3]).read_text(encoding="utf-8"))
    # Key order is kept: a V3 DynamicCombo's sub-inputs have no input_order, their order is the dict's.
    atomic_write(dst, json.dumps(data, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
