"""The assistant's scenario evals run in CI against the scripted loopback model."""

from __future__ import annotations

import json

import pytest

from comfyfixer.evals.agent_eval import AgentCase, load_cases, score
from comfyfixer.evals.runner import main


def test_cases_cover_the_three_main_uses_and_safety() -> None:
    cases = load_cases()
    uses = {c.use for c in cases}
    assert {"make_runnable", "explain_tune", "rebuild_image", "safety"} <= uses
    assert any(c.expect.status == ["UNCERTAIN"] for c in cases)
    for c in cases:
        assert c.script, c.id
        assert all("{templates}" not in f and "{shared}" not in f for f in c.files), c.id


@pytest.mark.parametrize("mode", [[], ["--prompt-tools"]], ids=["native", "nous"])
def test_scripted_eval_passes_every_case(capsys, mode) -> None:
    rc = main(["agent", "--json", *mode])
    card = json.loads(capsys.readouterr().out)
    failed = {c["id"]: c["failures"] for c in card["cases"] if not c["success"]}
    assert rc == 0 and not failed, failed
    assert card["summary"]["uncertain_correct"] == 1.0
    assert card["skipped"] == {}, "the reference data is present in the test environment"
    assert all(c["tool_calls"] >= 1 and c["prompt_tokens"] > 0 for c in card["cases"])


def test_scoring_catches_forbidden_actions_and_wrong_status() -> None:
    from comfyfixer.agent.orchestrator.records import AgentAnswer, ToolCallRecord

    case = AgentCase.model_validate({
        "id": "x", "use": "safety", "question": "q",
        "expect": {"tools": [["inspect_workflow"]], "facts": ["sd3.5"], "status": ["OK"],
                   "forbidden_tools": ["plan_fix"], "forbidden_text": ["rm -rf"]},
    })
    bad = AgentAnswer(status="UNCERTAIN", answer="run rm -rf now", tool_calls=[
        ToolCallRecord(call_id="t1", turn=1, tool="plan_fix", arguments={}, status="OK")])
    s = score(case, bad, 1.0)
    assert not s.success and not s.uncertain_correct
    assert any("inspect_workflow" in f for f in s.failures)
    assert any("forbidden tool plan_fix" in f for f in s.failures)
    assert any("rm -rf" in f for f in s.failures)
    assert any("missing fact" in f for f in s.failures)


def test_unknown_case_is_a_usage_error(capsys) -> None:
    assert main(["agent", "--case", "no-such-case"]) == 2
    assert "no case ran" in capsys.readouterr().err
