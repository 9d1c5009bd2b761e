"""The reports' VRAM fit is estimated by the readiness check and cached with each workflow's readiness
(tools/readiness/check.py, ``fit=``): a warm ``check --out`` loads and inspects nothing, and each thing the
estimate reads (the workflow, a model file's header, the VRAM target, the schemas) invalidates it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from comfyfixer.agent.check_run import demo_dir
from comfyfixer.agent.cli import run
from comfyfixer.agent.reports import write_reports
from comfyfixer.evals.fakes.comfyui_server import FakeComfyUI
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.fit.report import FitEstimator, fit_target
from comfyfixer.tools.readiness import CheckInput, CheckResult, check_workflows
from comfyfixer.tools.readiness.check import FITS, MAX_ENTRY_CHARS
from comfyfixer.tools.workflow import inspect as inspect_mod
from comfyfixer.tools.workflow import loader as loader_mod

from .archs import clip_l, flux_dev, write_sparse_safetensors

SDXL = "templates/image_sdxl_simple.json"
FLUX = "templates/flux_schnell_full_text_to_image.json"
USDU = "community/ultimate_sd_upscale_basic.json"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often the workflow loader and the inspector run (the check and the fit import them on use)."""
    counts: Counter[str] = Counter()

    def counting(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return func(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(loader_mod, "load_workflow", counting("load", loader_mod.load_workflow))
    monkeypatch.setattr(inspect_mod, "inspect_loaded", counting("inspect", inspect_mod.inspect_loaded))
    return counts


def _workspace(tmp_path: Path) -> tuple[Path, Path]:
    shutil.copytree(demo_dir() / "workflows", tmp_path / "workflows")
    shutil.copytree(demo_dir() / "ComfyUI", tmp_path / "ComfyUI")
    return tmp_path / "workflows", tmp_path / "ComfyUI"


def _check(tmp_path: Path, wf: Path, comfy: Path, vram: float | None = 8, **extra: Any) -> CheckResult:
    ctx = ToolContext(comfyui_dir=comfy, cache_dir=tmp_path / "cache", state_dir=tmp_path / "state", **extra)
    return check_workflows(CheckInput(paths=[str(wf)]), ctx, fit=fit_target(vram))


def _fits(result: CheckResult, wf: Path) -> dict[str, Any]:
    assert result.fits is not None
    return {str(Path(p).relative_to(wf)): r for p, r in result.fits.items()}


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_a_warm_check_out_loads_and_inspects_nothing(tmp_path: Path, calls: Counter[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    out = tmp_path / "out"
    assert run(["check", "--demo", "--out", str(out), "--json"]) == 0
    # Cold: each of the 7 files read once, for its readiness and its fit together (one is not a workflow).
    assert calls == {"load": 7, "inspect": 6}
    cold = _files(out)
    calls.clear()
    assert run(["check", "--demo", "--out", str(out), "--json"]) == 0
    assert calls == {}
    index = json.loads((out / "reports" / "workflows" / "index.json").read_text("utf-8"))
    assert index["cache"]["fits_cached"] == index["cache"]["readiness_cached"] == 7
    assert sum(1 for w in index["workflows"] if w["fit"]) == 5
    warm = _files(out)
    # Each workflow's report is left as it was; the index and dashboard differ only in dates, timings and cache counts.
    assert {k: v for k, v in warm.items() if "index" not in k} == {k: v for k, v in cold.items() if "index" not in k}


def test_reports_equal_the_uncached_path(tmp_path: Path) -> None:
    wf, comfy = _workspace(tmp_path)
    for n, result in enumerate((_check(tmp_path, wf, comfy, None), _check(tmp_path, wf, comfy, None))):  # cold, warm
        assert result.cache["fits_cached"] == (7 if n else 0)
        cached = write_reports(result, tmp_path / f"cached{n}")
        # The same result without the check's estimates: the writer loads every workflow again (bundled schemas).
        again = write_reports(result.model_copy(update={"fits": None, "fit_where": ""}), tmp_path / f"again{n}")
        assert _files(cached.out_dir) == _files(again.out_dir)
        index = json.loads(cached.index_json.read_text("utf-8"))
        assert sum(1 for w in index["workflows"] if w["fit"]) == 5


def test_a_changed_workflow_is_estimated_again_from_one_parse(tmp_path: Path, calls: Counter[str]) -> None:
    wf, comfy = _workspace(tmp_path)
    cold = _check(tmp_path, wf, comfy)
    doc = json.loads((wf / SDXL).read_text("utf-8"))
    latent = next(n for n in doc["nodes"] if n["type"] == "EmptyLatentImage")
    latent["widgets_values"] = [2048, 2048, 1]
    (wf / SDXL).write_text(json.dumps(doc), encoding="utf-8")
    calls.clear()
    after = _check(tmp_path, wf, comfy)
    assert calls == {"load": 1, "inspect": 1}  # that file alone, once for both
    assert after.cache["fits_cached"] == 6 and after.cache["readiness_cached"] == 6
    before, now = _fits(cold, wf)[SDXL], _fits(after, wf)[SDXL]
    assert (before.width, now.width) == (1024, 2048) and now.peak_bytes > before.peak_bytes
    assert {k: v for k, v in _fits(after, wf).items() if k != SDXL} == {k: v for k, v in _fits(cold, wf).items()
                                                                        if k != SDXL}


def test_a_model_file_rewritten_in_place_is_read_again(tmp_path: Path, calls: Counter[str]) -> None:
    wf, comfy = _workspace(tmp_path)
    cold = _fits(_check(tmp_path, wf, comfy), wf)
    model = next(m for m in cold[USDU].models if m.local_path)
    assert model.source == "default" and "damaged" in model.detail  # the demo's files are empty
    write_sparse_safetensors(Path(model.local_path), [(n, "F16", s) for n, s in clip_l()])  # same inode, same folder
    calls.clear()
    after = _fits(_check(tmp_path, wf, comfy), wf)
    now = next(m for m in after[USDU].models if m.filename == model.filename)
    assert now.source == "header" and now.bytes != model.bytes and after[USDU].peak_bytes != cold[USDU].peak_bytes
    assert calls["load"] >= 1


def test_an_added_model_file_changes_the_estimate(tmp_path: Path) -> None:
    wf, comfy = _workspace(tmp_path)
    cold = _fits(_check(tmp_path, wf, comfy), wf)
    unet = next(m for m in cold[FLUX].models if m.filename == "flux1-schnell.safetensors")
    assert unet.local_path is None and unet.source == "workflow-note"
    target = comfy / "models" / "diffusion_models" / "flux1-schnell.safetensors"
    write_sparse_safetensors(target, [(n, "BF16", s) for n, s in flux_dev()])
    after = _check(tmp_path, wf, comfy)
    assert after.cache["fits_cached"] == 0  # the inventory changed: every estimate is made again
    now = next(m for m in _fits(after, wf)[FLUX].models if m.filename == unet.filename)
    assert now.source == "header" and now.local_path == str(target)


def test_another_vram_target_is_its_own_entry(tmp_path: Path) -> None:
    wf, comfy = _workspace(tmp_path)
    small = _check(tmp_path, wf, comfy, 4)
    large = _check(tmp_path, wf, comfy, 48)
    assert large.cache["fits_cached"] == 0 and large.fit_where == "target 48 GB"
    assert {r.vram_bytes for r in _fits(large, wf).values()} == {48 * 1024**3}
    assert _fits(small, wf)[SDXL].verdict != _fits(large, wf)[SDXL].verdict
    assert _check(tmp_path, wf, comfy, 4).cache["fits_cached"] == 7  # both kept


def test_a_live_comfyuis_schemas_are_used_and_keyed(tmp_path: Path, shared_data: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    wf, comfy = _workspace(tmp_path)
    sources: list[str] = []
    real = FitEstimator.estimate

    def spy(self: FitEstimator, path: str, graph: Any, refs: Any, schemas: Any) -> Any:
        sources.append(schemas.source)
        return real(self, path, graph, refs, schemas)

    monkeypatch.setattr(FitEstimator, "estimate", spy)
    _check(tmp_path, wf, comfy)
    assert sources and all(s.startswith("bundled") or "core" in s.lower() for s in sources)
    sources.clear()
    with FakeComfyUI(data_dir=shared_data / "comfyui") as fake:
        live = _check(tmp_path, wf, comfy, comfyui_url=fake.url)
    assert live.cache["fits_cached"] == 0  # the bundled schemas' estimates do not answer for the live ones
    assert sources and all(s.startswith("live /object_info") for s in sources)
    assert live.fits


@pytest.mark.parametrize("damage", ["not json", '{"fit": {"path": 3}, "files": []}', '{"fit": null}',
                                    '{"fit": null, "files": [[1, 2]]}', "x" * (MAX_ENTRY_CHARS + 1)])
def test_a_damaged_fit_entry_is_rebuilt(tmp_path: Path, damage: str) -> None:
    wf, comfy = _workspace(tmp_path)
    cold = _check(tmp_path, wf, comfy)
    db = sqlite3.connect(tmp_path / "cache" / "inventory" / "inventory.sqlite3")
    with db:
        db.execute("UPDATE kv SET data=? WHERE namespace=?", (damage, FITS))
    db.close()
    rebuilt = _check(tmp_path, wf, comfy)
    assert rebuilt.cache["fits_cached"] == 0 and rebuilt.cache["readiness_cached"] == 7
    assert rebuilt.fits == cold.fits
    assert _check(tmp_path, wf, comfy).cache["fits_cached"] == 7


def test_hashes_and_no_fit(tmp_path: Path) -> None:
    wf, comfy = _workspace(tmp_path)
    ctx = ToolContext(comfyui_dir=comfy, cache_dir=tmp_path / "cache", state_dir=tmp_path / "state")
    plain = check_workflows(CheckInput(paths=[str(wf)]), ctx)
    assert plain.fits is None and "fits_cached" not in plain.cache
    assert "fits" not in plain.model_dump() and "fit_where" not in plain.model_dump_json()
    inp = CheckInput(paths=[str(wf)], hashes=True)  # the readiness is not cached with sha256s; the estimate is
    check_workflows(inp, ctx, fit=fit_target(8))
    assert check_workflows(inp, ctx, fit=fit_target(8)).cache["fits_cached"] == 7


def test_a_scheduled_cycle_reuses_the_estimates(tmp_path: Path, calls: Counter[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    wf, comfy = _workspace(tmp_path)
    out = tmp_path / "out"
    args = ["schedule", str(wf), "--comfyui", str(comfy), "--out", str(out), "--once", "--no-require-comfyui",
            "--no-discover", "--json"]
    assert run(args) == 0
    assert calls == {"load": 7, "inspect": 6}
    calls.clear()
    assert run(args) == 0
    assert calls == {}
    index = json.loads((out / "reports" / "workflows" / "index.json").read_text("utf-8"))
    assert sum(1 for w in index["workflows"] if w["fit"]) == 5 and index["cache"]["fits_cached"] == 7


def test_the_estimates_stay_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One entry per workflow and target: each check that writes keeps the newest (here 2 x 7)."""
    from comfyfixer.tools.readiness import check as check_mod

    monkeypatch.setattr(check_mod, "KEEP_ENTRIES", 10)
    wf, comfy = _workspace(tmp_path)
    for vram in (4, 8, 12, 16):
        _check(tmp_path, wf, comfy, vram)
    db = sqlite3.connect(tmp_path / "cache" / "inventory" / "inventory.sqlite3")
    (count,) = db.execute("SELECT COUNT(*) FROM kv WHERE namespace=?", (FITS,)).fetchone()
    db.close()
    assert count == 14
    assert _check(tmp_path, wf, comfy, 16).cache["fits_cached"] == 7
    assert _check(tmp_path, wf, comfy, 4).cache["fits_cached"] == 0  # trimmed away


def _readiness_code_files(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files the readiness code fingerprint stats (recorded as it hashes them)."""
    from comfyfixer.tools.readiness import check as check_mod

    seen: list[list[Path]] = []
    real = check_mod._files_fingerprint

    def recording(files: list[Path]) -> str:
        seen.append(files)
        return real(files)

    monkeypatch.setattr(check_mod, "_files_fingerprint", recording)
    check_mod._code_fingerprint()
    monkeypatch.setattr(check_mod, "_files_fingerprint", real)
    return seen[-1]


def test_the_fit_code_is_in_the_key_and_the_readiness_code_in_both(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from comfyfixer.tools.fit import report as report_mod

    readiness_files = _readiness_code_files(monkeypatch)
    names = {f"{p.parent.name}/{p.name}" for p in readiness_files}
    assert {"tools/model_folders.py", "imagemeta/containers.py", "workflow/inspect.py", "readiness/check.py"} <= names
    code = {f"{p.parent.name}/{p.name}" for p in report_mod.fit_code_files()}
    assert {"fit/estimate.py", "fit/headers.py", "tools/modelfile.py", "knowledge/vram-and-precision.md"} <= code

    wf, comfy = _workspace(tmp_path)
    stand_in = tmp_path / "estimate.py"  # a stand-in for the fit's code, which a test must not edit
    stand_in.write_text("v1")
    monkeypatch.setattr(report_mod, "fit_code_files", lambda: [stand_in])
    _check(tmp_path, wf, comfy)
    assert _check(tmp_path, wf, comfy).cache["fits_cached"] == 7
    stand_in.write_text("v2 (a new version)")
    after = _check(tmp_path, wf, comfy)
    assert after.cache["fits_cached"] == 0 and after.cache["readiness_cached"] == 7


def test_the_check_sizes_a_model_from_an_extra_model_path(tmp_path: Path) -> None:
    """check --out's fit finds a model where the inventory finds it: in an extra_model_paths.yaml folder."""
    wf, comfy = _workspace(tmp_path)
    disk2 = tmp_path / "disk2" / "unet"
    disk2.mkdir(parents=True)
    write_sparse_safetensors(disk2 / "flux1-schnell.safetensors", [(n, "BF16", s) for n, s in flux_dev()])
    (comfy / "extra_model_paths.yaml").write_text(f"disk2:\n  base_path: {tmp_path / 'disk2'}\n"
                                                  "  diffusion_models: unet\n", encoding="utf-8")
    unet = next(m for m in _fits(_check(tmp_path, wf, comfy), wf)[FLUX].models
                if m.filename == "flux1-schnell.safetensors")
    assert unet.source == "header" and unet.local_path == str(disk2 / "flux1-schnell.safetensors")


def test_every_module_the_estimate_runs_is_in_a_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    """The estimate's own imports (a fresh interpreter's, so the test suite's imports do not hide one) are in
    the fit key or the readiness key: a table edited there (tools/precision.py's bytes per parameter) gives new
    estimates, not the cached ones. Plain data types and errors need no fingerprint: a stored entry that no
    longer validates is rebuilt."""
    import subprocess
    import sys

    from comfyfixer.tools.fit import report as report_mod

    code = ("import sys, comfyfixer.tools.fit.estimate, comfyfixer.tools.fit.sizes, comfyfixer.tools.fit.report\n"
            "print('\\n'.join(m.__file__ for n, m in sys.modules.items()"
            " if n.startswith('comfyfixer.') and getattr(m, '__file__', None)))")
    loaded = {Path(p).resolve() for p in subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                         check=True).stdout.split()}
    readiness_files = _readiness_code_files(monkeypatch)
    covered = {p.resolve() for p in [*readiness_files, *report_mod.fit_code_files()]}
    exempt = {"__init__.py", "errors.py", "candidates.py", "lazy.py"}
    assert sorted(str(p) for p in loaded - covered if p.name not in exempt) == []
