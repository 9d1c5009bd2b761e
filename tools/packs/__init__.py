"""Node-pack installs you can trust: hardened git, recorded versions, requirements checked before approval.

* :mod:`.git` — clone at a verified commit with a locked-down git (https only, no redirects,
  no hooks, no user/system config, submodules checked against the host policy first);
* :mod:`.versions` — the pack version the workflow's nodes record, and what to install for it;
* :mod:`.requirements` — ``requirements.txt``/``pyproject.toml`` sanitised, then dry-run in
  ComfyUI's own Python against our index: added/upgraded/downgraded packages, torch/CUDA/numpy
  changes refused by default, conflicts between the packs of one plan.
"""

from comfyfixer.tools.packs.git import (
    CloneResult,
    PackInstallRequest,
    PackInstallResult,
    PackRefused,
    clone_verified,
    head_commit,
    install_pack,
    remote_head,
    tag_commit,
)

__all__ = [
    "CloneResult",
    "PackInstallRequest",
    "PackInstallResult",
    "PackRefused",
    "clone_verified",
    "head_commit",
    "install_pack",
    "remote_head",
    "tag_commit",
]
