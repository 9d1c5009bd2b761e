"""The pickle allow-list: real hostile pickles are refused with the global named; weights-shaped ones pass.

Each hostile pickle is also loaded with a recording unpickler (whose ``find_class`` returns a harmless
stub) to prove it really imports what the test says, so a refusal is never for the wrong reason.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dlkit import downloader, model_files, quarantined, request
from pickles import HOSTILE, op_int, torch_zip, weights_pickle

from comfyfixer.evals.fakes.file_server import FileServer
from comfyfixer.tools.download import ALLOWED_GLOBALS
from comfyfixer.tools.download.pickle_allow import TORCH_LEGACY_MAGIC, scan_pickle_file
from comfyfixer.tools.errors import IntegrityError


class _Recorder(pickle.Unpickler):
    """Loads a pickle without importing or calling anything real: records ``module.name`` per find_class."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.seen: list[str] = []

    def find_class(self, module: str, name: str) -> Any:
        self.seen.append(f"{module}.{name}")
        return lambda *a, **k: {}

    def persistent_load(self, pid: Any) -> Any:
        return ("storage", pid)


def imports_of(data: bytes) -> list[str]:
    rec = _Recorder(data)
    rec.load()
    return rec.seen


@pytest.fixture(params=list(HOSTILE), ids=list(HOSTILE))
def hostile_pickle(request: pytest.FixtureRequest) -> Iterator[tuple[bytes, str]]:
    data, name = HOSTILE[request.param]
    assert name in [_compat(n) for n in imports_of(data)], "the fixture must really import what it claims"
    yield data, name


def _compat(full: str) -> str:
    return "builtins.eval" if full == "__builtin__.eval" else full


def test_every_hostile_pickle_is_refused_with_the_global_named(hostile_pickle: tuple[bytes, str],
                                                               tmp_path: Path) -> None:
    data, name = hostile_pickle
    for label, content in (("raw", data), ("zip", torch_zip({"data.pkl": data}))):
        path = tmp_path / f"{label}.ckpt"
        path.write_bytes(content)
        scan = scan_pickle_file(path)
        assert scan.verdict == "dangerous", label
        assert scan.dangerous_globals == [name], label
        assert scan.reason() == f"the pickle imports {name}, which a weights file never needs"


def test_a_weights_shaped_pickle_passes_raw_and_zipped(tmp_path: Path) -> None:
    data = weights_pickle()
    assert imports_of(data) == ["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage",
                                "collections.OrderedDict"]
    for label, content in (("raw", data), ("zip", torch_zip({"data.pkl": data}))):
        path = tmp_path / f"{label}.pt"
        path.write_bytes(content)
        scan = scan_pickle_file(path)
        assert scan.verdict == "clean", (label, scan)
        assert scan.globals == ["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage"]
    assert scan.pickles == ["archive/data.pkl"]


def test_the_allow_list_is_torchs_weights_only_set_plus_comfyuis() -> None:
    for name in ("torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter", "torch.storage.UntypedStorage",
                 "torch.BFloat16Storage", "torch.serialization._get_layout", "torch.Size", "torch.float16",
                 "torch.bfloat16", "collections.OrderedDict", "builtins.set", "_codecs.encode",
                 "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint", "numpy.core.multiarray.scalar"):
        assert name in ALLOWED_GLOBALS, name
    for name in ("builtins.getattr", "builtins.eval", "posixpath.join", "os.system", "torch.load",
                 "numpy.core.multiarray._reconstruct", "torch.nn.Module", "builtins.__import__"):
        assert name not in ALLOWED_GLOBALS, name


def test_every_pickle_in_the_archive_is_walked(tmp_path: Path) -> None:
    evil, _ = HOSTILE["posixpath.join p2"]
    path = tmp_path / "two.pt"
    path.write_bytes(torch_zip({"data.pkl": weights_pickle(), "extra/constants.pkl": evil}))
    scan = scan_pickle_file(path)
    assert scan.verdict == "dangerous" and scan.dangerous_globals == ["posixpath.join"]
    assert scan.pickles == ["archive/data.pkl", "archive/extra/constants.pkl"]


def test_unattributable_imports_are_refused(tmp_path: Path) -> None:
    cases = {
        "ext": (b"\x80\x02\x82\x01)R.", "extension code 1 from the copyreg registry"),
        "computed": (b"\x80\x04" + op_int(1) + op_int(2) + b"\x93.", "computes at load time"),
    }
    for label, (data, text) in cases.items():
        path = tmp_path / f"{label}.pkl"
        path.write_bytes(data)
        scan = scan_pickle_file(path)
        assert scan.verdict == "dangerous" and any(text in p for p in scan.problems), (label, scan)
        assert text in scan.reason()


def test_torch_legacy_format_walks_all_five_pickles(tmp_path: Path) -> None:
    head = pickle.dumps(TORCH_LEGACY_MAGIC, protocol=2) + pickle.dumps(1001, protocol=2) + pickle.dumps(
        {"protocol_version": 1001, "little_endian": True}, protocol=2)
    tail = pickle.dumps(["0"], protocol=2) + b"\x80\x02" + os.urandom(64)  # raw tensor bytes after the pickles
    good = tmp_path / "legacy.ckpt"
    good.write_bytes(head + weights_pickle() + tail)
    scan = scan_pickle_file(good)
    assert scan.verdict == "clean" and len(scan.pickles) == 5, scan
    bad = tmp_path / "legacy_bad.ckpt"
    bad.write_bytes(head + HOSTILE["os.system p2"][0] + tail)
    assert scan_pickle_file(bad).dangerous_globals == [f"{os.system.__module__}.system"]


def test_a_raw_pickle_with_a_zip_trailer_is_still_read_as_a_pickle(tmp_path: Path) -> None:
    """torch decides by the first bytes; a central-directory record at the end must not hide the pickle."""
    path = tmp_path / "trailer.ckpt"
    path.write_bytes(HOSTILE["posixpath.join p2"][0] + b"PK\x05\x06" + b"\0" * 18)
    assert zipfile.is_zipfile(path)
    assert scan_pickle_file(path).dangerous_globals == ["posixpath.join"]


def test_the_walk_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "w.pt"
    path.write_bytes(weights_pickle())
    over_bytes = scan_pickle_file(path, max_bytes=64)
    assert over_bytes.verdict == "unscannable" and "larger than" in over_bytes.reason()
    over_ops = scan_pickle_file(path, max_ops=5)
    assert over_ops.verdict == "unscannable" and "more than 5 opcodes" in over_ops.reason()
    forged = tmp_path / "forged.pkl"  # BINBYTES8 claiming 2**60 bytes: refused before any allocation
    forged.write_bytes(b"\x80\x04\x8e" + struct.pack("<Q", 1 << 60))
    began = time.monotonic()
    assert scan_pickle_file(forged).verdict == "unscannable"
    assert time.monotonic() - began < 1
    bomb = tmp_path / "bomb.pt"
    bomb.write_bytes(torch_zip({"data.pkl": b"\x80\x02N" + b"0N" * 100 + b"."}))
    assert "over the 100 bytes a weights pickle may have" in scan_pickle_file(bomb, max_bytes=100).reason()


def test_a_truncated_pickle_cannot_be_vouched_for(tmp_path: Path) -> None:
    path = tmp_path / "cut.ckpt"
    path.write_bytes(weights_pickle()[:-12])
    scan = scan_pickle_file(path)
    assert scan.verdict == "unscannable" and "could not be read to the end" in scan.reason()


# --- through the engine --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pickles")


@pytest.fixture
def files(files_dir: Path) -> Iterator[FileServer]:
    with FileServer(files_dir) as srv:
        yield srv


def test_the_engine_quarantines_a_refused_pickle_and_says_how_to_accept_it(files: FileServer, comfy: Path) -> None:
    files.add_file("evil.ckpt", data=torch_zip({"data.pkl": HOSTILE["builtins.getattr p4"][0]}))
    req = request(comfy, files.direct_url("evil.ckpt"), "evil.ckpt", item="model:checkpoints/evil.ckpt")
    with downloader() as dl, pytest.raises(IntegrityError) as info:
        dl.download(req)
    assert "refused: the pickle imports builtins.getattr, which a weights file never needs" in info.value.message
    assert "`comfyfixer approve PLAN --allow-pickle model:checkpoints/evil.ckpt`" in (info.value.hint or "")
    assert model_files(comfy) == [] and len(quarantined(comfy)) == 1
    with downloader() as dl:  # what --allow-pickle sets: the user takes the file knowingly
        res = dl.download(req.model_copy(update={"allow_unsafe_pickle": True}))
    assert res.pickle_scan is not None and res.pickle_scan.dangerous_globals == ["builtins.getattr"]
    assert model_files(comfy) == ["models/checkpoints/evil.ckpt"]


def test_the_engine_places_a_weights_archive(files: FileServer, comfy: Path) -> None:
    files.add_file("good.pt", data=torch_zip({"data.pkl": weights_pickle()}))
    with downloader() as dl:
        res = dl.download(request(comfy, files.direct_url("good.pt"), "good.pt"))
    assert res.pickle_scan is not None and res.pickle_scan.verdict == "clean"
    assert res.header == "zip archive"


def test_pickles_are_found_by_content_whatever_the_name(files: FileServer, comfy: Path) -> None:
    files.add_file("innocent.dat", data=HOSTILE["posixpath.join p2"][0])
    files.add_file("archive.model", data=torch_zip({"data.pkl": HOSTILE["operator.attrgetter p2"][0]}))
    with downloader() as dl:
        with pytest.raises(IntegrityError, match=r"imports posixpath\.join"):
            dl.download(request(comfy, files.direct_url("innocent.dat"), "innocent.dat"))
        with pytest.raises(IntegrityError, match=r"imports operator\.attrgetter"):
            dl.download(request(comfy, files.direct_url("archive.model"), "archive.model"))
    assert model_files(comfy) == [] and len(quarantined(comfy)) == 2


def test_a_safetensors_header_that_starts_like_a_pickle_is_not_walked(files: FileServer, comfy: Path) -> None:
    """A header length of 0x0280 starts with the bytes of PROTO 2; the file is still a valid safetensors."""
    import json

    header = json.dumps({"w": {"dtype": "U8", "shape": [16], "data_offsets": [0, 16]}}).encode()
    header = header.ljust(0x0280)
    data = len(header).to_bytes(8, "little") + header + b"\x01" * 16
    assert data[:2] == b"\x80\x02"
    files.add_file("lucky.safetensors", data=data)
    with downloader() as dl:
        res = dl.download(request(comfy, files.direct_url("lucky.safetensors"), "lucky.safetensors"))
    assert res.pickle_scan is None and res.header.startswith("safetensors")
