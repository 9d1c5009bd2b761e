"""WebUI hires-fix upscaler names → what ComfyUI needs for the same step.

A1111 names its built-in upscalers ("R-ESRGAN 4x+", "Latent (bicubic)"); ComfyUI needs either a latent
resize method or an upscale model file. The table maps the built-ins to the files ComfyUI users install
for them; a stand-in is marked ``exact=False`` so the result reports it as inferred.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from comfyfixer.tools.model_folders import MODEL_FILE_EXTENSIONS


@dataclass(frozen=True)
class UpscalerPlan:
    """How ComfyUI does one WebUI hires upscale.

    ``kind`` is ``latent`` (LatentUpscale with ``method``), ``model`` (an upscale model ``model_file`` in
    ``upscale_models``, native ``factor``, then a resize to the target size) or ``image`` (a plain
    ImageScale with ``method``). ``exact`` is False when the plan stands in for something ComfyUI lacks
    (antialiased latents, LDSR, no upscaler named); ``why`` is the sentence shown in the result.
    """
    kind: str  # "latent" | "model" | "image"
    method: str | None = None  # latent/image resize method (ComfyUI names)
    model_file: str | None = None  # upscale_models file for kind == "model"
    factor: int | None = None  # native factor of the model (4 for 4x models)
    exact: bool = True  # False when the choice is a stand-in for something ComfyUI lacks
    why: str = ""


# A1111's built-in upscalers and the files ComfyUI users install for them (upscale_models/).
_BUILTIN_MODELS = {
    "r-esrgan 4x+": "RealESRGAN_x4plus.pth",
    "r-esrgan 4x+ anime6b": "RealESRGAN_x4plus_anime_6B.pth",
    "r-esrgan general 4xv3": "realesr-general-x4v3.pth",
    "r-esrgan general wdn 4xv3": "realesr-general-wdn-x4v3.pth",
    "r-esrgan animevideo": "realesr-animevideov3.pth",
    "esrgan_4x": "ESRGAN_4x.pth",
    "swinir 4x": "SwinIR_4x.pth",
    "swinir_4x": "SwinIR_4x.pth",
    "scunet": "scunet_color_real_gan.pth",
    "scunet psnr": "scunet_color_real_psnr.pth",
    "dat x2": "DAT_x2.pth",
    "dat x3": "DAT_x3.pth",
    "dat x4": "DAT_x4.pth",
    "esrgan 4x ultrasharp": "4x-UltraSharp.pth",  # SD.Next's built-in entry for this file
    "esrgan 4x remacri": "4x_foolhardy_Remacri.pth",
}

_LATENT = {
    "latent": "bilinear",
    "latent (antialiased)": "bilinear",
    "latent (bicubic)": "bicubic",
    "latent (bicubic antialiased)": "bicubic",
    "latent (nearest)": "nearest-exact",
    "latent (nearest-exact)": "nearest-exact",
}

_IMAGE = {"none": "lanczos", "lanczos": "lanczos", "nearest": "nearest-exact"}


def _factor(name: str) -> int | None:
    m = re.search(r"(?<![\d.])([1-8])x(?![a-z])|x([1-8])(?!\d)", name.lower())
    if not m:
        return None
    return int(m.group(1) or m.group(2))


def plan_upscaler(name: str | None) -> UpscalerPlan:
    """How to do a WebUI hires upscale in ComfyUI. ``None`` → WebUI's default, latent bilinear.

    WebUI built-in model names map to the files ComfyUI users install for them; any other name is taken as
    an upscale model file (``.pth`` added when it has no model extension). The factor comes from the file or
    upscaler name (``4x``, ``x2``), else 4.
    """
    if not name:
        return UpscalerPlan("latent", method="bilinear", exact=False, why="no upscaler named; the WebUI default is 'Latent'")
    key = name.strip().lower()
    if key in _LATENT:
        anti = "antialiased" in key
        return UpscalerPlan("latent", method=_LATENT[key], exact=not anti and key != "latent (nearest)",
                            why=f"'{name}' is a latent upscale" + ("; ComfyUI has no antialiased variant" if anti else ""))
    if key in _IMAGE:
        return UpscalerPlan("image", method=_IMAGE[key], why=f"'{name}' is a plain image resize")
    if key == "ldsr":
        return UpscalerPlan("model", model_file="RealESRGAN_x4plus.pth", factor=4, exact=False,
                            why="LDSR has no ComfyUI loader; RealESRGAN x4+ stands in")
    file = _BUILTIN_MODELS.get(key)
    if file is None:
        stem = name.strip().replace("\\", "/")
        file = stem if stem.lower().endswith(MODEL_FILE_EXTENSIONS) else f"{stem}.pth"
        exact = True
        why = f"'{name}' is an upscale model; the file extension .pth is assumed" if file != stem else f"'{name}' is an upscale model"
    else:
        exact = True
        why = f"'{name}' is WebUI's built-in name for {file}"
    return UpscalerPlan("model", model_file=file, factor=_factor(file) or _factor(name) or 4, exact=exact, why=why)
