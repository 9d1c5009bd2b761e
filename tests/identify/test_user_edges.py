"""What a demanding user gives identify / workflows-for / build: URLs of every kind, half-known LoRAs, files
that are no model, hostile workflow folders and output folders that cannot take a file. Each case is a bug
found by hand (see each test's docstring), kept so it stays fixed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from recorded import Replayer

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.identify.build import BuildInput, BuildResult, build_workflow
from comfyfixer.tools.identify.capability import identify_file, identify_model
from comfyfixer.tools.identify.models import IdentifyInput, ModelIdentity

from .real_headers import PART_FILES, write_sparse_safetensors

# A kohya U-Net LoRA with self-attention keys only: nothing in it tells SD 1.x from SDXL.
MYSTERY_LORA = {
    "lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q.lora_down.weight": ("F16", [8, 320]),
    "lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q.lora_up.weight": ("F16", [320, 8]),
}


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ToolContext]:
    tmp = tmp_path_factory.mktemp("edges")
    with ToolContext(cache_dir=tmp / "cache", state_dir=tmp / "state", offline=True) as context:
        yield context


def _id(ctx: ToolContext, text: str) -> ModelIdentity:
    return identify_model(IdentifyInput(model=text), ctx)


# --- identify -------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, repo, file", [
    ("https://modelscope.cn/models/Qwen/Qwen-Image", "Qwen/Qwen-Image", ""),
    ("https://www.modelscope.cn/models/Comfy-Org/Qwen-Image_ComfyUI/file/view/master/"
     "split_files%2Fvae%2Fqwen_image_vae.safetensors", "Comfy-Org/Qwen-Image_ComfyUI", "split_files/vae/qwen_image_vae.safetensors"),
    ("https://modelscope.cn/models/black-forest-labs/FLUX.1-dev/resolve/master/ae.safetensors",
     "black-forest-labs/FLUX.1-dev", "ae.safetensors"),
    ("https://modelscope.cn/api/v1/models/black-forest-labs/FLUX.1-dev/repo?Revision=master&FilePath=flux1-dev.safetensors",
     "black-forest-labs/FLUX.1-dev", "flux1-dev.safetensors"),
])
def test_a_modelscope_url_is_read_as_modelscope_names(ctx: ToolContext, url: str, repo: str, file: str) -> None:
    """A ModelScope URL was read as a plain file name ("from the file name"), its repository dropped."""
    from comfyfixer.tools.modelscope import parse_modelscope_url

    assert parse_modelscope_url(url) == (repo, "master", file)
    ident = _id(ctx, url)
    assert ident.source == "ModelScope names"
    assert any(repo in e for e in ident.evidence)
    if file.endswith("qwen_image_vae.safetensors"):
        assert (ident.family, ident.role) == ("qwen_image", "vae")


def test_an_air_without_a_version_is_a_civitai_model(ctx: ToolContext) -> None:
    """`urn:air:sdxl:checkpoint:civitai:4201` (no @version) was read as a file name."""
    ident = _id(ctx, "urn:air:sdxl:checkpoint:civitai:4201")
    assert ident.source == "Civitai" and "offline" in " ".join(ident.evidence)


@pytest.mark.parametrize("url, family, role", [
    ("huggingface.co/black-forest-labs/FLUX.1-dev/blob/main/ae.safetensors", None, "vae"),
    ("https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/split_files/text_encoders/"
     "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "wan", "text_encoder"),
    ("https://huggingface.co/Comfy-Org/flux1-dev/blob/main/flux1-dev.safetensors", "flux", "diffusion_model"),
])
def test_hugging_face_urls_use_the_folder_they_name_and_the_catalogs(ctx: ToolContext, url: str, family: str | None,
                                                                      role: str) -> None:
    """A URL without https:// was a bare name; a Hugging Face file got no role although the repackaged
    repos file it under split_files/<folder>/ and the official templates name its folder."""
    ident = _id(ctx, url)
    assert ident.source == "Hugging Face names"
    assert (ident.family, ident.role) == (family, role) if family else ident.role == role


def test_a_hugging_face_dataset_is_not_a_model_repository(ctx: ToolContext) -> None:
    ident = _id(ctx, "https://huggingface.co/datasets/foo/bar")
    assert ident.status == "UNKNOWN" and "dataset" in " ".join(ident.evidence)
    assert not any("repository datasets/foo" in e for e in ident.evidence)


@pytest.mark.parametrize("name, tensors, family", [
    ("style_loha.safetensors", {  # LoHa: W = (w1_a @ w1_b) * (w2_a @ w2_b); w1_b is [rank, in]
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.hada_w1_a": ("F16", [320, 8]),
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.hada_w1_b": ("F16", [8, 768]),
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.hada_w2_a": ("F16", [320, 8]),
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.hada_w2_b": ("F16", [8, 768])}, "sd15"),
    ("style_lokr.safetensors", {  # LoKr: W = kron(w1, w2), in = w1[1] * w2[1] = 16 * 128
        "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lokr_w1": ("F16", [8, 16]),
        "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lokr_w2": ("F16", [80, 128])}, "sdxl"),
    ("style_lokr_lowrank.safetensors", {  # LoKr with w2 factored: w2 = w2_a @ w2_b
        "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lokr_w1": ("F16", [4, 8]),
        "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lokr_w2_a": ("F16", [80, 4]),
        "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lokr_w2_b": ("F16", [4, 96])}, "sd15"),
])
def test_lycoris_bases_come_from_their_factor_shapes(tmp_path: Path, name: str, tensors: dict, family: str) -> None:
    """LoHa/LoKr without metadata were UNCERTAIN sd15|sdxl: the cross-attention width was read from
    lora_down shapes only."""
    ident = identify_file(write_sparse_safetensors(tmp_path / name, tensors))
    assert (ident.status, ident.role, ident.family) == ("IDENTIFIED", "lycoris", family)


def test_an_upscaler_needs_no_family(tmp_path: Path) -> None:
    """An ESRGAN file was UNCERTAIN ("unknown family") although upscalers work with every family."""
    _, _, tensors = PART_FILES["RealESRGAN_x4plus.safetensors"]
    ident = identify_file(write_sparse_safetensors(tmp_path / "RealESRGAN_x4plus.safetensors", tensors))
    assert (ident.status, ident.role) == ("IDENTIFIED", "upscaler")


def test_nothing_known_has_no_confidence_and_says_what_to_give(ctx: ToolContext) -> None:
    ident = _id(ctx, "asdf qwerty")
    assert ident.status == "UNKNOWN" and ident.confidence == 0
    assert any("SHA256" in e for e in ident.evidence)


def test_a_path_that_does_not_exist_is_said_and_its_folder_used(ctx: ToolContext, tmp_path: Path) -> None:
    """A mistyped path was read as a bare name with no word that the file is not there."""
    ident = _id(ctx, str(tmp_path / "models" / "loras" / "my_style_sdxl.safetensors"))
    assert "no file at" in ident.evidence[0]
    assert (ident.role, ident.family) == ("lora", "sdxl")


def test_a_pickle_checkpoint_is_named_as_one(tmp_path: Path) -> None:
    """A .ckpt (a zip of pickles) got "a safetensors header length of … bytes is impossible"."""
    path = tmp_path / "v1-5-pruned-emaonly.ckpt"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 200)
    ident = identify_file(path)
    assert "pickle" in ident.evidence[0] and "impossible" not in ident.evidence[0]
    assert ident.family == "sd15"


def test_the_cli_reads_like_a_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """"from the Civitai", "unknown family · unknown", regular expressions and "1 keys" in the evidence."""
    from comfyfixer.agent.cli import run

    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    assert run(["identify", "urn:air:sdxl:lora:civitai:328553@368189"]) == 0
    out = capsys.readouterr().out
    assert "from the Civitai" not in out and "source: Civitai" in out and "COMFYFIXER_OFFLINE" in out
    assert "family unknown · role unknown" in out
    tensors = {"lora_unet_double_blocks_0_img_mlp_0.lora_down.weight": ("BF16", [16, 3072]),
               "lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight": ("BF16", [16, 3072])}
    path = write_sparse_safetensors(tmp_path / "flux_style_lora.safetensors", tensors)
    assert run(["identify", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 key like" in out and "1 keys" not in out
    assert run(["identify", "wan_2.1_vae.safetensors"]) == 0
    out = capsys.readouterr().out
    assert "matches /" not in out and "the name contains 'wan_2'" in out


# --- build ----------------------------------------------------------------------------------------
def _build(ctx: ToolContext, model: str, **kw: object) -> BuildResult:
    return build_workflow(BuildInput.model_validate({"model": model, **kw}), ctx)


def _loads(result: BuildResult, name: str) -> bool:
    return any(name in node["inputs"].values() for node in result.api.values())


def test_a_lora_whose_base_is_unknown_is_uncertain_with_candidates(ctx: ToolContext, tmp_path: Path) -> None:
    """Not a guess: the candidates are named with the flag that picks one."""
    path = write_sparse_safetensors(tmp_path / "mystery_lora.safetensors", MYSTERY_LORA)
    result = _build(ctx, str(path))
    assert result.status == "UNCERTAIN" and not result.api
    assert "--family sd15" in " ".join(result.notes) and "--family sdxl" in " ".join(result.notes)
    chosen = _build(ctx, str(path), family="sdxl")
    assert chosen.status == "BUILT" and _loads(chosen, "mystery_lora.safetensors")


def test_a_vae_is_wired_into_the_workflow_built_for_its_family(ctx: ToolContext, tmp_path: Path) -> None:
    """A VAE (or text encoder) build was BUILT without loading the file at all."""
    tensors = {"decoder.conv_in.weight": ("F32", [512, 4, 3, 3]), "decoder.conv_out.weight": ("F32", [3, 128, 3, 3]),
               "encoder.conv_in.weight": ("F32", [128, 3, 3, 3]), "encoder.conv_out.weight": ("F32", [8, 512, 3, 3])}
    path = write_sparse_safetensors(tmp_path / "vae-ft-mse-840000-ema-pruned.safetensors", tensors)
    refused = _build(ctx, str(path), task="inpaint")  # used by SD 1.x and SDXL: which one is the user's to say
    assert refused.status == "UNCERTAIN" and "--family sd15 or --family sdxl" in " ".join(refused.notes)
    built = _build(ctx, str(path), task="inpaint", family="sd15")
    assert built.status == "BUILT"
    vae = next(nid for nid, n in built.api.items() if n["class_type"] == "VAELoader")
    assert built.api[vae]["inputs"]["vae_name"] == path.name
    assert all(n["inputs"].get("vae") == [vae, 0] for n in built.api.values() if "vae" in n["inputs"])


@pytest.mark.parametrize("model, status, words", [
    ("clip_vision_g.safetensors", "UNSUPPORTED", "workflows-for"),  # it steers a generator
    ("ponyDiffusionV6XL.safetensors", "UNCERTAIN", "header"),  # the name says SDXL, not checkpoint vs LoRA
])
def test_what_the_workflow_would_not_load_is_not_built(ctx: ToolContext, tmp_path: Path, model: str, status: str,
                                                      words: str) -> None:
    """Every BUILT workflow loads the model; one that would only load the family's reference is refused."""
    result = _build(ctx, model, family="sdxl") if model.startswith("clip_vision") else _build(ctx, model)
    assert result.status == status and words in " ".join(result.notes)


def test_the_cli_refuses_bad_tasks_and_unwritable_folders_without_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from comfyfixer.agent.cli import run

    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    _, _, tensors = PART_FILES["RealESRGAN_x4plus.safetensors"]
    model = str(write_sparse_safetensors(tmp_path / "RealESRGAN_x4plus.safetensors", tensors))
    assert run(["build", model, "--task", "bogus"]) == 2
    assert "txt2img" in capsys.readouterr().err
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert run(["build", model, "--out", str(blocker)]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert run(["workflows-for", model, "--save", str(blocker / "sub"), "--source", "local"]) == 2
    assert "not a folder" in capsys.readouterr().err
    # A refusal prints no validation line (nothing was built) and a next step.
    assert run(["build", model, "--task", "txt2img"]) == 2
    out = capsys.readouterr().out
    assert "validated" not in out and "UNSUPPORTED" in out and "--task upscale" in out
    # Repeated runs never overwrite: new files each time.
    for _ in range(2):
        assert run(["build", model, "--out", str(tmp_path / "wf")]) == 0
    assert len(list((tmp_path / "wf").iterdir())) == 4
    capsys.readouterr()
    assert run(["build", model, "--json", "--task", "video"]) == 2
    assert json.loads(capsys.readouterr().out)["status"] == "UNSUPPORTED"


# --- workflows-for --------------------------------------------------------------------------------
def test_a_hostile_workflow_folder_is_read_without_a_traceback(ctx: ToolContext, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A JSON file nested 100,000 deep crashed workflows-for (RecursionError); unreadable files were skipped
    without a word, a missing --in folder counted as searched, and escapes in names must stay inert."""
    from comfyfixer.agent.cli import run
    from comfyfixer.tools.identify.workflows import WorkflowsForInput, workflows_for_model

    mine = tmp_path / "wf"
    mine.mkdir()
    good = {"nodes": [{"id": 1, "type": "UNETLoader", "widgets_values": ["flux1-dev.safetensors", "default"]}]}
    (mine / "my_flux.json").write_text(json.dumps(good))
    (mine / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (mine / "truncated.json").write_text(json.dumps(good)[:30])
    (mine / "not_utf8.json").write_bytes(b"\xff\xfe\x00garbage")
    evil = {"nodes": [{"id": 1, "type": "UNETLoader\x1b]0;pwned\x07", "widgets_values": ["flux1-dev.safetensors"]},
                      {"id": 2, "type": "CheckpointLoaderSimple", "widgets_values": ["\x1b[2J\u202esd15.safetensors"]}]}
    (mine / "evil\x1b[31m\u202e.json").write_text(json.dumps(evil))
    result = workflows_for_model(WorkflowsForInput(model="flux1-dev.safetensors", sources=["local"]), ctx,
                                 workflow_folders=[mine, tmp_path / "missing"])
    assert {h.name for h in result.hits} == {"my_flux.json", "evil\x1b[31m\u202e.json"}
    searched = " ".join(result.searched)
    assert "3 not readable as workflows" in searched and "deep.json" in searched
    assert "not a folder: " in searched and "1 folder" in searched and "1 folders" not in searched
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    assert run(["workflows-for", "flux1-dev.safetensors", "--source", "local", "--in", str(mine)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\\x1b" in out


def test_a_family_hit_names_the_family_as_people_do(ctx: ToolContext) -> None:
    from comfyfixer.tools.identify.workflows import WorkflowsForInput, workflows_for_model

    result = workflows_for_model(WorkflowsForInput(model="my_sdxl_lora.safetensors", sources=["templates"], limit=3),
                                 ctx)
    assert result.hits and all(h.why.startswith("a Stable Diffusion XL workflow") for h in result.hits)


def test_runs_here_is_said_only_when_the_nodes_were_checked_too(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """"runs here" was printed when only the model files had been checked; missing files were a bare count."""
    from comfyfixer.agent.cli import run

    comfy = tmp_path / "ComfyUI"
    for sub in ("models/diffusion_models", "models/vae", "custom_nodes", "user/default/workflows"):
        (comfy / sub).mkdir(parents=True)
    (comfy / "main.py").write_text("")
    (comfy / "models/diffusion_models/flux1-dev.safetensors").write_bytes(b"x")
    mine = comfy / "user/default/workflows"
    (mine / "alone.json").write_text(json.dumps({"nodes": [
        {"id": 1, "type": "UNETLoader", "widgets_values": ["flux1-dev.safetensors", "default"]}]}))
    (mine / "more.json").write_text(json.dumps({"nodes": [
        {"id": 1, "type": "UNETLoader", "widgets_values": ["flux1-dev.safetensors", "default"]},
        {"id": 2, "type": "VAELoader", "widgets_values": ["ae.safetensors"]}]}))
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    assert run(["workflows-for", "flux1-dev.safetensors", "--source", "local", "--comfyui", str(comfy)]) == 0
    out = capsys.readouterr().out
    assert "runs here" not in out and "models installed here (nodes not checked)" in out
    assert "missing ae.safetensors" in out


def test_a_local_lora_is_looked_up_on_civitai_by_its_sha256(tmp_path: Path, replay: Replayer) -> None:
    """"I downloaded this LoRA": its header says SDXL, only Civitai knows its trigger words; build puts them
    into the prompt. A local file was never looked up (only a typed hash was)."""
    from .real_headers import KOHYA_SDXL_LORA

    path = write_sparse_safetensors(tmp_path / "style.safetensors", *KOHYA_SDXL_LORA)
    with replay("civitai_identify_local_lora.json", allow_playback_repeats=True), ToolContext(
            cache_dir=tmp_path / "c", state_dir=tmp_path / "s", http_retries=0) as ctx:
        ident = identify_model(IdentifyInput(model=str(path)), ctx)
        built = build_workflow(BuildInput(model=str(path), task="txt2img"), ctx)
    assert (ident.family, ident.role, ident.civitai_version_id) == ("sdxl", "lora", 1421739)
    assert ident.trained_words == ["choke hold \\(rnc\\)"] and ident.sha256 and len(ident.sha256) == 64
    assert ident.source == "safetensors header" and any("Civitai knows its SHA256" in e for e in ident.evidence)
    prompt = next(n["inputs"]["text"] for n in built.api.values() if n["class_type"] == "CLIPTextEncode")
    assert built.status == "BUILT" and prompt.startswith("choke hold \\(rnc\\), ")


def test_a_video_build_makes_a_video(ctx: ToolContext, tmp_path: Path) -> None:
    """SDXL --task video was BUILT from txt_to_image_to_video's shortest chain: SDXL into a PreviewImage, no video."""
    from .real_headers import FAMILY_FILES

    name, _, tensors = FAMILY_FILES["sdxl"]
    result = _build(ctx, str(write_sparse_safetensors(tmp_path / name, tensors)), task="video")
    classes = {n["class_type"] for n in result.api.values()}
    assert result.status != "BUILT" or any("Video" in c or "Animated" in c for c in classes), classes


def test_a_gguf_model_is_loaded_by_the_gguf_loader(ctx: ToolContext, tmp_path: Path) -> None:
    """A Wan GGUF was BUILT with core UNETLoader, which cannot read GGUF files: the workflow failed in ComfyUI."""
    from .real_headers import write_gguf

    path = write_gguf(tmp_path / "wan2.1-t2v-14b-Q4_K_M.gguf", "wan", {
        "blocks.0.cross_attn.k.weight": [5120, 5120], "head.modulation": [1, 2, 5120],
        "patch_embedding.weight": [5120, 16, 1, 2, 2]})
    result = _build(ctx, str(path))
    assert result.status == "BUILT", result.errors
    loaders = {n["class_type"] for n in result.api.values() if path.name in n["inputs"].values()}
    assert loaders == {"UnetLoaderGGUF"}
    assert any("ComfyUI-GGUF" in n for n in result.notes) and "ComfyUI-GGUF" in result.schemas


def test_an_unreadable_file_is_not_told_to_give_the_file(tmp_path: Path) -> None:
    """A truncated GGUF got "give the file itself (its header is read)" — the file was what was given."""
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x01" * 20)
    ident = identify_file(path)
    text = " ".join(ident.evidence)
    assert "give the file itself" not in text and "download it again" in text


def test_a_gguf_in_a_template_chain_gets_the_gguf_loader(ctx: ToolContext) -> None:
    result = _build(ctx, "flux2-dev-Q4_K_M.gguf", family="flux2", task="txt2img")
    assert result.status == "BUILT", result.errors
    loaders = {n["class_type"] for n in result.api.values() if "flux2-dev-Q4_K_M.gguf" in n["inputs"].values()}
    assert loaders == {"UnetLoaderGGUF"}


def test_every_command_names_family_and_role_the_same_way(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """workflows-for printed "unknown family unknown", build "(family unknown unknown)" and "may be for A, B"."""
    from comfyfixer.agent.cli import run

    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    assert run(["workflows-for", "asdf qwerty", "--source", "templates"]) == 0
    out = capsys.readouterr().out
    assert "family unknown · role unknown" in out and "SHA256" in out  # and what to give instead
    assert run(["build", "asdf qwerty"]) == 2
    out = capsys.readouterr().out
    assert "family unknown · role unknown" in out and "--family" in out and "SHA256" in out
    path = write_sparse_safetensors(tmp_path / "mystery_lora.safetensors", MYSTERY_LORA)
    assert run(["build", str(path)]) == 2
    assert "Stable Diffusion 1.x or Stable Diffusion XL" in capsys.readouterr().out


def test_a_folder_that_refuses_the_write_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only --out (simulated: the tests may run as root, who may write anywhere) is exit 2 with the path."""
    from comfyfixer.agent.cli import run

    def refuse(*_a: object, **_k: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    monkeypatch.setattr("comfyfixer.tools.paths.atomic_write", refuse)
    _, _, tensors = PART_FILES["RealESRGAN_x4plus.safetensors"]
    model = str(write_sparse_safetensors(tmp_path / "RealESRGAN_x4plus.safetensors", tensors))
    assert run(["build", model, "--out", str(tmp_path / "ro")]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "Permission denied" in err and "Traceback" not in err


@pytest.mark.parametrize("text, said", [
    ("https://huggingface.co/", "names no model"),
    ("https://modelscope.cn/models/", "names no model"),
    ("https://civitai.com/models/abc", "names no model"),
    ("https://example.com/foo.safetensors", "a site we do not read"),
])
def test_urls_that_name_no_model_say_so(ctx: ToolContext, text: str, said: str) -> None:
    """A Civitai/Hugging Face/ModelScope URL without a model was "a URL of a site we do not read" with an empty name."""
    ident = _id(ctx, text)
    assert said in ident.evidence[0] and ident.name


def test_a_folder_is_not_a_model_file(ctx: ToolContext, tmp_path: Path) -> None:
    ident = _id(ctx, str(tmp_path))
    assert ident.status == "UNKNOWN" and "is a folder" in ident.evidence[0]


def test_civitai_failing_leaves_the_other_sources(tmp_path: Path, replay: Replayer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Civitai's image list failing (network, 5xx) took the whole answer down; the templates are still there."""
    from comfyfixer.tools.civitai.client import CivitaiClient
    from comfyfixer.tools.errors import TransportError
    from comfyfixer.tools.identify.workflows import WorkflowsForInput, workflows_for_model

    def down(*_a: object, **_k: object) -> None:
        raise TransportError("request to /api/v1/images failed: ConnectError", hint="check the network connection")

    monkeypatch.setattr(CivitaiClient, "images", down)
    sha = "b76a1fc247db893bc8c1290420f0e96b6f86129576a9fb885c20cb7edbefeea5"  # model_version_1421739 (real)
    with replay("civitai_identify_by_hash.json", partial="images are not asked: the client is made to fail"), \
            ToolContext(cache_dir=tmp_path / "c", state_dir=tmp_path / "s", http_retries=0) as ctx:
        result = workflows_for_model(WorkflowsForInput(model=sha, sources=["templates", "civitai"]), ctx)
    assert result.hits and all(h.source == "official template" for h in result.hits)
    assert any(s.startswith("Civitai images: failed") and "ConnectError" in s for s in result.searched)


@pytest.mark.parametrize("model", ["wan2.1_i2v_480p_14B_fp16.safetensors", "wan2.2_ti2v_5B_fp16.safetensors",
                                   "wan2.1_vace_14B_fp16.safetensors", "flux1-fill-dev.safetensors"])
def test_a_variant_the_family_recipe_does_not_fit_is_built_from_its_own_template(ctx: ToolContext, model: str) -> None:
    """Wan image-to-video, TI2V 5B (48-channel latents), VACE and FLUX Fill were put into the family's text-to-X
    recipe (Wan 2.1 VAE, an empty latent): valid against the schemas, broken in ComfyUI."""
    result = _build(ctx, model)
    assert result.status == "BUILT", result.notes
    assert result.settings["source"].startswith("official template"), result.settings


@pytest.mark.parametrize("width, base", [(5120, "wan2.1_t2v_14B_fp8_scaled.safetensors"),
                                         (1536, "wan2.1_t2v_1.3B_fp16.safetensors")])
def test_a_wan_lora_goes_on_the_model_size_it_was_trained_for(ctx: ToolContext, tmp_path: Path, width: int,
                                                             base: str) -> None:
    """A Wan 14B LoRA (lightx2v, width 5120) was put on the 1.3B model: a shape mismatch when ComfyUI loads it."""
    tensors = {"diffusion_model.blocks.0.self_attn.q.lora_A.weight": ("BF16", [32, width]),
               "diffusion_model.blocks.0.self_attn.q.lora_B.weight": ("BF16", [width, 32]),
               "diffusion_model.blocks.0.cross_attn.k.lora_A.weight": ("BF16", [32, width])}
    path = write_sparse_safetensors(tmp_path / f"wan_style_{width}.safetensors", tensors)
    assert identify_file(path).variant == ("Wan 14B" if width == 5120 else "Wan 1.3B")
    result = _build(ctx, str(path))
    assert result.status == "BUILT" and _loads(result, base) and _loads(result, path.name)
    ti2v = write_sparse_safetensors(tmp_path / "wan22_5b_style.safetensors", {
        k: (d, [3072 if n in (5120, width) else n for n in s]) for k, (d, s) in tensors.items()})
    refused = _build(ctx, str(ti2v))
    assert refused.status == "UNSUPPORTED" and "wan2.2_ti2v_5B" in refused.notes[0]


def test_an_sd35_medium_lora_goes_on_sd35_medium(ctx: ToolContext, tmp_path: Path) -> None:
    tensors = {"lora_unet_joint_blocks_0_x_block_attn_qkv.lora_down.weight": ("BF16", [16, 1536]),
               "lora_unet_joint_blocks_0_x_block_attn_qkv.lora_up.weight": ("BF16", [4608, 16]),
               "lora_unet_joint_blocks_0_context_block_attn_qkv.lora_down.weight": ("BF16", [16, 1536])}
    path = write_sparse_safetensors(tmp_path / "sd35m_style.safetensors", tensors)
    ident = identify_file(path)
    assert (ident.family, ident.variant) == ("sd35", "SD3.5 Medium")
    result = _build(ctx, str(path))
    assert result.status == "BUILT" and _loads(result, "sd3.5_medium.safetensors"), result.errors


def test_a_controlnet_steers_its_family_s_workflow(ctx: ToolContext, tmp_path: Path) -> None:
    """A ControlNet build was a plain txt2img that never loaded it (then a refusal); now it is wired in."""
    name = "control_v11p_sd15_canny_fp16.safetensors"
    _, _, tensors = PART_FILES[name]
    result = _build(ctx, str(write_sparse_safetensors(tmp_path / name, tensors)))
    assert result.status == "BUILT", result.errors
    classes = [n["class_type"] for n in result.api.values()]
    assert {"ControlNetLoader", "ControlNetApplyAdvanced", "CheckpointLoaderSimple"} <= set(classes)
    assert _loads(result, name) and any("control image" in n for n in result.notes)


def test_unknown_sources_and_families_are_one_line(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """--source bogus was a pydantic traceback; --family bogus built from another family's template."""
    from comfyfixer.agent.cli import run

    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    assert run(["workflows-for", "flux1-dev.safetensors", "--source", "bogus"]) == 2
    assert "civitai" in capsys.readouterr().err
    assert run(["build", "sd_xl_base_1.0.safetensors", "--family", "bogus"]) == 2
    err = capsys.readouterr().err
    assert "unknown family 'bogus'" in err and "sdxl" in err


def test_trigger_words_are_not_doubled_and_a_fine_tuned_base_is_named(ctx: ToolContext, tmp_path: Path,
                                                                       replay: Replayer) -> None:
    """A prompt that already had the trigger words got them twice; a LoRA Civitai says was trained on Illustrious
    was put on SDXL base with no word that an Illustrious checkpoint suits it better."""
    sha = "b76a1fc247db893bc8c1290420f0e96b6f86129576a9fb885c20cb7edbefeea5"  # model_version_1421739 (real)
    with replay("civitai_identify_by_hash.json", allow_playback_repeats=True), ToolContext(
            cache_dir=tmp_path / "c", state_dir=tmp_path / "s", http_retries=0) as online:
        result = build_workflow(BuildInput(model=sha, prompt="choke hold \\(rnc\\), two wrestlers"), online)
        again = build_workflow(BuildInput(model=sha), online)
    prompt = next(n["inputs"]["text"] for n in result.api.values() if n["class_type"] == "CLIPTextEncode")
    assert prompt.count("choke hold") == 1
    assert any("Illustrious" in n for n in result.notes) and again.status == "BUILT"


@pytest.mark.parametrize("ref", ["https://civitai.com/models/902206?modelVersionId=1421739",
                                 "https://civitai.com/models/902206/choke-hold?modelVersionId=1421739",
                                 "urn:air:sdxl:lora:civitai:902206@1421739", "civitai:@1421739", "@1421739",
                                 "https://civitai.com/api/download/models/1421739"])
def test_every_form_of_a_civitai_version_reference(tmp_path: Path, replay: Replayer, ref: str) -> None:
    with replay("civitai_identify_version.json"), ToolContext(cache_dir=tmp_path / "c", state_dir=tmp_path / "s",
                                                             http_retries=0) as online:
        ident = identify_model(IdentifyInput(model=ref), online)
    assert (ident.civitai_version_id, ident.role, ident.family, ident.source) == (1421739, "lora", "sdxl",
                                                                                  "Civitai version")
    assert ident.name == "choke_hold_rnc_ilxl.safetensors" and ident.trained_words


def test_a_hugging_face_folder_page_is_the_repository(ctx: ToolContext) -> None:
    """`…/tree/main/split_files/vae` was read as a file named "vae"; a family from the repository id came with
    confidence 0 and "nothing in the name says what it is"."""
    ident = _id(ctx, "https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged/tree/main/split_files/vae")
    assert ident.name == "Comfy-Org/Wan_2.1_ComfyUI_repackaged" and ident.family == "wan"
    assert ident.confidence > 0 and not any("nothing in the name" in e for e in ident.evidence)
    assert not any("'/" in e for e in ident.evidence)


def test_a_comfyui_folder_that_is_not_there_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """--comfyui /nonexistent was taken as an empty install ("model files checked"), every hit then missing all."""
    from comfyfixer.agent.cli import run

    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    assert run(["workflows-for", "flux1-dev.safetensors", "--comfyui", str(tmp_path / "nope")]) == 2
    assert "ComfyUI folder not found" in capsys.readouterr().err
