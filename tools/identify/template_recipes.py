"""Recipes read off the official templates: the shortest chain of a template that runs its primary model.

Each official template is a working graph for its primary model (the file its main loader reads) and its
task. The recipe for that model and task is the template's prompt cut down to one output: of every output
node whose inputs lead back to the primary's loader, the one with the fewest upstream nodes, with only
those nodes kept (loader → encoders → sampler → decode → save, or whatever the model needs: an audio
VAE, a 3D decoder, a text generator). Another file of the same family and role is built by putting its
name into that loader.

The template's task comes from ``tools/review`` (what its outputs are and what it loads), mapped onto the
build tasks by :data:`TASKS`. Templates are converted with the newer bundled core schemas (their node
classes are newer than the recorded 0.3.64 dump); validation is ``build_workflow``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from comfyfixer.tools.identify.workflows import WorkflowModels, main_model, template_models
from comfyfixer.tools.model_folders import model_basename
from comfyfixer.tools.resolver.tokens import analyze
from comfyfixer.tools.schema.loader import SchemaSet

log = logging.getLogger(__name__)

Task = Literal["txt2img", "img2img", "inpaint", "upscale", "video", "audio", "3d", "text", "process"]
# The review's task names (tools/review/review.py::infer_task) → the build task that makes the same thing.
TASKS: dict[str, Task] = {
    "text-to-image": "txt2img", "text-to-vector": "txt2img", "image-to-image": "img2img", "image-edit": "img2img",
    "inpaint": "inpaint", "outpaint": "inpaint", "upscale": "upscale", "video-upscale": "upscale",
    "frame-interpolation": "video", "video-to-video": "video", "audio-to-video": "video", "image-to-video": "video",
    "text-to-video": "video", "video-to-audio": "audio", "audio-to-audio": "audio", "text-to-speech": "audio",
    "text-to-audio": "audio", "image-to-3d": "3d", "text-to-3d": "3d", "video-to-text": "text",
    "speech-to-text": "text", "image-to-text": "text", "text-generation": "text", "image-processing": "process",
}
# Model folders of the primary → the identified roles a file in that folder may have.
_ROLE_FOLDERS = {"checkpoints": ("checkpoint",), "diffusion_models": ("diffusion_model",),
                 "unet": ("diffusion_model",), "loras": ("lora", "lycoris"), "upscale_models": ("upscaler",),
                 "controlnet": ("controlnet",), "text_encoders": ("text_encoder",), "clip": ("text_encoder",),
                 "vae": ("vae",)}


@dataclass(frozen=True)
class TemplateRecipe:
    """One template's shortest chain for its primary model, in API format, ids renumbered "1"…"n"."""

    template: str
    task: Task
    primary: str  # file name of the primary model
    folder: str  # its model folder
    api: dict[str, dict[str, Any]]
    loaders: tuple[tuple[str, str], ...]  # (node id, input name) of every input that reads the primary file

    def for_model(self, name: str) -> dict[str, dict[str, Any]]:
        """A copy of the chain that loads ``name`` wherever it loaded the template's file (LTX-2's checkpoint
        is read by three loaders: model, text encoder, audio VAE)."""
        api = {nid: {"class_type": n["class_type"], "inputs": dict(n["inputs"])} for nid, n in self.api.items()}
        for nid, key in self.loaders:
            api[nid]["inputs"][key] = name
        return api


def primary_of(path: Path) -> tuple[str, str] | None:
    """``(file name, folder)`` of a template's primary model, by the inspector (:func:`main_model` over the
    files it lists with the folder each loader reads)."""
    from comfyfixer.tools.workflow.inspect import inspect_source

    try:
        refs = inspect_source(path).models
    except Exception:  # a template the inspector cannot read has no primary here
        log.debug("cannot inspect %s", path, exc_info=True)
        return None
    return main_model((model_basename(r.filename), r.folder, r.active) for r in refs)


def _is_link(value: Any, api: Mapping[str, Any]) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and value[0] in api


def _upstream(api: Mapping[str, dict[str, Any]], start: str) -> list[str]:
    """``start`` and every node it depends on, dependencies first."""
    order: list[str] = []
    seen: set[str] = set()
    stack: list[tuple[str, bool]] = [(start, False)]
    while stack:
        nid, done = stack.pop()
        if done:
            order.append(nid)
            continue
        if nid in seen:
            continue
        seen.add(nid)
        stack.append((nid, True))
        stack.extend((v[0], False) for v in api[nid]["inputs"].values() if _is_link(v, api) and v[0] not in seen)
    return order


def shortest_chain(api: Mapping[str, dict[str, Any]], schemas: SchemaSet, primary: str, task: str | None = None
                   ) -> tuple[dict[str, dict[str, Any]], tuple[tuple[str, str], ...]] | None:
    """The output with the fewest upstream nodes among those that reach a node reading ``primary`` (an output
    of the ``task``'s kind first: a video for video), as a renumbered prompt, with each (node id, input) in it
    that reads the file; ``None`` when no output does."""
    from comfyfixer.tools.review.graphfacts import names_kind

    readers = {nid: key for nid, n in api.items() for key, v in n["inputs"].items()
               if isinstance(v, str) and model_basename(v) == primary}
    # An output of the task's kind first: text-to-image-to-video's shortest chain is the first image's
    # preview, which is no video workflow.
    wanted = task if task in ("video", "audio", "3d") else None
    best: list[str] | None = None
    best_key: tuple[bool, int] | None = None
    for nid, node in api.items():
        schema = schemas.get(node["class_type"])
        if schema is None or not schema.output_node or not any(_is_link(v, api) for v in node["inputs"].values()):
            continue  # not an output, or one whose inputs were all cut off (fed by a muted node)
        chain = _upstream(api, nid)
        key = (wanted is not None and not names_kind(node["class_type"], wanted), len(chain))
        if any(r in chain for r in readers) and (best_key is None or key < best_key):
            best, best_key = chain, key
    if best is None:
        return None
    ids = {old: str(i) for i, old in enumerate(best, 1)}
    out: dict[str, dict[str, Any]] = {}
    for old in best:
        inputs = {k: ([ids[v[0]], v[1]] if _is_link(v, api) else v) for k, v in api[old]["inputs"].items()
                  if not _is_link(v, api) or v[0] in ids}
        out[ids[old]] = {"class_type": api[old]["class_type"], "inputs": inputs}
    return out, tuple((ids[r], readers[r]) for r in best if r in readers)


def derive(path: Path, schemas: SchemaSet) -> TemplateRecipe | None:
    """The recipe of one template file, or ``None`` when it has no primary model or no output reaches it."""
    from comfyfixer.tools.review.review import review_loaded
    from comfyfixer.tools.workflow.convert import graph_to_api
    from comfyfixer.tools.workflow.loader import load_workflow

    found = primary_of(path)
    if found is None:
        return None
    primary, folder = found
    try:
        api = graph_to_api(load_workflow(path).graph, schemas, fill_defaults=True)
        task = TASKS.get(review_loaded(load_workflow(path), schemas).task, "process")
    except Exception:  # an unreadable template gives no recipe; the others still do
        log.debug("cannot derive a recipe from %s", path, exc_info=True)
        return None
    chain = shortest_chain(api, schemas, primary, task)
    if chain is None:
        return None
    return TemplateRecipe(template=path.stem, task=task, primary=primary, folder=folder, api=chain[0],
                          loaders=chain[1])


class TemplateRecipes:
    """Recipes of a set of template folders, each template read once and derived at most once."""

    def __init__(self, folders: Iterable[Path], schemas: SchemaSet) -> None:
        self.schemas = schemas
        self.folders = list(folders)
        self.paths = sorted(p for f in self.folders for p in Path(f).glob("*.json"))
        self._models: list[WorkflowModels] | None = None
        self._text: dict[Path, str] = {}
        self._recipe: dict[Path, TemplateRecipe | None] = {}

    def _mentions(self, path: Path, name: str) -> bool:
        if path not in self._text:
            self._text[path] = path.read_text(encoding="utf-8", errors="replace")
        return name in self._text[path]

    def recipe(self, path: Path) -> TemplateRecipe | None:
        """The recipe of one template (derived on first use)."""
        if path not in self._recipe:
            self._recipe[path] = derive(path, self.schemas)
        return self._recipe[path]

    def candidates(self, name: str, role: str, family: str | None, task: str | None,
                   family_of: Callable[[str], str | None]) -> Iterator[TemplateRecipe]:
        """Recipes for model file ``name`` and ``task`` (any when ``None``), best first: from the templates whose
        primary is that file (shortest chain first), then from those whose primary is another file of the same
        family in a folder of the model's role.

        ``family_of(file)`` names a file's family (the identifier's name rules). Templates that mention the
        file are read first; the family search reads the models of every template once.
        """
        own = [r for path in self.paths if self._mentions(path, name)
               if (r := self.recipe(path)) is not None and r.primary == name and task in (None, r.task)]
        own.sort(key=lambda r: len(r.api))  # the shortest chain is the minimal workflow
        paid: list[TemplateRecipe] = []
        for r in own:
            if self._paid(n["class_type"] for n in r.api.values()):
                paid.append(r)
            else:
                yield r
        kin: list[WorkflowModels] = []
        if family is not None:
            if self._models is None:
                self._models = template_models(self.folders)
            roles = ("checkpoint", "diffusion_model") if role in (None, "unknown") else (role,)
            for wm in self._models:
                primary = wm.primary
                folder = next((f for n, f in wm.models if n == primary), None)
                if primary is None or not set(roles) & set(_ROLE_FOLDERS.get(folder or "", ())):
                    continue
                if family_of(primary) == family and primary != name and _same_model(name, primary):
                    kin.append(wm)
        # Templates of the same version and size first (LTX-2 19B before LTX-2.3 22B for an LTX-2 19B file),
        # then the smallest graph; each is derived only when reached. A chain that calls a paid API comes
        # after every one that does not, the template's own included.
        kin.sort(key=lambda wm: (_other_variant(name, wm.primary or ""), len(wm.classes)))
        free_kin: list[WorkflowModels] = []
        paid_kin: list[WorkflowModels] = []
        for k in kin:
            (paid_kin if self._paid(k.classes) else free_kin).append(k)
        yield from self._kin_recipes(free_kin, name, task)
        yield from paid
        yield from self._kin_recipes(paid_kin, name, task)

    def _kin_recipes(self, kin: Iterable[WorkflowModels], name: str, task: str | None) -> Iterator[TemplateRecipe]:
        """The recipes of ``kin`` templates for another file (``name``) and ``task``, each derived when reached."""
        for wm in kin:
            recipe = self.recipe(Path(wm.location))
            if recipe is not None and recipe.primary != name and task in (None, recipe.task):
                yield recipe

    def _paid(self, classes: Iterable[str]) -> bool:
        """Whether any of ``classes`` calls a paid remote API (ComfyUI's ``api_node`` flag)."""
        return any((schema := self.schemas.get(c)) is not None and schema.api_node for c in classes)


def _same_model(name: str, other: str) -> bool:
    """Whether two files of one family are the same model as far as the review's finer family table says:
    Bernini-R and SCAIL are built on Wan but are not a Wan text-to-video model, so a Wan file is not put
    into their chains. Unknown to that table counts as the same."""
    from comfyfixer.tools.review.families import family_of_file

    a, b = family_of_file(name), family_of_file(other)
    return a is None or b is None or a.id == b.id


def _other_variant(name: str, other: str) -> int:
    """How many of version and parameter count the file names say differ (precision does not: the same
    chain loads an fp8 and a bf16 file alike)."""
    a, b = analyze(name), analyze(other)
    return int(bool(a.versions and b.versions and a.versions != b.versions)) + int(
        bool(a.params and b.params and a.params != b.params))
