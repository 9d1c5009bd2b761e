"""Does this workflow fit this GPU? VRAM estimates from model headers, ComfyUI's own memory figures
and the workflow's resolution, frames and batch (:func:`capability.estimate_fit`)."""
