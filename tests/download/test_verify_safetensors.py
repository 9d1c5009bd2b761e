"""The download check of a safetensors file is ``modelfile``'s reader in its exact mode: what it refuses,
and that it refuses nothing the safetensors library itself would load."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from comfyfixer.tools.download.verify import check_header, check_safetensors
from comfyfixer.tools.errors import InputError, IntegrityError
from comfyfixer.tools.modelfile import read_safetensors_header


def _file(path: Path, header: dict[str, Any], data: int, extra: bytes = b"") -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * data + extra)
    return path


def _u8(start: int, end: int, shape: Any = None) -> dict[str, Any]:
    return {"dtype": "U8", "shape": [end - start] if shape is None else shape, "data_offsets": [start, end]}


# (header, data bytes, bytes after the data) → does the download check accept it?
CASES: dict[str, tuple[dict[str, Any], int, bytes, bool]] = {
    "good": ({"a": _u8(0, 8), "__metadata__": {"format": "pt"}}, 8, b"", True),
    "a dtype outside our table (C64)": ({"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, 8, b"", True),
    "offsets that do not hold the shape": ({"a": {"dtype": "F16", "shape": [4], "data_offsets": [0, 6]}}, 6, b"", False),
    "negative offsets": ({"a": _u8(-2, 0), "b": _u8(0, 8)}, 8, b"", False),
    "no shape": ({"a": {"dtype": "U8", "data_offsets": [0, 4]}}, 4, b"", False),
    "bytes after the data": ({"a": _u8(0, 4)}, 4, b"xx", False),
    "data cut short": ({"a": _u8(0, 8)}, 4, b"", False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_download_check_accepts_exactly_the_well_formed_files(tmp_path: Path, case: str) -> None:
    header, data, extra, accepted = CASES[case]
    path = _file(tmp_path / "m.safetensors", header, data, extra)
    if accepted:
        assert check_header(path, ".safetensors") == f"safetensors ({len(header) - ('__metadata__' in header)} tensors)"
        return
    with pytest.raises(IntegrityError) as info:
        check_safetensors(path)
    assert info.value.hint and "download again" in info.value.hint


def test_exact_mode_is_what_differs_from_the_reader_identify_and_fit_use(tmp_path: Path) -> None:
    trailing = _file(tmp_path / "t.safetensors", {"a": _u8(0, 4)}, 4, b"xx")
    assert read_safetensors_header(trailing).data_bytes == 4  # identify and fit read a file with a tail
    size = trailing.stat().st_size
    with pytest.raises(InputError, match=f"safetensors data should be {size - 2} bytes but the file has {size}"):
        read_safetensors_header(trailing, exact=True)
    c64 = _file(tmp_path / "c.safetensors", {"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, 8)
    with pytest.raises(InputError, match="unknown dtype 'C64'"):
        read_safetensors_header(c64)  # no size for it in our table: fit could not count its bytes
    assert read_safetensors_header(c64, exact=True).tensors == {"a": ("C64", (1,))}


def test_every_refusal_is_one_the_safetensors_library_makes_too(tmp_path: Path) -> None:
    safetensors = pytest.importorskip("safetensors")

    def loads(path: Path) -> bool:
        try:
            with safetensors.safe_open(str(path), framework="numpy") as f:
                names = f.keys()
                for name in names:
                    f.get_tensor(name)
        except safetensors.SafetensorError:
            return False
        return True

    verdicts = {case: loads(_file(tmp_path / f"{i}.safetensors", header, data, extra))
                for i, (case, (header, data, extra, _)) in enumerate(sorted(CASES.items()))}
    assert verdicts == {case: accepted for case, (*_, accepted) in CASES.items()}
