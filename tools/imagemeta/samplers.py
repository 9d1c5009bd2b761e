"""A1111/Forge/NovelAI/InvokeAI sampler names → ComfyUI ``sampler_name`` + ``scheduler``.

``map_sampler("DPM++ 2M Karras") == ("dpmpp_2m", "karras")``; ``map_sampler("Euler a")
== ("euler_ancestral", None)`` (None = the writer did not say; ComfyUI's default is
``normal``). The tables are plain dicts so the reconstructor can invert them.
"""

from __future__ import annotations

import re

# ComfyUI names (comfy/samplers.py KSAMPLER_NAMES + SAMPLER_NAMES).
COMFY_SAMPLERS = (
    "euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun", "heunpp2", "dpm_2",
    "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral", "dpmpp_2s_ancestral_cfg_pp",
    "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m", "dpmpp_2m_cfg_pp", "dpmpp_2m_sde", "dpmpp_2m_sde_gpu",
    "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm", "lcm", "ipndm", "ipndm_v", "deis", "res_multistep",
    "res_multistep_cfg_pp", "res_multistep_ancestral", "res_multistep_ancestral_cfg_pp", "gradient_estimation",
    "er_sde", "seeds_2", "seeds_3", "sa_solver", "sa_solver_pece", "ddim", "uni_pc", "uni_pc_bh2",
)
COMFY_SCHEDULERS = (
    "simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal", "linear_quadratic",
    "kl_optimal",
)

# A1111 display name (lower-cased) → ComfyUI sampler_name.
A1111_SAMPLERS: dict[str, str] = {
    "euler": "euler",
    "euler a": "euler_ancestral",
    "euler ancestral": "euler_ancestral",
    "euler cfg++": "euler_cfg_pp",
    "euler a cfg++": "euler_ancestral_cfg_pp",
    "heun": "heun",
    "heun++": "heunpp2",
    "heun++2": "heunpp2",
    "lms": "lms",
    "dpm2": "dpm_2",
    "dpm2 a": "dpm_2_ancestral",
    "dpm fast": "dpm_fast",
    "dpm adaptive": "dpm_adaptive",
    "dpm++ 2s a": "dpmpp_2s_ancestral",
    "dpm++ 2s a cfg++": "dpmpp_2s_ancestral_cfg_pp",
    "dpm++ sde": "dpmpp_sde",
    "dpm++ 2m": "dpmpp_2m",
    "dpm++ 2m cfg++": "dpmpp_2m_cfg_pp",
    "dpm++ 2m sde": "dpmpp_2m_sde",
    "dpm++ 2m sde gpu": "dpmpp_2m_sde_gpu",
    "dpm++ 2m sde heun": "dpmpp_2m_sde",
    "dpm++ 3m sde": "dpmpp_3m_sde",
    "ddpm": "ddpm",
    "lcm": "lcm",
    "ipndm": "ipndm",
    "ipndm_v": "ipndm_v",
    "deis": "deis",
    "ddim": "ddim",
    "ddim cfg++": "ddim",
    "plms": "ddim",  # no PLMS in ComfyUI; DDIM is the closest
    "unipc": "uni_pc",
    "uni_pc": "uni_pc",
    "restart": "euler",  # A1111's Restart has no ComfyUI twin
    "res multistep": "res_multistep",
    "er sde": "er_sde",
    "sa-solver": "sa_solver",
    "seeds 2": "seeds_2",
    "seeds 3": "seeds_3",
    # NovelAI / InvokeAI / Diffusers style names
    "k_euler": "euler",
    "k_euler_ancestral": "euler_ancestral",
    "k_euler_a": "euler_ancestral",
    "k_dpm_2": "dpm_2",
    "k_dpm_2_ancestral": "dpm_2_ancestral",
    "k_dpm_2_a": "dpm_2_ancestral",
    "k_dpmpp_2m": "dpmpp_2m",
    "k_dpmpp_2m_sde": "dpmpp_2m_sde",
    "k_dpmpp_2s_ancestral": "dpmpp_2s_ancestral",
    "k_dpmpp_sde": "dpmpp_sde",
    "k_dpmpp_3m_sde": "dpmpp_3m_sde",
    "k_heun": "heun",
    "k_lms": "lms",
    "k_dpm_fast": "dpm_fast",
    "k_dpm_adaptive": "dpm_adaptive",
    "euler_a": "euler_ancestral",
    "dpmpp_2s": "dpmpp_2s_ancestral",
    "dpmpp_3m": "dpmpp_3m_sde",
    "kdpm_2": "dpm_2",
    "kdpm_2_a": "dpm_2_ancestral",
    "dpm_2_a": "dpm_2_ancestral",
    "pndm": "ddim",
    "k_lms_karras": "lms",
    "euler a trailing": "euler_ancestral",  # Draw Things
    "euler ancestral trailing": "euler_ancestral",
    "dpm++ 2m trailing": "dpmpp_2m",
    "dpm++ sde trailing": "dpmpp_sde",
    "dpm++ 2m ays": "dpmpp_2m",
    "euler a ays": "euler_ancestral",
    "unipc trailing": "uni_pc",
    "ddim trailing": "ddim",
    "lcm trailing": "lcm",
    "tcd": "lcm",
    "tcd trailing": "lcm",
    "dpm++ 2m sde karras": "dpmpp_2m_sde",
}

# Schedule type names (A1111 "Schedule type" / suffixes) → ComfyUI scheduler.
A1111_SCHEDULERS: dict[str, str] = {
    "automatic": "normal",
    "uniform": "normal",
    "normal": "normal",
    "karras": "karras",
    "exponential": "exponential",
    "polyexponential": "exponential",
    "sgm uniform": "sgm_uniform",
    "sgm_uniform": "sgm_uniform",
    "simple": "simple",
    "ddim": "ddim_uniform",
    "ddim_uniform": "ddim_uniform",
    "beta": "beta",
    "kl optimal": "kl_optimal",
    "kl_optimal": "kl_optimal",
    "linear quadratic": "linear_quadratic",
    "linear_quadratic": "linear_quadratic",
    "align your steps": "simple",  # AYS needs a custom sigmas node in ComfyUI
    "align your steps gits": "simple",
    "align your steps 11": "simple",
    "align your steps 32": "simple",
    "turbo": "simple",
    "trailing": "sgm_uniform",
    "ays": "simple",
    "native": "normal",
}

_SCHED_SUFFIXES = sorted(
    [("karras", "karras"), ("exponential", "exponential"), ("sgm uniform", "sgm_uniform"),
     ("sgm_uniform", "sgm_uniform"), ("simple", "simple"), ("beta", "beta"), ("normal", "normal"),
     ("ddim_uniform", "ddim_uniform"), ("kl_optimal", "kl_optimal"), ("uniform", "normal")],
    key=lambda p: -len(p[0]),
)

# NovelAI noise_schedule → ComfyUI scheduler.
NOVELAI_SCHEDULES = {"native": "normal", "karras": "karras", "exponential": "exponential", "polyexponential": "exponential"}


def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip().lower())


def map_scheduler(name: str | None) -> str | None:
    """A schedule type name → ComfyUI scheduler, or None when unknown."""
    if not name:
        return None
    n = _norm(name)
    if n in COMFY_SCHEDULERS:
        return n
    return A1111_SCHEDULERS.get(n) or A1111_SCHEDULERS.get(n.replace("_", " "))


def map_sampler(a1111_name: str | None) -> tuple[str | None, str | None]:
    """Sampler name as written → (ComfyUI sampler_name, ComfyUI scheduler or None).

    Handles A1111 display names with a schedule suffix ("DPM++ 2M Karras"), ComfyUI
    names (with Civitai-style suffixes such as "euler_ancestral_karras" or
    "dpmpp_2m Karras"), NovelAI ``k_*`` names and InvokeAI/diffusers names.
    """
    if not a1111_name:
        return None, None
    n = _norm(a1111_name)
    if n.startswith("sample_"):  # early ComfyUI names: sample_dpmpp_2m
        n = n[len("sample_") :]
    if n in COMFY_SAMPLERS:
        return n, None
    if n in A1111_SAMPLERS:
        return A1111_SAMPLERS[n], None
    # Strip a schedule suffix, separated by space or underscore.
    for suffix, sched in _SCHED_SUFFIXES:
        for sep in (" ", "_"):
            tail = sep + suffix
            if n.endswith(tail):
                base = n[: -len(tail)].strip()
                if base in COMFY_SAMPLERS:
                    return base, sched
                if base in A1111_SAMPLERS:
                    return A1111_SAMPLERS[base], sched
    if n.endswith("_k"):  # diffusers/InvokeAI: "_k" = Karras sigmas
        karras_base, _ = map_sampler(n[:-2])
        if karras_base:
            return karras_base, "karras"
    underscored = n.replace(" ", "_").replace("++", "pp")
    if underscored in COMFY_SAMPLERS:
        return underscored, None
    return None, None


def comfy_to_a1111(sampler_name: str, scheduler: str | None = None) -> str | None:
    """Inverse: ComfyUI sampler (+ scheduler) → an A1111 display name, when one exists.

    Only ``karras`` and ``exponential`` schedulers are appended to the name (as older A1111 versions wrote
    them); other schedulers are dropped. None for samplers A1111 does not have.
    """
    display = {
        "euler": "Euler", "euler_ancestral": "Euler a", "heun": "Heun", "lms": "LMS", "dpm_2": "DPM2",
        "dpm_2_ancestral": "DPM2 a", "dpm_fast": "DPM fast", "dpm_adaptive": "DPM adaptive",
        "dpmpp_2s_ancestral": "DPM++ 2S a", "dpmpp_sde": "DPM++ SDE", "dpmpp_2m": "DPM++ 2M",
        "dpmpp_2m_sde": "DPM++ 2M SDE", "dpmpp_3m_sde": "DPM++ 3M SDE", "ddim": "DDIM", "uni_pc": "UniPC",
        "lcm": "LCM", "ddpm": "DDPM", "ipndm": "iPNDM", "deis": "DEIS",
    }.get(sampler_name)
    if display is None:
        return None
    if scheduler == "karras":
        return f"{display} Karras"
    if scheduler == "exponential":
        return f"{display} Exponential"
    return display
