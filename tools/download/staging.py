"""Where unfinished and rejected files live, and how a finished file is put in place.

* Unfinished downloads are ``<staging>/<key>-<name>.part`` plus a ``.json`` sidecar recording
  what they are (URL, expected size/hash, the server's validator) so a later run can resume
  them safely. The staging folder is ``<ComfyUI>/.comfyfixer/staging`` (same file system as
  the models, never scanned by ComfyUI) or, for model folders on another drive, a
  ``.comfyfixer-staging`` folder beside them; either way the ``.part`` suffix is not a
  model extension, so ComfyUI never lists a half-file.
* Rejected files are moved to a quarantine folder with a JSON note; nothing is deleted
  that the user did not ask to delete, and nothing is overwritten.
* Placing is a hard link (fails if the target exists, so never clobbers) followed by
  removing the staged name; a crash between the two leaves a complete target and a
  leftover staged file, which the next run recognises and cleans up.
* If the target name is taken while the file downloads, :func:`place` raises
  :class:`TargetAppeared` and leaves the verified file staged; the caller may put it under
  another name with :func:`adopt` (the executor does: the user's file stays, the download
  goes beside it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from comfyfixer.tools.errors import ComfyFixerError
from comfyfixer.tools.paths import atomic_write

STAGING_DIRNAME = ".comfyfixer"


def staging_dir_for(target: Path, comfyui_dir: Path | None) -> Path:
    """The staging folder for ``target``: under ComfyUI's root if on the same device, else beside the target folder."""
    parent = target.parent
    if comfyui_dir is not None:
        root_stage = Path(comfyui_dir) / STAGING_DIRNAME / "staging"
        try:
            if _device(parent) == _device(Path(comfyui_dir)):
                return root_stage
        except OSError:
            return root_stage
    return parent / ".comfyfixer-staging"


def quarantine_dir_for(target: Path, comfyui_dir: Path | None) -> Path:
    if comfyui_dir is not None:
        return Path(comfyui_dir) / STAGING_DIRNAME / "quarantine"
    return target.parent / ".comfyfixer-quarantine"


def _device(path: Path) -> int:
    p = path
    while not p.exists():
        if p.parent == p:
            break
        p = p.parent
    return p.stat().st_dev


def part_paths(staging: Path, target: Path, identity: str) -> tuple[Path, Path]:
    """The ``.part`` file and its JSON sidecar for ``target`` (stable across runs for the same identity)."""
    key = hashlib.sha256(f"{target}\n{identity}".encode()).hexdigest()[:16]
    # 200 *bytes* (not characters): room for ".part.json.<pid>.tmp" within a 255-byte file name
    stem = f"{key}-{target.name}".encode()[:200].decode("utf-8", "ignore")
    return staging / f"{stem}.part", staging / f"{stem}.part.json"


def read_meta(meta: Path) -> dict[str, Any]:
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_meta(meta: Path, data: dict[str, Any]) -> None:
    """Replace the sidecar atomically (it is our own bookkeeping file, not user data)."""
    atomic_write(meta, json.dumps(data, sort_keys=True))


@contextlib.contextmanager
def exclusive(part: Path, *, what: str) -> Iterator[None]:
    """Hold an advisory lock on ``part`` so two runs never write the same staged file.

    The lock dies with the process (kill -9 included), so a stale ``.lock`` file never blocks.
    """
    lock_path = part.with_name(part.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; single-use approvals still prevent double runs
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ComfyFixerError(f"{what} is being downloaded by another comfyfixer process",
                                  hint="wait for it to finish, then run the plan again") from None
        yield
        if not part.exists():  # finished (or abandoned): the lock file has nothing left to guard
            lock_path.unlink(missing_ok=True)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def quarantine(path: Path, qdir: Path, reason: str, details: dict[str, Any] | None = None) -> Path:
    """Move ``path`` into ``qdir`` under a new unique name, with a JSON note saying why."""
    qdir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = path.name[:-5] if path.name.endswith(".part") else path.name
    # cut to 150 bytes: stamp, ".quarantined.json" and atomic_write's temporary suffix must fit in 255
    name = name.encode()[:150].decode("utf-8", "ignore")
    dest = qdir / f"{stamp}-{secrets.token_hex(3)}-{name}.quarantined"
    try:
        os.rename(path, dest)
    except OSError:
        shutil.move(str(path), str(dest))
    note = {"original": str(path), "reason": reason, "at": stamp, **(details or {})}
    atomic_write(dest.with_name(dest.name + ".json"), json.dumps(note, indent=2, sort_keys=True))
    fsync_dir(qdir)
    return dest


class TargetAppeared(ComfyFixerError):
    """The target name was taken by another file before placing; the staged file is untouched."""

    def __init__(self, staged: Path, target: Path) -> None:
        super().__init__(f"{target} appeared while downloading; left it untouched",
                         hint="run the plan again: the file that is there now is kept, and if it differs "
                              "the download is placed beside it")
        self.staged = staged
        self.target = target


def place(staged: Path, target: Path) -> None:
    """Put a verified staged file at ``target`` without ever replacing an existing file.

    Raises :class:`TargetAppeared` (the staged file left as it is) if ``target`` exists.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(staged, target)
    except FileExistsError:
        raise TargetAppeared(staged, target) from None
    except OSError:
        # file systems without hard links: rename, after checking the name is free
        if target.exists():
            raise TargetAppeared(staged, target) from None
        os.rename(staged, target)
        fsync_dir(target.parent)
        return
    fsync_dir(target.parent)
    os.unlink(staged)
    fsync_dir(staged.parent)


def adopt(staged: Path, target: Path) -> None:
    """Place a verified staged ``.part`` file at ``target`` (see :func:`place`) and drop its sidecar and lock.

    For a download whose own target was taken meanwhile (:class:`TargetAppeared`): the bytes were
    verified before placing was attempted, so they can go under another free name without fetching
    them again.
    """
    place(staged, target)
    discard(staged)


def discard(staged: Path) -> None:
    """Remove a staged ``.part`` file with its sidecar and lock (our own bookkeeping, never user data)."""
    for path in (staged, staged.with_name(staged.name + ".json"), staged.with_name(staged.name + ".lock")):
        path.unlink(missing_ok=True)
