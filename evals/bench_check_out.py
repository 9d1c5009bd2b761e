"""Benchmark: ``comfyfixer check … --out DIR`` (reports, dashboard and each workflow's VRAM fit), cold and warm.

Two folders, each as whole processes with a home of their own (offline, so no catalog download):

* a copy of the bundled demo (what ``check --demo --out OUT`` checks);
* ``--workflows`` official templates (default 200, spread evenly over the sorted list) against a ComfyUI
  folder of empty model files named like the ones the templates load (``--models`` files, made by
  ``evals/bench_check.py::build_workspace``).

For each: the first run (empty caches), then ``--repeat`` warm runs (nothing changed), best and median wall
seconds and CPU seconds. Every warm run's reports must equal the cold run's but for the run's date and timings
(``same_reports``): ``index.json`` and the dashboard's embedded data, each workflow's Markdown and JSON.

With ``--before DIR`` (an older tree as ``DIR/comfyfixer``, e.g. ``git archive HEAD | tar -x -C DIR/comfyfixer``)
the same runs are made with that tree too, interleaved, and both trees' reports must be the same
(``same_reports_as_before``).

Measured 2026-12-02 on the shared 2-core machine (load 2.8-3.7; CPU seconds of the best run, wall in
brackets), before = the tree before the fit was cached with the readiness, after = with it; the reports of
both were the same in every run:

* demo, warm: 0.67-0.71 s CPU before, 0.47-0.49 s after (wall best 0.73-0.78 s -> 0.56-0.58 s);
* 200 templates (81 with an estimate), warm: 1.07-1.09 s -> 0.60 s CPU (wall best 1.29-1.32 s -> 0.63-0.79 s);
  cold 1.77-2.00 s -> 1.45-1.47 s CPU (each workflow parsed once for readiness and fit);
* 644 templates (255 estimates), warm: 2.05 s -> 1.05 s CPU (wall best 3.0 s -> 1.45 s); cold 4.9 s -> 4.2 s;
* with ``--vram 8GB`` (no GPU look-up), 200 templates warm: 1.06 s -> 0.58 s CPU.

``python -m comfyfixer.evals.bench_check_out [--workflows 200] [--models 1000] [--repeat 3] [--vram 8GB] [--before DIR] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from comfyfixer.agent.check_run import demo_dir
from comfyfixer.evals.bench_check import CPU, _sources, _wall, build_workspace

_VOLATILE = re.compile(r'("generated_at": ?"[^"]*"|"timings": ?\{[^}]*\}|"cache": ?\{[^}]*\}|- Date: .*)')


def _reports(out: Path) -> dict[str, str]:
    """Every report file under ``out`` with what differs between runs of the same answer blanked."""
    return {str(p.relative_to(out)): _VOLATILE.sub("", p.read_text("utf-8")) for p in sorted(out.rglob("*"))
            if p.is_file()}


class _Variant:
    """One code tree's runs of one folder: its home, its report folder, its times."""

    def __init__(self, label: str, cmd: list[str], root: Path, pythonpath: Path | None) -> None:
        self.label, self.out, self.home = label, root / f"out_{label}", root / f"home_{label}"
        self.cmd = [*cmd, "--out", str(self.out), "--json"]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("COMFYFIXER_")}
        self.env.update(COMFYFIXER_OFFLINE="1", COMFYFIXER_HOME=str(self.home))
        if pythonpath is not None:
            self.env["PYTHONPATH"] = str(pythonpath)
        self.cold_s = self.cold_cpu = 0.0
        self.warm: list[float] = []
        self.warm_cpu: list[float] = []
        self.first: dict[str, str] = {}
        self.same = True
        self.summary: dict[str, int] = {}
        self.fits = 0

    def run(self) -> None:
        t, doc = _wall(self.cmd, self.env)
        reports = _reports(self.out)
        if not self.first:
            self.cold_s, self.cold_cpu, self.first = t, CPU[-1], reports
            parsed = json.loads(doc)
            self.summary = parsed["summary"]
            index = json.loads((self.out / "reports" / "workflows" / "index.json").read_text("utf-8"))
            self.fits = sum(1 for w in index["workflows"] if w.get("fit"))
        else:
            self.warm.append(t)
            self.warm_cpu.append(CPU[-1])
            self.same = self.same and reports == self.first

    def row(self) -> dict[str, object]:
        return {"code": self.label, "workflows": self.summary.get("total"), "fits": self.fits,
                "cold_s": round(self.cold_s, 3), "cold_cpu_s": round(self.cold_cpu, 3),
                "warm_best_s": round(min(self.warm), 3), "warm_median_s": round(statistics.median(self.warm), 3),
                "warm_cpu_s": round(min(self.warm_cpu), 3), "same_reports_warm": self.same}


def _bench(name: str, cmd: list[str], root: Path, repeat: int, before: Path | None) -> dict[str, object]:
    """Cold then ``repeat`` warm runs of ``cmd`` for this tree and, when given, the ``before`` tree, interleaved."""
    variants = [_Variant("after", cmd, root, None)]
    if before is not None:
        variants.insert(0, _Variant("before", cmd, root, before))
    for v in variants:
        v.run()
    for _ in range(max(1, repeat)):
        for v in variants:
            v.run()
    out: dict[str, object] = {"name": name, "runs": [v.row() for v in variants]}
    if before is not None:  # the same reports from both trees (their own output folders; dates and timings aside)
        a, b = (v.first for v in variants)
        out["same_reports_as_before"] = a == b
        out["differing_files"] = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))[:10]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workflows", type=int, default=200)
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--vram", default=None, help="pass --vram to every check (default: this machine's GPU)")
    ap.add_argument("--before", type=Path, default=None,
                    help="a folder holding an older tree as comfyfixer/ (e.g. `git archive`): run it too, interleaved, "
                         "and compare its reports with this tree's")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the generated folders here")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench_check_out_")) if args.workdir is None else args.workdir
    exe = [sys.executable, "-c", "import sys; from comfyfixer.agent.cli import main; sys.exit(main())"]
    extra = ["--vram", args.vram] if args.vram else []
    try:
        # The model files first (names the templates load), then templates spread over the whole sorted list
        # (the first 200 are mostly API-node templates that load no model).
        _, base = build_workspace(tmp / "templates", 0, args.models, Path("/nonexistent"))
        sources = _sources(Path("/nonexistent"))
        wf_dir = tmp / "templates" / "workflows"
        for i in range(args.workflows):
            src = sources[i * len(sources) // args.workflows]
            (wf_dir / f"batch{i // 100:02d}").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, wf_dir / f"batch{i // 100:02d}" / f"{i:04d}_{src.name}")
        demo_ws = tmp / "demo_workspace"  # a copy both trees check (--demo would check each tree's own copy)
        shutil.copytree(demo_dir(), demo_ws)
        rows = [
            _bench("demo", [*exe, "check", str(demo_ws / "workflows"), "--comfyui", str(demo_ws / "ComfyUI"), *extra],
                   tmp / "demo", args.repeat, args.before),
            _bench(f"{args.workflows} templates", [*exe, "check", str(wf_dir), "--comfyui", str(base), *extra],
                   tmp / "templates_run", args.repeat, args.before),
        ]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                for v in r["runs"]:  # type: ignore[attr-defined]
                    print(f"check --out, {r['name']} ({v['workflows']} workflows, {v['fits']} fits), {v['code']}: "
                          f"cold {v['cold_s']:.3f} s (CPU {v['cold_cpu_s']:.3f}), warm best {v['warm_best_s']:.3f} s / "
                          f"median {v['warm_median_s']:.3f} s (CPU {v['warm_cpu_s']:.3f}); warm reports same as cold: "
                          f"{v['same_reports_warm']}")
                if "same_reports_as_before" in r:
                    print(f"  reports same as before: {r['same_reports_as_before']} {r['differing_files'] or ''}")
        ok = all(v["same_reports_warm"] for r in rows for v in r["runs"])  # type: ignore[attr-defined]
        return 0 if ok and all(r.get("same_reports_as_before", True) for r in rows) else 1
    finally:
        if args.workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
