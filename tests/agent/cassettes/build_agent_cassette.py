"""Record the assistant's model traffic that ``tests/agent/test_vcr_replay.py`` replays.

The model is the scripted OpenAI-compatible loopback server (``evals/fakes/chat_server.py``) playing the
test's ``SCRIPT``; the tools are the test's counting ``ToolBox``; the question is the test's ``QUESTION``.
Recording goes through ``tests/recorded.py`` (its filters drop authorization, api-key and cookie headers),
in an empty home and working folder with no ``COMFYFIXER_*`` settings or secrets, as the tests run.

Run from the repository root with the dev venv active, after any change to the system prompt, a tool
schema or a tool result: ``python tests/agent/cassettes/build_agent_cassette.py [--out PATH]``
(default: rewrites ``agent_lookup_then_answer.yaml`` beside this script).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[1]
sys.path[:0] = [str(TESTS), str(TESTS / "agent")]

from agent_testkit import ToolBox, make_settings  # noqa: E402
from recorded import recorder  # noqa: E402
from test_vcr_replay import CASSETTE, MATCH_BODY, QUESTION, SCRIPT  # noqa: E402

from comfyfixer.evals.fakes.chat_server import ScriptedChatServer  # noqa: E402
from comfyfixer.tools.context import ToolContext  # noqa: E402

SECRETS = ("CIVITAI_API_TOKEN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "RUNPOD_API_KEY", "OPENAI_API_KEY",
           "DASHSCOPE_API_KEY")


def build(out: Path) -> int:
    from comfyfixer.agent.orchestrator import Orchestrator

    with tempfile.TemporaryDirectory() as tmp:
        for name in [n for n in os.environ if n.startswith("COMFYFIXER_") or n in SECRETS]:
            del os.environ[name]
        os.environ["COMFYFIXER_HOME"] = str(Path(tmp) / "home")
        os.chdir(tmp)  # no .env or comfyfixer.toml of the developer's folder
        out.unlink(missing_ok=True)  # recording appends to an existing file
        toolbox = ToolBox()
        ctx = ToolContext(cache_dir=Path(tmp) / "cache", state_dir=Path(tmp) / "state")
        with ScriptedChatServer(SCRIPT) as server:
            orch = Orchestrator(make_settings(server.base_url, llm_probe=False), registry=toolbox.registry(), ctx=ctx)
            with recorder(match_on=MATCH_BODY).use_cassette(str(out), serializer="yaml") as cassette:
                answer = orch.run(QUESTION)
    if answer.status != "OK" or len(cassette) != len(SCRIPT):
        print(f"unexpected recording: status {answer.status}, {len(cassette)} interactions", file=sys.stderr)
        return 1
    print(f"wrote {out} ({len(cassette)} interactions)")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=HERE / CASSETTE)
    sys.exit(build(parser.parse_args().out.resolve()))
