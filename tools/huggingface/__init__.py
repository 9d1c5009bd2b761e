"""Hugging Face Hub: typed client for search, file listings, file metadata and gated-repo errors.

Used by the resolver's Hugging Face stage to find a model file by name or hash, and to pin a download
to an exact size and sha256 (the Hub reports both exactly). ``huggingface_hub`` is used only for its
error classification; every request goes through our ``httpx`` client, and nothing here downloads a
file (that is ``tools/download``).
"""

from comfyfixer.tools.huggingface.client import (
    GatedRepo,
    HfFile,
    HfFileMetadata,
    HfRepoInfo,
    HfRepoSummary,
    HuggingFaceClient,
    parse_hf_url,
)

__all__ = ["GatedRepo", "HfFile", "HfFileMetadata", "HfRepoInfo", "HfRepoSummary", "HuggingFaceClient", "parse_hf_url"]
