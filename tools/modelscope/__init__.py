"""Typed client for ModelScope's public model API (``modelscope.cn``): model info, file listings with
SHA256, and download URLs. See ``client.py``."""

from comfyfixer.tools.modelscope.client import ModelScopeClient, MsFile, MsModelInfo

__all__ = ["ModelScopeClient", "MsFile", "MsModelInfo"]
