"""Pickles built for the tests: hostile ones made by the real pickler, weights-shaped ones written opcode by opcode.

A plain module (the tests folder is not a package) shared by the pickle and executor tests.
"""

from __future__ import annotations

import io
import operator
import os
import pickle
import posixpath
import struct
import zipfile
from typing import Any


class _Call:
    def __init__(self, func: Any, args: tuple[Any, ...]) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


# --- hand-written opcodes -----------------------------------------------------------------------


def op_global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def op_str(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def op_int(n: int) -> bytes:
    return b"K" + bytes([n])


def weights_pickle() -> bytes:
    """What torch.save writes for ``{"state_dict": OrderedDict(w=<4 floats>)}`` (protocol 2), by hand."""
    od = op_global("collections", "OrderedDict") + b")R"
    storage = b"((" + op_str("storage") + op_global("torch", "FloatStorage") + op_str("0") + op_str("cpu") + op_int(4) + b"tQ"
    tensor = (op_global("torch._utils", "_rebuild_tensor_v2") + storage + op_int(0) + op_int(4) + b"\x85" + op_int(1)
              + b"\x85" + b"\x89" + od + b"tR")
    return b"\x80\x02}(" + op_str("state_dict") + od + b"(" + op_str("w") + tensor + b"uu."


def torch_zip(pickles: dict[str, bytes], tensor: bytes = b"\0" * 16) -> bytes:
    """A zip laid out like torch.save's: ``archive/data.pkl``, ``archive/data/0``, version and byteorder."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in pickles.items():
            zf.writestr(f"archive/{name}", data)
        zf.writestr("archive/byteorder", b"little")
        zf.writestr("archive/data/0", tensor)
        zf.writestr("archive/version", b"3\n")
    return buf.getvalue()


def memoised_stack_global() -> bytes:
    """Protocol 4: the module and name strings are memoised, popped, and fetched back with BINGET."""
    def short(text: str) -> bytes:
        return b"\x8c" + bytes([len(text)]) + text.encode()

    return (b"\x80\x04" + short("posixpath") + b"\x94" + b"0" + short("join") + b"\x94" + b"0"
            + b"h\x00h\x01\x93" + short("a") + short("b") + b"\x86R.")


HOSTILE: dict[str, tuple[bytes, str]] = {
    "posixpath.join p2": (pickle.dumps(_Call(posixpath.join, ("/etc", "passwd")), protocol=2), "posixpath.join"),
    "posixpath.join p4": (pickle.dumps(_Call(posixpath.join, ("/etc", "passwd")), protocol=4), "posixpath.join"),
    "os.system p2": (pickle.dumps(_Call(os.system, ("true",)), protocol=2), f"{os.system.__module__}.system"),
    "os.system p0 INST": (b"(S'true'\nios\nsystem\n.", "os.system"),
    "builtins.getattr p4": (pickle.dumps(_Call(getattr, ("x", "upper")), protocol=4), "builtins.getattr"),
    "operator.attrgetter p2": (pickle.dumps(_Call(operator.attrgetter, ("x",)), protocol=2), "operator.attrgetter"),
    "py2 __builtin__.eval": (b"\x80\x02c__builtin__\neval\nX\x01\x00\x00\x001\x85R.", "builtins.eval"),
    "memoised STACK_GLOBAL": (memoised_stack_global(), "posixpath.join"),
    # the pickler itself reuses memoised strings (BINGET) when the names also appear as data
    "STACK_GLOBAL via BINGET": (pickle.dumps(["posixpath", "join", _Call(posixpath.join, ("a", "b"))], protocol=4),
                                "posixpath.join"),
}
