"""Hardware profile parsers on the exact formats each vendor tool prints, and ComfyUI's /system_stats
read over loopback from the recorded answer.

Where each fixture's format comes from:
* rocm-smi: the JSON form of ``rocm-smi --showmeminfo vram`` — its text form prints
  ``GPU[0] : VRAM Total Memory (B): 34342961152`` / ``VRAM Total Used Memory (B): 7028736`` and
  ``--json`` keys the same labels under ``card0`` (ROCm SMI CLI);
* amd-smi: ``amd-smi metric --mem-usage --json`` value/unit pairs (AMD SMI CLI reference), both the
  bare list and the newer ``{"gpu_data": [...]}`` wrapper;
* xpu-smi: ``xpu-smi discovery --dump`` CSV as intel/xpumanager's doc/smi_user_guide.md shows it
  (fields 1, 2, 16 = Device ID, Device Name, Memory Physical Size as "32768.00 MiB");
* sysctl: ``sysctl -n hw.memsize`` prints the byte count alone;
* /system_stats: recorded from ComfyUI 0.3.64 (/work/shared/data/comfyui/system_stats.json).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfyfixer.evals.fakes.comfyui_server import FakeComfyUI
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import UpstreamError
from comfyfixer.tools.hardware import (
    APPLE_GPU_SHARE,
    HardwareInput,
    HardwareProfile,
    apple_gpu,
    best_vram_mb,
    hardware_profile,
    parse_amd_smi,
    parse_rocm_smi,
    parse_sysctl_memsize,
    parse_system_stats,
    parse_xpu_smi_dump,
    read_system_stats,
)

ROCM_SMI_JSON = ('{"card0": {"VRAM Total Memory (B)": "34342961152", "VRAM Total Used Memory (B)": "7028736"}, '
                 '"card1": {"VRAM Total Memory (B)": "17163091968", "VRAM Total Used Memory (B)": "1073741824"}}')
AMD_SMI_JSON = json.dumps([{"gpu": 0, "mem_usage": {
    "total_vram": {"value": 16368, "unit": "MB"}, "used_vram": {"value": 291, "unit": "MB"},
    "free_vram": {"value": 16077, "unit": "MB"}, "total_visible_vram": {"value": 16368, "unit": "MB"}}}])
XPU_SMI_DUMP = ('Device ID,Device Name,Memory Physical Size\n'
                '0,"Intel(R) Data Center GPU Flex 170","14248.00 MiB"\n'
                '1,"Intel(R) Arc(TM) A770 Graphics","16288.00 MiB"\n')


def test_rocm_smi() -> None:
    gpus = parse_rocm_smi(ROCM_SMI_JSON)
    assert [(g.name, g.vram_total_mb, g.vram_free_mb, g.vendor) for g in gpus] == [
        ("AMD GPU (card0)", 32752, 32745, "amd"), ("AMD GPU (card1)", 16368, 15344, "amd")]
    assert parse_rocm_smi("not json") == [] and parse_rocm_smi('{"system": {"Driver version": "6.7"}}') == []


def test_amd_smi_both_shapes() -> None:
    for text in (AMD_SMI_JSON, json.dumps({"gpu_data": json.loads(AMD_SMI_JSON)})):
        [gpu] = parse_amd_smi(text)
        assert (gpu.vram_total_mb, gpu.vram_free_mb, gpu.source) == (16368, 16077, "amd-smi")


def test_xpu_smi_dump() -> None:
    gpus = parse_xpu_smi_dump(XPU_SMI_DUMP)
    assert [(g.name, g.vram_total_mb, g.vendor) for g in gpus] == [
        ("Intel(R) Data Center GPU Flex 170", 14248, "intel"), ("Intel(R) Arc(TM) A770 Graphics", 16288, "intel")]


def test_apple_unified_memory() -> None:
    mb = parse_sysctl_memsize("17179869184\n")
    assert mb == 16384
    gpu = apple_gpu(mb, "Apple M2 Pro\n")
    assert gpu.unified_memory and gpu.vram_total_mb == int(16384 * APPLE_GPU_SHARE) and gpu.name == "Apple M2 Pro"
    assert parse_sysctl_memsize("") is None


def test_best_vram_prefers_comfyui_gpu_then_largest_gpu() -> None:
    amd = parse_rocm_smi(ROCM_SMI_JSON)
    base = {"cpu_count": 2, "system": "Linux x86_64"}
    assert best_vram_mb(HardwareProfile(gpus=amd, **base))[0] == 32752
    devices, _ = parse_system_stats({"devices": [{"name": "cuda:0 NVIDIA GeForce RTX 3070 : cudaMallocAsync",
                                                  "type": "cuda", "vram_total": 8 * 1024**3, "vram_free": 7 * 1024**3}]})
    vram, where = best_vram_mb(HardwareProfile(gpus=amd, comfyui_devices=devices, **base))
    assert vram == 8192 and "RTX 3070" in where
    assert best_vram_mb(HardwareProfile(**base)) == (None, "no GPU found (CPU-only)")


def test_system_stats_recorded_over_loopback(shared_data: Path, tmp_path: Path) -> None:
    recorded = json.loads((shared_data / "comfyui" / "system_stats.json").read_text(encoding="utf-8"))
    with FakeComfyUI(system_stats=recorded) as fake:
        ctx = ToolContext(cache_dir=tmp_path / "c", state_dir=tmp_path / "s", comfyui_url=fake.url)
        profile = hardware_profile(HardwareInput(include_disk=False), ctx)
    [dev] = profile.comfyui_devices
    assert (dev.type, dev.vram_total_mb, dev.vram_free_mb) == ("cpu", 25276510208 // 2**20, 21666562048 // 2**20)
    assert "--cpu" in profile.comfyui_argv
    assert best_vram_mb(profile) == (None, "ComfyUI runs on the CPU")  # recorded server runs with --cpu


def test_system_stats_failure_is_an_error_with_hint() -> None:
    with FakeComfyUI(fail_status=500) as fake, pytest.raises(UpstreamError) as err:
        read_system_stats(fake.url)
    assert err.value.hint
