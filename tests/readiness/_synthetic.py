"""A synthetic check result of any size, for dashboard and report tests (no inspection needed)."""

from __future__ import annotations

from comfyfixer.tools.readiness import (
    CheckResult,
    MisplacedModel,
    MissingModel,
    MissingNodeType,
    PackSuggestion,
    Summary,
    WorkflowReadiness,
)


def synthetic_result(n: int, *, evil_name: str | None = None) -> CheckResult:
    """``n`` workflows cycling through runnable / missing (nodes, models, misplaced) / invalid."""
    workflows: list[WorkflowReadiness] = []
    for i in range(n):
        kind = i % 5
        name = f"folder{i % 7}/workflow_{i:04d}.json"
        if evil_name is not None and i == 1:
            name = evil_name
        if kind == 0 or kind == 4:
            w = WorkflowReadiness(path=f"/wf/{name}", name=name, status="runnable")
        elif kind == 1:
            w = WorkflowReadiness(
                path=f"/wf/{name}", name=name, status="missing",
                missing_node_types=[MissingNodeType(
                    class_type=f"PackNode{i % 13}", status="RESOLVED", node_count=1,
                    packs=[PackSuggestion(id=f"pack-{i % 13}", reference=f"https://github.com/o/pack-{i % 13}")],
                    fix=f"install pack-{i % 13}",
                )],
            )
        elif kind == 2:
            w = WorkflowReadiness(
                path=f"/wf/{name}", name=name, status="missing",
                missing_models=[MissingModel(filename=f"model_{i % 11}.safetensors", folder="loras", node_ids=["3"],
                                             url="https://huggingface.co/o/r/resolve/main/m.safetensors",
                                             fix="download it")],
                misplaced_models=[MisplacedModel(filename="vae.safetensors", found_in="models/checkpoints/vae.safetensors",
                                                 expected_folder="vae", fix="move it")],
            )
        else:
            w = WorkflowReadiness(path=f"/wf/{name}", name=name, status="invalid", error="invalid JSON at line 1")
        workflows.append(w)
    summary = Summary(
        total=n, runnable=sum(w.status == "runnable" for w in workflows),
        missing=sum(w.status == "missing" for w in workflows), invalid=sum(w.status == "invalid" for w in workflows),
    )
    return CheckResult(
        generated_at="2026-01-02T03:04:05+00:00",
        inventory={"source": "static (/ComfyUI, ComfyUI 0.3.64)", "method": "static", "limits": "static read",
                   "models_by_folder": {"checkpoints": 3, "loras": 2}, "packs": []},
        schema_source="bundled core snapshot (ComfyUI 0.3.64)",
        workflows=workflows, summary=summary,
    )
