"""evals/record_pack_schemas.py on a small pack made here: what the faked environment answers, and what
the recording keeps (folder listings, unchecked combos, core base classes, classes that cannot be recorded).

The recorder needs ComfyUI's own source for its V3 node API (the mirror the recordings name); the test is
skipped on a machine without it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from comfyfixer.evals.record_pack_schemas import COMFYUI_MIRROR, MIRRORS, Pack, record
from comfyfixer.tools.schema.loader import parse_object_info

PACK = '''
import random
import socket

import torch  # faked
import folder_paths
import comfy.samplers
import nodes
from server import PromptServer

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@PromptServer.instance.routes.get("/tiny/models")
async def models(request):
    return None


class TinyLoader:
    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model_name": (folder_paths.get_filename_list("sams") + ["ESAM"],),
                "sampler_name": (comfy.samplers.KSampler.SAMPLERS,),
                "seed": ("INT", {"default": random.randint(0, 10**9), "tooltip": "dropped"}),
                "size": ("INT", {"default": 512, "min": 64, "max": nodes.MAX_RESOLUTION}),
                "device": ([DEVICE],),
            },
            "optional": {"server_model": ((), {})},
        }

    RETURN_TYPES = ("SAM_MODEL", "STRING")
    RETURN_NAMES = ("sam", "where")
    FUNCTION = "load"
    CATEGORY = "tiny"


class TinyPreview(nodes.PreviewImage):
    CATEGORY = "tiny"


class TinyNet:
    @classmethod
    def INPUT_TYPES(cls):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
        return {"required": {}}

    RETURN_TYPES = ()
    FUNCTION = "run"


NODE_CLASS_MAPPINGS = {"TinyLoader": TinyLoader, "TinyPreview": TinyPreview, "TinyNet": TinyNet}
NODE_DISPLAY_NAME_MAPPINGS = {"TinyLoader": "Tiny Loader"}
'''


@pytest.fixture
def mirrors(tmp_path: Path) -> Path:
    comfy = MIRRORS / COMFYUI_MIRROR
    if not (comfy / "repo").exists():
        pytest.skip(f"ComfyUI's source mirror {comfy} is not on this machine")
    root = tmp_path / "mirrors"
    repo = root / "tests+tiny-pack" / "repo"
    repo.mkdir(parents=True)
    (repo / "__init__.py").write_text(PACK, encoding="utf-8")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "__init__.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "tiny"], check=True)
    (root / COMFYUI_MIRROR).symlink_to(comfy)
    return root


def test_a_pack_is_recorded_as_comfyui_would_serve_it_on_an_empty_install(mirrors: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    note = record(Pack("tests/tiny-pack", "tiny-pack"), mirrors, out)
    doc = json.loads((out / "tiny-pack.json").read_text(encoding="utf-8"))
    assert sorted(p.name for p in out.iterdir()) == ["tiny-pack.json"]
    assert doc["__pack__"] == note and len(note["commit"]) == 40 and note["comfyui"]["version"] == "0.33.0"

    loader = doc["TinyLoader"]
    required = loader["input"]["required"]
    assert required["model_name"] == [["ESAM"]]  # the empty "sams" folder plus the fixed entry
    assert note["folder_listings"] == {"TinyLoader": {"model_name": "sams"}}
    samplers = required["sampler_name"][0]
    assert "euler" in samplers and "uni_pc_bh2" in samplers  # read from ComfyUI's comfy/samplers.py
    assert required["size"] == ["INT", {"default": 512, "min": 64, "max": 16384}]
    assert "tooltip" not in required["seed"][1]
    assert required["device"] == [["cpu"]]  # the faked torch has no GPU
    assert note["unvalidated_combos"] == {"TinyLoader": ["server_model"]}
    assert (loader["display_name"], loader["python_module"], loader["output_name"]) == (
        "Tiny Loader", "custom_nodes.tiny-pack", ["sam", "where"])

    preview = doc["TinyPreview"]  # inherits the core class's inputs and output flag
    assert preview["output_node"] is True and list(preview["input"]["required"]) == ["images"]
    assert preview["category"] == "tiny"
    assert "TinyNet" not in doc and note["skipped"]["TinyNet"].startswith("OSError")  # no network there

    schemas = parse_object_info({k: v for k, v in doc.items() if k != "__pack__"}, "tiny")
    assert [o.type for o in schemas["TinyLoader"].outputs] == ["SAM_MODEL", "STRING"]

    again = record(Pack("tests/tiny-pack", "tiny-pack"), mirrors, out)
    assert again == note
    assert json.loads((out / "tiny-pack.json").read_text(encoding="utf-8")) == doc  # random defaults are seeded
