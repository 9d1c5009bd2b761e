"""``comfyfixer hardware``: what this machine offers for running models."""

from __future__ import annotations

from pathlib import Path

import typer

from comfyfixer.agent.options import JSON_OUT
from comfyfixer.agent.output import console, emit_json


def register(app: typer.Typer) -> None:
    app.command("hardware")(hardware_command)


def hardware_command(
    comfyui: Path | None = typer.Option(None, "--comfyui", help="The ComfyUI folder (free disk space is measured there)."),
    comfyui_url: str | None = typer.Option(None, "--comfyui-url", help="A running ComfyUI: its /system_stats devices are shown too."),
    json_out: bool = JSON_OUT,
) -> int:
    """Show GPUs (NVIDIA, AMD, Intel, Apple; VRAM total and free), the devices a running ComfyUI
    reports, system RAM, CPU cores and free disk space."""
    from comfyfixer.agent import services
    from comfyfixer.tools.hardware import HardwareInput, best_vram_mb

    _, ctx = services.context(comfyui_dir=comfyui, comfyui_url=comfyui_url)
    with ctx:
        profile = services.run("hardware_profile", HardwareInput(), ctx)
    if json_out:
        emit_json(profile)
        return 0
    for gpu in profile.gpus:
        free = f", {_gb(gpu.vram_free_mb)} free" if gpu.vram_free_mb is not None else ""
        kind = ", unified memory share" if gpu.unified_memory else ""
        console.print(f"GPU: {gpu.name} ({_gb(gpu.vram_total_mb)}{free}{kind}; from {gpu.source})", markup=False)
    if not profile.gpus:
        console.print("GPU: none found", markup=False)
    for dev in profile.comfyui_devices:
        free = f", {_gb(dev.vram_free_mb)} free" if dev.vram_free_mb is not None else ""
        torch_part = f"; torch holds {_gb(dev.torch_vram_total_mb)}" if dev.torch_vram_total_mb is not None else ""
        console.print(f"ComfyUI device: {dev.name} [{dev.type}] ({_gb(dev.vram_total_mb)}{free}{torch_part})", markup=False)
    if profile.comfyui_argv:
        console.print(f"ComfyUI started with: {' '.join(profile.comfyui_argv[1:]) or '(no flags)'}", markup=False)
    vram, where = best_vram_mb(profile)
    console.print(f"VRAM for workflows: {_gb(vram) if vram else 'none'} — {where}", markup=False)
    ram = _gb(profile.ram_total_mb) if profile.ram_total_mb else "unknown"
    if profile.ram_total_mb and profile.ram_available_mb is not None:
        ram += f" ({_gb(profile.ram_available_mb)} available)"
    console.print(f"RAM: {ram}; CPU cores: {profile.cpu_count}; {profile.system}", markup=False)
    if profile.disk_free_gb is not None:
        console.print(f"Free disk: {profile.disk_free_gb:.1f} GB", markup=False)
    for note in profile.notes:
        console.print(f"note: {note}", markup=False)
    if not vram:
        console.print("next: size a workflow for the GPU you mean to use, e.g. "
                      "`comfyfixer fit WORKFLOW --vram 8GB`", markup=False)
    return 0


def _gb(mib: int | None) -> str:
    """MiB as GB with one decimal, the unit fit and tune print (GPU makers' GB are GiB)."""
    return f"{(mib or 0) / 1024:.1f} GB"
