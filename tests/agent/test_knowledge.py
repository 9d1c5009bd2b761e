"""The knowledge pack's documents and the BM25 search tool over them."""

from __future__ import annotations

import datetime as dt

import pytest

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.knowledge import (
    KnowledgeQuery,
    default_index,
    load_documents,
    node_doc_sections,
    pack_index,
    search_knowledge,
    split_sections,
    tokenize,
)

# (query, the document that must answer it)
PROBES = [
    ("mat1 and mat2 shapes cannot be multiplied", "common-errors"),
    ("HeaderTooLarge error while deserializing header", "common-errors"),
    ("Value not in list ckpt_name prompt outputs failed validation", "common-errors"),
    ("which folder does a flux ae.safetensors vae go in", "model-family-flux"),
    ("UNETLoader diffusion_models unet legacy folder", "model-folders"),
    ("wan 2.2 5B vae wan2.2_vae", "model-family-wan"),
    ("hugging face gated repository accept licence token 403", "downloads-and-tokens"),
    ("civitai api key download returns html", "downloads-and-tokens"),
    ("qwen image text encoder qwen_2.5_vl_7b", "model-family-hidream-qwen-image"),
    ("QuadrupleCLIPLoader llama 3.1 encoder", "model-family-hidream-qwen-image"),
    ("tune workflow for 8 GB VRAM gguf lowvram", "vram-and-precision"),
    ("dpmpp_2m karras scheduler", "samplers-schedulers"),
    ("HunyuanVideo licence European Union", "licenses"),
    ("VideoHelperSuite video combine node pack", "custom-node-packs"),
    ("automatic1111 parameters png text chunk", "workflow-formats-and-metadata"),
    ("ipadapter clip vision folder", "loras-controlnets-adapters"),
    ("sd3.5 large triple clip t5xxl", "model-family-sd35"),
    ("LTX-Video frame count 8n+1", "model-family-hunyuan-ltx"),
    ("pony diffusion sdxl score_9", "model-family-sd15-sdxl"),
    ("DPM++ 2M Karras sampler name in comfyui", "a1111-to-comfyui"),
    ("clip skip 2 CLIPSetLastLayer", "a1111-to-comfyui"),
    ("portable python_embeded pip install requirements", "comfyui-install-and-update"),
]


@pytest.fixture(scope="module")
def docs():
    return load_documents()


def test_pack_has_enough_documents_with_front_matter(docs) -> None:
    assert len(docs) >= 12
    for kd in docs:
        meta = kd.meta
        assert isinstance(meta.get("title"), str) and meta["title"], kd.doc
        assert isinstance(meta.get("tags"), list) and meta["tags"], kd.doc
        sources = meta.get("sources")
        assert isinstance(sources, list) and sources, kd.doc
        for src in sources:
            assert src.get("name") and str(src.get("url", "")).startswith("https://"), (kd.doc, src)
        reviewed = meta.get("last_reviewed")
        assert isinstance(reviewed, dt.date | str) and str(reviewed)[:4].isdigit(), kd.doc


def test_sections_are_heading_sized(docs) -> None:
    for kd in docs:
        sections = split_sections(kd)
        assert len(sections) >= 3, kd.doc
        for s in sections:
            assert s.heading and s.text.strip(), (kd.doc, s.heading)
            # a section must fit comfortably in one tool result
            assert len(s.text) < 5000, (kd.doc, s.heading, len(s.text))


@pytest.mark.parametrize(("query", "doc"), PROBES, ids=[p[1] + ":" + p[0][:24] for p in PROBES])
def test_search_finds_the_right_document(query: str, doc: str) -> None:
    hits = pack_index().search(query, limit=3)
    assert doc in [s.doc for s, _ in hits], [(s.doc, s.heading) for s, _ in hits]


def test_top_hit_precision_over_the_probe_set() -> None:
    top1 = sum(pack_index().search(q, limit=1)[0][0].doc == d for q, d in PROBES)
    assert top1 / len(PROBES) >= 0.8, f"top-1 precision {top1}/{len(PROBES)}"


def test_tag_filter_and_unknown_words(tmp_path) -> None:
    ctx = ToolContext(cache_dir=tmp_path, state_dir=tmp_path)
    res = search_knowledge(KnowledgeQuery(query="commercial use of outputs", tag="licenses", limit=5), ctx)
    assert res.hits and all(h.doc == "licenses" for h in res.hits)
    assert search_knowledge(KnowledgeQuery(query="zzzqqq xyzzy"), ctx).hits == []
    hit = search_knowledge(KnowledgeQuery(query="HeaderTooLarge", limit=1), ctx).hits[0]
    assert hit.sources and hit.heading and "HeaderTooLarge" in hit.text


def test_tokenize_keeps_compound_names_and_their_parts() -> None:
    toks = tokenize("Put clip_l.safetensors in the text_encoders folder")
    assert "clip_l.safetensors" in toks and "clip" in toks and "safetensors" in toks
    assert "text_encoders" in toks and "the" not in toks


def test_node_reference_pages_are_indexed_when_present(tmp_path) -> None:
    root = tmp_path / "docs"
    for name, body in [("FancyUpscaler", "# Fancy Upscaler\n\nUpscales images with a lanczos kernel.\n\n## Inputs\n\n| `image` |"),
                       ("OtherNode", "# Other\n\nDoes something else entirely.")]:
        (root / name).mkdir(parents=True)
        (root / name / "en.md").write_text(body, encoding="utf-8")
        (root / name / "de.md").write_text("# Anders", encoding="utf-8")
    sections = node_doc_sections(root)
    assert [s.doc for s in sections] == ["node:FancyUpscaler", "node:OtherNode"]
    assert sections[0].title == "Fancy Upscaler (node FancyUpscaler)" and "lanczos" in sections[0].text
    from comfyfixer.tools.knowledge import KnowledgeIndex

    index = KnowledgeIndex(pack_index().sections + sections)
    assert index.search("lanczos upscaler node", limit=1)[0][0].doc == "node:FancyUpscaler"


def test_node_docs_can_be_left_out(tmp_path) -> None:
    ctx = ToolContext(cache_dir=tmp_path, state_dir=tmp_path)
    res = search_knowledge(KnowledgeQuery(query="KSamplerAdvanced add_noise", include_node_docs=False, limit=10), ctx)
    assert all(not h.doc.startswith("node:") for h in res.hits)
    assert len(default_index().sections) >= len(pack_index().sections)
