"""The assistant: a Qwen model (any OpenAI-compatible server) driving the project's typed tools.

Entry points::

    orch = Orchestrator(settings)                      # every registered capability as a tool
    answer = orch.run("make this workflow runnable", files=[path])
    answer.status, answer.answer, answer.candidates, answer.tool_calls

Side-effect tools only produce :class:`ProposedAction`s; :meth:`Orchestrator.execute_proposal`
runs one after the user approved it, with a token the model never sees.
"""

from comfyfixer.agent.orchestrator.conversation import Conversation
from comfyfixer.agent.orchestrator.engine import ModelUnavailable, Orchestrator
from comfyfixer.agent.orchestrator.records import AgentAnswer, ProposedAction, ToolCallRecord, Usage

__all__ = [
    "AgentAnswer",
    "Conversation",
    "ModelUnavailable",
    "Orchestrator",
    "ProposedAction",
    "ToolCallRecord",
    "Usage",
]
