"""The ``estimate_fit`` capability: one workflow's VRAM need against this GPU or a target."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import InputError
from comfyfixer.tools.fit.estimate import FitSources, estimate
from comfyfixer.tools.fit.families import GiB
from comfyfixer.tools.fit.models import FitInput, FitReport
from comfyfixer.tools.toolset import capability

log = logging.getLogger(__name__)


def fit_sources(ctx: ToolContext) -> FitSources:
    """Where sizes come from for this context: the ComfyUI folder's model directories, the
    Manager catalog's sizes and the knowledge pack's (built once per context)."""

    def build() -> FitSources:
        import comfyfixer.knowledge as knowledge
        from comfyfixer.tools.catalogs.model_index import build_model_index
        from comfyfixer.tools.fit.sizes import knowledge_sizes
        from comfyfixer.tools.inventory.inventory import model_folder_table

        # The folders ComfyUI searches: its defaults for its version plus extra_model_paths.yaml files.
        dirs = model_folder_table(Path(ctx.comfyui_dir), list(ctx.extra_model_paths))[0] if ctx.comfyui_dir else {}
        catalog = ctx.catalog()
        index = build_model_index(catalog, []) if catalog is not None else None
        return FitSources(model_dirs=dirs, catalog_lookup=_with_recorded(index.lookup if index is not None else None),
                          knowledge=knowledge_sizes(Path(next(iter(knowledge.__path__)))))

    if ctx.comfyui_dir is not None and not Path(ctx.comfyui_dir).expanduser().is_dir():  # as `check` says it
        raise InputError(f"ComfyUI folder not found: {ctx.comfyui_dir}",
                         hint="pass the folder that holds models/ and custom_nodes/")
    src: FitSources = ctx.memo(f"fit-sources:{ctx.comfyui_dir}", build)
    return src


def _with_recorded(lookup: Any) -> Any:
    """The catalog lookup, followed by the recorded Hugging Face file lists (tools/fit/recorded.py), so a
    variant the tuner swaps in is sized from its listing page."""
    from comfyfixer.tools.candidates import DownloadCandidate
    from comfyfixer.tools.fit.recorded import recorded_sizes

    sizes = recorded_sizes()

    def find(filename: str) -> list[DownloadCandidate]:
        found = list(lookup(filename) or []) if lookup is not None else []
        name = filename.replace("\\", "/").rsplit("/", 1)[-1]
        if name in sizes:
            label, folder, url, listing = sizes[name]
            found.append(DownloadCandidate(source="catalog:hf-listing", filename=name, size_label=label, folder=folder,
                                           url=url, origin=listing))
        return found

    return find


def machine_vram(ctx: ToolContext) -> tuple[int | None, str]:
    """This machine's usable VRAM in bytes (the running ComfyUI's device first), memoised per context."""
    from comfyfixer.tools.hardware import HardwareInput, best_vram_mb, hardware_profile

    def measure() -> tuple[int | None, str]:
        mb, where = best_vram_mb(hardware_profile(HardwareInput(include_disk=False), ctx))
        return (mb * 1024 * 1024 if mb else None), where

    found: tuple[int | None, str] = ctx.memo("fit-machine-vram", measure)
    return found


def fit_loaded(path: Path, inp: FitInput, ctx: ToolContext) -> FitReport:
    """The estimate for one workflow file (the library form, for the eval and reports)."""
    from comfyfixer.tools.workflow.inspect import inspect_loaded
    from comfyfixer.tools.workflow.loader import load_workflow

    schemas = ctx.schemas()
    loaded = load_workflow(path)
    inspection = inspect_loaded(loaded, schemas=schemas, catalog=None)
    vram: int | None
    if inp.vram_gb is not None:
        vram, where = int(inp.vram_gb * GiB), f"--vram {inp.vram_gb:g} GB"
    else:
        vram, where = machine_vram(ctx)
    report = estimate(str(path), loaded.graph, inspection.models, schemas, fit_sources(ctx), vram, where)
    ram_note(report, ctx)
    return report


def ram_note(report: FitReport, ctx: ToolContext) -> None:
    """Warn when the weights ComfyUI keeps off the GPU would not fit this machine's RAM either
    (it then pages to disk: knowledge/vram-and-precision.md asks for 32 GB or more when offloading)."""
    from comfyfixer.tools.hardware import system_ram_mb

    if report.verdict not in ("FITS_OFFLOAD", "NO_GPU"):
        return
    ram_mb = ctx.memo("fit-system-ram", system_ram_mb)
    weights = sum(st.weights_bytes for st in report.stages)
    if ram_mb and weights > ram_mb * 1024 * 1024 * 0.9:
        report.notes.append(f"the models' weights ({weights / GiB:.1f} GB) exceed 90 % of this machine's RAM "
                            f"({ram_mb / 1024:.1f} GB): offloaded weights would page to disk — add RAM or swap, "
                            "or use smaller files")


@capability(command="fit")
def estimate_fit(inp: FitInput, ctx: ToolContext) -> FitReport:
    """Estimate whether a workflow fits a GPU's VRAM, explained stage by stage: the weights each
    loader keeps resident (exact parameter bytes from safetensors/GGUF headers of files in the
    ComfyUI folder, else the size the workflow's notes, the model catalog or the knowledge pack
    give), which models ComfyUI offloads between stages (text encoders, CLIP vision, VAE), the
    sampling working set from resolution × frames × batch and the family's latent format, and the
    VAE decode buffer (tiled or not). Answers FITS, FITS_OFFLOAD (runs with ComfyUI's weight
    streaming, --lowvram/--novram, at an estimated slowdown) or DOES_NOT_FIT, with the numbers.
    vram_gb sizes for a target card (8 for an 8 GB GPU); without it, this machine's GPU. Reads only."""
    path = Path(inp.path).expanduser()
    if not path.is_file():
        raise InputError(f"{path}: no such workflow file", hint="give the path of a workflow JSON or an image that embeds one")
    return fit_loaded(path, inp, ctx)
