"""Civitai sources, replayed from cassettes built out of real /images and model-version responses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rc_support import schemas
from recorded import Replayer

from comfyfixer.tools.civitai import CivitaiClient, Image
from comfyfixer.tools.errors import NotFound
from comfyfixer.tools.reconstruct import ReconstructInput, reconstruct
from comfyfixer.tools.reconstruct.civitai_source import meta_to_info, parse_civitai_url
from comfyfixer.tools.resolver import ModelResolver, Verdict

CASSETTES = Path(__file__).parent / "cassettes"


@pytest.fixture
def civitai() -> Iterator[CivitaiClient]:
    client = CivitaiClient(retries=0, min_interval=0.0)
    yield client
    client.close()


def test_parse_civitai_urls() -> None:
    assert parse_civitai_url("https://civitai.com/images/469632") == ("image", 469632)
    assert parse_civitai_url("https://civitai.com/posts/138779?sort=x") == ("post", 138779)
    assert parse_civitai_url(
        "https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/e802c8b2/width=1664/58189862.jpeg") == ("image", 58189862)
    assert parse_civitai_url("https://civitai.com/models/1102") is None


def test_image_with_a1111_meta(civitai: CivitaiClient, replay: Replayer) -> None:
    with replay("civitai_image_a1111.json") as cass:
        r = reconstruct(ReconstructInput(civitai_image_id=469632), schemas=schemas(), civitai=civitai)
        assert cass.all_played
    assert r.method == "civitai" and r.source == "civitai image 469632"
    api = r.api
    ks = [n["inputs"] for n in api.values() if n["class_type"] == "KSampler"]
    assert (ks[0]["seed"], ks[0]["steps"], ks[0]["cfg"], ks[0]["sampler_name"], ks[0]["scheduler"]) == (
        234871805, 35, 7.0, "dpmpp_sde", "karras")
    assert ks[1]["denoise"] == 0.4  # hires pass, "Denoising strength"
    latent = next(n["inputs"] for n in api.values() if n["class_type"] == "EmptyLatentImage")
    assert (latent["width"], latent["height"]) == (512, 768)
    lora = next(n["inputs"] for n in api.values() if n["class_type"] == "LoraLoader")
    assert (lora["lora_name"], lora["strength_model"]) == ("setsunaTokage_v10.safetensors", 0.6)
    assert next(n["inputs"] for n in api.values() if n["class_type"] == "CLIPSetLastLayer")["stop_at_clip_layer"] == -2
    assert next(n["inputs"] for n in api.values() if n["class_type"] == "UpscaleModelLoader")["model_name"] == "4x-AnimeSharp.pth"
    assert next(n["inputs"] for n in api.values() if n["class_type"] == "CheckpointLoaderSimple")["ckpt_name"] == "Meina.safetensors"
    assert r.validation is not None and r.validation.errors == []
    assert any("[Style of boku no hero academia]" in i.why for i in r.inferred if "syntax" in i.what)


def test_post_sibling_with_graph_is_used(civitai: CivitaiClient, replay: Replayer) -> None:
    with replay("civitai_post_with_graph.json") as cass:
        r = reconstruct(ReconstructInput(civitai_post_id=138779), schemas=schemas(), civitai=civitai)
        assert cass.all_played
    # The post's richest image carries meta.comfy (a JSON string): its graph is taken as is.
    assert r.method == "civitai" and r.status == "OK"
    assert any("meta.comfy" in c for c in r.certain)
    assert any(n["class_type"] == "KSampler" for n in r.api.values())
    assert r.workflow is not None and len(r.workflow["nodes"]) == len(r.api)


def test_lora_resolved_by_hash_through_the_resolver(civitai: CivitaiClient, replay: Replayer) -> None:
    resolver = ModelResolver(civitai=civitai)
    with replay("civitai_image_lora_by_hash.json"):
        r = reconstruct(ReconstructInput(civitai_image_id=469634), schemas=schemas(), civitai=civitai,
                        resolver=lambda q: resolver.resolve(q, sources=("hash",)))
    lora = next(m for m in r.models if m.role == "lora" and m.hashes)
    assert lora.verdict == "RESOLVED"
    assert lora.file == "choke_hold_rnc_ilxl.safetensors"  # Civitai's file name for that hash
    loaders = {n["inputs"]["lora_name"]: n["inputs"]["strength_model"] for n in r.api.values()
               if n["class_type"] == "LoraLoader"}
    assert loaders == {"setsunaTokage_v10.safetensors": 0.6, "choke_hold_rnc_ilxl.safetensors": 0.8}
    ckpt = next(m for m in r.models if m.role == "checkpoint")
    assert ckpt.verdict == "NOT_FOUND"  # "Meina" comes without a hash: nothing to look up by hash
    assert r.status == "UNCERTAIN"


def test_unknown_image_is_not_found(civitai: CivitaiClient, replay: Replayer) -> None:
    with replay("civitai_image_missing.json"), pytest.raises(NotFound, match="Civitai has no public image 1"):
        reconstruct(ReconstructInput(image="https://civitai.com/images/1"), schemas=schemas(), civitai=civitai)


def test_meta_comfy_string_and_resources_are_read() -> None:
    page = json.loads((CASSETTES / "civitai_image_lora_by_hash.json").read_text())
    meta = json.loads(page["interactions"][0]["response"]["body"]["string"])["items"][0]["meta"]
    info = meta_to_info(meta)
    assert info.seed == 234871805 and info.clip_skip == 2 and (info.width, info.height) == (512, 768)
    assert {lo.name: lo.hashes for lo in info.loras}["choke_hold"] == {"AutoV2": "b76a1fc247"}


class _Images:
    """An in-memory ``/images`` source: the real wiki item with ``civitaiResources`` as CDD documents them."""

    def __init__(self) -> None:
        page = json.loads((CASSETTES / "civitai_image_a1111.json").read_text())
        item = json.loads(page["interactions"][0]["response"]["body"]["string"])["items"][0]
        item["meta"]["civitaiResources"] = [{"type": "checkpoint", "modelVersionId": 46846},
                                            {"type": "lora", "modelVersionId": 1421739, "weight": 0.6}]
        self.item = Image.model_validate(item)
        self.calls: list[dict] = []

    def images(self, **kw) -> Iterator[Image]:
        self.calls.append(kw)
        if kw.get("image_id") in (None, self.item.id) and kw.get("model_version_id") in (None, 46846):
            yield self.item


def test_model_version_ids_are_looked_up_as_identity() -> None:
    source = _Images()
    asked = []

    def resolver(q):
        asked.append(q)
        return Verdict(query=q.filename, status="NOT_FOUND")

    r = reconstruct(ReconstructInput(civitai_image_id=source.item.id), schemas=schemas(), civitai=source,
                    resolver=resolver)
    assert {m.role: m.model_version_id for m in r.models if m.role in ("checkpoint", "lora")} == {
        "checkpoint": 46846, "lora": 1421739}
    assert {q.url_hint for q in asked} >= {"https://civitai.com/api/download/models/46846",
                                           "https://civitai.com/api/download/models/1421739"}
    # the author's other images with the same checkpoint version were asked for as supporting evidence
    assert {"username": "Cooler_Rider", "model_version_id": 46846}.items() <= source.calls[-1].items()


def test_parameters_only_image_reuses_its_siblings_graph(civitai: CivitaiClient, replay: Replayer) -> None:
    with replay("civitai_image_sibling_graph.json") as cass:
        r = reconstruct(ReconstructInput(civitai_image_id=469642), schemas=schemas(), civitai=civitai)
        assert cass.all_played
    assert r.method == "civitai"
    assert any(i.what == "workflow structure" and "469643" in i.why for i in r.inferred)
    classes = sorted(n["class_type"] for n in r.api.values())
    assert classes.count("KSampler") == 2 and "smZ CLIPTextEncode" in classes  # the author's own pipeline
    first = r.api["11"]["inputs"]
    assert (first["seed"], first["steps"], first["cfg"], first["sampler_name"]) == (1816877408, 30, 3.5, "euler_ancestral")
    assert {m.model_version_id for m in r.models} >= {324619, 1284026}
    assert any("urn:air" in n for n in r.notes)
    assert any(i.what == "prompt embeddings" for i in r.inferred)  # meta names it, the graph loads it by AIR
    assert r.status == "UNCERTAIN"
    assert r.workflow is not None and len(r.workflow["nodes"]) == len(r.api)


def test_cli_with_a_civitai_url(capsys: pytest.CaptureFixture[str], tmp_path: Path, replay: Replayer) -> None:
    from comfyfixer.agent.cli import run

    with replay("civitai_image_a1111.json"):
        code = run(["reconstruct", "https://civitai.com/images/469632", "--no-resolve", "--out", str(tmp_path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["method"] == "civitai" and out["source"] == "civitai image 469632"
    assert [Path(f).name for f in out["files"]] == ["civitai-image-469632.workflow.json", "civitai-image-469632.api.json"]
