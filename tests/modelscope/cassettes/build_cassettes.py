"""Build the ModelScope cassettes (documented responses, not recorded traffic).

Run from the repository root: ``python tests/modelscope/cassettes/build_cassettes.py [--out DIR]``.
``tests/test_recorded.py`` rebuilds every cassette into a temporary folder and compares: edit this script,
not the JSON.

Source note: no ModelScope traffic has been recorded for this project (the shared data has none). The
response *shapes* are the documented ones: the official SDK's ``HubApi.get_model`` and
``HubApi.get_model_files`` (``modelscope/hub/api.py``: ``GET /api/v1/models/{id}`` and
``GET /api/v1/models/{id}/repo/files?Revision=…&Recursive=…``, both answering ``{"Code", "Success",
"Message", "RequestId", "Data"}``; files carry ``Name``, ``Path``, ``Type`` "blob"/"tree", ``Size``,
``Sha256``, ``Revision``, ``IsLFS``). The repository id and file names are those of the public
``black-forest-labs/FLUX.1-dev`` mirror; the sizes are the Hugging Face sizes of the same files; the
``Sha256`` values and the request ids are **illustrative placeholders** in the documented format, not the
real hashes. Each interaction's ``provenance`` says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BASE = "https://modelscope.cn/api/v1/models"
REPO = "black-forest-labs/FLUX.1-dev"
DOC = ("documented shape (modelscope SDK hub/api.py get_model / get_model_files); repo and file names public; "
       "Sha256 and RequestId are placeholders")
FLUX_SHA = "a" * 8 + "0123456789abcdef" * 3 + "b" * 8
AE_SHA = "c" * 8 + "fedcba9876543210" * 3 + "d" * 8


def _interaction(uri: str, body: Any, status: int = 200, message: str = "OK") -> dict[str, Any]:
    return {
        "provenance": DOC,
        "request": {"method": "GET", "uri": uri, "body": None, "headers": {"Accept": ["application/json"]}},
        "response": {
            "status": {"code": status, "message": message},
            "headers": {"Content-Type": ["application/json"]},
            "body": {"string": json.dumps(body, ensure_ascii=False)},
        },
    }


def _envelope(data: Any, *, code: int = 200, success: bool = True, message: str = "success") -> dict[str, Any]:
    return {"Code": code, "Data": data, "Message": message, "RequestId": "00000000-0000-0000-0000-000000000000",
            "Success": success}


def _write(out: Path, name: str, interactions: list[dict[str, Any]]) -> None:
    (out / name).write_text(json.dumps({"interactions": interactions, "version": 1}, indent=1, ensure_ascii=False) + "\n",
                            encoding="utf-8")


def build(out: Path = HERE) -> None:
    """Write the ModelScope cassettes into ``out``."""
    info = _envelope({"Name": "FLUX.1-dev", "Path": "black-forest-labs", "ChineseName": "", "License": "other",
                      "Downloads": 123456, "Tags": ["text-to-image"], "Revision": "master"})
    files = _envelope({"Files": [
        {"Name": "ae.safetensors", "Path": "ae.safetensors", "Type": "blob", "Size": 335304388, "Sha256": AE_SHA,
         "Revision": "master", "IsLFS": True},
        {"Name": "flux1-dev.safetensors", "Path": "flux1-dev.safetensors", "Type": "blob", "Size": 23802932552,
         "Sha256": FLUX_SHA, "Revision": "master", "IsLFS": True},
        {"Name": "text_encoder_2", "Path": "text_encoder_2", "Type": "tree", "Size": 0, "Sha256": "",
         "Revision": "master", "IsLFS": False},
        {"Name": "config.json", "Path": "text_encoder_2/config.json", "Type": "blob", "Size": 782, "Sha256": "",
         "Revision": "master", "IsLFS": False},
    ]})
    listing = f"{BASE}/{REPO}/repo/files?Revision=master&Recursive=true"
    _write(out, "modelscope_repo.json", [_interaction(f"{BASE}/{REPO}", info), _interaction(listing, files)])
    _write(out, "modelscope_listing.json", [_interaction(listing, files)])
    _write(out, "modelscope_missing.json", [
        _interaction(f"{BASE}/nobody/nothing/repo/files?Revision=master&Recursive=true",
                     _envelope(None, code=404, success=False, message="model not found"), 404, "Not Found"),
        _interaction(f"{BASE}/nobody/soft404", _envelope(None, code=10010205001, success=False,
                                                         message="model not exists")),
    ])


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=HERE)
    build(ap.parse_args().out)
