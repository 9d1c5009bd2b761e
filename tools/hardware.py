"""This machine's GPUs, memory and disk, for sizing models (no psutil: vendor tools, /proc, sysctl).

Every source a ComfyUI user may have is asked, each through its own command-line tool with a 10 s
timeout, and each parsed by a pure function tested on the exact format that tool prints:

* NVIDIA: ``nvidia-smi --query-gpu=... --format=csv,noheader,nounits``;
* AMD: ``rocm-smi --showmeminfo vram --json`` (ROCm), else ``amd-smi metric --mem-usage --json``;
* Intel: ``xpu-smi discovery --dump 1,2,16`` (device id, name, memory physical size, as CSV);
* Apple silicon: ``sysctl -n hw.memsize`` and ``machdep.cpu.brand_string`` — unified memory, of
  which Metal lets one process use about :data:`APPLE_GPU_SHARE` (PyTorch's MPS default high
  watermark), so that share is reported as the GPU's VRAM;
* a running ComfyUI: ``GET /system_stats`` (``devices``: name, type, vram_total/free,
  torch_vram_total/free) via ``ctx.comfyui_url`` — the authority when it answers, since it is what
  the ComfyUI that will run the workflow sees, whatever the backend (CUDA, ROCm, MPS, XPU, CPU).

RAM comes from ``/proc/meminfo`` (Linux) or ``hw.memsize`` (macOS). Nothing measured here is cached:
free VRAM and RAM change from call to call. Every value that could not be measured is None with a
reason in ``notes``, so the assistant can say what it does not know. A machine with no GPU found is
CPU-only: :func:`best_vram_mb` is then None and the fit estimate says so.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.toolset import capability

log = logging.getLogger(__name__)

NVIDIA_SMI_TIMEOUT = 10.0
TOOL_TIMEOUT = NVIDIA_SMI_TIMEOUT  # every vendor tool gets the same bound
SYSTEM_STATS_TIMEOUT = 5.0
_QUERY = "name,memory.total,memory.free,driver_version"
# PyTorch's MPS backend lets a process allocate up to its "recommended max working set", about
# 0.75 of unified memory on Apple silicon by default (PYTORCH_MPS_HIGH_WATERMARK_RATIO docs); the
# rest stays with the system, so a model sized against the whole memory would be refused.
APPLE_GPU_SHARE = 0.75
_MIB = 1024 * 1024
Vendor = Literal["nvidia", "amd", "intel", "apple", "cpu", "other"]


class HardwareInput(BaseModel):
    """Input of ``hardware_profile``."""

    include_disk: bool = Field(default=True, description="Also report free disk space in the ComfyUI folder.")


class GpuInfo(BaseModel):
    """One GPU as the driver reports it."""

    name: str = Field(description="GPU model name.")
    vram_total_mb: int = Field(description="Total VRAM in MiB.")
    vram_free_mb: int | None = Field(default=None, description="Free VRAM in MiB at the time of the call.")
    driver: str | None = Field(default=None, description="Driver version.")
    vendor: Vendor = Field(default="nvidia", description="Who made it (cpu for ComfyUI's CPU device).")
    source: str = Field(default="nvidia-smi", description="Which tool or endpoint reported it.")
    unified_memory: bool = Field(default=False, description="Shares system RAM (Apple silicon, CPU).")


class ComfyDevice(BaseModel):
    """One device as a running ComfyUI reports it in ``/system_stats``."""

    name: str = Field(description="Device name as torch reports it (e.g. 'cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync').")
    type: str = Field(description="torch device type: cuda, mps, xpu, cpu, ...")
    vram_total_mb: int | None = Field(default=None, description="Total device memory in MiB.")
    vram_free_mb: int | None = Field(default=None, description="Free device memory in MiB.")
    torch_vram_total_mb: int | None = Field(default=None, description="Memory torch has reserved, in MiB.")
    torch_vram_free_mb: int | None = Field(default=None, description="Reserved by torch but unused, in MiB.")


class HardwareProfile(BaseModel):
    """What this machine offers for running models."""

    gpus: list[GpuInfo] = Field(default_factory=list, description="GPUs found by the vendor tools (empty: none or no driver).")
    comfyui_devices: list[ComfyDevice] = Field(default_factory=list, description="Devices the running ComfyUI reports.")
    comfyui_argv: list[str] = Field(default_factory=list, description="ComfyUI's launch arguments (--lowvram, --cpu ...).")
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
    gpus: list[GpuInfo] = []
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


def _int(value: Any) -> int | None:
    """An integer from a JSON number or a numeric string ("17163091968", "16384.00"); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value.strip().split()[0]))
        except (ValueError, IndexError):
            return None
    return None


def parse_rocm_smi(text: str) -> list[GpuInfo]:
    """GPUs from ``rocm-smi --showmeminfo vram --json``.

    The format is one object per card, keyed ``card0``, ``card1`` ..., whose values are strings of
    bytes under the same labels the text mode prints (``GPU[0] : VRAM Total Memory (B): 34342961152``)::

        {"card0": {"VRAM Total Memory (B)": "34342961152", "VRAM Total Used Memory (B)": "7028736"}}

    rocm-smi names no product here, so the card key is the name. Cards without a total are skipped.
    """
    try:
        data = json.loads(text)
    except ValueError:
        return []
    gpus: list[GpuInfo] = []
    for card, values in (data.items() if isinstance(data, dict) else []):
        if not isinstance(values, dict):
            continue
        total = _int(values.get("VRAM Total Memory (B)"))
        if not total:
            continue
        used = _int(values.get("VRAM Total Used Memory (B)"))
        free = (total - used) // _MIB if used is not None else None
        gpus.append(GpuInfo(name=f"AMD GPU ({card})", vram_total_mb=total // _MIB, vram_free_mb=free,
                            vendor="amd", source="rocm-smi"))
    return gpus


def _amd_mb(entry: Any) -> int | None:
    """``{"value": 16368, "unit": "MB"}`` (amd-smi's value/unit pair) in MiB; a bare number is MB."""
    if isinstance(entry, dict):
        value, unit = _int(entry.get("value")), str(entry.get("unit", "MB")).upper()
    else:
        value, unit = _int(entry), "MB"
    if value is None:
        return None
    scale = {"B": 1 / _MIB, "KB": 1 / 1024, "MB": 1, "MIB": 1, "GB": 1024, "GIB": 1024}.get(unit, 1)
    return int(value * scale)


def parse_amd_smi(text: str) -> list[GpuInfo]:
    """GPUs from ``amd-smi metric --mem-usage --json``.

    amd-smi prints a list with one object per GPU (newer releases wrap it as ``{"gpu_data": [...]}``),
    each with ``mem_usage`` holding value/unit pairs::

        [{"gpu": 0, "mem_usage": {"total_vram": {"value": 16368, "unit": "MB"},
                                  "used_vram": {"value": 291, "unit": "MB"},
                                  "free_vram": {"value": 16077, "unit": "MB"}, ...}}]
    """
    try:
        data = json.loads(text)
    except ValueError:
        return []
    if isinstance(data, dict):
        data = data.get("gpu_data", [data])
    gpus: list[GpuInfo] = []
    for item in data if isinstance(data, list) else []:
        usage = item.get("mem_usage") if isinstance(item, dict) else None
        if not isinstance(usage, dict):
            continue
        total = _amd_mb(usage.get("total_vram"))
        if not total:
            continue
        gpus.append(GpuInfo(name=f"AMD GPU {item.get('gpu', len(gpus))}", vram_total_mb=total,
                            vram_free_mb=_amd_mb(usage.get("free_vram")), vendor="amd", source="amd-smi"))
    return gpus


def parse_xpu_smi_dump(text: str) -> list[GpuInfo]:
    """GPUs from ``xpu-smi discovery --dump 1,2,16`` (Intel XPU Manager's documented CSV dump: device id,
    device name, memory physical size)::

        Device ID,Device Name,Memory Physical Size
        0,"Intel(R) Data Center GPU Flex 170","14248.00 MiB"
    """
    gpus: list[GpuInfo] = []
    for row in csv.reader(io.StringIO(text)):
        if len(row) < 3 or not row[0].strip().isdigit():
            continue  # the header line, or a short row
        total = _int(row[2])
        if total:
            gpus.append(GpuInfo(name=row[1].strip(), vram_total_mb=total, vendor="intel", source="xpu-smi"))
    return gpus


def parse_sysctl_memsize(text: str) -> int | None:
    """Bytes of ``sysctl -n hw.memsize`` (macOS) in MiB, or None."""
    value = _int(text)
    return value // _MIB if value else None


def apple_gpu(memsize_mb: int, brand: str) -> GpuInfo:
    """The Apple silicon GPU: unified memory, of which :data:`APPLE_GPU_SHARE` is usable by Metal."""
    return GpuInfo(name=brand.strip() or "Apple silicon GPU", vram_total_mb=int(memsize_mb * APPLE_GPU_SHARE),
                   vendor="apple", source="sysctl hw.memsize", unified_memory=True)


def parse_system_stats(data: Any) -> tuple[list[ComfyDevice], list[str]]:
    """The devices and launch arguments from ComfyUI's ``GET /system_stats`` (bytes → MiB).

    Shape (recorded from ComfyUI 0.3.64, /work/shared/data/comfyui/system_stats.json)::

        {"system": {"argv": ["main.py", "--cpu", ...], ...},
         "devices": [{"name": "cpu", "type": "cpu", "index": null, "vram_total": 25276510208,
                      "vram_free": 21666562048, "torch_vram_total": ..., "torch_vram_free": ...}]}
    """
    if not isinstance(data, dict):
        return [], []
    devices = []
    for dev in data.get("devices") or []:
        if not isinstance(dev, dict):
            continue

        def mb(key: str, dev: dict[str, Any] = dev) -> int | None:
            v = _int(dev.get(key))
            return v // _MIB if v is not None else None

        devices.append(ComfyDevice(name=str(dev.get("name", "?")), type=str(dev.get("type", "?")),
                                   vram_total_mb=mb("vram_total"), vram_free_mb=mb("vram_free"),
                                   torch_vram_total_mb=mb("torch_vram_total"), torch_vram_free_mb=mb("torch_vram_free")))
    system = data.get("system")
    argv = system.get("argv") if isinstance(system, dict) else None
    return devices, [str(a) for a in argv] if isinstance(argv, list) else []


def best_vram_mb(profile: HardwareProfile) -> tuple[int | None, str]:
    """The VRAM a workflow can count on, and where that figure comes from.

    A running ComfyUI's non-CPU device wins (it is what will run the workflow); then the largest
    GPU a vendor tool found (ComfyUI uses one device). CPU-only (or ComfyUI started with ``--cpu``)
    gives None: models then live in system RAM and nothing is "VRAM".
    """
    gpu_devices = [d for d in profile.comfyui_devices if d.type != "cpu" and d.vram_total_mb]
    if gpu_devices:
        dev = max(gpu_devices, key=lambda d: d.vram_total_mb or 0)
        return dev.vram_total_mb, f"ComfyUI /system_stats ({dev.name})"
    if profile.comfyui_devices:
        return None, "ComfyUI runs on the CPU"
    if profile.gpus:
        gpu = max(profile.gpus, key=lambda g: g.vram_total_mb)
        return gpu.vram_total_mb, f"{gpu.source} ({gpu.name})"
    return None, "no GPU found (CPU-only)"


def _run_tool(argv: list[str], notes: list[str]) -> str | None:
    """Run a vendor tool found on PATH and return its stdout; a missing tool returns None quietly,
    any failure (timed out, non-zero exit) becomes a note and None."""
    exe = shutil.which(argv[0])
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        notes.append(f"{argv[0]} failed: {type(exc).__name__}")
        return None
    if out.returncode != 0:
        notes.append(f"{argv[0]} exited with {out.returncode}: {out.stderr.strip()[:120]}")
        return None
    return out.stdout


def _gpus(notes: list[str]) -> list[GpuInfo]:
    """Every GPU the vendor tools on PATH report: NVIDIA, AMD (rocm-smi, else amd-smi), Intel and Apple."""
    gpus: list[GpuInfo] = []
    text = _run_tool(["nvidia-smi", f"--query-gpu={_QUERY}", "--format=csv,noheader,nounits"], notes)
    if text:
        gpus += parse_nvidia_smi(text)
    text = _run_tool(["rocm-smi", "--showmeminfo", "vram", "--json"], notes)
    amd = parse_rocm_smi(text) if text else []
    if not amd:
        text = _run_tool(["amd-smi", "metric", "--mem-usage", "--json"], notes)
        amd = parse_amd_smi(text) if text else []
    gpus += amd
    text = _run_tool(["xpu-smi", "discovery", "--dump", "1,2,16"], notes)
    if text:
        gpus += parse_xpu_smi_dump(text)
    if sys.platform == "darwin" and platform.machine() == "arm64":
        size = parse_sysctl_memsize(_run_tool(["sysctl", "-n", "hw.memsize"], notes) or "")
        if size:
            gpus.append(apple_gpu(size, _run_tool(["sysctl", "-n", "machdep.cpu.brand_string"], notes) or ""))
    if not gpus:
        notes.append("no GPU found by nvidia-smi, rocm-smi, amd-smi, xpu-smi or sysctl: CPU-only, or no driver tools")
    return gpus


def local_gpu_vram_mb() -> tuple[int | None, str]:
    """The largest GPU the vendor tools on PATH report (no ComfyUI, no context): for callers that size
    against "this machine" without a :class:`ToolContext`, such as the readiness reports."""
    notes: list[str] = []
    profile = HardwareProfile(gpus=_gpus(notes), cpu_count=os.cpu_count() or 1, system=platform.system())
    return best_vram_mb(profile)


def system_ram_mb() -> int | None:
    """Total system RAM in MiB (/proc/meminfo or sysctl), or None: where offloaded weights must fit."""
    return _ram([])[0]


def read_system_stats(url: str, timeout: float = SYSTEM_STATS_TIMEOUT) -> Any:
    """``GET <url>/system_stats`` from a running ComfyUI (plain http allowed: it listens on loopback or
    the user's own network, without a token). Raises ``TransportError``/``UpstreamError``."""
    import httpx  # only here: the reports' local GPU look-up (check --out) must not pay for it

    from comfyfixer.tools.errors import TransportError, UpstreamError
    from comfyfixer.tools.http import build_client

    base = url.rstrip("/")
    try:
        with build_client(base_url=base, timeout=timeout, allow_http=True) as client:
            r = client.get(f"{base}/system_stats")
    except httpx.HTTPError as exc:
        raise TransportError(f"ComfyUI at {base} did not answer: {type(exc).__name__}", url=base,
                             hint="start ComfyUI, or leave its URL out to measure this machine only") from None
    if r.status_code != 200:
        raise UpstreamError(f"ComfyUI /system_stats answered {r.status_code}", url=base, status=r.status_code,
                            hint="an older ComfyUI may not have /system_stats")
    try:
        return r.json()
    except ValueError:
        raise UpstreamError("ComfyUI /system_stats did not answer JSON", url=base, status=r.status_code,
                            hint="check that the URL is a ComfyUI server") from None


def _ram(notes: list[str]) -> tuple[int | None, int | None]:
    """Total and available RAM: /proc/meminfo on Linux, ``hw.memsize`` (total only) on macOS."""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        return parse_meminfo(meminfo.read_text(encoding="ascii", errors="replace"))
    if sys.platform == "darwin":
        total = parse_sysctl_memsize(_run_tool(["sysctl", "-n", "hw.memsize"], notes) or "")
        if total:
            return total, None
    notes.append("system RAM not measured (no /proc/meminfo or sysctl on this system)")
    return None, None


@capability(command="hardware")
def hardware_profile(args: HardwareInput, ctx: ToolContext) -> HardwareProfile:
    """Report this machine's GPUs (NVIDIA, AMD, Intel, Apple silicon: name, total and free VRAM), the
    devices a running ComfyUI reports (its /system_stats), system RAM, CPU cores and free disk space
    in the ComfyUI folder. Use it before recommending model precisions, resolutions or frame counts:
    compare VRAM with what the workflow needs (the estimate_fit capability does that)."""
    notes: list[str] = []
    total, available = _ram(notes)
    disk = None
    if args.include_disk:
        where = ctx.comfyui_dir if ctx.comfyui_dir and ctx.comfyui_dir.exists() else None
        if where is None:
            notes.append(f"ComfyUI folder {ctx.comfyui_dir} not found; disk space not measured" if ctx.comfyui_dir
                         else "no ComfyUI folder configured; disk space not measured")
        else:
            disk = round(shutil.disk_usage(where).free / 1e9, 1)
    devices: list[ComfyDevice] = []
    argv: list[str] = []
    if ctx.comfyui_url and not ctx.offline:
        from comfyfixer.tools.errors import HTTPError

        try:
            devices, argv = parse_system_stats(read_system_stats(ctx.comfyui_url, min(ctx.http_timeout, SYSTEM_STATS_TIMEOUT)))
        except HTTPError as exc:
            notes.append(f"ComfyUI devices not read: {exc.message}")
    return HardwareProfile(
        gpus=_gpus(notes), comfyui_devices=devices, comfyui_argv=argv, ram_total_mb=total, ram_available_mb=available,
        cpu_count=os.cpu_count() or 1, system=f"{platform.system()} {platform.machine()}", disk_free_gb=disk, notes=notes,
    )
