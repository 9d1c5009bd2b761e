"""Safe path handling: every file the project writes goes through here.

Names coming from workflows, URLs, ``Content-Disposition`` headers or catalogs are
untrusted. A name is accepted only if each of its parts is a plain file or folder
name: no ``..``, no absolute paths, no drive letters or UNC prefixes, no NUL or
control characters, no Windows reserved device names (``CON``, ``NUL``, ``COM1``…),
no trailing dots or spaces (Windows silently strips them, so ``a.safetensors.``
would land on a different file than the one checked). Backslashes are treated as
separators because Windows-made workflows use them in model sub-paths.

:func:`safe_join` then joins the checked parts under a root and refuses any result
whose real path (symlinks resolved) leaves that root.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from comfyfixer.tools.errors import UnsafePathError

__all__ = [
    "atomic_write",
    "check_component",
    "is_within",
    "safe_filename",
    "safe_join",
    "safe_relpath",
    "safe_stem",
]

_RESERVED = {
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
    *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10)),
    "COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³",
}
_DRIVE = re.compile(r"^[A-Za-z]:")
_FORBIDDEN_CHARS = set('<>:"|?*')
MAX_COMPONENT = 255


def check_component(part: str, *, what: str = "name") -> str:
    """Return ``part`` if it is one safe path component, else raise :class:`UnsafePathError`."""
    shown = repr(part)
    if not part or part in {".", ".."}:
        raise UnsafePathError(f"unsafe {what} {shown}: empty or a relative step", hint="use a plain file name")
    if any(ord(c) < 32 or c == "\x7f" for c in part):
        raise UnsafePathError(f"unsafe {what} {shown}: contains NUL or control characters")
    if "/" in part or "\\" in part:
        raise UnsafePathError(f"unsafe {what} {shown}: contains a path separator")
    if _DRIVE.match(part) or any(c in _FORBIDDEN_CHARS for c in part):
        raise UnsafePathError(f"unsafe {what} {shown}: contains a drive letter or a character Windows forbids")
    if part[-1] in {".", " "}:
        raise UnsafePathError(f"unsafe {what} {shown}: ends with a dot or a space")
    if part.split(".")[0].strip().upper() in _RESERVED:
        raise UnsafePathError(f"unsafe {what} {shown}: a reserved device name on Windows")
    if len(part.encode("utf-8", "surrogatepass")) > MAX_COMPONENT:
        raise UnsafePathError(f"unsafe {what} {shown[:40]}…: longer than {MAX_COMPONENT} bytes")
    return part


def safe_relpath(name: str, *, what: str = "path") -> PurePosixPath:
    """Check a relative path such as ``sub/x.safetensors`` or ``sub\\x.safetensors``.

    Returns it as a POSIX path of checked components; raises :class:`UnsafePathError`
    for absolute paths, drive letters, UNC prefixes, ``..`` and any unsafe component.
    """
    if not isinstance(name, str) or not name:
        raise UnsafePathError(f"unsafe {what} {name!r}: empty")
    if "\x00" in name:
        raise UnsafePathError(f"unsafe {what} {name!r}: contains NUL")
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise UnsafePathError(f"unsafe {what} {name!r}: absolute paths are not allowed", hint="give a path relative to the folder")
    parts = name.replace("\\", "/").split("/")
    # "a//b" or a trailing slash means an empty component: reject rather than guess.
    return PurePosixPath(*(check_component(p, what=what) for p in parts))


def safe_filename(name: str, *, what: str = "file name") -> str:
    """Check a single file name (no folders at all)."""
    return check_component(name, what=what)


_UNSAFE_STEM = re.compile(r"[^A-Za-z0-9._-]+")


def safe_stem(name: str, *, default: str = "workflow", max_len: int = 100) -> str:
    """Make a file-name stem from untrusted text: ``"sub dir/Flux Dev.json"`` → ``"sub_dir__Flux_Dev"``.

    The one rule for names we *make* (reports, rebuilt workflows, cache folders), where
    :func:`safe_filename` is the rule for names we are *given*: ASCII letters, digits, ``.``, ``_``
    and ``-`` only, folders flattened to ``__``, no dots or dashes at the ends, never a Windows
    device name, never empty (``default``). The result always passes :func:`check_component`.
    """
    stem = re.sub(r"\.(json|png|webp|jpe?g)$", "", name.strip(), flags=re.IGNORECASE)
    stem = stem.replace("\\", "/").replace("/", "__")
    stem = _UNSAFE_STEM.sub("_", stem).strip("._-")[:max_len].rstrip("._-") or default
    head, dot, rest = stem.partition(".")
    if head.upper() in _RESERVED:  # Windows reserves the name before the first dot, whatever follows
        stem = f"{head}_{dot}{rest}"
    if stem.lower() == "index":  # the reports' own index page
        stem += "_"
    return stem


def is_within(path: Path, root: Path) -> bool:
    """True if ``path`` (real path, symlinks resolved as far as they exist) is ``root`` or below it."""
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    return real == real_root or real_root in real.parents


def safe_join(root: Path, *parts: str, what: str = "path") -> Path:
    """Join untrusted relative ``parts`` under ``root``; the result never leaves ``root``.

    Each part may contain ``/`` or ``\\`` separated sub-folders; all are checked with
    :func:`safe_relpath`. A symlink inside ``root`` pointing outside is caught too.
    """
    rel = PurePosixPath()
    for part in parts:
        rel = rel / safe_relpath(part, what=what)
    target = Path(root) / Path(*rel.parts) if rel.parts else Path(root)
    if not is_within(target, root):
        raise UnsafePathError(f"unsafe {what} {str(rel)!r}: resolves outside {root}")
    return target


def ensure_under(path: Path, roots: Iterable[Path], *, what: str = "path") -> Path:
    """Return ``path`` if it lies under one of ``roots``; raise :class:`UnsafePathError` otherwise."""
    roots = list(roots)
    if not any(is_within(path, r) for r in roots):
        shown = ", ".join(str(r) for r in roots) or "(none configured)"
        raise UnsafePathError(f"refusing to write {what} {path}: outside the allowed folders {shown}")
    return path


def atomic_write(path: Path, data: bytes | str, *, exclusive: bool = False, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half of one.

    The bytes go to a temporary file in the same folder, are fsynced, and then take the final name:
    with ``os.replace`` (the cache, report and catalog files we keep current), or — with
    ``exclusive=True`` — with ``os.link``, which fails if ``path`` already exists, so a file that
    must never be overwritten (plans, job files, rebuilt workflows) is not, even when two writers
    race. ``mode`` sets the permission bits before the file is visible (e.g. ``0o600`` for keys).
    Raises ``FileExistsError`` for an exclusive write onto an existing file.
    """
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
