"""Hugging Face Hub: typed client for search, file listings, file metadata and gated-repo errors."""

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
