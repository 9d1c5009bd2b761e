"""The pack's two ComfyUI nodes and the plain functions behind them.

``ComfyFixerSaveImage`` saves images with the canonical metadata of ``metadata.py``, merging the
runtime capture of the running prompt (``capture.current_session``) when hooks are on.
``ComfyFixerUseRunPod`` passes its images through, or — with ``use_runpod`` on — sends the part of the
prompt that makes them to the user's RunPod worker-comfyui endpoint (``runpod_remote.py``) and returns
RunPod's images instead; its ``images`` input is lazy, so with the toggle on the local upstream never runs.

Both are ComfyUI V1 nodes (class attributes, ``INPUT_TYPES``). ComfyUI's own modules (``folder_paths``,
``server``) are imported inside methods only, so the pack imports cleanly outside ComfyUI and the
functions can be tested without it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from comfyfixer.nodes import capture, images, metadata
from comfyfixer.nodes import settings as pack_settings

log = logging.getLogger(__name__)

SAVE_CLASS = "ComfyFixerSaveImage"
RUNPOD_CLASS = "ComfyFixerUseRunPod"
FORMATS = ["png", "jpeg", "webp"]
_SUFFIX = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}


def runtime_of(session: capture.Session | None) -> dict[str, Any] | None:
    """The runtime section for the metadata: the session's record, or None without a session."""
    return session.as_dict() if session is not None else None


def save_batch(batch: Any, folder: Path, filename: str, counter: int, fmt: str, *, prompt: dict[str, Any] | None,
               workflow: dict[str, Any] | None, runtime: dict[str, Any] | None, budget: int,
               quality: int = 95) -> list[metadata.Written]:
    """Write each image of ``batch`` as ``<filename>_<counter:05>_.<ext>`` in ``folder`` (ComfyUI's naming),
    counter increasing, every file new (an existing name is never overwritten)."""
    written = []
    for pil in images.batch_to_pil(batch):
        doc = metadata.build_document(prompt, workflow, runtime, width=pil.width, height=pil.height)
        path = Path(folder) / f"{filename}_{counter:05}_{_SUFFIX[fmt]}"
        written.append(metadata.write_image(pil, path, doc, budget=budget, quality=quality))
        counter += 1
    return written


class ComfyFixerSaveImage:
    """Save images with faithful metadata: the graph, what the run really used, and an A1111 line."""

    DESCRIPTION = ("Saves images like Save Image, with ComfyFixerSmart's canonical metadata: the parser's view of "
                   "the graph merged with the runtime capture (when on), the ComfyUI prompt and workflow, and an "
                   "A1111-style parameters line. PNG, JPEG or WebP; heavy parts go to a JSON sidecar over the budget.")
    RETURN_TYPES: tuple[str, ...] = ()
    FUNCTION = "save"
    OUTPUT_NODE = True
    CATEGORY = "ComfyFixer"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        """ComfyUI's input declaration (``capture`` turns the runtime capture on for this prompt)."""
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "The images to save."}),
                "filename_prefix": ("STRING", {"default": "ComfyFixer"}),
                "format": (FORMATS, {"default": "png"}),
                "capture": ("BOOLEAN", {"default": False, "tooltip": "Record what this run really used "
                                        "(resolved inputs, order, timings) and merge it into the metadata."}),
            },
            "optional": {"quality": ("INT", {"default": 95, "min": 1, "max": 100, "tooltip": "JPEG/WebP quality."})},
            "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO", "unique_id": "UNIQUE_ID"},
        }

    def output_target(self, prefix: str, width: int, height: int) -> tuple[Path, str, int, str]:
        """(folder, file name stem, first counter, subfolder) from ComfyUI's output folder rules."""
        import folder_paths  # ComfyUI's module; present only inside ComfyUI

        folder, filename, counter, subfolder, _ = folder_paths.get_save_image_path(
            prefix, folder_paths.get_output_directory(), width, height)
        return Path(folder), filename, counter, subfolder

    def save(self, images: Any, filename_prefix: str = "ComfyFixer", format: str = "png", capture: bool = False,
             quality: int = 95, prompt: dict[str, Any] | None = None, extra_pnginfo: dict[str, Any] | None = None,
             unique_id: Any = None) -> dict[str, Any]:
        """Write the batch; returns ComfyUI's ``{"ui": {"images": [...]}}`` so the UI shows them."""
        del capture  # read by the pack's on-prompt check before the run: it decides whether hooks record
        from comfyfixer.tools.paths import safe_stem

        arr = images_shape(images)
        folder, filename, counter, subfolder = self.output_target(safe_stem(filename_prefix, default="ComfyFixer"),
                                                                  arr[2], arr[1])
        workflow = (extra_pnginfo or {}).get("workflow") if isinstance(extra_pnginfo, dict) else None
        runtime = runtime_of(capture_session())
        written = save_batch(images, folder, filename, counter, format if format in FORMATS else "png", prompt=prompt,
                             workflow=workflow, runtime=runtime, budget=pack_settings.load().metadata_inline_budget,
                             quality=quality)
        return {"ui": {"images": [{"filename": w.image.name, "subfolder": subfolder, "type": "output"} for w in written]}}


def capture_session() -> capture.Session | None:
    """The capture session of the running prompt (None when hooks are off for it)."""
    return capture.current_session()


def images_shape(batch: Any) -> tuple[int, int, int]:
    """(batch, height, width) of an IMAGE batch."""
    arr = images.to_numpy(batch)
    return int(arr.shape[0]), int(arr.shape[1]), int(arr.shape[2])


class ComfyFixerUseRunPod:
    """Run the part of the graph that makes these images on your RunPod endpoint, or locally."""

    DESCRIPTION = ("With 'use_runpod' off, passes the images through (the graph runs locally). On, sends the nodes "
                   "that make them to your RunPod serverless endpoint (worker-comfyui) and returns its images; "
                   "set COMFYFIXER_RUNPOD_ENDPOINT_ID and RUNPOD_API_KEY (never a widget).")
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("images",)
    FUNCTION = "run"
    CATEGORY = "ComfyFixer"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        """``images`` is lazy: with the toggle on, ComfyUI never computes it locally."""
        return {
            "required": {
                "images": ("IMAGE", {"lazy": True}),
                "use_runpod": ("BOOLEAN", {"default": False, "label_on": "RunPod", "label_off": "local"}),
            },
            "optional": {"timeout_s": ("INT", {"default": 900, "min": 10, "max": 7200,
                                               "tooltip": "How long to wait for the job (it keeps running after)."})},
            "hidden": {"prompt": "PROMPT", "unique_id": "UNIQUE_ID"},
        }

    def check_lazy_status(self, use_runpod: bool = False, images: Any = None, **_: Any) -> list[str]:
        """Ask ComfyUI for the local images only when running locally."""
        return [] if use_runpod else ["images"]

    def run(self, use_runpod: bool = False, images: Any = None, timeout_s: int = 900,
            prompt: dict[str, Any] | None = None, unique_id: Any = None) -> tuple[Any]:
        """Pass through, or submit to RunPod and return its images as an IMAGE batch."""
        if not use_runpod:
            return (images,)
        from comfyfixer.nodes import runpod_remote

        return (runpod_remote.run_remote(prompt or {}, str(unique_id), settings=pack_settings.load(),
                                         timeout_s=float(timeout_s)),)


NODE_CLASS_MAPPINGS = {SAVE_CLASS: ComfyFixerSaveImage, RUNPOD_CLASS: ComfyFixerUseRunPod}
NODE_DISPLAY_NAME_MAPPINGS = {SAVE_CLASS: "Save Image (ComfyFixer metadata)", RUNPOD_CLASS: "Use RunPod (ComfyFixer)"}
