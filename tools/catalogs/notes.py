"""Model hints from the knowledge pack's notes: which note names a file, in which folder, and which
Hugging Face repos the note cites as its sources.

Notes give no download URLs; the resolver uses their repos as extra places to look for an exact
filename, and their mentions as evidence.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

_FILE = re.compile(r"`([^`\s/]+\.(?:safetensors|gguf|ckpt|pt|pth|bin|sft))`")
_FOLDER = re.compile(r"`(?:models/)?([a-z_]+)`")
_HF_REPO = re.compile(r"^https://huggingface\.co/([A-Za-z0-9][\w.\-]*/[\w.\-]+)/?$")
FOLDER_KINDS = frozenset({"checkpoints", "loras", "vae", "diffusion_models", "text_encoders", "clip_vision",
                          "controlnet", "upscale_models", "embeddings", "model_patches", "style_models", "unet", "clip"})


class NoteHint(BaseModel):
    """One note that mentions a model file: its ``title`` (front matter, else the file stem), ``path`` (the
    note's file name), the Hugging Face repos its ``sources`` cite, and the folder a table row files the
    model under.
    """
    title: str
    path: str
    repos: list[str] = Field(default_factory=list, description="Hugging Face repos the note cites.")
    folder: str | None = Field(None, description="Folder the note files the model under, if a table row says.")


class NotesIndex:
    """``basename → [NoteHint]``, built by :func:`load_notes`."""

    def __init__(self) -> None:
        self.by_name: dict[str, list[NoteHint]] = {}

    def lookup(self, filename: str) -> list[NoteHint]:
        """Hints for ``filename``'s basename (sub-folders ignored); ``[]`` when no note names it."""
        return list(self.by_name.get(filename.replace("\\", "/").rsplit("/", 1)[-1], []))

    def __len__(self) -> int:
        return len(self.by_name)


def _front_matter(text: str) -> tuple[dict[str, object], str]:
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end > 0:
            try:
                meta = yaml.safe_load(text[4:end]) or {}
            except yaml.YAMLError:
                meta = {}
            return (meta if isinstance(meta, dict) else {}), text[end + 4:]
    return {}, text


def load_notes(folder: Path) -> NotesIndex:
    """Read every ``*.md`` note in ``folder``.

    A file counts when it appears in backticks with a model extension; in a Markdown table row, a backticked
    folder kind in a later cell becomes the hint's folder. Only ``https://huggingface.co/<owner>/<repo>``
    source URLs become repos. Bad front matter is ignored (the note still counts, titled by its file name).
    """
    idx = NotesIndex()
    for path in sorted(Path(folder).glob("*.md")):
        meta, body = _front_matter(path.read_text(encoding="utf-8"))
        repos = []
        for src in meta.get("sources") or []:  # type: ignore[attr-defined]
            url = src.get("url") if isinstance(src, dict) else None
            m = _HF_REPO.match(url or "")
            if m:
                repos.append(m.group(1))
        title = str(meta.get("title") or path.stem)
        for line in body.splitlines():
            files = _FILE.findall(line)
            if not files:
                continue
            folder_hint = None
            if line.lstrip().startswith("|"):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                for cell in cells[1:]:
                    fm = _FOLDER.fullmatch(cell)
                    if fm and fm.group(1) in FOLDER_KINDS:
                        folder_hint = fm.group(1)
                        break
            for name in files:
                hints = idx.by_name.setdefault(name, [])
                if not any(h.path == path.name and h.folder == folder_hint for h in hints):
                    hints.append(NoteHint(title=title, path=path.name, repos=repos, folder=folder_hint))
    return idx
