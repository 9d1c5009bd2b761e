"""Civitai REST API v1: typed client, response models and hash helpers.

Used by the resolver's Civitai stage (find a model file by hash or name), by ``tools/reconstruct``
(an image's generation data and ``meta.comfy`` workflow). The client is
built once per run by ``ToolContext`` with the user's token; nothing here downloads model files.
"""

from comfyfixer.tools.civitai.client import CivitaiClient, DownloadProbe, SearchQuery, match_file_by_hash
from comfyfixer.tools.civitai.hashes import HashKind, guess_kinds, normalize_hash
from comfyfixer.tools.civitai.models import Image, Model, ModelFile, ModelVersion

__all__ = [
    "CivitaiClient", "DownloadProbe", "HashKind", "Image", "Model", "ModelFile", "ModelVersion",
    "SearchQuery", "guess_kinds", "match_file_by_hash", "normalize_hash",
]
