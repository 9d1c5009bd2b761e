"""ComfyUI's model folder table: folder keys, their default directories and listed extensions, the legacy
key names, how a folder name written by a workflow or a source is read, and the model-file extensions.

A *folder key* (``checkpoints``, ``loras``, ``diffusion_models`` …) names the directories a loader searches
in order; the file name relative to one of them (sub-folders with ``/``) is what a workflow stores. The
table is a copy, not read from the install, because a static check must work without importing ComfyUI;
when a live server answers, its own listings are used instead.

Source: ``folder_paths.py`` of ComfyUI 0.33.0 (commit ``783545f689a0af730065994b46b382ae24844c99``, the
tree the bundled 0.33.0 schemas were recorded from: ``tools/schema/data/SOURCES.md``). It registers, in
this order (``*``: not registered by ComfyUI 0.3.64, commit ``a125cd84b054a57729b5eecab930ca9408719832``,
the copy ``tests/test_model_folders.py`` compares the table with):

    checkpoints configs loras vae text_encoders diffusion_models clip_vision style_models embeddings
    diffusers vae_approx controlnet gligen upscale_models latent_upscale_models* custom_nodes datasets*
    hypernetworks photomaker classifiers model_patches audio_encoders background_removal*
    frame_interpolation* geometry_estimation* optical_flow* detection*

Every directory is under ``<base>/models`` except ``custom_nodes`` and ``datasets`` (under the base folder
itself). 0.33.0 can also move ``models`` with ``--models-directory``; the table gives the default place.
``map_legacy`` is the same in both: ``unet`` → ``diffusion_models``, ``clip`` → ``text_encoders``.
``t2i_adapter`` is *not* a legacy key: ``models/t2i_adapter`` is the second directory of ``controlnet``
(a yaml key ``t2i_adapter:`` registers a key of its own that no core loader reads).

An older ComfyUI does not register the starred keys: ``registered_folders(version)`` leaves them out for
it, so its folder table is not said to hold them (a file in ``models/<key>`` is still found as that key's,
``tools/inventory/models.py::scan_models``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from packaging.version import Version

# folder_paths.supported_pt_extensions (the same in 0.3.64 and 0.33.0).
PT_EXTENSIONS: frozenset[str] = frozenset({".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"})

# What we take for a model file name in a workflow, a catalog or a prompt: ComfyUI's own extensions plus
# two that only custom nodes' loaders list:
#   .gguf: city96/ComfyUI-GGUF registers `unet_gguf` and `clip_gguf` listing .gguf only (its UnetLoaderGGUF
#          and CLIPLoaderGGUF, KJNodes' GGUFLoaderKJ, Searge_LLM's `llm_gguf`: tools/schema/data/packs/);
#          `tools/modelfile.py` reads GGUF headers for identify and fit;
#   .onnx: detector and tagger models (Impact Pack's ONNXDetectorProvider lists its `onnx` folder, Inspire
#          Pack's face detectors offer yolox_l.onnx); named only, never read.
MODEL_FILE_EXTENSIONS: tuple[str, ...] = (*sorted(PT_EXTENSIONS), ".gguf", ".onnx")

# folder_paths.map_legacy: the key names ComfyUI maps every lookup and every yaml key through.
LEGACY_KEYS: dict[str, str] = {"unet": "diffusion_models", "clip": "text_encoders"}

# The first release we read that registers a key, for keys newer than 0.3.64 (each appeared somewhere
# between 0.3.64 and 0.33.0; an install in between is taken not to have them).
NEWER_THAN_0_3_64 = "0.33.0"


class Folder(NamedTuple):
    """One folder key: default directories relative to the ComfyUI base folder (search order), the
    extensions ComfyUI lists (empty: every file), and ``since``: None when 0.3.64 registers it already,
    else the first release we read that does.
    """

    dirs: tuple[str, ...]
    extensions: frozenset[str]
    since: str | None = None


_PT = PT_EXTENSIONS
_NEW = NEWER_THAN_0_3_64
FOLDERS: dict[str, Folder] = {
    "checkpoints": Folder(("models/checkpoints",), _PT),
    "configs": Folder(("models/configs",), frozenset({".yaml"})),
    "loras": Folder(("models/loras",), _PT),
    "vae": Folder(("models/vae",), _PT),
    "text_encoders": Folder(("models/text_encoders", "models/clip"), _PT),
    "diffusion_models": Folder(("models/unet", "models/diffusion_models"), _PT),
    "clip_vision": Folder(("models/clip_vision",), _PT),
    "style_models": Folder(("models/style_models",), _PT),
    "embeddings": Folder(("models/embeddings",), _PT),
    "diffusers": Folder(("models/diffusers",), frozenset({"folder"})),
    "vae_approx": Folder(("models/vae_approx",), _PT),
    "controlnet": Folder(("models/controlnet", "models/t2i_adapter"), _PT),
    "gligen": Folder(("models/gligen",), _PT),
    "upscale_models": Folder(("models/upscale_models",), _PT),
    "latent_upscale_models": Folder(("models/latent_upscale_models",), _PT, _NEW),
    "custom_nodes": Folder(("custom_nodes",), frozenset()),
    "datasets": Folder(("datasets",), frozenset(), _NEW),
    "hypernetworks": Folder(("models/hypernetworks",), _PT),
    "photomaker": Folder(("models/photomaker",), _PT),
    "classifiers": Folder(("models/classifiers",), frozenset({""})),
    "model_patches": Folder(("models/model_patches",), _PT),
    "audio_encoders": Folder(("models/audio_encoders",), _PT),
    "background_removal": Folder(("models/background_removal",), _PT, _NEW),
    "frame_interpolation": Folder(("models/frame_interpolation",), _PT, _NEW),
    "geometry_estimation": Folder(("models/geometry_estimation",), _PT, _NEW),
    "optical_flow": Folder(("models/optical_flow",), _PT, _NEW),
    "detection": Folder(("models/detection",), _PT, _NEW),
}

# Keys whose folders hold code, configs or training data, not model weights: never a place a model is "found".
NON_MODEL_KEYS: frozenset[str] = frozenset({"custom_nodes", "configs", "datasets"})
# Of those, the ones never listed for a model check: packs are read apart (``inventory/custom_nodes.py``),
# and a training set can hold thousands of images no loader reads (``configs`` is listed: CheckpointLoader
# reads its ``config_name`` from it).
UNSCANNED_KEYS: frozenset[str] = frozenset({"custom_nodes", "datasets"})

# Directory names that are not their key's name -> the key that searches them (models/clip, models/unet,
# models/t2i_adapter). Sources and workflows write these names for the folder a file goes to.
SECOND_DIRECTORIES: dict[str, str] = {
    name: key for key, f in FOLDERS.items() for name in (d.rsplit("/", 1)[-1] for d in f.dirs) if name != key
}

# Every spelling ``canonical_folder`` maps, lower-case: the keys, the legacy keys, the second directories.
_NAMED: dict[str, str] = {**{k.lower(): k for k in FOLDERS}, **SECOND_DIRECTORIES, **LEGACY_KEYS}


def map_legacy(key: str) -> str:
    """A key as ComfyUI itself looks it up (``folder_paths.map_legacy``: exact, case-sensitive): for keys
    ComfyUI is given, such as ``extra_model_paths.yaml``'s and a live server's.
    """
    return LEGACY_KEYS.get(key, key)


def canonical_folder(name: str | None) -> str | None:
    """The folder key a folder name written by a workflow, a source or a person means.

    Keys, legacy keys and second directories are matched whatever their case (``unet`` → diffusion_models,
    ``clip`` → text_encoders, ``t2i_adapter`` → controlnet, ``Loras`` → loras); any other name is a key
    as written (packs register their own, and case matters to ComfyUI: Florence2's ``LLM``). Surrounding
    spaces and slashes are dropped, backslashes become ``/``; None for an empty name.
    """
    if name is None:
        return None
    k = name.strip().replace("\\", "/").strip("/")
    if not k:
        return None
    return _NAMED.get(k.lower(), k)


def _version(v: str | None) -> Version | None:
    from packaging.version import InvalidVersion, Version  # only when an install's table is built

    try:
        return Version(v) if v else None
    except InvalidVersion:
        return None


def registered_folders(version: str | None = None) -> dict[str, Folder]:
    """The keys a ComfyUI of ``version`` registers by default, in its order: every key for an unknown
    version (the newest table: a directory that does not exist is only empty), else the keys whose
    ``since`` it has reached.
    """
    have = _version(version)
    if have is None:
        return dict(FOLDERS)
    return {k: f for k, f in FOLDERS.items() if f.since is None or have >= (_version(f.since) or have)}


def default_folder_paths(base_dir: Path, version: str | None = None) -> dict[str, list[Path]]:
    """The default ``folder_names_and_paths`` of a ComfyUI of ``version`` installed at ``base_dir``."""
    return {key: [base_dir / rel for rel in f.dirs] for key, f in registered_folders(version).items()}


def extensions_for(key: str) -> frozenset[str]:
    """Extensions ComfyUI lists for ``key`` (lower-case, with the dot). Keys not in the table (added by
    packs or the yaml) list every file, as does an empty set.
    """
    f = FOLDERS.get(map_legacy(key))
    return f.extensions if f else frozenset()


def accepts(key: str, filename: str) -> bool:
    """Whether ComfyUI would list ``filename`` under ``key`` (the rule of ``filter_files_extensions``)."""
    exts = extensions_for(key)
    return not exts or os.path.splitext(filename)[1].lower() in exts


def placement_dir(key: str) -> str | None:
    """Where a new file for ``key`` goes, relative to the base folder: the directory named after the key
    (``models/diffusion_models``, not the legacy ``models/unet``); None for a key not in the table or one
    that holds no models.
    """
    f = FOLDERS.get(key)
    if f is None or key in NON_MODEL_KEYS:
        return None
    return next((d for d in f.dirs if d.rsplit("/", 1)[-1] == key), f.dirs[0])


def normalize_model_name(name: str) -> str:
    """A workflow's model name as ComfyUI compares it: forward slashes, no leading ``./`` or ``/``."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts)


def model_basename(name: str) -> str:
    """The file name of a model as a workflow or catalog writes it (``sub/dir/x.safetensors``, either slash)."""
    return name.replace("\\", "/").rsplit("/", 1)[-1]
