"""Search the project's Markdown knowledge pack with BM25 (no database, no embeddings).

Each document in ``comfyfixer.knowledge`` is one topic with YAML front matter (title, tags,
sources, last_reviewed). Documents are split at ``#`` to ``###`` headings so a hit is a
heading-sized section that can be cited as ``doc#heading``. The index is built once per process
from package data (about a hundred sections; a few milliseconds).

When the optional ``comfyui-embedded-docs`` package is installed (the ``docs`` extra), its English
per-node reference pages (inputs, outputs, what the node does) are indexed too, as documents
``node:<ClassName>``. The package is located, never imported.

BM25 (``bm25s``) is lexical: it matches the exact technical words queries are made of (file names,
error text, node names) and needs no model download.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.toolset import capability

PACKAGE = "comfyfixer.knowledge"
NODE_DOCS_PACKAGE = "comfyui_embedded_docs"
NODE_DOCS_SOURCE = "ComfyUI embedded node docs <https://github.com/Comfy-Org/embedded-docs>"
MAX_NODE_DOC_CHARS = 4000
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*$", re.M)
_WORD = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
# Common English words that only add noise to BM25 over short technical sections.
_STOP = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "so", "that", "the", "their", "then", "there", "these", "this", "to", "was", "what", "when", "where", "which", "who", "why", "will", "with", "you", "your"]
)


class KnowledgeQuery(BaseModel):
    """Input of ``search_knowledge``."""

    query: str = Field(
        description="Keywords to look up, e.g. 'flux vae folder', 'mat1 and mat2 shapes', 'sdxl vram 8 GB'.",
        min_length=1,
        max_length=400,
    )
    limit: int = Field(default=4, ge=1, le=10, description="How many sections to return (1-10).")
    tag: str | None = Field(default=None, description="Only documents with this tag (e.g. 'errors', 'models').")
    include_node_docs: bool = Field(
        default=True, description="Also search ComfyUI's per-node reference pages (when installed)."
    )


class KnowledgeHit(BaseModel):
    """One section of a knowledge document."""

    doc: str = Field(description="Document id (file name without .md).")
    title: str = Field(description="Document title.")
    heading: str = Field(description="Section heading; cite as doc#heading.")
    text: str = Field(description="The section's Markdown text.")
    score: float = Field(description="BM25 score; higher is more relevant.")
    sources: list[str] = Field(default_factory=list, description="Public sources the document cites.")


class KnowledgeResult(BaseModel):
    """Sections that match a query, best first."""

    query: str = Field(description="The query as searched.")
    hits: list[KnowledgeHit] = Field(default_factory=list, description="Matching sections.")


@dataclass(frozen=True)
class Section:
    """One searchable unit: a heading-sized piece of a document with the document's title, tags and sources
    (node reference pages are one section each, cut at ``MAX_NODE_DOC_CHARS``).
    """
    doc: str
    title: str
    tags: tuple[str, ...]
    sources: tuple[str, ...]
    heading: str
    text: str


@dataclass(frozen=True)
class KnowledgeDoc:
    """A parsed knowledge document: its id (file name without ``.md``), front matter and Markdown body."""
    doc: str
    meta: dict[str, Any]
    body: str


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens; compound names (``clip_l.safetensors``) also yield their parts.

    Stop words are dropped from plain words and from the parts, but a compound token is kept whole, so a
    query for an exact file name still scores highest on the section that names it.
    """
    out: list[str] = []
    for tok in _WORD.findall(text.lower()):
        parts = re.split(r"[._-]", tok)
        if len(parts) > 1:
            out.append(tok)
            out.extend(p for p in parts if p and p not in _STOP)
        elif tok not in _STOP:
            out.append(tok)
    return out


def parse_document(doc: str, raw: str) -> KnowledgeDoc:
    """Split a document into its front matter and body; a document without front matter is refused.

    Raises ``ValueError`` (a packaging bug) when the front matter is missing or not a
    YAML mapping.
    """
    m = _FRONT_MATTER.match(raw)
    if not m:
        raise ValueError(f"knowledge document {doc!r} has no front matter")
    meta = yaml.safe_load(m.group(1)) or {}
    if not isinstance(meta, dict):
        raise ValueError(f"knowledge document {doc!r}: front matter is not a mapping")
    return KnowledgeDoc(doc=doc, meta=meta, body=raw[m.end():])


def _source_names(meta: dict[str, Any]) -> tuple[str, ...]:
    out = []
    for src in meta.get("sources") or []:
        if isinstance(src, dict):
            out.append(f"{src.get('name', '')} <{src.get('url', '')}>".strip())
        else:
            out.append(str(src))
    return tuple(out)


def split_sections(kd: KnowledgeDoc) -> list[Section]:
    """Cut a document at ``#``-``###`` headings; text before the first heading is its own section.

    Sections with no text under their heading are left out; deeper headings (``####``) stay inside their
    section.
    """
    title = str(kd.meta.get("title") or kd.doc)
    tags = tuple(str(t) for t in kd.meta.get("tags") or [])
    sources = _source_names(kd.meta)
    marks = list(_HEADING.finditer(kd.body))
    chunks: list[tuple[str, str]] = []
    intro = kd.body[: marks[0].start()] if marks else kd.body
    if intro.strip():
        chunks.append((title, intro.strip()))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(kd.body)
        text = kd.body[m.end():end].strip()
        if text:
            chunks.append((m.group(2).strip(), text))
    return [Section(kd.doc, title, tags, sources, heading, text) for heading, text in chunks]


def load_documents() -> list[KnowledgeDoc]:
    """Every ``*.md`` document shipped in the knowledge package, sorted by name (``README.md`` excluded)."""
    docs = []
    for entry in sorted(resources.files(PACKAGE).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".md") and entry.name.lower() != "readme.md":
            docs.append(parse_document(entry.name[:-3], entry.read_text(encoding="utf-8")))
    return docs


class KnowledgeIndex:
    """BM25 over sections. The heading and title count twice: they name the topic.

    Tags are indexed too. Built once per process by :func:`pack_index`/:func:`default_index`.
    """

    def __init__(self, sections: list[Section]) -> None:
        import bm25s

        # bm25s sets its own logger to DEBUG at import, which floods any configured root handler.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.sections = sections
        corpus = [tokenize(f"{s.title} {s.heading} {s.heading} {' '.join(s.tags)} {s.text}") for s in sections]
        self._retriever = bm25s.BM25()
        self._retriever.index(corpus, show_progress=False)

    def search(self, query: str, limit: int = 4, tag: str | None = None) -> list[tuple[Section, float]]:
        """Up to ``limit`` ``(section, score)`` pairs, best first; only positive scores count.

        ``tag`` keeps sections carrying that tag (case-insensitive); the whole corpus is scored then, so a
        rare tag still finds its best ``limit`` sections. An empty query (or one of stop words only) gives
        ``[]``.
        """
        tokens = tokenize(query)
        if not tokens or not self.sections:
            return []
        # Over-fetch when filtering by tag, then cut.
        k = len(self.sections) if tag else min(limit, len(self.sections))
        ids, scores = self._retriever.retrieve([tokens], k=k, show_progress=False)
        hits = []
        for idx, score in zip(ids[0], scores[0], strict=True):
            if score <= 0:
                continue
            section = self.sections[int(idx)]
            if tag and tag.lower() not in (t.lower() for t in section.tags):
                continue
            hits.append((section, float(score)))
            if len(hits) >= limit:
                break
        return hits


def node_doc_sections(root: Path | None = None) -> list[Section]:
    """One section per node class from comfyui-embedded-docs' English pages; [] when not installed.

    ``root`` overrides where the ``<Class>/en.md`` pages are looked for (tests). Each page's first
    ``#`` heading becomes the title; the text is cut at ``MAX_NODE_DOC_CHARS`` (4,000) characters so a
    long page cannot crowd out the pack.
    """
    if root is None:
        spec = importlib.util.find_spec(NODE_DOCS_PACKAGE)  # locates the package without importing it
        if spec is None or not spec.origin:
            return []
        root = Path(spec.origin).parent / "docs"
    sections = []
    for path in sorted(root.glob("*/en.md")):
        text = path.read_text(encoding="utf-8", errors="replace")
        m = re.match(r"\s*#\s+(.+)", text)
        name = path.parent.name
        title = m.group(1).strip() if m else name
        body = (text[m.end():] if m else text).strip()
        sections.append(Section(doc=f"node:{name}", title=f"{title} (node {name})", tags=("node-docs",),
                                sources=(NODE_DOCS_SOURCE,), heading=name, text=body[:MAX_NODE_DOC_CHARS]))
    return sections


@lru_cache(maxsize=1)
def pack_index() -> KnowledgeIndex:
    """The index over the shipped pack (package data never changes while the process runs)."""
    return KnowledgeIndex([s for kd in load_documents() for s in split_sections(kd)])


@lru_cache(maxsize=1)
def default_index() -> KnowledgeIndex:
    """The pack plus the installed node reference pages, if any."""
    nodes = node_doc_sections()
    return KnowledgeIndex(pack_index().sections + nodes) if nodes else pack_index()


@capability(command="knowledge")
def search_knowledge(query: KnowledgeQuery, ctx: ToolContext) -> KnowledgeResult:
    """Search ComfyFixerSmart's knowledge pack: ComfyUI model folders and loaders, model families
    (files, precisions, typical VRAM), custom node packs, samplers, common errors and their fixes,
    and licenses. Returns heading-sized sections with their document and heading; cite them as
    doc#heading. Use it before answering any factual question about ComfyUI."""
    del ctx  # the pack ships with the package
    index = default_index() if query.include_node_docs else pack_index()
    hits = index.search(query.query, query.limit, query.tag)
    return KnowledgeResult(
        query=query.query,
        hits=[
            KnowledgeHit(doc=s.doc, title=s.title, heading=s.heading, text=s.text, score=round(sc, 3),
                         sources=list(s.sources))
            for s, sc in hits
        ],
    )
