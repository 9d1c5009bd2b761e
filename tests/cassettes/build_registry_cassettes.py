"""Build the vcrpy cassettes for the Comfy registry client.

The Comfy registry's OpenAPI (``https://api.comfy.org/openapi``, ``GET /nodes/{nodeId}`` → ``Node``,
``GET /nodes/{nodeId}/install`` → ``NodeVersion``) documents these fields; the values are the public
facts of one real pack (its registry id, repository and licence). No secrets are involved.

Run: ``python tests/cassettes/build_registry_cassettes.py [--out DIR]``.
"""

from __future__ import annotations

import json
from pathlib import Path

from build_cassettes import HERE, builder_main, req, resp, write

API = "https://api.comfy.org"


def build(out: Path = HERE) -> None:
    """Write the registry cassettes into ``out``."""
    node = {
        "id": "comfyui_ultimatesdupscale", "name": "UltimateSDUpscale", "repository":
        "https://github.com/ssitu/ComfyUI_UltimateSDUpscale", "license": "{\"file\": \"LICENSE\"}",
        "description": "ComfyUI nodes for the Ultimate Stable Diffusion Upscale script by Coyote-A.",
        "latest_version": {"version": "1.6.0", "deprecated": False, "status": "NodeVersionStatusActive",
                           "downloadUrl": "https://cdn.comfy.org/ssitu/comfyui_ultimatesdupscale/1.6.0/node.zip",
                           "dependencies": []},
    }
    write(out, "registry_node", [(req("GET", f"{API}/nodes/comfyui_ultimatesdupscale"), resp(200, "OK", json.dumps(node)))])
    write(out, "registry_not_found", [(req("GET", f"{API}/nodes/no-such-pack-zz"),
                                  resp(404, "Not Found", json.dumps({"message": "Node not found"})))])
    write(out, "registry_install", [(req("GET", f"{API}/nodes/comfyui_ultimatesdupscale/install?version=1.6.0"),
                                resp(200, "OK", json.dumps(node["latest_version"])))])


if __name__ == "__main__":
    builder_main(build, HERE, shared=None)
