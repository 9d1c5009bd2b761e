"""ComfyUI IMAGE tensors ↔ Pillow images, as small replaceable functions.

A ComfyUI IMAGE is a float tensor ``[batch, height, width, channels]`` in 0..1. The pack never imports
torch at module level: :func:`to_numpy` accepts anything with ``.cpu().numpy()`` or anything numpy can
read, and :func:`default_to_tensor` returns a torch tensor when torch is importable (inside ComfyUI)
and the numpy array otherwise (the fast tests, which have no torch).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image


def to_numpy(images: Any) -> np.ndarray:
    """The batch as a float numpy array ``[B, H, W, C]`` (a single ``[H, W, C]`` image gets a batch axis)."""
    import numpy as np

    arr = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if arr.ndim == 3:
        arr = arr[None, ...]
    return arr


def batch_to_pil(images: Any) -> list[Image.Image]:
    """One Pillow image per batch entry (RGB or RGBA by channel count)."""
    import numpy as np
    from PIL import Image

    arr = to_numpy(images)
    out = []
    for frame in arr:
        pixels = np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)
        if pixels.shape[-1] == 1:
            pixels = pixels[..., 0]
        out.append(Image.fromarray(pixels))
    return out


def pil_to_array(image: Image.Image) -> np.ndarray:
    """A Pillow image as a float32 ``[H, W, 3]`` array in 0..1."""
    import numpy as np

    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def default_to_tensor(batch: np.ndarray) -> Any:
    """A torch tensor of the batch when torch is importable, else the numpy array itself."""
    try:
        import torch
    except ImportError:
        return batch
    return torch.from_numpy(batch)


def decode_batch(encoded: list[bytes], to_tensor: Callable[[Any], Any] = default_to_tensor) -> Any:
    """Image files' bytes → one IMAGE batch (all resized to the first image's size, as ComfyUI batches
    must share a size)."""
    import numpy as np
    from PIL import Image

    frames = []
    size = None
    for data in encoded:
        img: Image.Image = Image.open(io.BytesIO(data))
        img.load()
        size = size or img.size
        if img.size != size:
            img = img.resize(size)
        frames.append(pil_to_array(img))
    return to_tensor(np.stack(frames))


def b64_image(data: str) -> bytes:
    """worker-comfyui's base64 (optionally a ``data:`` URL) → bytes."""
    if data.startswith("data:"):
        data = data.split(",", 1)[1]
    return base64.b64decode(data)
