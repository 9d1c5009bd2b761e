"""ComfyFixerSmart's ComfyUI node pack: faithful metadata, opt-in runtime capture, and "Use RunPod".

Installed with the project as ``comfyfixer.nodes``; ComfyUI loads it from ``custom_nodes/`` when this
folder is linked or copied there (``comfyfixer comfyui install-nodes`` does it through a plan). The
project's library must be installed in ComfyUI's Python (``pip install -e <repo>``): every import
below goes through the installed ``comfyfixer`` package, so the capture state exists once even though
ComfyUI imports this file under its own module name.

Importing this module patches nothing and imports nothing heavy (no torch, no Pillow, no HTTP client).
It registers one on-prompt handler through ComfyUI's public ``PromptServer.add_on_prompt_handler``
(when running inside ComfyUI): the handler installs the executor hooks only when a submitted prompt
wants capture (``COMFYFIXER_CAPTURE=1``, the ``capture`` setting, or a save node with its
``capture`` toggle on) — see ``comfyfixer.nodes.activation``.
"""

from comfyfixer.nodes.activation import register_on_prompt
from comfyfixer.nodes.nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

register_on_prompt()

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
