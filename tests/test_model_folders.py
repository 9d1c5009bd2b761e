"""ComfyUI's folder table (``tools/model_folders.py``) against the real ``folder_paths.py`` of ComfyUI 0.3.64
(``../shared/comfyui-src``), and the record of 0.33.0's keys its docstring keeps."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

from comfyfixer.tools import model_folders as mf
from comfyfixer.tools.schema.folders import CORE_LOADER_FOLDERS

REPO = Path(__file__).resolve().parents[1]
FOLDER_PATHS_0364 = Path(os.environ.get("COMFYFIXER_SHARED", REPO.parent / "shared")) / "comfyui-src" / "folder_paths.py"


def _real_0364() -> tuple[dict[str, tuple[tuple[str, ...], frozenset[str]]], frozenset[str], dict[str, str]]:
    """``folder_names_and_paths`` (key -> dirs relative to the base folder, extensions) in registration order,
    ``supported_pt_extensions`` and ``map_legacy``'s table, read from the source with ``ast`` (never imported)."""
    if not FOLDER_PATHS_0364.is_file():
        pytest.fail(f"ComfyUI 0.3.64's folder_paths.py not found at {FOLDER_PATHS_0364}: set COMFYFIXER_SHARED")
    tree = ast.parse(FOLDER_PATHS_0364.read_text(encoding="utf-8"))
    roots = {"models_dir": "models/", "base_path": ""}
    pt: frozenset[str] = frozenset()
    table: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {}
    legacy: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "supported_pt_extensions":
            assert node.value is not None
            pt = frozenset(ast.literal_eval(node.value))
        if isinstance(node, ast.FunctionDef) and node.name == "map_legacy":
            legacy = ast.literal_eval(next(n for n in ast.walk(node) if isinstance(n, ast.Dict)))
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript)):
            continue
        target = node.targets[0]
        if getattr(target.value, "id", "") != "folder_names_and_paths":
            continue
        key = ast.literal_eval(target.slice)
        assert isinstance(node.value, ast.Tuple)
        dirs_node, exts_node = node.value.elts
        assert isinstance(dirs_node, ast.List)
        dirs = []
        for call in dirs_node.elts:
            assert isinstance(call, ast.Call)
            root, rel = call.args
            dirs.append(roots[getattr(root, "id", "")] + ast.literal_eval(rel))
        if isinstance(exts_node, ast.Name):
            assert exts_node.id == "supported_pt_extensions"
            exts = pt
        elif isinstance(exts_node, ast.Call):  # set()
            exts = frozenset()
        else:
            exts = frozenset(ast.literal_eval(exts_node))
        table[key] = (tuple(dirs), exts)
    return table, pt, legacy


def test_every_0_3_64_key_is_in_the_table_with_its_dirs_and_extensions() -> None:
    real, pt, legacy = _real_0364()
    assert len(real) == 20 and pt and legacy
    assert {k: (f.dirs, f.extensions) for k, f in mf.FOLDERS.items() if k in real} == real
    assert pt == mf.PT_EXTENSIONS
    assert legacy == mf.LEGACY_KEYS
    # The keys not marked newer are exactly 0.3.64's, in its order.
    assert [k for k, f in mf.FOLDERS.items() if f.since is None] == list(real)
    assert list(mf.registered_folders("0.3.64")) == list(real)


def test_the_docstring_records_the_0_33_0_keys_in_order_with_the_newer_ones_starred() -> None:
    doc = mf.__doc__ or ""
    block = doc.split("the copy ``tests/test_model_folders.py`` compares the table with):", 1)[1].split("Every directory", 1)[0]
    recorded = re.findall(r"([a-z_]+)(\*?)", block)
    assert [(k, bool(star)) for k, star in recorded] == [(k, f.since is not None) for k, f in mf.FOLDERS.items()]
    assert {k for k, f in mf.FOLDERS.items() if f.since} == {
        "latent_upscale_models", "datasets", "background_removal", "frame_interpolation", "geometry_estimation",
        "optical_flow", "detection",
    }


def test_an_older_comfyui_is_not_given_the_newer_keys(tmp_path: Path) -> None:
    newer = {k for k, f in mf.FOLDERS.items() if f.since}
    assert set(mf.registered_folders("0.3.64")).isdisjoint(newer)
    assert set(mf.registered_folders("0.10.0")).isdisjoint(newer)  # between the two releases we read
    assert set(mf.registered_folders("0.33.0")) == set(mf.registered_folders(None)) == set(mf.FOLDERS)
    assert set(mf.registered_folders("not a version")) == set(mf.FOLDERS)
    paths = mf.default_folder_paths(tmp_path, "0.33.0")
    assert paths["datasets"] == [tmp_path / "datasets"]  # beside models/, not in it
    assert paths["detection"] == [tmp_path / "models" / "detection"]
    assert "detection" not in mf.default_folder_paths(tmp_path, "0.3.64")


def test_legacy_keys_second_directories_and_written_names() -> None:
    assert mf.map_legacy("unet") == "diffusion_models" and mf.map_legacy("clip") == "text_encoders"
    # ComfyUI's own mapping is exact: t2i_adapter is a directory of controlnet, not a legacy key name.
    assert mf.map_legacy("t2i_adapter") == "t2i_adapter" and mf.map_legacy("Unet") == "Unet"
    assert mf.SECOND_DIRECTORIES == {"clip": "text_encoders", "unet": "diffusion_models", "t2i_adapter": "controlnet"}
    assert mf.canonical_folder("t2i_adapter") == "controlnet"
    assert mf.canonical_folder(" /Loras/ ") == "loras"
    assert mf.canonical_folder("UNET") == "diffusion_models"
    assert mf.canonical_folder("LLM") == "LLM"  # a pack's key keeps its case
    assert mf.canonical_folder("ipadapter\\") == "ipadapter"
    assert mf.canonical_folder("") is None and mf.canonical_folder(None) is None
    for key in mf.FOLDERS:
        assert mf.canonical_folder(key) == key


def test_extensions_and_placement() -> None:
    assert set(mf.MODEL_FILE_EXTENSIONS) == mf.PT_EXTENSIONS | {".gguf", ".onnx"}
    assert mf.accepts("loras", "a/B.SAFETENSORS") and not mf.accepts("loras", "notes.txt")
    assert mf.accepts("configs", "v1.yaml") and not mf.accepts("configs", "v1.safetensors")
    assert mf.accepts("custom_nodes", "x.py") and mf.accepts("some_pack_key", "x.onnx")
    assert mf.accepts("unet", "u.sft")  # looked up through map_legacy
    assert mf.placement_dir("diffusion_models") == "models/diffusion_models"  # not the legacy models/unet
    assert mf.placement_dir("text_encoders") == "models/text_encoders"
    assert mf.placement_dir("detection") == "models/detection"
    assert mf.placement_dir("datasets") is None and mf.placement_dir("ipadapter") is None


def test_every_folder_a_core_loader_reads_is_in_the_table() -> None:
    read = {folder for inputs in CORE_LOADER_FOLDERS.values() for folder in inputs.values()}
    assert read <= set(mf.FOLDERS) - {"custom_nodes", "datasets"}
    assert {"latent_upscale_models", "detection", "geometry_estimation"} <= read
