"""A tuned copy of a workflow for a VRAM target: setting changes that make the estimate fit, written
as the next free ``<name>.vN.json`` (never overwriting), validated against the node schemas.

Changes are tried in order of cost, each only while the estimate still does not fit:

1. ``batch_size`` → 1 (same images, one at a time);
2. Load Diffusion Model ``weight_dtype`` → ``fp8_e4m3fn`` for a 16-bit diffusion model: the file is
   cast as it loads, halving its VRAM with no download (small quality loss,
   knowledge/vram-and-precision.md);
3. VAE Decode → VAE Decode (Tiled) with the schema's default tiles (slower decode, same image);
4. lower frames (video, to no fewer than 33) and then resolution (to no less than 512 px on the short
   side, multiples of 16) until the working set leaves room for weights — a different output, said so.

5. lighter files that exist: an fp8 text encoder, then the largest fp8 or GGUF file of the diffusion
   model whose sampling stage fits (ComfyUI-Manager's catalog and the recorded Hugging Face file lists
   of :mod:`~comfyfixer.tools.fit.recorded`; a GGUF swaps the loader for ComfyUI-GGUF's ``UnetLoaderGGUF``);
   then a smaller model of the same family the same loader reads (recorded swaps: SD 3.5 Large →
   Medium, unless a Large-only ControlNet or a LoRA is loaded);
6. fewer frames / a lower resolution again, now until the sampling stage fits beside its weights
   (same floors);
7. still too big, Wan 14B text-to-video: the official Wan 2.2 TI2V 5B template with the workflow's
   prompts (:mod:`~comfyfixer.tools.fit.familyswap`), and steps 1–6 again on it.

Weight streaming that remains (``FITS_OFFLOAD``) is reported with its slowdown; quantised variants
that would remove it (fp8 files, GGUF Q8_0 … Q4_K through ComfyUI-GGUF) are listed as suggestions
with their VRAM after the change, for the resolver and the plan → approve → apply path to fetch.

Validation: the copy is converted to an API prompt and checked with
:func:`~comfyfixer.tools.reconstruct.validate.validate_api` against the same schemas as the original;
the tune must add no error (templates newer than the schemas may already have some).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from comfyfixer.tools import precision
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.fit.estimate import estimate
from comfyfixer.tools.fit.families import MIN_INFERENCE_BYTES, GiB
from comfyfixer.tools.fit.models import VRAM_RANGE_GB, FitReport
from comfyfixer.tools.fit.recorded import lighter_files, variant_source
from comfyfixer.tools.fit.variants import GGUF_PACK, gguf_schemas
from comfyfixer.tools.toolset import capability
from comfyfixer.tools.workflow.copies import next_version, read_ui_workflow, write_new

log = logging.getLogger(__name__)

MIN_FRAMES = 33
MIN_SHORT_SIDE = 512
# Leave at least this share of VRAM for weights when lowering the size: below it, nearly every
# weight streams each step and the run is --novram-slow.
WEIGHT_SHARE = 0.35
_GGUF_VARIANTS = tuple((name, precision.BY_SPELLING[name.lower()].bytes_per_param, cost) for name, cost in (
    ("Q8_0", "close to 16-bit quality"), ("Q5_K_M", "good trade-off"), ("Q4_K_M", "some loss of detail")))


class TuneInput(BaseModel):
    """Arguments of ``tune_workflow``."""

    path: str = Field(description="The workflow to tune: UI JSON, or an image that embeds one.")
    vram_gb: float = Field(ge=VRAM_RANGE_GB[0], le=VRAM_RANGE_GB[1], description="VRAM target in GB (8 for an 8 GB card).")
    dry_run: bool = Field(default=False, description="Only show the changes; write nothing.")
    variants: bool = Field(default=True, description="Also swap in lighter files the model catalog lists (fp8, GGUF).")
    faster: bool = Field(default=False, description="Also cut sampling steps with a distilled LoRA the family has "
                         "(wired as LoraLoaderModelOnly, steps set as its model card says).")


class TuneChange(BaseModel):
    """One setting changed in the copy."""

    node_id: str = Field(description="The node changed (inner subgraph nodes as '<instance>:<inner>').")
    class_type: str = Field(description="Its class (after the change).")
    input: str = Field(description="The input or 'class_type'.")
    old: Any = Field(description="Value before.")
    new: Any = Field(description="Value after.")
    why: str = Field(description="What it saves and what it costs.")


class VariantSuggestion(BaseModel):
    """A lighter model file that would make the diffusion model fit, for the resolver to find."""

    replaces: str = Field(description="The file it replaces.")
    variant: str = Field(description="fp8 or a GGUF quantisation.")
    weights_gb: float = Field(description="Its weights in GB.")
    peak_gb: float = Field(description="The sampling stage's VRAM with it.")
    needs: str | None = Field(default=None, description="A custom node pack it needs (ComfyUI-GGUF).")
    cost: str = Field(description="Quality cost (knowledge/vram-and-precision.md).")


class TuneResult(BaseModel):
    """What ``tune_workflow`` changed and whether the copy fits."""

    path: str = Field(description="The original workflow.")
    written: str | None = Field(default=None, description="The tuned copy (None on a dry run or with no change).")
    vram_gb: float = Field(description="The target.")
    before: FitReport = Field(description="The original's estimate.")
    after: FitReport = Field(description="The copy's estimate.")
    changes: list[TuneChange] = Field(default_factory=list, description="Settings changed, in order.")
    variants: list[VariantSuggestion] = Field(default_factory=list, description="Lighter files that would remove weight streaming.")
    validation_errors: list[str] = Field(default_factory=list, description="Errors the copy has against the schemas that the original has not (must be empty).")
    notes: list[str] = Field(default_factory=list, description="What could not be changed and why.")


def _raw_nodes(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(scope, node) for the top-level nodes and every subgraph definition's nodes."""
    for node in doc.get("nodes") or []:
        if isinstance(node, dict):
            yield "top", node
    for sg in (doc.get("definitions") or {}).get("subgraphs") or []:
        for node in sg.get("nodes") or [] if isinstance(sg, dict) else []:
            if isinstance(node, dict):
                yield str(sg.get("id")), node


def _raw_for(doc: dict[str, Any], node_id: str) -> dict[str, Any] | None:
    """The raw UI node for an inspector id (``"12"`` or ``"<instance>:<inner>"``)."""
    inner = node_id.rsplit(":", 1)[-1]
    top_level = ":" not in node_id
    for scope, node in _raw_nodes(doc):
        if str(node.get("id")) == inner and (scope == "top") == top_level:
            return node
    return None


def _widget_slot(schemas: Any, class_type: str, name: str) -> int | None:
    """Index of widget ``name`` in a node's ``widgets_values`` (control values after seeds counted)."""
    schema = schemas.get(class_type)
    if schema is None:
        return None
    i = 0
    for spec in schema.widget_inputs():
        if spec.name == name:
            return i
        i += 1 + spec.extra_widget_slots
    return None


def _set_widget(doc: dict[str, Any], schemas: Any, node_id: str, class_type: str, name: str, value: Any) -> Any:
    """Set widget ``name`` of a node in the raw document; returns the old value, or raises KeyError."""
    node = _raw_for(doc, node_id)
    slot = _widget_slot(schemas, class_type, name)
    values = node.get("widgets_values") if node is not None else None
    if node is None or slot is None or not isinstance(values, list) or slot >= len(values):
        raise KeyError(name)
    old = values[slot]
    values[slot] = value
    return old


class _Tuner:
    """Applies changes to a copy of the document and re-estimates after each."""

    def __init__(self, path: Path, doc: dict[str, Any], vram: int, ctx: ToolContext) -> None:
        from comfyfixer.tools.fit.capability import fit_sources

        self.path, self.doc, self.vram, self.ctx = path, doc, vram, ctx
        # ComfyUI-GGUF's loader is known besides the context's schemas, so a GGUF swap maps and validates.
        self.schemas = ctx.schemas().merged(gguf_schemas())
        self.sources = fit_sources(ctx)
        self.changes: list[TuneChange] = []
        self.notes: list[str] = []
        self.graph: Any = None
        self.report = self.estimate()

    def estimate(self) -> FitReport:
        """The estimate of the current document (and its graph, for finding nodes)."""
        from comfyfixer.tools.workflow.inspect import inspect_loaded
        from comfyfixer.tools.workflow.loader import load_workflow

        loaded = load_workflow(copy.deepcopy(self.doc), origin=str(self.path))
        inspection = inspect_loaded(loaded, schemas=self.schemas)
        self.graph = loaded.graph
        self.report = estimate(str(self.path), loaded.graph, inspection.models, self.schemas, self.sources,
                               self.vram, f"--vram {self.vram / GiB:g} GB")
        return self.report

    def refresh(self, before: int) -> None:
        """Re-estimate when a step changed something since it had ``before`` changes (a copy is costly)."""
        if len(self.changes) != before:
            self.estimate()

    @property
    def fits(self) -> bool:
        """The current document's estimate fits the target without offloading."""
        return self.report.verdict == "FITS"

    def change(self, node_id: str, class_type: str, name: str, value: Any, why: str) -> bool:
        """Set one widget and record it; False (with a note) when the node has no such widget slot."""
        try:
            old = _set_widget(self.doc, self.schemas, node_id, class_type, name, value)
        except KeyError:
            self.notes.append(f"{class_type} node {node_id}: {name} could not be changed (no such widget)")
            return False
        if old == value:
            return False
        self.changes.append(TuneChange(node_id=node_id, class_type=class_type, input=name, old=old, new=value, why=why))
        return True

    def current(self, node: Any, name: str) -> int | None:
        """The value ComfyUI will use for an integer widget we can edit: a literal, or the stored value of
        a widget promoted to its subgraph's inputs (origin ``<instance>:-10``). A value another node
        computes cannot be edited here: None, with a note."""
        from comfyfixer.tools.workflow.graph import Link
        from comfyfixer.tools.workflow.widgets import widget_inputs

        value = node.inputs.get(name)
        if isinstance(value, Link):
            if not value.origin.endswith(":-10"):
                self.notes.append(f"{node.class_type} node {node.id}: {name} is set by node {value.origin}; change it there")
                return None
            value = widget_inputs(node, self.schemas.get(node.class_type))[0].get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def latent_nodes(self) -> Iterator[Any]:
        """Active nodes that set the sampling size (width and height widgets)."""
        for node in self.graph.nodes.values():
            if node.active and not node.virtual and _widget_slot(self.schemas, node.class_type, "width") is not None \
                    and _widget_slot(self.schemas, node.class_type, "height") is not None:
                yield node

    def batch_one(self) -> None:
        """Step 1: every batch above 1 becomes 1."""
        before = len(self.changes)
        for node in list(self.latent_nodes()):
            batch = self.current(node, "batch_size") if "batch_size" in node.inputs else None
            if batch is not None and batch > 1:
                self.change(node.id, node.class_type, "batch_size", 1,
                            f"batch {batch} → 1: the working set shrinks {batch}×; run the queue {batch} times instead")
        self.refresh(before)

    def fp8_cast(self) -> None:
        """Step 2: 16-bit diffusion models loaded by a node with ``weight_dtype`` are cast to fp8 at load."""
        before = len(self.changes)
        for m in self.report.models:
            node = self.graph.nodes.get(m.node_id)
            if m.role != "diffusion" or node is None or "weight_dtype" not in node.inputs:
                continue
            per = m.bytes / m.parameters if m.parameters else None
            named = precision.bytes_per_param(m.filename)  # the name's tag, when the header gave no parameters
            sixteen = (per is not None and per >= 1.9) or (
                per is None and (named is None or named >= 2) and not precision.base_name(m.filename).endswith(".gguf"))
            if sixteen and node.inputs.get("weight_dtype") == "default":
                self.change(m.node_id, node.class_type, "weight_dtype", "fp8_e4m3fn",
                            f"{m.filename} is cast to fp8 as it loads: its {m.bytes / GiB:.1f} GB of weights halve, no "
                            "download; small quality loss (knowledge/vram-and-precision.md)")
        self.refresh(before)

    def tiled_decode(self) -> None:
        """Step 3: VAE Decode becomes VAE Decode (Tiled) with the schema's defaults, when the decode
        reservation exceeds the target."""
        decode = next((st for st in self.report.stages if st.stage == "vae_decode"), None)
        if decode is None or decode.bytes <= self.vram or self.report.tiled_decode:
            return
        spec = self.schemas.get("VAEDecodeTiled")
        if spec is None:
            self.notes.append("VAEDecodeTiled is not in the node schemas: decode left as it is")
            return
        defaults = [s.default for s in spec.widget_inputs()]
        for node in list(self.graph.nodes.values()):
            if node.class_type != "VAEDecode" or not node.active:
                continue
            raw = _raw_for(self.doc, node.id)
            if raw is None:
                continue
            raw["type"] = "VAEDecodeTiled"
            raw["widgets_values"] = defaults
            if isinstance(raw.get("properties"), dict) and "Node name for S&R" in raw["properties"]:
                raw["properties"]["Node name for S&R"] = "VAEDecodeTiled"
            self.changes.append(TuneChange(
                node_id=node.id, class_type="VAEDecodeTiled", input="class_type", old="VAEDecode", new="VAEDecodeTiled",
                why=f"decode in {defaults[0]} px tiles: the decode buffer drops from {decode.bytes / GiB:.1f} GB to a "
                    "tile's; slower decode, same image (faint seams are possible)"))
        self.estimate()

    def smaller(self, to_fit: bool = False) -> None:
        """Lower frames, then resolution, until the working set leaves ``WEIGHT_SHARE`` of VRAM for weights
        (``to_fit``: until the sampling stage fits beside the weights it now has — the last step, after
        the lighter files)."""
        for _ in range(12):
            sampling = next((st for st in self.report.stages if st.stage == "sampling"), None)
            if sampling is None:
                return
            fixed = sampling.bytes - sampling.weights_bytes
            budget = self.vram - sampling.weights_bytes if to_fit else self.vram * (1 - WEIGHT_SHARE)
            if to_fit and budget <= MIN_INFERENCE_BYTES:
                self.notes.append(f"the sampling weights ({sampling.weights_bytes / GiB:.1f} GB) leave no room for a "
                                  "working set: a smaller size cannot make it fit")
                return
            if fixed <= budget or self.fits:
                return
            working = fixed - MIN_INFERENCE_BYTES
            room = max(budget - MIN_INFERENCE_BYTES, 0.05 * working)
            factor = max(room / working, 0.25)
            if not self._shrink(factor):
                sized = any(self.current(n, "width") is not None for n in self.latent_nodes())
                self.notes.append("the working set is still larger than the target: " + (
                    f"frames and resolution are at their floor ({MIN_FRAMES} frames, {MIN_SHORT_SIDE} px)" if sized else
                    "no node in the workflow sets the size (it follows an input image, or the family's default was "
                    "assumed): make the input image smaller"))
                return
            self.estimate()

    def _shrink(self, factor: float) -> bool:
        """Scale frames (video) or the area by ``factor``; False when both are at their floor."""
        changed = False
        for node in list(self.latent_nodes()):
            length = self.current(node, "length") if "length" in node.inputs else None
            if length is not None and length > MIN_FRAMES:
                new = max(MIN_FRAMES, int((length - 1) * factor) // 4 * 4 + 1)
                if new < length and self.change(node.id, node.class_type, "length", new,
                                                f"{length} → {new} frames: a shorter clip; the working set shrinks "
                                                "with the latent frames"):
                    changed = True
                continue
            w, h = self.current(node, "width"), self.current(node, "height")
            if w is None or h is None:
                continue
            scale = math.sqrt(factor)
            scale = max(scale, MIN_SHORT_SIDE / min(w, h))
            nw, nh = int(w * scale) // 16 * 16, int(h * scale) // 16 * 16
            if nw < w or nh < h:
                why = (f"{w}×{h} → {nw}×{nh}: the working set shrinks with the area; upscale afterwards "
                       "(a lower-resolution render, not the same image)")
                changed |= self.change(node.id, node.class_type, "width", nw, why)
                changed |= self.change(node.id, node.class_type, "height", nh, why)
        return changed


def _stage(report: FitReport, name: str) -> Any:
    return next((st for st in report.stages if st.stage == name), None)


def _swap_file(raw: dict[str, Any], old: str, new: str, url: str, folder: str) -> None:
    """Point the node's ``properties.models`` entry (what the frontend and the inspector read for the
    download) at the new file."""
    models = (raw.get("properties") or {}).get("models")
    if isinstance(models, list):
        for entry in models:
            if isinstance(entry, dict) and entry.get("name") == old:
                entry.update(name=new, url=url, directory=folder)


class _VariantSteps:
    """Step 5 of the tuner: lighter files that exist — in ComfyUI-Manager's model catalog or in a recorded
    Hugging Face file list (tools/fit/recorded.py)."""

    def __init__(self, tuner: _Tuner) -> None:
        self.t = tuner

    def file_widget(self, node: Any, filename: str) -> str | None:
        """The widget of ``node`` that holds ``filename``."""
        from comfyfixer.tools.workflow.widgets import widget_inputs

        stored = widget_inputs(node, self.t.schemas.get(node.class_type))[0]
        return next((k for k, v in stored.items() if v == filename), None)

    def text_encoders(self, catalog: Any) -> None:
        """16-bit text encoders → the catalog's fp8 file of the same encoder, while conditioning is over."""
        t = self.t
        for m in sorted((m for m in t.report.models if m.role == "text_encoder"), key=lambda m: -m.bytes):
            cond = _stage(t.report, "conditioning")
            if cond is None or cond.bytes <= t.vram:
                return
            node = t.graph.nodes.get(m.node_id)
            fp8 = [v for v in lighter_files(catalog, m.filename, m.bytes) if not v.gguf]
            widget = self.file_widget(node, m.filename) if node is not None else None
            if not fp8 or widget is None:
                continue
            v = fp8[0]
            if t.change(m.node_id, node.class_type, widget, v.filename,
                        f"{m.filename} → {v.filename} ({v.bytes / GiB:.1f} GB, {variant_source(v)}): "
                        "the same encoder in fp8; slight loss of prompt adherence"):
                _swap_file(_raw_for(t.doc, m.node_id) or {}, m.filename, v.filename, v.url, "text_encoders")
                t.estimate()

    def diffusion(self, catalog: Any) -> None:
        """Each diffusion model → the largest catalog variant whose sampling stage fits (fp8 file with
        the same loader, else GGUF through ComfyUI-GGUF's UnetLoaderGGUF)."""
        t = self.t
        for m in [m for m in t.report.models if m.role == "diffusion"]:
            sampling = _stage(t.report, "sampling")
            if sampling is None or sampling.bytes <= t.vram:
                return
            node = t.graph.nodes.get(m.node_id)
            if node is None or node.class_type != "UNETLoader":
                continue
            room = t.vram - (sampling.bytes - sampling.weights_bytes)
            fitting = [v for v in lighter_files(catalog, m.filename, m.bytes) if v.bytes <= room]
            if not fitting:
                t.notes.append(f"no known variant of {m.filename} (model catalog, recorded file lists) is small enough "
                               f"(needs at most {max(room, 0) / GiB:.1f} GB of weights)")
                continue
            v = fitting[0]
            raw = _raw_for(t.doc, m.node_id)
            if raw is None:
                continue
            cast = any(c.node_id == m.node_id and c.input == "weight_dtype" for c in t.changes)
            held = f"{m.bytes / GiB:.1f} GB {'cast to fp8' if cast else ''}".strip()
            why = f"{m.filename} ({held}) → {v.filename} ({v.bytes / GiB:.1f} GB, {variant_source(v)})"
            if v.gguf:
                # An fp8 cast asked of UNETLoader earlier no longer applies: the GGUF loader has no weight_dtype.
                t.changes = [c for c in t.changes if not (c.node_id == m.node_id and c.input == "weight_dtype")]
                raw["type"] = "UnetLoaderGGUF"
                raw["widgets_values"] = [v.filename]
                raw["inputs"] = [i for i in raw.get("inputs") or [] if not (isinstance(i, dict) and i.get("name") == "weight_dtype")]
                props = raw.setdefault("properties", {})
                if isinstance(props, dict):
                    props.pop("cnr_id", None)
                    props.pop("ver", None)
                    props["aux_id"] = "city96/ComfyUI-GGUF"
                    props["Node name for S&R"] = "UnetLoaderGGUF"
                t.changes.append(TuneChange(
                    node_id=m.node_id, class_type="UnetLoaderGGUF", input="class_type", old="UNETLoader",
                    new="UnetLoaderGGUF", why=f"{why}: {v.label} through ComfyUI-GGUF ({GGUF_PACK}); quality close to "
                    "16-bit at Q8/Q6, some loss of detail at Q4 and below (knowledge/vram-and-precision.md)"))
                t.changes.append(TuneChange(node_id=m.node_id, class_type="UnetLoaderGGUF", input="unet_name",
                                            old=m.filename, new=v.filename, why=why))
            else:
                t.change(m.node_id, "UNETLoader", "unet_name", v.filename, f"{why}: the same model in fp8")
                t.change(m.node_id, "UNETLoader", "weight_dtype", "default", "the file is fp8 already")
            _swap_file(raw, m.filename, v.filename, v.url, "diffusion_models")
            t.estimate()


    def smaller_member(self) -> None:
        """A diffusion model or checkpoint → a smaller model of its family that the same loader reads
        (recorded swaps only, and only when nothing in the workflow is made for the larger model)."""
        from comfyfixer.tools.fit.recorded import family_swaps

        t = self.t
        for m in [m for m in t.report.models if m.role in ("diffusion", "checkpoint")]:
            sampling = _stage(t.report, "sampling")
            if sampling is None or sampling.bytes <= t.vram:
                return
            name = m.filename.rsplit("/", 1)[-1]
            swap = next((s for s in family_swaps() if s.replaces == name), None)
            node = t.graph.nodes.get(m.node_id)
            widget = self.file_widget(node, m.filename) if node is not None and swap is not None else None
            if swap is None or widget is None:
                continue
            blocking = [w.filename for w in t.report.models if w.role in swap.unless_role
                        or any(w.filename.rsplit("/", 1)[-1].startswith(p) for p in swap.unless_loaded)]
            if blocking:
                t.notes.append(f"{name} → {swap.with_file} not possible: {', '.join(blocking)} is made for the larger model")
                continue
            if t.change(m.node_id, node.class_type, widget, swap.with_file,
                        f"{name} → {swap.with_file} ({swap.size_label}, {swap.repo} file list ({swap.listing})): {swap.cost}"):
                _swap_file(_raw_for(t.doc, m.node_id) or {}, m.filename, swap.with_file, swap.url, swap.folder)
                t.estimate()


def variant_suggestions(report: FitReport, vram: int) -> list[VariantSuggestion]:
    """fp8 and GGUF variants of the largest diffusion model, with the sampling peak each would give."""
    sampling = next((st for st in report.stages if st.stage == "sampling"), None)
    main = max((m for m in report.models if m.role in ("diffusion", "checkpoint")), key=lambda m: m.bytes, default=None)
    if sampling is None or main is None or sampling.bytes <= vram:
        return []
    diffusion = main.parts.get("diffusion", main.bytes) if main.role == "checkpoint" else main.bytes
    params = main.parameters or int(diffusion / (precision.bytes_per_param(main.filename) or 2.0))
    rest = sampling.bytes - diffusion
    out = []
    if diffusion > params * 1.5:
        out.append(VariantSuggestion(replaces=main.filename, variant="fp8 (e4m3fn, scaled)", weights_gb=round(params / GiB, 1),
                                     peak_gb=round((rest + params) / GiB, 1), cost="small quality loss"))
    for name, per, cost in _GGUF_VARIANTS:
        w = int(params * per)
        if w < diffusion:
            out.append(VariantSuggestion(replaces=main.filename, variant=f"GGUF {name}", weights_gb=round(w / GiB, 1),
                                         peak_gb=round((rest + w) / GiB, 1), needs="ComfyUI-GGUF (UnetLoaderGGUF)", cost=cost))
    return out


def _issues(doc: dict[str, Any], schemas: Any) -> set[str]:
    from comfyfixer.tools.reconstruct.validate import validate_api
    from comfyfixer.tools.workflow.convert import ui_to_api

    report = validate_api(ui_to_api(doc, schemas), schemas)
    # Keyed by node, input and kind, not class or message: a problem the original already had on a
    # node (e.g. a widget promoted to a subgraph input the converter cannot follow) stays the same
    # problem when the tune swaps that node's loader class.
    return {f"node {e.node_id} {e.input or ''}: {e.kind}" for e in report.errors}


@capability(command="tune", side_effects=True)
def tune_workflow(inp: TuneInput, ctx: ToolContext, *, out_dir: Path | None = None) -> TuneResult:
    """Make a workflow fit a VRAM target: batch 1, fp8 cast of a 16-bit diffusion model at load
    (weight_dtype), tiled VAE decode, then fewer frames or a lower resolution — each only while the
    estimate still does not fit, each with what it costs. Writes the copy as the next free
    <name>.vN.json beside the original (never overwriting), validated against the node schemas, and
    lists fp8/GGUF variants that would remove weight streaming. faster also wires a distilled LoRA
    (FLUX.1 dev: Hyper-SD 8 steps) and lowers the steps as its card says. dry_run shows the changes only."""
    path = Path(inp.path).expanduser()
    doc = read_ui_workflow(path, what="tune")
    vram = int(inp.vram_gb * GiB)
    tuner = _Tuner(path, copy.deepcopy(doc), vram, ctx)
    before = tuner.report
    steps = [tuner.batch_one, tuner.fp8_cast, tuner.tiled_decode, tuner.smaller]
    catalog = ctx.catalog() if inp.variants else None
    if inp.variants:
        # Lighter files: the Manager's catalog (when loaded) and the recorded Hugging Face file lists.
        variant_steps = _VariantSteps(tuner)
        steps += [lambda: variant_steps.text_encoders(catalog), lambda: variant_steps.diffusion(catalog),
                  variant_steps.smaller_member]
        if catalog is None:
            tuner.notes.append("ComfyUI-Manager's model catalog is not loaded: only the recorded file lists were "
                               "searched for lighter files (run `comfyfixer catalogs refresh`)")
    steps.append(lambda: tuner.smaller(to_fit=True))
    base = doc  # what the copy's validation is compared with
    for step in steps:
        if tuner.fits:
            break
        step()
    if not tuner.fits and inp.variants:
        from comfyfixer.tools.fit.familyswap import rebuild_as_5b

        if rebuild_as_5b(tuner):  # a smaller family member with its own graph: the same steps again on it
            base = copy.deepcopy(tuner.doc)
            for step in [tuner.batch_one, tuner.fp8_cast, tuner.tiled_decode, tuner.smaller, *steps[4:]]:
                if tuner.fits:
                    break
                step()
    if not tuner.fits:
        tuner.tiled_decode()  # decoding still reserves more than the card has: tile it even when sampling streams
    if inp.faster:
        from comfyfixer.tools.fit.stepcut import cut_steps

        cut_steps(tuner, catalog if catalog is not None else ctx.catalog())
    after = tuner.report
    schemas = tuner.schemas
    new_errors = sorted(_issues(tuner.doc, schemas) - _issues(base, schemas)) if tuner.changes else []
    result = TuneResult(path=str(path), vram_gb=inp.vram_gb, before=before, after=after, changes=tuner.changes,
                        variants=variant_suggestions(after, vram), validation_errors=new_errors, notes=tuner.notes)
    if not tuner.changes:
        result.notes.append("nothing to change: " + ("it already fits" if before.verdict == "FITS" else
                                                     "no setting lowers the need; see the variants"))
    if any(c.new == "UnetLoaderGGUF" for c in tuner.changes):
        result.notes.append(f"the copy needs the ComfyUI-GGUF pack ({GGUF_PACK}) and the new files: plan them with "
                            "`comfyfixer fix <copy>` (or `tune --plan`), then approve and apply the plan")
    if tuner.changes and not inp.dry_run and not new_errors:
        target = next_version(path, out_dir)
        write_new(target, tuner.doc)
        result.written = str(target)
    elif new_errors:
        result.notes.append("the copy was not written: the changes made it invalid against the node schemas")
    return result
