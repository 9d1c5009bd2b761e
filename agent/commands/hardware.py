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
    json_out: bool = JSON_OUT,
) -> int:
    """Show GPUs (VRAM total and free), system RAM, CPU cores and free disk space."""
    from comfyfixer.agent import services
    from comfyfixer.tools.hardware import HardwareInput

    _, ctx = services.context(comfyui_dir=comfyui)
    with ctx:
        profile = services.run("hardware_profile", HardwareInput(), ctx)
    if json_out:
        emit_json(profile)
        return 0
    for gpu in profile.gpus:
        free = f", {gpu.vram_free_mb} MiB free" if gpu.vram_free_mb is not None else ""
        console.print(f"GPU: {gpu.name} ({gpu.vram_total_mb} MiB{free})", markup=False)
    if not profile.gpus:
        console.print("GPU: none found", markup=False)
    ram = f"{profile.ram_total_mb} MiB" if profile.ram_total_mb else "unknown"
    console.print(f"RAM: {ram}; CPU cores: {profile.cpu_count}; {profile.system}", markup=False)
    if profile.disk_free_gb is not None:
        console.print(f"Free disk: {profile.disk_free_gb:.1f} GB", markup=False)
    for note in profile.notes:
        console.print(f"note: {note}", markup=False)
    return 0
