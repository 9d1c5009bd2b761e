"""Typed client for ModelScope's public model API (``modelscope.cn``): model info, file listings with
SHA256, and download URLs; ``parse_modelscope_url`` reads the site's URLs. See ``client.py``."""

from comfyfixer.tools.modelscope.client import ModelScopeClient, MsFile, MsModelInfo, parse_modelscope_url

__all__ = ["ModelScopeClient", "MsFile", "MsModelInfo", "parse_modelscope_url"]
