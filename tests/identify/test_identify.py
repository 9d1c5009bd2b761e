"""identify_model on tiny sparse files built from the real tensor names and shapes of each family."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfyfixer.tools.errors import InputError
from comfyfixer.tools.identify.capability import identify_file
from comfyfixer.tools.modelfile import read_safetensors_header

from .real_headers import (
    FAMILY_FILES,
    KOHYA_SDXL_LORA,
    LORA_FILES,
    PART_FILES,
    write_gguf,
    write_sparse_safetensors,
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.mark.parametrize("family", sorted(FAMILY_FILES))
def test_every_family_is_named_with_its_role_from_the_header(model_dir: Path, family: str) -> None:
    name, role, tensors = FAMILY_FILES[family]
    # A neutral name: the header alone must decide.
    path = write_sparse_safetensors(model_dir / f"renamed_{family}.safetensors", tensors)
    assert path.stat().st_blocks * 512 < 64 * 1024  # sparse: gigabytes declared, kilobytes on disk
    ident = identify_file(path)
    assert (ident.family, ident.role, ident.status) == (family, role, "IDENTIFIED"), ident.evidence
    assert ident.confidence >= 0.9
    assert any("comfy/model_detection.py" in e for e in ident.evidence)
    # Under its real name the reading is the same, with no name/header disagreement noted.
    named = identify_file(write_sparse_safetensors(model_dir / name, tensors))
    assert (named.family, named.role) == (family, role)
    assert not any(e.startswith("note: the file name") for e in named.evidence)


def test_variants_are_read_from_shapes(model_dir: Path) -> None:
    flux = identify_file(write_sparse_safetensors(model_dir / "f.safetensors", FAMILY_FILES["flux"][2]))
    assert flux.variant and "dev" in flux.variant
    schnell = {k: v for k, v in FAMILY_FILES["flux"][2].items() if not k.startswith("guidance_in")}
    assert "schnell" in (identify_file(write_sparse_safetensors(model_dir / "s.safetensors", schnell)).variant or "")
    wan = identify_file(write_sparse_safetensors(model_dir / "w.safetensors", FAMILY_FILES["wan"][2]))
    assert wan.variant == "Wan text-to-video 14B"
    sdxl = identify_file(write_sparse_safetensors(model_dir / "x.safetensors", FAMILY_FILES["sdxl"][2]))
    assert sdxl.variant == "SDXL base"


@pytest.mark.parametrize("name", sorted(PART_FILES))
def test_companion_files_get_their_role(model_dir: Path, name: str) -> None:
    role, family, tensors = PART_FILES[name]
    ident = identify_file(write_sparse_safetensors(model_dir / name, tensors))
    assert ident.role == role, ident.evidence
    if family:
        assert ident.family == family
    assert ident.status in ("IDENTIFIED", "UNCERTAIN")


def test_a_flux_vae_is_placed_by_its_name_when_the_header_fits_several_families(model_dir: Path) -> None:
    _, _, tensors = PART_FILES["ae.safetensors"]
    plain = identify_file(write_sparse_safetensors(model_dir / "ae.safetensors", tensors))
    assert plain.family is None and set(plain.families_using) >= {"flux", "sd35"}
    named = identify_file(write_sparse_safetensors(model_dir / "flux_vae.safetensors", tensors))
    assert named.family == "flux" and named.status == "IDENTIFIED"


def test_a_real_kohya_lora_header_names_the_base_it_was_trained_for(model_dir: Path) -> None:
    tensors, meta = KOHYA_SDXL_LORA
    ident = identify_file(write_sparse_safetensors(model_dir / "my_style.safetensors", tensors, meta))
    assert (ident.role, ident.family, ident.status) == ("lora", "sdxl", "IDENTIFIED")
    assert ident.base_model == "sdxl_base_v1-0"
    assert any("ss_base_model_version" in e for e in ident.evidence)
    assert any("2048" in e for e in ident.evidence)  # the keys agree: cross-attention width of SDXL
    assert ident.confidence >= 0.95


@pytest.mark.parametrize("family", sorted(LORA_FILES))
def test_lora_bases_from_key_names_alone(model_dir: Path, family: str) -> None:
    name, tensors = LORA_FILES[family]
    ident = identify_file(write_sparse_safetensors(model_dir / name, tensors))
    assert (ident.role, ident.family) == ("lora", family), ident.evidence


def test_metadata_and_keys_that_disagree_give_uncertain(model_dir: Path) -> None:
    _, tensors = LORA_FILES["wan"]
    ident = identify_file(write_sparse_safetensors(model_dir / "odd.safetensors", tensors,
                                                   {"ss_base_model_version": "sdxl_base_v1-0"}))
    assert ident.status == "UNCERTAIN"
    assert {c.family for c in ident.candidates} == {"sdxl", "wan"}


def test_lycoris_is_its_own_role(model_dir: Path) -> None:
    tensors = {"lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.hada_w1_a": ("F16", [640, 8]),
               "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.hada_w1_b": ("F16", [8, 2048])}
    ident = identify_file(write_sparse_safetensors(model_dir / "loha.safetensors", tensors,
                                                   {"ss_base_model_version": "sdxl_base_v1-0"}))
    assert (ident.role, ident.family) == ("lycoris", "sdxl")


def test_gguf_architecture_and_tensors(model_dir: Path) -> None:
    path = write_gguf(model_dir / "flux1-dev-Q4_K_S.gguf", "flux", {
        "double_blocks.0.img_attn.norm.key_norm.scale": [128], "img_in.weight": [3072, 64],
        "guidance_in.in_layer.weight": [3072, 256]})
    ident = identify_file(path)
    assert (ident.family, ident.role, ident.source) == ("flux", "diffusion_model", "gguf header")
    assert any("general.architecture = 'flux'" in e for e in ident.evidence)


def test_hostile_headers_are_refused_with_a_hint(model_dir: Path) -> None:
    huge = model_dir / "huge.safetensors"
    huge.write_bytes((200 * 1024 * 1024).to_bytes(8, "little") + b"{}")
    with pytest.raises(InputError, match="impossible"):
        read_safetensors_header(huge)
    outside = model_dir / "outside.safetensors"
    raw = json.dumps({"w": {"dtype": "F16", "shape": [4], "data_offsets": [0, 1 << 40]}}).encode()
    outside.write_bytes(len(raw).to_bytes(8, "little") + raw)
    with pytest.raises(InputError, match="outside the file"):
        read_safetensors_header(outside)
    # identify itself falls back to the name and says why
    ident = identify_file(outside)
    assert ident.source.startswith("file name") and "outside the file" in ident.evidence[0]
    loras = model_dir / "models" / "loras"
    loras.mkdir(parents=True)
    placed = loras / "sdxl_style.safetensors"
    placed.write_bytes(outside.read_bytes())
    assert (identify_file(placed).role, identify_file(placed).family) == ("lora", "sdxl")  # its folder and name
