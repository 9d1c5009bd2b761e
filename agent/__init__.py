"""ComfyFixerSmart's user-facing side: CLI, settings, reports, journal and the LLM orchestrator.

``comfyfixer.agent`` imports ``comfyfixer.tools``; tools never import the agent.
"""

__version__ = "0.1.0"
