"""Local inventory: folder table and aliases, extra_model_paths.yaml, cached model scans, custom-node packs."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from comfyfixer.evals.fakes.comfyui_server import FakeComfyUI
from comfyfixer.tools.errors import ConfigError, InputError
from comfyfixer.tools.inventory import (
    InventoryCache,
    InventoryInput,
    apply_extra_paths,
    build_inventory,
    canonical_folder,
    default_folder_paths,
    file_sha256,
    parse_extra_model_paths,
    read_pack,
    scan_custom_nodes,
    scan_models,
)


def touch(path: Path, data: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_aliases_and_default_search_order(tmp_path: Path) -> None:
    assert canonical_folder("unet") == "diffusion_models"
    assert canonical_folder("clip") == "text_encoders"
    assert canonical_folder("loras") == "loras"
    table = default_folder_paths(tmp_path)
    assert table["diffusion_models"] == [tmp_path / "models/unet", tmp_path / "models/diffusion_models"]
    assert table["text_encoders"] == [tmp_path / "models/text_encoders", tmp_path / "models/clip"]
    assert table["controlnet"] == [tmp_path / "models/controlnet", tmp_path / "models/t2i_adapter"]


def test_extra_model_paths_sections_base_path_multiline_is_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARED_MODELS", str(tmp_path / "envroot"))
    yaml_file = tmp_path / "conf" / "extra_model_paths.yaml"
    yaml_file.parent.mkdir()
    yaml_file.write_text(textwrap.dedent("""\
        a111:
            base_path: ../sd-webui
            checkpoints: models/Stable-diffusion
            unet: models/unet_extra
            loras: |
                 models/Lora
                 models/LyCORIS
        fast_disk:
            base_path: $SHARED_MODELS
            is_default: true
            checkpoints: ckpts
        no_base:
            vae: relative_vae
            my_new_kind: /abs/new
        empty_section:
    """), encoding="utf-8")
    extras = parse_extra_model_paths(yaml_file)
    got = [(e.key, e.path, e.is_default, e.section) for e in extras]
    webui = (tmp_path / "sd-webui").resolve()
    assert got == [
        ("checkpoints", webui / "models/Stable-diffusion", False, "a111"),
        ("diffusion_models", webui / "models/unet_extra", False, "a111"),
        ("loras", webui / "models/Lora", False, "a111"),
        ("loras", webui / "models/LyCORIS", False, "a111"),
        ("checkpoints", tmp_path / "envroot" / "ckpts", True, "fast_disk"),
        ("vae", (tmp_path / "conf" / "relative_vae").resolve(), False, "no_base"),
        ("my_new_kind", Path("/abs/new"), False, "no_base"),
    ]
    table = apply_extra_paths(default_folder_paths(tmp_path / "ComfyUI"), extras)
    # is_default puts its folder first; the others are appended after the defaults.
    assert table["checkpoints"] == [
        tmp_path / "envroot" / "ckpts", tmp_path / "ComfyUI/models/checkpoints", webui / "models/Stable-diffusion",
    ]
    assert table["loras"][-2:] == [webui / "models/Lora", webui / "models/LyCORIS"]
    assert table["my_new_kind"] == [Path("/abs/new")]


def test_bad_yaml_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "extra_model_paths.yaml"
    bad.write_text("a: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"is not valid YAML(.|\n)*fix the file or leave it out"):
        parse_extra_model_paths(bad)


def test_scan_lists_like_comfyui_and_finds_misplaced(tmp_path: Path) -> None:
    base = tmp_path / "ComfyUI"
    touch(base / "models/checkpoints/a.safetensors")
    touch(base / "models/checkpoints/notes.txt")
    touch(base / "models/loras/sub/b.safetensors")
    touch(base / "models/clip/t5.safetensors")
    touch(base / "models/unet/u.safetensors")
    touch(base / "models/ipadapter/ip.bin")  # a folder no default key reads
    inv = scan_models(default_folder_paths(base), base_dir=base)
    assert inv.listing("checkpoints") == ["a.safetensors"]  # notes.txt filtered by extension
    assert inv.listing("loras") == ["sub/b.safetensors"]
    assert inv.has("clip", "t5.safetensors") and inv.has("text_encoders", "t5.safetensors")
    assert inv.has("unet", "u.safetensors")
    assert inv.has("loras", "sub\\b.safetensors")  # Windows separators in workflows
    assert not inv.has("loras", "b.safetensors")
    assert inv.has("ipadapter", "ip.bin")  # models/<key> is read as that key
    found = inv.elsewhere("checkpoints", "b.safetensors")
    assert [(f.key, f.location) for f in found] == [("loras", "models/loras/sub/b.safetensors")]
    assert inv.counts() == {"checkpoints": 1, "diffusion_models": 1, "ipadapter": 1, "loras": 1, "text_encoders": 1}


def test_written_folder_names_and_yaml_keys_are_read_like_comfyui(tmp_path: Path) -> None:
    base = tmp_path / "ComfyUI"
    touch(base / "models/t2i_adapter/ad.safetensors")  # controlnet's second directory
    touch(base / "models/LLM/florence/model.safetensors")  # a pack's key (Florence2), case kept
    inv = scan_models(default_folder_paths(base), base_dir=base)
    assert inv.has("t2i_adapter", "ad.safetensors") and inv.has("controlnet", "ad.safetensors")
    assert inv.has(canonical_folder("LLM"), "florence/model.safetensors")
    yaml_file = tmp_path / "extra_model_paths.yaml"
    yaml_file.write_text("s:\n  t2i_adapter: /x/t2i\n  clip: /x/te\n  unet: /x/dm\n", encoding="utf-8")
    # ComfyUI's map_legacy is exact: a yaml ``t2i_adapter:`` is a key of its own, which no core loader reads.
    assert [e.key for e in parse_extra_model_paths(yaml_file)] == ["t2i_adapter", "text_encoders", "diffusion_models"]


def test_an_older_comfyui_is_not_given_the_newer_keys_and_training_data_is_not_models(tmp_path: Path) -> None:
    installs = {}
    for version in ("0.3.64", "0.33.0"):
        base = tmp_path / version
        touch(base / "comfyui_version.py", f'__version__ = "{version}"\n'.encode())
        touch(base / "models/detection/face.pt")
        touch(base / "datasets/set1/img0.png")
        touch(base / "datasets/set1/weights.safetensors")
        installs[version] = (base, build_inventory(InventoryInput(comfyui_dir=base)).models)
    base, old = installs["0.3.64"]
    assert {"detection", "datasets", "latent_upscale_models"}.isdisjoint(old.folders)
    assert old.has("detection", "face.pt")  # still found as the key of its folder's name, as packs register it
    base, new = installs["0.33.0"]
    assert new.folders["detection"] == [str(base / "models/detection")]
    assert new.folders["datasets"] == [str(base / "datasets")]  # beside models/, and never listed
    assert new.counts() == old.counts() == {"detection": 1}
    assert not new.elsewhere("checkpoints", "weights.safetensors") and not new.has(None, "weights.safetensors")


def test_a_live_server_s_training_data_folder_is_not_listed(tmp_path: Path) -> None:
    listings = {"loras": ["a.safetensors"], "datasets": ["set1/img0.png"], "custom_nodes": ["x/__init__.py"]}
    with FakeComfyUI(listings=listings, system_stats={"system": {"comfyui_version": "0.33.0"}}) as fake:
        inv = build_inventory(InventoryInput(comfyui_url=fake.url))
        paths = {p for _, p, _ in fake.requests}
    assert inv.models.has("loras", "a.safetensors") and set(inv.models.files) == {"loras"}
    assert "/models/loras" in paths and not {"/models/datasets", "/models/custom_nodes"} & paths


def test_cache_reuses_unchanged_dirs_and_sees_changes(tmp_path: Path) -> None:
    base = tmp_path / "ComfyUI"
    for i in range(20):
        touch(base / f"models/loras/set{i % 4}/l{i}.safetensors")
    table = default_folder_paths(base)
    cache_dir = tmp_path / "cache"
    with InventoryCache(cache_dir) as cache:
        cold = scan_models(table, base_dir=base, cache=cache)
    assert cold.dirs_from_cache == 0 and cold.dirs_scanned >= 5
    with InventoryCache(cache_dir) as cache:
        warm = scan_models(table, base_dir=base, cache=cache)
    assert warm.dirs_from_cache == warm.dirs_scanned == cold.dirs_scanned
    assert warm.listing("loras") == cold.listing("loras")
    # A new file changes its directory's mtime: only that directory is listed again.
    new = touch(base / "models/loras/set2/new.safetensors")
    st = (base / "models/loras/set2").stat()
    os.utime(base / "models/loras/set2", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    with InventoryCache(cache_dir) as cache:
        again = scan_models(table, base_dir=base, cache=cache)
    assert again.has("loras", "set2/new.safetensors")
    assert again.dirs_from_cache == again.dirs_scanned - 1
    assert new.exists()


def test_sha256_is_cached_on_size_and_mtime(tmp_path: Path) -> None:
    f = touch(tmp_path / "m.safetensors", b"abc")
    with InventoryCache(tmp_path / "cache") as cache:
        first = file_sha256(f, cache)
        assert first == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        assert cache.get_hash(str(f), 3, f.stat().st_mtime_ns) == first
        f.write_bytes(b"abcd")  # a changed file is hashed again
        assert file_sha256(f, cache) != first


def test_corrupt_cache_is_set_aside(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    touch(cache_dir / InventoryCache.FILE_NAME, b"this is not sqlite" * 100)
    with InventoryCache(cache_dir) as cache:
        cache.put_many("ns", {"k": 1})
        assert cache.get("ns", "k") == 1
    assert (cache_dir / "inventory.corrupt").exists()


PACK_INIT = '''
from .nodes import NODE_CLASS_MAPPINGS as BASE, NODE_DISPLAY_NAME_MAPPINGS as NAMES
NODE_CLASS_MAPPINGS = {"LiteralNode": object, **BASE}
NODE_CLASS_MAPPINGS.update({"UpdatedNode": object})
NODE_CLASS_MAPPINGS["SubscriptNode"] = object
NODE_CLASS_MAPPINGS[f"Dyn{1}"] = object
'''
PACK_NODES = '''
NODE_CLASS_MAPPINGS: dict = dict(KwNode=object, OtherKw=object)
NODE_DISPLAY_NAME_MAPPINGS = {"KwNode": "Kw"}
'''
V3_PACK = '''
from comfy_api.latest import ComfyExtension, io

class Probe(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="ProbeV3", display_name="Probe", inputs=[], outputs=[])

class Ext(ComfyExtension):
    async def get_node_list(self):
        return [Probe]

async def comfy_entrypoint():
    return Ext()
'''


def test_static_pack_scan_variants(tmp_path: Path) -> None:
    cn = tmp_path / "custom_nodes"
    touch(cn / "ComfyUI-Mixed/__init__.py", PACK_INIT.encode())
    touch(cn / "ComfyUI-Mixed/nodes.py", PACK_NODES.encode())
    touch(cn / "ComfyUI-Mixed/pyproject.toml", b'[project]\nname = "comfyui-mixed"\nversion = "1.2.0"\n'
                                               b'[project.urls]\nRepository = "https://github.com/me/ComfyUI-Mixed"\n'
                                               b'[tool.comfy]\nPublisherId = "me"\n')
    touch(cn / "v3pack/__init__.py", V3_PACK.encode())
    touch(cn / "single_file.py", b'NODE_CLASS_MAPPINGS = {"SingleNode": object}\n')
    touch(cn / "old.disabled/__init__.py", b'NODE_CLASS_MAPPINGS = {"OldNode": object}\n')
    touch(cn / "__pycache__/x.py", b'NODE_CLASS_MAPPINGS = {"Cached": object}\n')
    touch(cn / "broken/__init__.py", b"def (:\n")
    touch(cn / "withgit/__init__.py", b'NODE_CLASS_MAPPINGS = {"GitNode": object}\n')
    touch(cn / "withgit/.git/config", b'[remote "origin"]\n\turl = git@github.com:someone/withgit.git\n')
    inv = scan_custom_nodes([cn])
    packs = {p.name: p for p in inv.packs}
    assert set(packs) == {"ComfyUI-Mixed", "v3pack", "single_file", "old", "broken", "withgit"}
    mixed = packs["ComfyUI-Mixed"]
    assert mixed.classes == ["KwNode", "LiteralNode", "OtherKw", "SubscriptNode", "UpdatedNode"]
    assert mixed.dynamic_keys == 1
    assert (mixed.registry_id, mixed.publisher_id, mixed.version) == ("comfyui-mixed", "me", "1.2.0")
    assert mixed.reference == "https://github.com/me/ComfyUI-Mixed"
    assert packs["v3pack"].classes == ["ProbeV3"] and packs["v3pack"].api == ["v3"]
    assert packs["single_file"].classes == ["SingleNode"]
    assert not packs["old"].enabled and packs["old"].classes == ["OldNode"]
    assert packs["broken"].classes == [] and packs["broken"].parse_errors
    assert packs["withgit"].reference == "https://github.com/someone/withgit"
    assert "OldNode" not in inv.class_to_pack and "Cached" not in inv.class_to_pack
    assert inv.class_to_pack["ProbeV3"] == "v3pack"
    assert inv.method == "static" and "run time" in inv.limits


def test_v3_ids_without_entrypoint_are_not_counted(tmp_path: Path) -> None:
    touch(tmp_path / "p/__init__.py", b'x = io.Schema(node_id="NotRegistered")\n')
    assert read_pack(tmp_path / "p").classes == []


def test_pack_cache_keyed_on_folder_state(tmp_path: Path) -> None:
    cn = tmp_path / "custom_nodes"
    init = touch(cn / "pack/__init__.py", b'NODE_CLASS_MAPPINGS = {"A": 1}\n')
    with InventoryCache(tmp_path / "cache") as cache:
        assert scan_custom_nodes([cn], cache=cache).class_to_pack == {"A": "pack"}
        init.write_bytes(b'NODE_CLASS_MAPPINGS = {"A": 1, "Bee": 2}\n')
        assert scan_custom_nodes([cn], cache=cache).class_to_pack == {"A": "pack", "Bee": "pack"}


def test_live_inventory_from_recorded_server(shared_data: Path, tmp_path: Path) -> None:
    base = tmp_path / "ComfyUI"
    touch(base / "custom_nodes/probe_pack/__init__.py", b"NODE_CLASS_MAPPINGS = {}\n")
    touch(base / "custom_nodes/probe_pack/pyproject.toml", b'[project]\nname = "probe-pack"\n')
    with FakeComfyUI(data_dir=shared_data / "comfyui") as fake:
        inv = build_inventory(InventoryInput(comfyui_dir=base, comfyui_url=fake.url))
        paths = {p for _, p, _ in fake.requests}
    assert inv.nodes.method == "live" and inv.comfyui_version == "0.3.64"
    assert inv.nodes.class_to_pack == {
        "ProbeV1Node": "probe_pack", "ProbeV3Node": "probe_v3_pack", "SaveImageWebsocket": "websocket_image_save",
    }
    assert inv.nodes.pack("probe_pack").registry_id == "probe-pack"  # identity lent by the folder
    assert "KSampler" in inv.installed_classes()
    assert inv.models.has("loras", "sub/nested_lora.safetensors")
    assert inv.models.has("checkpoints", "extra_ckpt.ckpt")
    assert {"/object_info", "/models", "/models/checkpoints", "/system_stats"} <= paths
    assert "/models/custom_nodes" not in paths


def test_dead_server_falls_back_to_the_folder(tmp_path: Path) -> None:
    base = tmp_path / "ComfyUI"
    touch(base / "models/vae/v.safetensors")
    with FakeComfyUI(fail_status=404) as fake:
        inv = build_inventory(InventoryInput(comfyui_dir=base, comfyui_url=fake.url))
    assert inv.nodes.method == "static" and inv.models.has("vae", "v.safetensors")
    assert inv.warnings and "statically" in inv.warnings[0]
    with FakeComfyUI(fail_status=404) as fake, pytest.raises(Exception, match="404"):
        build_inventory(InventoryInput(comfyui_url=fake.url))


def test_missing_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="ComfyUI folder not found"):
        build_inventory(InventoryInput(comfyui_dir=tmp_path / "nope"))


def test_put_many_trimmed_writes_every_namespace_and_keeps_the_newest(tmp_path: Path) -> None:
    with InventoryCache(tmp_path) as cache:
        cache.put_many("a", {f"old{i}": i for i in range(5)})
        cache.put_many_trimmed({"a": {"new": "x"}, "b": {f"k{i}": i for i in range(4)}}, keep=3)
        assert cache.get_many("a", [f"old{i}" for i in range(5)] + ["new"]) == {"old3": 3, "old4": 4, "new": "x"}
        assert cache.get_many("b", [f"k{i}" for i in range(4)]) == {"k1": 1, "k2": 2, "k3": 3}
    with InventoryCache(tmp_path) as again:  # committed
        assert again.get_many("b", ["k3"]) == {"k3": 3}
