"""Pickle files are checked against an allow-list of the globals a weights file needs; nothing is executed.

A pickle can import and call any function (``os.system``, ``posixpath.join``, ``builtins.getattr``…)
while it is loaded, so a deny-list always misses something. A weights file only ever needs the
handful of globals torch's own ``weights_only`` unpickler accepts (``torch/_weights_only_unpickler.py``,
``_get_allowed_globals``: tensor rebuild functions, storage and tensor classes, dtypes, ``torch.Size``,
``collections.OrderedDict``…) plus the few ComfyUI itself adds before loading checkpoints with
``weights_only=True`` (``comfy/utils.py``: pytorch_lightning's ``ModelCheckpoint`` stub, numpy scalars
and dtypes). Anything else is refused, naming the global.

How a file is read:

* by content, not by name: a zip with ``.pkl`` entries (torch's format: ``archive/data.pkl`` beside
  ``archive/data/0``…) has every ``.pkl`` entry walked; a raw pickle stream (the legacy torch format
  is five pickles in a row, then raw tensor bytes) is walked from the start;
* opcodes are walked with :func:`pickletools.genops` while a symbolic stack follows which strings
  reach ``STACK_GLOBAL`` (directly, or through ``MEMOIZE``/``PUT`` and ``GET``); ``GLOBAL``, ``INST``
  and ``STACK_GLOBAL`` are the only ways a pickle names something to import, so every import is seen.
  ``EXT1/2/4`` (the copyreg extension registry) and a ``STACK_GLOBAL`` whose names were computed
  cannot be attributed and are refused;
* bounded: at most ``max_bytes`` of pickle data and ``max_ops`` opcodes per file (the pickle part of a
  weights file is small; tensor data lives in other zip entries or after the pickles), and every
  read the walker makes is checked against that budget first, so a hostile length field cannot make
  it allocate gigabytes.
"""

from __future__ import annotations

import _compat_pickle
import logging
import pickletools
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, cast

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

MAX_PICKLE_BYTES = 64 << 20
MAX_PICKLE_OPS = 5_000_000
MAX_LINE = 64 << 10  # GLOBAL/INST/text-protocol arguments end at a newline: never buffer more than this
MAX_ZIP_PICKLES = 256
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER: five pickles follow it


def _allowed_globals() -> frozenset[str]:
    """The names torch's ``weights_only`` unpickler accepts by default, plus ComfyUI's additions."""
    names = {
        "collections.OrderedDict", "collections.Counter",
        "torch.nn.parameter.Parameter", "torch.serialization._get_layout", "torch.Size", "torch.Tensor",
        "torch.device", "_codecs.encode", "builtins.bytearray", "builtins.set", "builtins.complex",
        "torch._tensor._rebuild_from_type_v2",
    }
    # torch.storage._dtype_to_storage_type_map(), _new_dtypes(), uint1..7 and int1..7, as str(dtype)
    dtypes = ["float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
              "complex128", "complex64", "complex32", "qint8", "qint32", "quint8", "quint4x2", "quint2x4",
              "float8_e5m2", "float8_e4m3fn", "float8_e5m2fnuz", "float8_e4m3fnuz", "float8_e8m0fnu",
              "float4_e2m1fn_x2", "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2", "uint16", "uint32", "uint64",
              *(f"uint{n}" for n in range(1, 8)), *(f"int{n}" for n in range(1, 8))]
    names.update(f"torch.{d}" for d in dtypes)
    # torch._tensor_classes (legacy typed tensors, CPU/CUDA, dense/sparse)
    kinds = ["Double", "Float", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool"]
    for module in ("torch", "torch.cuda", "torch.sparse", "torch.cuda.sparse"):
        names.update(f"{module}.{k}Tensor" for k in kinds)
    # torch._storage_classes (legacy typed storages, as torch.save names them in persistent ids)
    storages = [*kinds, "ComplexFloat", "ComplexDouble", "QUInt8", "QInt8", "QInt32", "QUInt4x2", "QUInt2x4"]
    for module in ("torch", "torch.cuda"):
        names.update(f"{module}.{k}Storage" for k in storages)
    names.update({"torch.storage.TypedStorage", "torch.storage.UntypedStorage",
                  "torch.TypedStorage", "torch.UntypedStorage"})
    names.update(f"torch.{q}" for q in ("per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
                                        "per_channel_symmetric", "per_channel_affine_float_qparams"))
    names.update(f"torch._utils.{f}" for f in (
        "_rebuild_parameter", "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_tensor",
        "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage",
        "_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_numpy", "_rebuild_device_tensor_from_cpu_tensor"))
    # ComfyUI (comfy/utils.py) adds these before torch.load(weights_only=True): old SD checkpoints carry them
    names.update({"pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint",
                  "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
                  "numpy.dtype", "numpy.dtypes.Float64DType"})
    return frozenset(names)


ALLOWED_GLOBALS: frozenset[str] = _allowed_globals()


class PickleScan(BaseModel):
    """What the allow-list check found in a pickle-based file."""

    verdict: Literal["clean", "dangerous", "unscannable"] = Field(
        description="clean: every import is on the allow-list; dangerous: something else is imported or "
                    "cannot be attributed; unscannable: the pickle could not be read to the end within the limits.")
    dangerous_globals: list[str] = Field(default_factory=list, description="Imports that are not on the allow-list.")
    problems: list[str] = Field(default_factory=list,
                                description="Opcodes that cannot be attributed, or why the walk stopped.")
    globals: list[str] = Field(default_factory=list, description="Every module.name the file imports.")
    pickles: list[str] = Field(default_factory=list, description="The pickle streams walked (zip entries or offsets).")
    scanner: str = Field(default="allow-list (torch weights_only globals)", description="The checker used.")

    def reason(self) -> str:
        """One line for the user: which globals, or why the file could not be checked."""
        if self.dangerous_globals:
            what = ", ".join(self.dangerous_globals[:5]) + (" …" if len(self.dangerous_globals) > 5 else "")
            verb = "imports" if len(self.dangerous_globals) == 1 else "import"
            return f"the pickle {verb} {what}, which a weights file never needs"
        if self.problems:
            return "the pickle " + "; ".join(self.problems[:3])
        return "the pickle could not be checked"


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n} bytes"


class PickleLimitExceeded(Exception):
    """The walk went over its byte or opcode budget."""


class _Budget:
    """A read-only view of a stream that refuses any read past ``limit`` bytes (checked before reading)."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self._raw = raw
        self._left = limit
        self._limit = limit
        self._pos = 0

    def _take(self, n: int) -> None:
        if n > self._left:
            raise PickleLimitExceeded(f"is larger than the {_size(self._limit)} a weights pickle may have")
        self._left -= n

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            raise PickleLimitExceeded("asked for an unbounded read")
        self._take(n)  # a forged length field is refused before anything is allocated
        data = self._raw.read(n)
        self._left += n - len(data)
        self._pos += len(data)
        return data

    def readline(self) -> bytes:
        cap = min(MAX_LINE, self._left)
        line = self._raw.readline(cap)
        if len(line) >= cap and not line.endswith(b"\n"):
            if cap < MAX_LINE:
                raise PickleLimitExceeded(f"is larger than the {_size(self._limit)} a weights pickle may have")
            raise PickleLimitExceeded(f"has a text argument longer than {cap} bytes")
        self._take(len(line))
        self._pos += len(line)
        return line

    def tell(self) -> int:
        return self._pos


_MARK = object()
_OPAQUE = object()
_STRING_OPS = frozenset({"UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8",
                         "STRING", "BINSTRING", "SHORT_BINSTRING"})  # STRING* decode to str with the default encoding
_GET_OPS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_PUT_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


class _Malformed(Exception):
    pass


@dataclass
class _Walk:
    """What one or more pickle streams import; ``ops`` counts opcodes across streams (the budget)."""

    max_ops: int
    imports: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ops: int = 0

    def record(self, module: str, name: str) -> None:
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        full = f"{module}.{name}"
        if full not in self.imports:
            self.imports.append(full)

    def stream(self, src: _Budget, where: str) -> bool:
        """Walk one pickle up to its STOP; raise _Malformed/PickleLimitExceeded/ValueError if it is not one.

        Returns True if the pickle is exactly torch's legacy magic number (four more pickles follow it).
        """
        stack: list[Any] = []
        memo: dict[int, Any] = {}
        shape: list[tuple[str, Any]] = []
        for op, arg, _pos in pickletools.genops(cast(IO[bytes], src)):
            if len(shape) < 4:
                shape.append((op.name, arg))
            self.ops += 1
            if self.ops > self.max_ops:
                raise PickleLimitExceeded(f"has more than {self.max_ops} opcodes")
            name = op.name
            if name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                self.record(module, attr)
            elif name == "STACK_GLOBAL":
                if len(stack) < 2:
                    raise _Malformed(f"{where}: STACK_GLOBAL with an empty stack")
                attr_v, module_v = stack.pop(), stack.pop()
                if isinstance(module_v, str) and isinstance(attr_v, str):
                    self.record(module_v, attr_v)
                else:
                    self.problems.append(f"imports a name it computes at load time (STACK_GLOBAL in {where})")
                stack.append(_OPAQUE)
                continue
            elif name in ("EXT1", "EXT2", "EXT4"):
                self.problems.append(f"imports extension code {arg} from the copyreg registry ({name} in {where})")
            if name in _STRING_OPS:
                stack.append(arg if isinstance(arg, str) else _OPAQUE)
            elif name == "MEMOIZE":
                if not stack:
                    raise _Malformed(f"{where}: MEMOIZE with an empty stack")
                memo[len(memo)] = stack[-1]
            elif name in _PUT_OPS:
                if not stack:
                    raise _Malformed(f"{where}: {name} with an empty stack")
                memo[cast(int, arg)] = stack[-1]
            elif name in _GET_OPS:
                if cast(int, arg) not in memo:
                    raise _Malformed(f"{where}: {name} {arg} refers to nothing")
                stack.append(memo[cast(int, arg)])
            elif name == "DUP":
                if not stack:
                    raise _Malformed(f"{where}: DUP with an empty stack")
                stack.append(stack[-1])
            else:
                _generic_effect(op, stack, where)
        return [n for n, _ in shape] == ["PROTO", "LONG1", "STOP"] and shape[1][1] == TORCH_LEGACY_MAGIC


def _generic_effect(op: pickletools.OpcodeInfo, stack: list[Any], where: str) -> None:
    """Apply an opcode's documented stack effect (as pickletools.dis does), pushing opaque values."""
    before, after = op.stack_before, op.stack_after
    pop = len(before)
    if pickletools.markobject in before or (op.name == "POP" and stack and stack[-1] is _MARK):
        if _MARK not in stack:
            raise _Malformed(f"{where}: {op.name} without a MARK")
        while stack.pop() is not _MARK:
            pass
        pop = before.index(pickletools.markobject) if pickletools.markobject in before else 0
    if pop:
        if len(stack) < pop:
            raise _Malformed(f"{where}: {op.name} with too few values on the stack")
        del stack[-pop:]
    for item in after:
        stack.append(_MARK if item is pickletools.markobject else _OPAQUE)


def _walk_raw(fh: IO[bytes], walk: _Walk, max_bytes: int, where: str) -> list[str]:
    """Walk the pickle(s) at the start of ``fh``; the legacy torch format is five in a row."""
    src = _Budget(fh, max_bytes)
    legacy = walk.stream(src, where)
    streams = [where]
    if legacy:
        for i in range(1, 5):  # protocol version, sys info, the data, the storage keys
            walk.stream(src, f"{where} pickle {i + 1}")
            streams.append(f"{where} pickle {i + 1}")
    return streams


def scan_pickle_file(path: Path, *, max_bytes: int = MAX_PICKLE_BYTES, max_ops: int = MAX_PICKLE_OPS) -> PickleScan:
    """Check every pickle in ``path`` (a torch zip or a raw pickle) against :data:`ALLOWED_GLOBALS`.

    Like torch, a file is a zip if it starts with a zip local header (not if a central directory can be
    found somewhere in it: a raw pickle may carry those bytes and torch would still unpickle it raw).
    """
    walk = _Walk(max_ops=max_ops)
    streams: list[str] = []
    with open(path, "rb") as fh:
        is_zip = fh.read(4) == b"PK\x03\x04"
    try:
        if is_zip:
            with zipfile.ZipFile(path) as zf:
                entries = [i for i in zf.infolist() if i.filename.endswith(".pkl")]
                if len(entries) > MAX_ZIP_PICKLES:
                    raise PickleLimitExceeded(f"archive has {len(entries)} pickles (more than {MAX_ZIP_PICKLES})")
                budget = max_bytes
                for info in entries:
                    if info.file_size > budget:
                        raise PickleLimitExceeded(
                            f"{info.filename} is {info.file_size} bytes, over the {_size(max_bytes)} a weights "
                            "pickle may have")
                    budget -= info.file_size
                    with zf.open(info) as member:
                        walk.stream(_Budget(member, info.file_size), info.filename)
                    streams.append(info.filename)
        else:
            with open(path, "rb") as fh:
                streams = _walk_raw(fh, walk, max_bytes, "the file")
    except PickleLimitExceeded as exc:
        return _result(walk, streams, "unscannable", [*walk.problems, f"{exc} (checking stopped)"])
    except (_Malformed, ValueError, EOFError, UnicodeDecodeError, zipfile.BadZipFile, OSError, KeyError) as exc:
        log.info("pickle walk of %s stopped: %s", path.name, exc)
        return _result(walk, streams, "unscannable", [*walk.problems, f"could not be read to the end ({exc})"])
    return _result(walk, streams, None, walk.problems)


def _result(walk: _Walk, streams: Iterable[str], verdict: Literal["unscannable"] | None,
            problems: list[str]) -> PickleScan:
    bad = [g for g in walk.imports if g not in ALLOWED_GLOBALS]
    final: Literal["clean", "dangerous", "unscannable"]
    if bad or walk.problems:
        final = "dangerous"
    elif verdict is not None:
        final = verdict
    else:
        final = "clean"
    return PickleScan(verdict=final, dangerous_globals=bad, problems=problems, globals=list(walk.imports),
                      pickles=list(streams))


def looks_like_pickle(head: bytes) -> bool:
    """A raw pickle stream of protocol 2 or later (what torch.save and pickle.dump write)."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def has_pickles(path: Path, head: bytes) -> bool:
    """True if ``path`` holds pickle data by its content: a raw pickle, or a zip with ``.pkl`` entries."""
    if looks_like_pickle(head):
        return True
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                return any(name.endswith(".pkl") for name in zf.namelist())
        except (zipfile.BadZipFile, OSError):
            return False
    return False


__all__ = ["ALLOWED_GLOBALS", "MAX_PICKLE_BYTES", "MAX_PICKLE_OPS", "PickleLimitExceeded", "PickleScan",
           "has_pickles", "looks_like_pickle", "scan_pickle_file"]
