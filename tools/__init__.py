"""Typed, LLM-free capabilities of ComfyFixerSmart (pydantic in, pydantic out).

Every tool works from the CLI and from Python without any model. Nothing in
``comfyfixer.tools`` imports ``comfyfixer.agent``.
"""
