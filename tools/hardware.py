"""This machine's GPUs, memory and disk, for sizing models (no psutil: nvidia-smi and /proc).

Only NVIDIA GPUs are read (through ``nvidia-smi``, with a 10 s timeout); AMD, Apple and Intel GPUs
show up as a note, not as an error. RAM comes from ``/proc/meminfo``, so it is unknown outside Linux.
Nothing measured here is cached: free VRAM and RAM change from call to call. Every value that could
not be measured is None with a reason in ``notes``, so the assistant can say what it does not know.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import subprocess
from pathlib import Path

from pydantic import BaseModel, Field

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.toolset import capability

log = logging.getLogger(__name__)

NVIDIA_SMI_TIMEOUT = 10.0
_QUERY = "name,memory.total,memory.free,driver_version"


class HardwareInput(BaseModel):
    """Input of ``hardware_profile``."""

    include_disk: bool = Field(default=True, description="Also report free disk space in the ComfyUI folder.")


class GpuInfo(BaseModel):
    """One GPU as the driver reports it."""

    name: str = Field(description="GPU model name.")
    vram_total_mb: int = Field(description="Total VRAM in MiB.")
    vram_free_mb: int | None = Field(default=None, description="Free VRAM in MiB at the time of the call.")
    driver: str | None = Field(default=None, description="Driver version.")


class HardwareProfile(BaseModel):
    """What this machine offers for running models."""

    gpus: list[GpuInfo] = Field(default_factory=list, description="NVIDIA GPUs found (empty: none or no driver).")
    ram_total_mb: int | None = Field(default=None, description="System RAM in MiB.")
    ram_available_mb: int | None = Field(default=None, description="RAM available now, in MiB.")
    cpu_count: int = Field(description="Logical CPU cores.")
    system: str = Field(description="Operating system and machine type.")
    disk_free_gb: float | None = Field(default=None, description="Free space where ComfyUI keeps models, in GB.")
    notes: list[str] = Field(default_factory=list, description="What could not be measured and why.")


def parse_nvidia_smi(text: str) -> list[GpuInfo]:
    """Rows of ``nvidia-smi --query-gpu=name,memory.total,memory.free,driver_version
    --format=csv,noheader,nounits``.

    Lines whose memory total is not a number (headers, "[N/A]") are skipped; a missing free value or
    driver gives None.
    """
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 2 or not parts[1].isdigit():
            continue
        free = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None
        gpus.append(GpuInfo(name=parts[0], vram_total_mb=int(parts[1]), vram_free_mb=free,
                            driver=parts[3] if len(parts) > 3 and parts[3] else None))
    return gpus


def parse_meminfo(text: str) -> tuple[int | None, int | None]:
    """Total and available RAM in MiB from ``/proc/meminfo`` (which reports kB); None for a missing field."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            values[key.strip()] = int(fields[0]) // 1024  # kB → MiB
    return values.get("MemTotal"), values.get("MemAvailable")


def _gpus(notes: list[str]) -> list[GpuInfo]:
    """The NVIDIA GPUs from ``nvidia-smi``; any failure (missing, timed out, non-zero exit) becomes a note
    and an empty list.
    """
    exe = shutil.which("nvidia-smi")
    if exe is None:
        notes.append("nvidia-smi not found: no NVIDIA driver, or an AMD/Apple/Intel GPU this tool cannot read")
        return []
    try:
        out = subprocess.run([exe, f"--query-gpu={_QUERY}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        notes.append(f"nvidia-smi failed: {type(exc).__name__}")
        return []
    if out.returncode != 0:
        notes.append(f"nvidia-smi exited with {out.returncode}: {out.stderr.strip()[:120]}")
        return []
    return parse_nvidia_smi(out.stdout)


@capability(command="hardware")
def hardware_profile(args: HardwareInput, ctx: ToolContext) -> HardwareProfile:
    """Report this machine's GPUs (name, total and free VRAM), system RAM, CPU cores and free disk
    space in the ComfyUI folder. Use it before recommending model precisions, resolutions or frame
    counts: compare VRAM with the size of the model files the workflow needs."""
    notes: list[str] = []
    total = available = None
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        total, available = parse_meminfo(meminfo.read_text(encoding="ascii", errors="replace"))
    else:
        notes.append("system RAM not measured (no /proc/meminfo on this system)")
    disk = None
    if args.include_disk:
        where = ctx.comfyui_dir if ctx.comfyui_dir and ctx.comfyui_dir.exists() else None
        if where is None:
            notes.append("no ComfyUI folder configured; disk space not measured")
        else:
            disk = round(shutil.disk_usage(where).free / 1e9, 1)
    return HardwareProfile(
        gpus=_gpus(notes), ram_total_mb=total, ram_available_mb=available, cpu_count=os.cpu_count() or 1,
        system=f"{platform.system()} {platform.machine()}", disk_free_gb=disk, notes=notes,
    )
