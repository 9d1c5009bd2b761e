"""``comfyfixer-eval``: run the project's evaluations and print a scorecard.

    comfyfixer-eval                                   # assistant cases on the scripted loopback model
    comfyfixer-eval agent --base-url http://127.0.0.1:11434/v1 --model qwen2.5:7b-instruct
    comfyfixer-eval agent --case safety-planted-prompt --prompt-tools --json

Tool mode: native tool calls unless ``--prompt-tools`` or ``COMFYFIXER_LLM_NATIVE_TOOLS=false``.
The endpoint's API key comes from the usual settings (``COMFYFIXER_LLM_API_KEY`` or
``DASHSCOPE_API_KEY``); it is never sent to the scripted model.

Exit code: 0 when every case succeeds, 1 otherwise, 2 for usage errors or an unreachable model server.
"""

from __future__ import annotations

import argparse
import os
import sys

SUITES = ("agent",)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="comfyfixer-eval", description="Run ComfyFixerSmart evaluations.")
    p.add_argument("suite", nargs="?", default="agent", choices=SUITES, help="Which evaluation (default: agent).")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint; omitted = the scripted loopback model.")
    p.add_argument("--model", default=None, help="Model name on that endpoint.")
    p.add_argument("--prompt-tools", action="store_true",
                   help="Prompt-based (nous) tool calls instead of native (also: COMFYFIXER_LLM_NATIVE_TOOLS=false).")
    p.add_argument("--online", action="store_true", help="Let tools use the network (Civitai, Hugging Face).")
    p.add_argument("--case", action="append", default=[], help="Run only this case id (repeatable).")
    p.add_argument("--json", action="store_true", help="Print the scorecard as JSON.")
    return p


def _env_native_tools() -> bool:
    """``COMFYFIXER_LLM_NATIVE_TOOLS`` as the settings read it (true unless it says false/0/no/off)."""
    value = os.environ.get("COMFYFIXER_LLM_NATIVE_TOOLS")
    return value is None or value.strip().lower() not in ("0", "false", "no", "off")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from comfyfixer.agent.orchestrator import ModelUnavailable
    from comfyfixer.evals.agent_eval import render, run_eval, to_json

    model = args.model or ("scripted-qwen" if not args.base_url else "qwen2.5:7b-instruct")
    native = not args.prompt_tools and _env_native_tools()
    try:
        card = run_eval(base_url=args.base_url, model=model, native_tools=native,
                        online=args.online, only=args.case)
    except ModelUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not card.cases:
        print("error: no case ran" + (f" ({len(card.skipped)} skipped)" if card.skipped else ""), file=sys.stderr)
        return 2
    print(to_json(card) if args.json else render(card))
    return 0 if all(c.success for c in card.cases) else 1


if __name__ == "__main__":
    sys.exit(main())
