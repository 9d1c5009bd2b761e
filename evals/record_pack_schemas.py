"""Record custom node packs' ``/object_info`` from their source, without ComfyUI, torch or a GPU.

Run: ``python -m comfyfixer.evals.record_pack_schemas [--mirrors DIR] [--out DIR] [PACK_DIR ...]``

For each pack in :data:`PACKS` the pack's checkout (a bare mirror as the ``fetch`` tool brings it, read with
``git archive HEAD``) is unpacked into a throwaway folder as ``custom_nodes/<PackDir>`` and imported in a
**separate Python process** with:

* the heavy or ComfyUI-only modules (torch, transformers, cv2, ``folder_paths``, ``comfy.*``, ``nodes``,
  ``server``, …) and anything else that is not installed replaced by inert fakes (attributes, calls,
  subclassing and decorators all work and do nothing);
* ``folder_paths`` answering like an empty install (every model folder empty); each class is then asked
  once more with every listing tagged, only to learn which combo lists which folder;
* ``comfy.samplers``' sampler and scheduler names read from ComfyUI's source (``ast``, never run) and
  ``nodes.MAX_RESOLUTION`` = 16384, so Detailer-style nodes list what a real install lists; core classes
  that packs subclass (``nodes.SaveImage``, …) answer as the bundled core snapshot (0.3.64) does;
* ComfyUI's own ``comfy_api``, ``comfy_execution`` and ``comfy.comfy_types`` used for real, so V3 nodes
  (``io.ComfyNode``) describe themselves as they do in ComfyUI;
* no network: the child starts in its own network namespace where ``unshare`` allows it, and its sockets
  refuse to connect either way; ``os.popen`` disabled, ``subprocess``/``os.system`` answering an empty success (packs that
  pip-install or ``pip freeze`` at import time carry on), Python's ``random`` seeded 0, HOME and the working
  folder pointed into the throwaway folder.

The ComfyUI is :data:`COMFYUI_MIRROR` (0.33.0). The child builds each V1 class's entry exactly as that
ComfyUI's ``server.py::node_info`` does (``input``, ``input_order``, ``is_input_list``, ``output``,
``output_is_list``, ``output_name``, ``name``, ``display_name``, ``description``, ``python_module`` =
``custom_nodes.<PackDir>``, ``category``, ``output_node``, ``has_intermediate_output``, the
``deprecated``/``experimental``/``dev_only``/``api_node`` flags, ``search_aliases``), and a V3 class's
by its ``GET_NODE_INFO_V1()``, as the server does. Classes whose ``INPUT_TYPES()`` fails under the fakes are
skipped and listed in the recording's ``__pack__`` note. Tooltips are dropped (as in the core snapshot).
The result is written to ``tools/schema/data/packs/<PackDir>.json`` with a ``__pack__`` note: repository,
commit, date, the ComfyUI, how it was recorded, which combos are folder listings (recorded empty, as an
empty install shows them), and ``SOURCES.md`` beside them is rewritten from those notes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tools" / "schema" / "data" / "packs"
MIRRORS = Path("/work/.mirror")
LISTING = "__folder_listing__:"
# The ComfyUI the recordings describe: a mirror of Comfy-Org/ComfyUI that tracks it unchanged (0.33.0; the
# 0.3.64 one, Comfy-Org+ComfyUI, is too old for the V3 inputs newer packs use: DynamicCombo, Autogrow, …).
COMFYUI_MIRROR = "yzkee+ComfyUI"
INPUT_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "gif", "bmp", "tiff", "mp4", "webm", "mov", "mkv", "avi", "wav", "mp3",
                    "flac", "ogg", "m4a", "txt", "json", "csv")
# ComfyUI's own V3 node API, used for real (pure Python once torch is faked): V3 nodes describe
# themselves through it, and GET_NODE_INFO_V1() is what /object_info serves for them.
COMFY_REAL = ("comfy_api", "comfy_execution", "comfy/comfy_types")


@dataclass(frozen=True)
class Pack:
    """One pack to record: its GitHub repository and the folder name it installs as."""

    repo: str
    pack_dir: str
    # Listing combos whose folder the tagged pass cannot learn, read from the pack's source: (class, input,
    # folder). A pack that lists a models folder itself (os.listdir, not folder_paths), or one whose values
    # name files relative to another folder than the one listed.
    own_listings: tuple[tuple[str, str, str], ...] = ()


PACKS: tuple[Pack, ...] = (
    Pack("storyicon/comfyui_segment_anything", "comfyui_segment_anything"),
    Pack("kijai/ComfyUI-segment-anything-2", "ComfyUI-segment-anything-2"),
    Pack("kijai/ComfyUI-Florence2", "ComfyUI-Florence2",
         own_listings=(("Florence2ModelLoader", "model", "LLM"),)),  # os.listdir of each folder_paths "LLM" path
    Pack("ltdrdata/ComfyUI-Impact-Pack", "ComfyUI-Impact-Pack"),
    # "bbox/<file>" and "segm/<file>" list ultralytics_bbox and ultralytics_segm; the node loads them from the
    # "ultralytics" folder (models/ultralytics/bbox/<file>): get_full_path("ultralytics", model_name) first.
    Pack("ltdrdata/ComfyUI-Impact-Subpack", "ComfyUI-Impact-Subpack",
         own_listings=(("UltralyticsDetectorProvider", "model_name", "ultralytics"),)),
    Pack("pythongosssss/ComfyUI-WD14-Tagger", "ComfyUI-WD14-Tagger"),
    Pack("kijai/ComfyUI-KJNodes", "ComfyUI-KJNodes"),
    # The Manager installs the revised fork (the original, WASasquatch/…, is archived).
    Pack("ltdrdata/was-node-suite-comfyui", "was-node-suite-comfyui"),
    Pack("ltdrdata/ComfyUI-Inspire-Pack", "ComfyUI-Inspire-Pack"),
    Pack("stavsap/comfyui-ollama", "comfyui-ollama"),
    Pack("lquesada/ComfyUI-Inpaint-CropAndStitch", "ComfyUI-Inpaint-CropAndStitch"),
    Pack("Acly/comfyui-inpaint-nodes", "comfyui-inpaint-nodes"),
    Pack("adieyal/comfyui-dynamicprompts", "comfyui-dynamicprompts"),
    Pack("city96/ComfyUI-GGUF", "ComfyUI-GGUF"),
    Pack("SeargeDP/ComfyUI_Searge_LLM", "ComfyUI_Searge_LLM",
         own_listings=(("Searge_LLM_Node", "model", "llm_gguf"),)),  # os.listdir(models/llm_gguf), *.gguf
    Pack("miaoshouai/ComfyUI-Miaoshouai-Tagger", "ComfyUI-Miaoshouai-Tagger"),
    Pack("Kosinkadink/ComfyUI-VideoHelperSuite", "ComfyUI-VideoHelperSuite"),
    Pack("cubiq/ComfyUI_essentials", "ComfyUI_essentials"),
    Pack("1038lab/ComfyUI-RMBG", "ComfyUI-RMBG"),
)


# --------------------------------------------------------------------------- the child process


_FORCED_FAKES = (
    "torch", "torchvision", "torchaudio", "transformers", "diffusers", "accelerate", "safetensors", "cv2",
    "onnxruntime", "ultralytics", "segment_anything", "timm", "kornia", "scipy", "skimage", "sklearn",
    "huggingface_hub", "einops", "matplotlib", "mediapipe", "insightface", "xformers", "triton", "spandrel",
    "comfy", "comfy_extras", "comfy_config", "nodes", "server", "execution",
    "node_helpers", "latent_preview", "app", "model_management", "aiohttp", "ollama", "requests", "numba",
    "pilgram", "rembg", "clip", "open_clip", "fairscale", "piexif", "imageio", "dynamicprompts", "jinja2",
)


def _child(root: str, pack_dir: str, out_file: str, core_snapshot: str, facts_file: str) -> int:  # pragma: no cover

    """Import ``root/custom_nodes/pack_dir`` under fakes and write its node entries to ``out_file``."""
    import importlib.abc
    import importlib.machinery
    import importlib.util
    import logging
    import socket
    import traceback
    import types

    logging.disable(logging.CRITICAL)
    import random

    random.seed(0)  # packs that draw a random default seed at INPUT_TYPES() time record the same one each run

    def _blocked(*_a: Any, **_k: Any) -> Any:
        raise OSError("disabled while recording node schemas")

    class _NoNet(socket.socket):
        connect = connect_ex = bind = sendto = _blocked

    socket.socket = _NoNet  # type: ignore[misc]
    socket.create_connection = _blocked
    socket.getaddrinfo = _blocked
    # No child processes: packs that pip-install or ``pip freeze`` at import time get an empty success.
    subprocess.Popen = _blocked  # type: ignore[assignment,misc]
    subprocess.run = lambda args, *_a, **_k: subprocess.CompletedProcess(args, 0, b"", b"")  # type: ignore[assignment]
    subprocess.call = subprocess.check_call = lambda *_a, **_k: 0
    subprocess.check_output = lambda *_a, **_k: b""  # type: ignore[assignment]
    os.system = lambda *_a: 0
    os.popen = _blocked

    class _FakeMeta(type):
        """Classes that stand for anything: attribute access, calls, operators and subclassing all work."""

        def __getattr__(cls, name: str) -> Any:
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(name)
            return _fake(f"{cls.__name__}.{name}")

        def __call__(cls, *args: Any, **kwargs: Any) -> Any:
            if "_is_fake" not in cls.__dict__:
                return super().__call__(*args, **kwargs)
            if len(args) == 1 and not kwargs and (callable(args[0]) and not isinstance(args[0], _FakeMeta)):
                return args[0]  # used as a decorator
            return _fake(f"{cls.__name__}()")

        def __getitem__(cls, _key: Any) -> Any:
            return _fake(f"{cls.__name__}[]")

        def __iter__(cls) -> Any:
            return iter(())

        def __len__(cls) -> int:
            return 0

        def __bool__(cls) -> bool:
            return False

        def __contains__(cls, _item: Any) -> bool:
            return False

        def __int__(cls) -> int:
            return 0

        def __index__(cls) -> int:
            return 0

        def __float__(cls) -> float:
            return 0.0

        def __enter__(cls) -> Any:
            return cls

        def __exit__(cls, *_a: Any) -> None:
            return None

        def __mro_entries__(cls, _bases: Any) -> tuple[type, ...]:
            return (cls,)

        def __or__(cls, _other: Any) -> Any:
            return cls

        __ror__ = __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __or__
        __rtruediv__ = __floordiv__ = __mod__ = __pow__ = __and__ = __rand__ = __neg__ = __or__

        def __lt__(cls, _other: Any) -> bool:
            return False

        __le__ = __gt__ = __ge__ = __lt__

    def _fake(name: str) -> Any:
        return _FakeMeta(name.rsplit(".", 1)[-1] or "Fake", (), {"_is_fake": True, "__qualname__": name})

    class _FakeModule(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(name)
            value = _fake(f"{self.__name__}.{name}")
            setattr(self, name, value)
            return value

    class _FakeLoader(importlib.abc.Loader):
        def create_module(self, spec: Any) -> Any:
            mod = _FakeModule(spec.name)
            mod.__path__ = []  # a package, so submodules import too
            mod.__version__ = "2.5.0"  # type: ignore[attr-defined]
            return mod

        def exec_module(self, module: Any) -> None:
            return None

    class _Forced(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
            real = fullname.startswith("comfy.comfy_types")
            if fullname.split(".")[0] in _FORCED_FAKES and fullname not in stubs and not real:
                return importlib.machinery.ModuleSpec(fullname, _FakeLoader(), is_package=True)
            return None

    class _Missing(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
            return importlib.machinery.ModuleSpec(fullname, _FakeLoader(), is_package=True)

    core = json.loads(Path(core_snapshot).read_text(encoding="utf-8"))
    facts = json.loads(Path(facts_file).read_text(encoding="utf-8"))
    samplers, schedulers = list(facts["samplers"]), list(facts["schedulers"])
    base = Path(root)
    requested: list[str] = []

    def _module(name: str, **attrs: Any) -> Any:
        mod = _FakeModule(name)
        mod.__path__ = []
        mod.__file__ = str(base / (name.replace(".", "/") + ".py"))
        for k, v in attrs.items():
            setattr(mod, k, v)
        sys.modules[name] = mod
        parent, _, leaf = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], leaf, mod)
        return mod

    def _core_class(cls_name: str, node: dict[str, Any]) -> type:
        """A stand-in for a core node class (packs subclass SaveImage, CheckpointLoaderSimple, …) that
        answers as the core snapshot does; its methods do nothing."""
        order = node.get("input_order") or {}
        inputs = {sec: {n: specs[n] for n in order.get(sec, []) if n in specs} | specs
                  for sec, specs in (node.get("input") or {}).items()}
        attrs: dict[str, Any] = {
            "INPUT_TYPES": classmethod(lambda _c: json.loads(json.dumps(inputs))),
            "RETURN_TYPES": tuple(node.get("output") or ()), "RETURN_NAMES": tuple(node.get("output_name") or ()),
            "OUTPUT_IS_LIST": tuple(node.get("output_is_list") or ()), "CATEGORY": node.get("category"),
            "OUTPUT_NODE": bool(node.get("output_node")), "FUNCTION": "run",
            "__init__": lambda self, *_a, **_k: None,
            "__getattr__": lambda self, name: _fake(f"{cls_name}().{name}"),
        }
        return type(cls_name, (), attrs)

    models = base / "models"
    folders = ["checkpoints", "configs", "loras", "vae", "text_encoders", "clip", "diffusion_models", "unet",
               "clip_vision", "style_models", "embeddings", "diffusers", "vae_approx", "controlnet", "gligen",
               "upscale_models", "custom_nodes", "hypernetworks", "photomaker", "classifiers", "model_patches",
               "audio_encoders", "sams", "ultralytics", "ultralytics_bbox", "ultralytics_segm", "mmdets", "onnx",
               "LLM", "grounding-dino", "sam2", "inpaint", "wildcards"]
    exts = {".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"}
    fnp: dict[str, tuple[list[str], set[str]]] = {f: ([str(models / f)], set(exts)) for f in folders}

    tagging = [False]

    def get_filename_list(folder: str) -> list[str]:
        requested.append(folder)
        return [LISTING + folder] if tagging[0] else []

    def filter_files_content_types(files: list[str], content_types: list[str]) -> list[str]:
        """As ComfyUI's: the files whose MIME type (from the extension) is one of ``content_types``."""
        import mimetypes

        return [f for f in files if (mimetypes.guess_type(f)[0] or "").split("/")[0] in content_types]

    def get_folder_paths(folder: str) -> list[str]:
        return list(fnp.get(folder, ([str(models / folder)], set()))[0])

    def add_model_folder_path(folder: str, path: str, is_default: bool = False) -> None:
        fnp.setdefault(folder, ([], set(exts)))[0].append(path)

    for d in ("input", "output", "temp", "user", "models"):
        (base / d).mkdir(exist_ok=True)
    # What the input folder holds in the tagged pass: one file per media extension and a sub-folder, so combos
    # that list it (LoadImage-style uploads, VHS's videos and folders) show up as listings of "input".
    tagged_input = base / "tagged_input"
    (tagged_input / f"{LISTING}input").mkdir(parents=True)
    for ext in INPUT_EXTENSIONS:
        (tagged_input / f"{LISTING}input.{ext}").touch()
    _module(
        "folder_paths", base_path=str(base), models_dir=str(models), folder_names_and_paths=fnp,
        supported_pt_extensions=set(exts), output_directory=str(base / "output"),
        input_directory=str(base / "input"), temp_directory=str(base / "temp"), user_directory=str(base / "user"),
        get_filename_list=get_filename_list, get_folder_paths=get_folder_paths,
        add_model_folder_path=add_model_folder_path, get_full_path=lambda *_a: None,
        get_full_path_or_raise=_blocked, get_input_directory=lambda: str(tagged_input if tagging[0] else base / "input"),
        get_output_directory=lambda: str(base / "output"), get_temp_directory=lambda: str(base / "temp"),
        get_user_directory=lambda: str(base / "user"), get_annotated_filepath=lambda n, *_a: str((tagged_input if tagging[0] else base / "input") / n),
        exists_annotated_filepath=lambda *_a: False, filter_files_content_types=filter_files_content_types,
        filter_files_extensions=lambda files, _e: [], get_save_image_path=_blocked,
        recursive_search=lambda *_a, **_k: ([], {}), cache_helper=_fake("cache_helper"),
    )
    core_classes = {c: _core_class(c, n) for c, n in core.items()
                    if isinstance(n, dict) and n.get("python_module") == "nodes"}
    _module("nodes", MAX_RESOLUTION=16384, NODE_CLASS_MAPPINGS=dict(core_classes), NODE_DISPLAY_NAME_MAPPINGS={},
            EXTENSION_WEB_DIRS={}, **core_classes)
    sampler_cls = _FakeMeta("KSampler", (), {"_is_fake": True, "SAMPLERS": samplers, "SCHEDULERS": schedulers})
    _module("comfy").__path__ = [str(base / "comfy")]  # only comfy.comfy_types is real there
    _module("comfy.samplers", KSampler=sampler_cls, SAMPLER_NAMES=samplers, SCHEDULER_NAMES=schedulers,
            KSAMPLER_NAMES=list(facts["ksamplers"]))
    stubs = {"folder_paths", "nodes", "comfy", "comfy.samplers"}
    sys.meta_path.insert(0, _Forced())
    sys.meta_path.append(_Missing())

    os.chdir(base)
    os.environ["HOME"] = str(base)
    sys.path.insert(0, str(base))
    pack_path = base / "custom_nodes" / pack_dir
    sys.path.insert(0, str(pack_path.parent))
    result: dict[str, Any] = {"nodes": {}, "skipped": {}, "import_error": None, "unvalidated": {}, "listings": {}}
    mod_name = "cfs_pack_" + "".join(c if c.isalnum() else "_" for c in pack_dir)
    try:
        spec = importlib.util.spec_from_file_location(mod_name, pack_path / "__init__.py",
                                                      submodule_search_locations=[str(pack_path)])
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        spec.loader.exec_module(module)
    except BaseException as exc:  # the pack's own import failing is a recording result, not a crash
        result["import_error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-2000:]}"
        Path(out_file).write_text(json.dumps(result), encoding="utf-8")
        return 0
    mapping = getattr(module, "NODE_CLASS_MAPPINGS", {}) or {}
    names = getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", {}) or {}

    def plain(value: Any) -> Any:
        """JSON-able copy; fakes become their name so they show up in review."""
        if isinstance(value, _FakeMeta):
            raise TypeError(f"fake value {value.__qualname__}")
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, str | int | float | bool) or value is None:
            return value
        raise TypeError(f"unexpected {type(value).__name__}")

    from comfy_api.internal import _ComfyNodeInternal

    entry = getattr(module, "comfy_entrypoint", None)
    if entry is not None:
        import asyncio

        async def _v3_nodes() -> list[Any]:
            return list(await (await entry()).get_node_list())

        mapping = dict(mapping)
        for node_cls in asyncio.run(_v3_nodes()):
            mapping[node_cls.GET_SCHEMA().node_id] = node_cls

    class _Faked(Exception):
        pass

    def node_info(cls_name: str, cls: Any) -> dict[str, Any]:
        """The entry ComfyUI's ``server.py::node_info`` serves for ``cls``."""
        if isinstance(cls, type) and issubclass(cls, _ComfyNodeInternal):
            v3: Any = cls
            v3.RELATIVE_PYTHON_MODULE = f"custom_nodes.{pack_dir}"
            return dict(plain(v3.GET_NODE_INFO_V1()))
        if any(isinstance(b, _FakeMeta) and "_is_fake" in b.__dict__ for b in type.mro(cls)[1:]):
            raise _Faked("derives from a faked class")
        raw_types = cls.INPUT_TYPES()
        input_types = plain(raw_types)
        # ComfyUI checks a V1 combo's value only when its choices are a list; a tuple (often empty, filled
        # by the pack's own frontend code, e.g. Ollama's model list) lets any value through.
        loose = [name for sec in ("required", "optional") for name, spec in (raw_types.get(sec) or {}).items()
                 if isinstance(spec, tuple | list) and spec and isinstance(spec[0], tuple)]
        if loose:
            result["unvalidated"][cls_name] = loose
        info: dict[str, Any] = {"input": input_types,
                                "input_order": {k: list(v) for k, v in input_types.items()},
                                "is_input_list": plain(getattr(cls, "INPUT_IS_LIST", False))}
        info["output"] = plain(cls.RETURN_TYPES)
        info["output_is_list"] = plain(cls.OUTPUT_IS_LIST) if hasattr(cls, "OUTPUT_IS_LIST") else [False] * len(cls.RETURN_TYPES)
        info["output_name"] = plain(cls.RETURN_NAMES) if hasattr(cls, "RETURN_NAMES") else info["output"]
        info["name"] = cls_name
        info["display_name"] = names.get(cls_name, cls_name)
        info["description"] = plain(cls.DESCRIPTION) if hasattr(cls, "DESCRIPTION") else ""
        info["python_module"] = f"custom_nodes.{pack_dir}"
        info["category"] = plain(cls.CATEGORY) if hasattr(cls, "CATEGORY") else "sd"
        info["output_node"] = getattr(cls, "OUTPUT_NODE", False) is True
        info["has_intermediate_output"] = getattr(cls, "HAS_INTERMEDIATE_OUTPUT", False) is True
        for flag, key in (("DEPRECATED", "deprecated"), ("EXPERIMENTAL", "experimental"), ("DEV_ONLY", "dev_only")):
            if getattr(cls, flag, False) is True:
                info[key] = True
        if hasattr(cls, "API_NODE"):
            info["api_node"] = plain(cls.API_NODE)
        info["search_aliases"] = plain(getattr(cls, "SEARCH_ALIASES", []))
        if hasattr(cls, "ESSENTIALS_CATEGORY"):
            info["essentials_category"] = plain(cls.ESSENTIALS_CATEGORY)
        return info

    def listed_folders(info: dict[str, Any]) -> dict[str, str]:
        """``{input: folder}`` for the combos of an entry built with tagged listings."""
        found: dict[str, str] = {}
        for section in ("required", "optional"):
            for name, spec in (info.get("input", {}).get(section) or {}).items():
                text = json.dumps(spec)
                if LISTING in text:
                    folders = {t.split('"')[0] for t in text.split(LISTING)[1:]}
                    found[name] = ",".join(sorted({"input" if f.startswith("input.") else f for f in folders}))
        return found

    cls: Any
    for cls_name, cls in mapping.items():
        try:
            result["nodes"][cls_name] = node_info(cls_name, cls)
        except _Faked as exc:
            result["skipped"][cls_name] = str(exc)
            continue
        except BaseException as exc:
            result["skipped"][cls_name] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        # Again with each folder listing tagged, only to learn which combos list which folder; the entry
        # recorded is the one above, as an empty install serves it.
        tagging[0] = True
        try:
            found = listed_folders(node_info(cls_name, cls))
        except BaseException:
            found = {}
        finally:
            tagging[0] = False
        if found:
            result["listings"][cls_name] = found
    result["requested_folders"] = sorted(set(requested))
    Path(out_file).write_text(json.dumps(result), encoding="utf-8")
    return 0


# --------------------------------------------------------------------------- the parent


def _input_types(nodes: dict[str, Any]) -> set[str]:
    """Every non-combo input type the entries name."""
    return {spec[0] for info in nodes.values() for section in ("required", "optional")
            for spec in (info.get("input", {}).get(section) or {}).values()
            if isinstance(spec, list) and spec and isinstance(spec[0], str)}


def _drop_tooltips(nodes: dict[str, Any]) -> None:
    """Drop input and output tooltips, in place (as the core snapshot does)."""
    for info in nodes.values():
        for section in ("required", "optional"):
            for spec in (info.get("input", {}).get(section) or {}).values():
                if isinstance(spec, list) and len(spec) > 1 and isinstance(spec[1], dict):
                    spec[1].pop("tooltip", None)
        info.pop("output_tooltips", None)


_SOURCE_EXT = (".py", ".json", ".yaml", ".yml", ".txt", ".csv", ".toml", ".cfg", ".ini")


def _source_paths(mirror: Path) -> list[str]:
    """The code and small text files of the mirror's HEAD whose blobs are present (large files may be absent)."""
    listing = subprocess.check_output(["git", "-C", str(mirror), "ls-tree", "-r", "HEAD"], text=True)
    entries = [line.split("\t", 1) for line in listing.splitlines()]
    wanted = [(meta.split()[2], path) for meta, path in entries if meta.split()[1] == "blob" and path.endswith(_SOURCE_EXT)]
    check = subprocess.run(["git", "-C", str(mirror), "cat-file", "--batch-check"], input="\n".join(s for s, _ in wanted),
                           capture_output=True, text=True, check=True).stdout.splitlines()
    return [path for (_sha, path), line in zip(wanted, check, strict=True) if not line.endswith("missing")]


_WIDGET_KEY = re.compile(r"^\s*(?:async\s+)?([A-Za-z_][\w.]*)\s*(?:\(|:\s*(?:async\s+)?(?:function\s*)?\()", re.M)


def custom_widget_types(mirror: Path, input_types: set[str]) -> dict[str, str]:
    """Input types the pack's own frontend code makes widgets (``getCustomWidgets`` in its JS): type → file.

    ``/object_info`` cannot say these are widgets, yet the frontend stores their values in ``widgets_values``.
    Read from the JS as text: the keys of the object ``getCustomWidgets`` returns, kept only when the recording
    has an input of that type (so a stray name in the script is not taken for one)."""
    listing = subprocess.run(["git", "-C", str(mirror), "grep", "-l", "getCustomWidgets", "HEAD", "--", "*.js"],
                             capture_output=True, text=True, check=False).stdout  # exit 1: no match
    found: dict[str, str] = {}
    for entry in listing.splitlines():
        path = entry.split(":", 1)[1]
        text = subprocess.check_output(["git", "-C", str(mirror), "show", f"HEAD:{path}"], text=True, errors="replace")
        for block in text.split("getCustomWidgets")[1:]:
            for name in _WIDGET_KEY.findall(block[:20000]):
                if name in input_types:
                    found.setdefault(name, path)
    return dict(sorted(found.items()))


def comfyui_facts(comfy: Path) -> dict[str, Any]:
    """ComfyUI's version and sampler/scheduler names, read from its source with ``ast`` (never run):
    ``comfyui_version.py``'s ``__version__``; ``comfy/samplers.py``'s ``KSAMPLER_NAMES`` list,
    ``SAMPLER_NAMES`` (= it plus a literal list) and ``SCHEDULER_HANDLERS`` keys."""
    import ast

    def source(path: str) -> ast.Module:
        return ast.parse(subprocess.check_output(["git", "-C", str(comfy), "show", f"HEAD:{path}"], text=True))

    version = next(ast.literal_eval(n.value) for n in source("comfyui_version.py").body
                   if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "__version__")
    top = {n.targets[0].id: n.value for n in source("comfy/samplers.py").body
           if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)}
    ksamplers = list(ast.literal_eval(top["KSAMPLER_NAMES"]))
    extra = top["SAMPLER_NAMES"]
    assert isinstance(extra, ast.BinOp) and isinstance(extra.right, ast.List), "SAMPLER_NAMES changed shape"
    handlers = top["SCHEDULER_HANDLERS"]
    assert isinstance(handlers, ast.Dict), "SCHEDULER_HANDLERS changed shape"
    return {"version": version, "ksamplers": ksamplers, "samplers": ksamplers + list(ast.literal_eval(extra.right)),
            "schedulers": [ast.literal_eval(k) for k in handlers.keys if k is not None]}


def _no_network_prefix() -> list[str]:
    """``unshare --net --map-root-user --`` when this machine lets us start the child in a namespace with no network
    (on top of the child's own socket block), else nothing."""
    import shutil

    cmd = ["unshare", "--net", "--map-root-user", "--"]
    if shutil.which("unshare") is None:
        return []
    ok = subprocess.run([*cmd, "true"], capture_output=True, check=False, timeout=10).returncode == 0
    return cmd if ok else []


def record(pack: Pack, mirrors: Path, out_dir: Path, *, timeout: float = 300.0) -> dict[str, Any]:
    """Record one pack; returns the written document's ``__pack__`` note."""
    from comfyfixer.tools.paths import atomic_write

    mirror = mirrors / pack.repo.replace("/", "+") / "repo"
    commit = subprocess.check_output(["git", "-C", str(mirror), "rev-parse", "HEAD"], text=True).strip()
    date = subprocess.check_output(["git", "-C", str(mirror), "log", "-1", "--format=%cs", "HEAD"], text=True).strip()
    core = REPO / "tools" / "schema" / "data" / "core_object_info.json"
    comfy = mirrors / COMFYUI_MIRROR / "repo"
    comfy_commit = subprocess.check_output(["git", "-C", str(comfy), "rev-parse", "HEAD"], text=True).strip()
    facts = comfyui_facts(comfy)
    with tempfile.TemporaryDirectory(prefix="cfs-record-") as tmp:
        target = Path(tmp) / "custom_nodes" / pack.pack_dir
        target.mkdir(parents=True)
        archive = Path(tmp) / "pack.tar"
        with archive.open("wb") as fh:
            subprocess.run(["git", "-C", str(mirror), "archive", "--format=tar", "HEAD", "--", *_source_paths(mirror)],
                           stdout=fh, stderr=subprocess.DEVNULL, check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
        with archive.open("wb") as fh:
            subprocess.run(["git", "-C", str(comfy), "archive", "--format=tar", "HEAD", "--", *COMFY_REAL],
                           stdout=fh, stderr=subprocess.DEVNULL, check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        out_file = Path(tmp) / "result.json"
        facts_file = Path(tmp) / "comfyui_facts.json"
        facts_file.write_text(json.dumps(facts), encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", ""), "HOME": tmp, "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.run(
            [*_no_network_prefix(), sys.executable, "-I", "-m", "comfyfixer.evals.record_pack_schemas", "--child",
             tmp, pack.pack_dir, str(out_file), str(core), str(facts_file)],
            cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        if not out_file.exists():
            raise RuntimeError(f"{pack.pack_dir}: recorder child failed (rc {proc.returncode}): {proc.stderr[-3000:]}")
        # Paths the pack computed from where it was unpacked read as a ComfyUI folder named ComfyUI.
        result = json.loads(out_file.read_text(encoding="utf-8").replace(json.dumps(tmp)[1:-1], "ComfyUI"))
    if result["import_error"]:
        raise RuntimeError(f"{pack.pack_dir}: import failed under fakes: {result['import_error']}")
    nodes: dict[str, Any] = result["nodes"]
    skipped: dict[str, str] = result["skipped"]
    _drop_tooltips(nodes)
    listings: dict[str, dict[str, str]] = {c: dict(v) for c, v in result["listings"].items() if c in nodes}
    for cls, name, folder in pack.own_listings:
        if cls not in nodes or not any(name in (nodes[cls]["input"].get(sec) or {}) for sec in ("required", "optional")):
            raise RuntimeError(f"{pack.pack_dir}: own listing {cls}.{name} is not an input of the recording")
        listings.setdefault(cls, {})[name] = folder
    note = {
        "repo": f"https://github.com/{pack.repo}",
        "commit": commit,
        "commit_date": date,
        "comfyui": {"version": facts["version"], "source": f"https://github.com/{COMFYUI_MIRROR.replace('+', '/')}",
                    "commit": comfy_commit},
        "recorded_by": "evals/record_pack_schemas.py (INPUT_TYPES() called with heavy imports faked; entries built "
                       f"as ComfyUI {facts['version']}'s server.py node_info does, V3 nodes by its comfy_api "
                       "GET_NODE_INFO_V1; tooltips dropped)",
        "folder_listings": listings,
        "folder_listings_note": "these combos list the user's model folders (\"input\": ComfyUI's input folder); recorded as an "
                                "empty install shows them",
        "skipped": skipped,
        "unvalidated_combos": {c: v for c, v in result["unvalidated"].items() if c in nodes},
        "unvalidated_combos_note": "choices given as a tuple: ComfyUI accepts any value for these combos",
        "custom_widget_types": custom_widget_types(mirror, _input_types(nodes)),
        "custom_widget_types_note": "input types the pack's frontend code makes widgets (values in widgets_values)",
    }
    doc = {"__pack__": note, **dict(sorted(nodes.items()))}
    path = out_dir / f"{pack.pack_dir}.json"
    atomic_write(path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    path.chmod(0o644)
    return note


def write_sources(out_dir: Path) -> Path:
    """``SOURCES.md`` beside the recordings: one row per recorded pack, from each file's ``__pack__`` note."""
    from comfyfixer.tools.paths import atomic_write

    rows = []
    for path in sorted(out_dir.glob("*.json"), key=lambda p: p.name.lower()):
        doc = json.loads(path.read_text(encoding="utf-8"))
        note = doc["__pack__"]
        listed = sum(len(v) for v in note["folder_listings"].values())
        skipped = ", ".join(f"`{c}`" for c in note["skipped"]) or "none"
        rows.append(f"| `{path.stem}` | {note['repo']} | `{note['commit']}` ({note['commit_date']}) | {len(doc) - 1} "
                    f"| {listed} | {skipped} |")
    text = "\n".join([
        "# Recorded node pack schemas: sources",
        "",
        "Each `<PackDir>.json` here is what ComfyUI's `/object_info` serves for that pack installed as",
        "`custom_nodes/<PackDir>`, recorded from the pack's source at the commit below by",
        "`python -m comfyfixer.evals.record_pack_schemas` (it imports the pack in a throwaway process with torch,",
        "ComfyUI's modules and other heavy imports faked, calls each class's `INPUT_TYPES()` and builds the entry",
        "as ComfyUI 0.33.0's `server.py::node_info` does, V3 nodes through that ComfyUI's own `comfy_api`; the",
        "ComfyUI source is the snapshot of `yzkee/ComfyUI` @ `783545f6`, a mirror that tracks Comfy-Org/ComfyUI).",
        "Tooltips are dropped. Combos that list the user's model folders are recorded empty, as an empty",
        "install shows them; the file's `__pack__.folder_listings` names the folder of each. Paths a pack",
        "computes from its install folder read `ComfyUI/…`; a default a pack draws at random (Ollama's and WAS's",
        "seeds) is drawn with Python's `random` seeded 0. `__pack__.unvalidated_combos` are combos whose choices",
        "are a tuple (ComfyUI accepts any value), `__pack__.custom_widget_types` input types the pack's own",
        "JS makes widgets (`getCustomWidgets`). Regenerate with the command above (it needs the",
        "packs' mirrors, as the `fetch` tool brings them, under `/work/.mirror`).",
        "",
        "| pack folder | repository | commit (date) | classes | folder-listing combos | not recorded |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ])
    target = out_dir / "SOURCES.md"
    atomic_write(target, text)
    target.chmod(0o644)
    return target


def main(argv: list[str] | None = None) -> int:
    """Record the packs named (default: all of :data:`PACKS`); prints one line per pack."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--child":
        return _child(*args[1:6])
    parser = argparse.ArgumentParser(prog="record_pack_schemas", description=__doc__.splitlines()[0])
    parser.add_argument("packs", nargs="*", help="pack folder names (default: all)")
    parser.add_argument("--mirrors", type=Path, default=MIRRORS, help="folder of fetched bare mirrors (owner+name/repo)")
    parser.add_argument("--out", type=Path, default=OUT)
    ns = parser.parse_args(args)
    chosen = [p for p in PACKS if not ns.packs or p.pack_dir in ns.packs]
    failed = 0
    for pack in chosen:
        try:
            note = record(pack, ns.mirrors, ns.out)
        except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
            failed += 1
            print(f"{pack.pack_dir}: FAILED {exc}")
            continue
        n = len(json.loads((ns.out / f"{pack.pack_dir}.json").read_text(encoding="utf-8"))) - 1
        print(f"{pack.pack_dir}: {n} classes @ {note['commit'][:8]}; skipped {len(note['skipped'])}; "
              f"listings {sum(len(v) for v in note['folder_listings'].values())}")
    write_sources(ns.out)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
