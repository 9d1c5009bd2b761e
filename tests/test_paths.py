from __future__ import annotations

import os
from pathlib import Path

import pytest

from comfyfixer.tools.errors import UnsafePathError
from comfyfixer.tools.paths import ensure_under, safe_filename, safe_join, safe_relpath

BAD = [
    "../x.safetensors", "a/../../x", "..", ".", "/etc/passwd", "\\\\server\\share\\x", "C:\\x.ckpt", "c:x.ckpt",
    "a\x00b.safetensors", "CON", "con.safetensors", "NUL.txt", "COM1", "lpt9.bin", "aux", "x.safetensors.",
    "x.safetensors ", "a//b.safetensors", "sub/", "", "a\nb", "x<y>.pt", "a:b",
]


@pytest.mark.parametrize("name", BAD)
def test_unsafe_relpaths_are_rejected(name: str) -> None:
    with pytest.raises(UnsafePathError, match=r"^unsafe path '.*': "):
        safe_relpath(name)


@pytest.mark.parametrize("name", ["x.safetensors", "SDXL/x.safetensors", "sub\\x.safetensors", "a.b.c.ckpt",
                                  "console.safetensors", "com10.bin", "flux1-dev-fp8 (1).safetensors"])
def test_plain_relpaths_pass(name: str) -> None:
    assert safe_relpath(name).as_posix() == name.replace("\\", "/")


def test_safe_filename_rejects_folders() -> None:
    with pytest.raises(UnsafePathError, match="contains a path separator"):
        safe_filename("sub/x.safetensors")
    assert safe_filename("x.safetensors") == "x.safetensors"


def test_safe_join_stays_under_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    assert safe_join(root, "models/checkpoints", "sub\\x.safetensors") == root / "models/checkpoints/sub/x.safetensors"
    with pytest.raises(UnsafePathError, match="relative step"):
        safe_join(root, "models", "../../escape")


def test_safe_join_catches_symlink_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(UnsafePathError, match=r"'link/x\.safetensors': resolves outside"):
        safe_join(root, "link/x.safetensors")


def test_ensure_under(tmp_path: Path) -> None:
    assert ensure_under(tmp_path / "a" / "b", [tmp_path]) == tmp_path / "a" / "b"
    with pytest.raises(UnsafePathError, match="refusing to write path /etc/x: outside the allowed folders"):
        ensure_under(Path("/etc/x"), [tmp_path])


def test_atomic_write_replaces_whole_files_and_leaves_no_temporary(tmp_path: Path) -> None:
    from comfyfixer.tools.paths import atomic_write

    target = tmp_path / "sub" / "report.json"
    atomic_write(target, "first")
    atomic_write(target, b"second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"], "no temporary file is left behind"


def test_atomic_write_exclusive_never_overwrites_and_sets_the_mode_first(tmp_path: Path) -> None:
    from comfyfixer.tools.paths import atomic_write

    plan = tmp_path / "plan.json"
    atomic_write(plan, "v1", exclusive=True)
    with pytest.raises(FileExistsError):
        atomic_write(plan, "v2", exclusive=True)
    assert plan.read_text() == "v1" and sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]
    key = atomic_write(tmp_path / "key", b"\0" * 32, exclusive=True, mode=0o600)
    if os.name == "posix":
        assert key.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("name", "stem"), [
    ("sub dir/Flux Dev.json", "sub_dir__Flux_Dev"),
    ("..\\..\\evil.png", "evil"),
    ("CON", "CON_"),
    ("nul.txt", "nul_.txt"),
    ("index", "index_"),
    ("\x1b[2J\u202e", "2J"),
    ("...", "workflow"),
])
def test_safe_stem_makes_a_plain_component(name: str, stem: str) -> None:
    from comfyfixer.tools.paths import check_component, safe_stem

    assert safe_stem(name) == stem
    assert check_component(safe_stem(name)) == stem
