"""A node pack's Python requirements, checked against ComfyUI's own Python before anyone approves them.

``pip install -r requirements.txt`` lets the pack decide far more than *which packages*: a line
can switch the index (``--index-url``, ``--extra-index-url``, ``-i``, ``--find-links``,
``--trusted-host``), pull code from anywhere (``name @ https://…``, ``git+https://…``, a bare
URL or path, ``-e``), include files from outside the pack (``-r ../../x.txt``), and an sdist's
build backend runs arbitrary code during the resolve. Worse, a plain ``torch==1.13`` silently
replaces the CUDA build ComfyUI runs on. So, in order:

1. :func:`parse_requirements` reads ``requirements.txt`` (and ``[project] dependencies`` of
   ``pyproject.toml``) into plain PEP 508 requirements and a list of refused lines, each with
   its kind and why. ``-r``/``-c`` includes are followed only inside the pack.
2. :func:`python_identity` describes ComfyUI's Python (path, resolved executable, its sha256,
   ``sys.version``, prefix, pip version, installed distributions). The plan stores it; at apply
   time :func:`verify_python` refuses if it changed.
3. :func:`check_requirements` / :func:`check_plan_requirements` run
   ``<python> -I -m pip --isolated install --dry-run --report … --index-url <ours>
   --only-binary :all: -r <sanitised>`` in *that* Python (never the current interpreter unless
   it is that Python) and compare the report with what is installed: added, upgraded,
   **downgraded**, and guarded packages (torch, torchvision, torchaudio, xformers, triton,
   CUDA/ROCm wheels, a numpy major version) — guarded changes are refused unless accepted by
   name. Packages only available as sdists are reported as needing confirmation (their build
   code would run), never built. Two packs of one plan are also resolved together, so a
   conflict (``x<2`` vs ``x>=2``) is reported before anything is installed.
4. :func:`install_checked_requirements` (apply time) installs the sanitised file with the same
   options, constrained to exactly the versions the plan showed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, Field

from comfyfixer.tools.errors import ComfyFixerError, ConfigError, InputError
from comfyfixer.tools.paths import atomic_write, ensure_under, is_within, safe_relpath

log = logging.getLogger(__name__)

Runner = Callable[..., subprocess.CompletedProcess[str]]

MIN_PIP = Version("22.2")  # first pip with `install --dry-run --report`
MAX_INCLUDE_DEPTH = 5
GUARDED_NAMES = frozenset({"torch", "torchvision", "torchaudio", "xformers", "triton", "pytorch-triton",
                           "pytorch-triton-rocm"})
_CUDA_NAME = re.compile(r"(^nvidia-)|(-cu\d{2,3}$)|(-cuda\d+x?$)|(^cupy-cuda)|(-rocm\d*$)")
_VCS = ("git+", "hg+", "svn+", "bzr+")
_INCLUDE_OPTS = {"-r": "requirement", "--requirement": "requirement", "-c": "constraint", "--constraint": "constraint"}

IssueKind = Literal["option", "include", "editable", "direct_url", "vcs", "url_or_path", "unparsable", "build_option"]


class RequirementRefused(InputError):
    """A pack's requirements ask for something we never do on the user's behalf."""


class RequirementIssue(BaseModel):
    """One refused requirement line."""

    file: str = Field(description="File the line is in, relative to the pack.")
    line: int
    text: str
    kind: IssueKind
    reason: str


class ParsedRequirements(BaseModel):
    """What a pack asks pip for, split into plain requirements and refused lines."""

    files: list[str] = Field(default_factory=list, description="Requirement files read, relative to the pack.")
    requirements: list[str] = Field(default_factory=list, description="Plain PEP 508 requirements (no URLs).")
    refused: list[RequirementIssue] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """pip's line handling: ``\\`` joins lines, `` #`` starts a comment."""
    buf, start = "", 0
    for no, raw in enumerate(text.splitlines(), 1):
        if not buf:
            start = no
        line = raw
        if line.endswith("\\"):
            buf += line[:-1]
            continue
        line = buf + line
        buf = ""
        line = re.sub(r"(^|\s+)#.*$", "", line).strip()
        if line:
            yield start, line
    if buf.strip():
        yield start, buf.strip()


def _looks_like_url_or_path(text: str) -> bool:
    return ("://" in text or text.startswith((".", "/", "~", "\\")) or "/" in text.split(";")[0]
            or re.search(r"\.(whl|zip|tar\.gz|tgz|tar\.bz2|tar)$", text.split(";")[0].strip()) is not None)


def _parse_line(rel: str, no: int, line: str, out: ParsedRequirements) -> str | None:
    """A plain requirement string, or None after recording why the line is refused."""
    def refuse(kind: IssueKind, reason: str) -> None:
        out.refused.append(RequirementIssue(file=rel, line=no, text=line, kind=kind, reason=reason))

    head = line.split(";")[0].strip()
    if head.startswith(_VCS) or re.match(r"^[\w.-]+\s*@\s*(git|hg|svn|bzr)\+", head):
        refuse("vcs", "installs code from a version-control URL, outside any index")
        return None
    # per-requirement options: --hash is harmless (dropped: the plan pins exact versions itself),
    # build options run or steer a build
    body, _, opts = line.partition(" --")
    if opts:
        if re.match(r"^(global-option|install-option|config-settings|build-option)", opts):
            refuse("build_option", "passes options to a package build")
            return None
        if not opts.startswith("hash"):
            refuse("option", f"per-requirement option --{opts.split()[0]} is not allowed")
            return None
        out.notes.append(f"{rel}:{no}: --hash dropped (versions are pinned from the dry run instead)")
        line = body.strip()
    try:
        req = Requirement(line)
    except InvalidRequirement as exc:
        if _looks_like_url_or_path(line):
            refuse("url_or_path", "a bare URL or path installs whatever is there, outside any index")
        else:
            refuse("unparsable", f"not a PEP 508 requirement ({exc})")
        return None
    if req.url:
        refuse("direct_url", f"'{req.name} @ URL' fetches {req.url} directly, bypassing the index")
        return None
    return str(req)


def _read_file(pack_dir: Path, rel: str, out: ParsedRequirements, depth: int, seen: set[str]) -> list[str]:
    path = pack_dir / rel
    if rel in seen:
        return []
    seen.add(rel)
    out.files.append(rel)
    if not is_within(path, pack_dir):
        # a symlink out of the pack: never read it (its lines would end up in the plan)
        out.refused.append(RequirementIssue(file=rel, line=0, text=rel, kind="include",
                                            reason=f"{rel} is a link to a file outside the pack"))
        return []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        out.notes.append(f"{rel}: cannot be read ({exc.strerror})")
        return []
    reqs: list[str] = []
    for no, line in _logical_lines(text):
        if line.startswith("-"):
            m = re.match(r"^(-[^\s=]+)(?:[\s=]+(.*))?$", line)
            opt, value = (m.group(1), (m.group(2) or "").strip()) if m else (line, "")
            if opt in _INCLUDE_OPTS:
                reqs += _include(pack_dir, rel, no, line, opt, value, out, depth, seen)
            elif opt in ("-e", "--editable"):
                out.refused.append(RequirementIssue(file=rel, line=no, text=line, kind="editable",
                                                    reason="an editable install links code from a path or URL"))
            else:
                out.refused.append(RequirementIssue(
                    file=rel, line=no, text=line, kind="option",
                    reason=f"{opt} would change where or how pip installs (only our configured index is used)"))
            continue
        req = _parse_line(rel, no, line, out)
        if req is not None:
            reqs.append(req)
    return reqs


def _include(pack_dir: Path, rel: str, no: int, line: str, opt: str, value: str, out: ParsedRequirements,
             depth: int, seen: set[str]) -> list[str]:
    def refuse(reason: str) -> list[str]:
        out.refused.append(RequirementIssue(file=rel, line=no, text=line, kind="include", reason=reason))
        return []

    if not value or "://" in value:
        return refuse("includes a file from a URL")
    if depth >= MAX_INCLUDE_DEPTH:
        return refuse(f"includes nested deeper than {MAX_INCLUDE_DEPTH} levels")
    base = Path(rel).parent
    try:
        joined = safe_relpath(str(base / value) if str(base) != "." else value, what="requirements include")
    except InputError:
        return refuse(f"includes {value}, outside the pack")
    target = pack_dir / Path(*joined.parts)
    if not is_within(target, pack_dir) or not target.is_file():
        return refuse(f"includes {value}, which is not a file inside the pack")
    if _INCLUDE_OPTS[opt] == "constraint":
        out.notes.append(f"{rel}:{no}: constraints file {value} read as requirements to check")
    return _read_file(pack_dir, str(joined), out, depth + 1, seen)


def parse_requirements(pack_dir: Path) -> ParsedRequirements:
    """Read ``requirements.txt`` and ``pyproject.toml``'s ``[project] dependencies`` of a checked-out pack."""
    out = ParsedRequirements()
    reqs: list[str] = []
    if (pack_dir / "requirements.txt").is_file():
        reqs += _read_file(pack_dir, "requirements.txt", out, 0, set())
    pyproject = pack_dir / "pyproject.toml"
    if pyproject.is_file() and not is_within(pyproject, pack_dir):
        out.refused.append(RequirementIssue(file="pyproject.toml", line=0, text="pyproject.toml", kind="include",
                                            reason="pyproject.toml is a link to a file outside the pack"))
    elif pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            out.notes.append(f"pyproject.toml is not valid TOML ({exc}); its dependencies were not read")
            data = {}
        deps = (data.get("project") or {}).get("dependencies") or []
        if deps:
            out.files.append("pyproject.toml")
        for i, dep in enumerate(deps if isinstance(deps, list) else [], 1):
            req = _parse_line("pyproject.toml", i, str(dep), out)
            if req is not None:
                reqs.append(req)
    out.requirements = list(dict.fromkeys(reqs))
    return out


# --- ComfyUI's Python --------------------------------------------------------------------------------

_PROBE = (
    "import json, sys, importlib.metadata as m\n"
    "d = {}\n"
    "for x in m.distributions():\n"
    "    n = x.metadata['Name']\n"
    "    if n: d.setdefault(n, x.version)\n"
    "print(json.dumps({'executable': sys.executable, 'version': sys.version, 'prefix': sys.prefix, 'dists': d}))\n"
)


class PythonIdentity(BaseModel):
    """ComfyUI's Python as the plan saw it; :func:`verify_python` checks it again before installing."""

    path: str = Field(description="The path given (a venv's bin/python, often a symlink).")
    executable: str = Field(description="The resolved interpreter file.")
    sha256: str = Field(description="sha256 of the resolved interpreter file.")
    version: str = Field(description="sys.version of that interpreter.")
    prefix: str = Field(description="sys.prefix (the venv it runs in).")
    pip_version: str | None = None
    installed: dict[str, str] = Field(default_factory=dict, description="Canonical name -> version installed.")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pip_env() -> dict[str, str]:
    """No inherited PIP_*/PYTHON* variables: they could add indexes or code paths behind our back."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "PYTHONNOUSERSITE": "1", "LC_ALL": "C"})
    return env


def _run(cmd: Sequence[str], runner: Runner, timeout: float, what: str) -> subprocess.CompletedProcess[str]:
    try:
        return runner(list(cmd), capture_output=True, text=True, timeout=timeout, env=_pip_env(), check=False)
    except FileNotFoundError:
        raise ConfigError(f"{cmd[0]} does not exist", hint="set comfyui_python to ComfyUI's own Python") from None
    except subprocess.TimeoutExpired:
        raise ComfyFixerError(f"{what}: timed out after {timeout:.0f}s", hint="check the package index and retry") from None


def python_identity(python: Path, *, runner: Runner = subprocess.run, timeout: float = 60.0) -> PythonIdentity:
    """Describe ``python`` (ComfyUI's interpreter) by running a tiny probe *in it* (``-I``: isolated)."""
    path = Path(python).absolute()
    if not path.is_file():
        raise ConfigError(f"ComfyUI's Python {path} does not exist", hint="set comfyui_python to ComfyUI's own Python")
    proc = _run([str(path), "-I", "-c", _PROBE], runner, timeout, "asking ComfyUI's Python what it has")
    if proc.returncode != 0:
        raise ConfigError(f"{path} did not run as Python: {(proc.stderr or '').strip()[-200:]}",
                          hint="set comfyui_python to ComfyUI's own Python")
    try:
        data = json.loads((proc.stdout or "").strip().splitlines()[-1])
        if not isinstance(data, dict) or not isinstance(data.get("dists"), dict):
            raise ValueError("not the probe's answer")
    except (IndexError, ValueError):  # it ran, but it is not a Python that answers the probe
        raise ConfigError(f"{path} did not answer as a Python interpreter would",
                          hint="set comfyui_python to ComfyUI's own Python") from None
    installed = {str(canonicalize_name(n)): str(v) for n, v in data["dists"].items()}
    real = Path(os.path.realpath(data["executable"]))
    return PythonIdentity(path=str(path), executable=str(real), sha256=_sha256(real), version=data["version"],
                          prefix=data["prefix"], pip_version=installed.get("pip"), installed=installed)


def verify_python(expected: PythonIdentity | str, python: Path, *, runner: Runner = subprocess.run) -> PythonIdentity:
    """Refuse when ``python`` is not the interpreter the plan was checked against (sha256, version, prefix)."""
    now = python_identity(python, runner=runner)
    if isinstance(expected, str):
        same = now.sha256 == expected
    else:
        same = (now.sha256, now.version, now.prefix) == (expected.sha256, expected.version, expected.prefix)
    if not same:
        raise ComfyFixerError(f"ComfyUI's Python {python} changed since the plan was made",
                              hint="make a new plan (`comfyfixer fix`) so the requirements are checked again")
    return now


# --- dry run ------------------------------------------------------------------------------------------

ChangeKind = Literal["add", "upgrade", "downgrade", "reinstall"]


class PackageChange(BaseModel):
    """One distribution pip would install."""

    name: str
    before: str | None = None
    after: str
    change: ChangeKind
    guarded: bool = Field(default=False, description="torch/CUDA/ROCm/xformers/triton or a numpy major version.")
    why_guarded: str | None = None


class RequirementsCheck(BaseModel):
    """What installing a pack's (or a plan's) requirements would change in ComfyUI's Python."""

    packs: list[str] = Field(default_factory=list)
    verdict: Literal["ok", "needs_confirmation", "refused"]
    reasons: list[str] = Field(default_factory=list, description="Why not ok, one line each.")
    accept_hint: str | None = Field(default=None, description="How to accept what can be accepted.")
    refused_lines: list[RequirementIssue] = Field(default_factory=list)
    requirements: list[str] = Field(default_factory=list, description="The sanitised requirements resolved.")
    changes: list[PackageChange] = Field(default_factory=list)
    needs_sdist: list[str] = Field(default_factory=list, description="Only available as source: build code would run.")
    conflicts: list[str] = Field(default_factory=list, description="pip's resolver conflict, when it found one.")
    conflicting_packs: list[str] = Field(default_factory=list,
                                         description="Packs whose requirements the conflict names (all if unclear).")
    resolved: list[str] = Field(default_factory=list, description="name==version of everything pip would install.")
    dry_run_ok: bool = Field(default=False, description="pip resolved the requirements (or there were none).")
    python: PythonIdentity
    index_url: str | None = None
    command: list[str] = Field(default_factory=list, description="The dry-run command, as run.")
    notes: list[str] = Field(default_factory=list)

    @property
    def added(self) -> list[PackageChange]:
        """Packages that are not installed now."""
        return [c for c in self.changes if c.change == "add"]

    @property
    def downgraded(self) -> list[PackageChange]:
        """Packages pip would replace with an older version."""
        return [c for c in self.changes if c.change == "downgrade"]

    @property
    def guarded(self) -> list[PackageChange]:
        """Changes to the GPU stack or numpy's major version (refused unless accepted)."""
        return [c for c in self.changes if c.guarded]


def guarded_reason(name: str, before: str | None, after: str) -> str | None:
    """Why a change to ``name`` must not happen silently (None: an ordinary package)."""
    n = canonicalize_name(name)
    local = after.partition("+")[2].lower()
    if n in GUARDED_NAMES:
        return f"{n} is part of ComfyUI's GPU stack"
    if _CUDA_NAME.search(n):
        return f"{n} is a CUDA/ROCm wheel"
    if local.startswith(("cu", "rocm")):
        return f"{n} {after} is a CUDA/ROCm build"
    if n == "numpy" and before is not None:
        try:
            if Version(before).major != Version(after).major:
                return f"numpy {before} -> {after} changes the major version (compiled extensions break)"
        except InvalidVersion:
            return None
    return None


def _classify(before: str | None, after: str) -> ChangeKind:
    if before is None:
        return "add"
    try:
        b, a = Version(before), Version(after)
    except InvalidVersion:
        return "reinstall" if before == after else "upgrade"
    return "upgrade" if a > b else "downgrade" if a < b else "reinstall"


def _scratch(staging_dir: Path) -> Path:
    staging_dir.mkdir(parents=True, exist_ok=True)
    d = staging_dir / f"reqcheck.{os.getpid()}-{secrets.token_hex(3)}"
    d.mkdir()
    return d


def _write_sanitised(folder: Path, name: str, requirements: Sequence[str]) -> Path:
    return atomic_write(folder / f"{name}.txt", "".join(r + "\n" for r in requirements), exclusive=True)


def _pip_options(index_url: str | None, allow_sdist: bool) -> list[str]:
    opts = ["--no-input", "--disable-pip-version-check"]
    if index_url:
        opts += ["--index-url", index_url]
    if not allow_sdist:
        opts += ["--only-binary", ":all:"]
    return opts


_NO_DIST = re.compile(r"No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._-]*)")


def _conflict_lines(stderr: str) -> list[str]:
    lines = [ln.strip() for ln in stderr.splitlines()]
    keep = [ln for ln in lines if ln.startswith(("Cannot install", "The conflict is caused by", "The user requested"))
            or " depends on " in ln or ln.startswith(("ERROR: Cannot install", "ERROR: ResolutionImpossible"))]
    return keep or [ln for ln in lines if ln.startswith("ERROR")][-2:]


def _sdist_only(name: str, index_url: str | None, timeout: float) -> bool:
    """Does the index list only source archives for ``name``? (PEP 503 page; no files are fetched.)"""
    from comfyfixer.tools.http import build_client

    base = (index_url or "https://pypi.org/simple").rstrip("/")
    try:
        with build_client(timeout=timeout, headers={"Accept": "text/html"}) as client:
            resp = client.get(f"{base}/{canonicalize_name(name)}/")
    except Exception as exc:  # a best-effort explanation only: the dry run already failed
        log.debug("could not read the index page of %s: %s", name, exc)
        return False
    if resp.status_code != 200:
        return False
    files = re.findall(r">([^<>]+\.(?:whl|tar\.gz|zip|tar\.bz2|tgz))</a>", resp.text)
    return bool(files) and not any(f.endswith(".whl") for f in files)


def _dry_run(python: Path, files: Sequence[Path], scratch: Path, index_url: str | None, allow_sdist: bool,
             runner: Runner, timeout: float) -> tuple[list[str], subprocess.CompletedProcess[str], dict | None]:
    report = scratch / f"report-{secrets.token_hex(3)}.json"
    cmd = [str(python), "-I", "-m", "pip", "--isolated", "install", "--dry-run", "--report", str(report),
           *_pip_options(index_url, allow_sdist)]
    for f in files:
        cmd += ["-r", str(f)]
    proc = _run(cmd, runner, timeout, "resolving the pack's requirements")
    data = json.loads(report.read_text(encoding="utf-8")) if proc.returncode == 0 and report.is_file() else None
    return cmd, proc, data


def _changes(report: dict, identity: PythonIdentity) -> tuple[list[PackageChange], list[str]]:
    changes: list[PackageChange] = []
    resolved: list[str] = []
    for item in report.get("install", []):
        meta = item.get("metadata") or {}
        name, after = canonicalize_name(str(meta.get("name", ""))), str(meta.get("version", ""))
        if not name:
            continue
        resolved.append(f"{name}=={after}")
        before = identity.installed.get(name)
        why = guarded_reason(name, before, after)
        changes.append(PackageChange(name=name, before=before, after=after, change=_classify(before, after),
                                     guarded=why is not None, why_guarded=why))
    return changes, resolved


def check_requirements(
    packs: dict[str, ParsedRequirements], python: Path, *, staging_dir: Path, allowed_roots: Sequence[Path],
    index_url: str | None = None, allow_sdist: bool = False, accept: Iterable[str] = (),
    identity: PythonIdentity | None = None, resolves_alone: Iterable[str] = (), runner: Runner = subprocess.run,
    timeout: float = 300.0,
) -> RequirementsCheck:
    """Dry-run the sanitised requirements of ``packs`` (name → parsed) together in ComfyUI's ``python``.

    ``accept`` names guarded packages the user agreed may change (``torch``…) and may contain
    ``"downgrades"`` / ``"sdist"`` to accept those kinds. ``resolves_alone`` names packs already
    known to resolve on their own (their dry run is not repeated when explaining a conflict).
    Nothing is installed; scratch files go to ``staging_dir`` (which must lie under
    ``allowed_roots``) and are removed afterwards.
    """
    ensure_under(staging_dir, allowed_roots, what="staging folder")
    ident = identity or python_identity(python, runner=runner)
    accepted = {str(canonicalize_name(a)) for a in accept}
    refused_lines = [i for p in packs.values() for i in p.refused]
    reqs = list(dict.fromkeys(r for p in packs.values() for r in p.requirements))
    result = RequirementsCheck(packs=sorted(packs), verdict="ok", python=ident, index_url=index_url,
                               refused_lines=refused_lines, requirements=reqs,
                               notes=[n for p in packs.values() for n in p.notes])
    if refused_lines:
        result.reasons += [f"{name}: {i.file}:{i.line} `{i.text}` refused ({i.kind}): {i.reason}"
                           for name, p in sorted(packs.items()) for i in p.refused]
    result.dry_run_ok = not reqs
    if reqs:
        if ident.pip_version is None or Version(ident.pip_version) < MIN_PIP:
            raise ConfigError(f"ComfyUI's Python has pip {ident.pip_version or '(none)'}; checking needs pip >= {MIN_PIP}",
                              hint=f"run `{python} -m pip install -U pip` yourself, then plan again")
        scratch = _scratch(staging_dir)
        try:
            _resolve(result, packs, ident, python, scratch, index_url, allow_sdist, set(resolves_alone), runner,
                     timeout)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    _verdict(result, accepted)
    return result


def _without(packs: dict[str, ParsedRequirements], names: set[str]) -> dict[str, ParsedRequirements]:
    """``packs`` minus the requirements on ``names`` (canonical)."""
    out = {}
    for key, p in packs.items():
        keep = [r for r in p.requirements if str(canonicalize_name(Requirement(r).name)) not in names]
        out[key] = p.model_copy(update={"requirements": keep})
    return out


def _implicated(named: Sequence[tuple[str, ParsedRequirements]], conflict: str) -> list[str]:
    """The packs whose own requirement names appear in pip's conflict text (all of them if none does)."""
    text = conflict.lower()
    hit = [k for k, p in named
           if f"the requirements of {k}".lower() in text or any(re.search(rf"(?<![\w.-]){re.escape(Requirement(r).name.lower())}(?![\w.-])", text)
                  for r in p.requirements)]
    return hit or [k for k, _ in named]


def _resolve(result: RequirementsCheck, packs: dict[str, ParsedRequirements], ident: PythonIdentity, python: Path,
             scratch: Path, index_url: str | None, allow_sdist: bool, known_ok: set[str], runner: Runner,
             timeout: float) -> None:
    """Dry-run; packages that exist only as sdists are set aside and the rest resolved again.

    Setting them aside matters: otherwise one sdist-only requirement would hide every other
    change (a torch replacement behind it would go unseen once the user accepts the sdist).
    """
    sdists: set[str] = set()
    for _ in range(4):
        current = _without(packs, sdists) if sdists else packs
        named = [(k, p) for k, p in sorted(current.items()) if p.requirements]
        if not named:
            break
        files = [_write_sanitised(scratch, f"pack{i}-{len(sdists)}", p.requirements) for i, (_, p) in enumerate(named)]
        cmd, proc, report = _dry_run(python, files, scratch, index_url, allow_sdist, runner, timeout)
        result.command = result.command or cmd
        if report is not None:
            result.changes, result.resolved = _changes(report, ident)
            result.dry_run_ok = not sdists
            break
        # pip explains a conflict on stdout ("The conflict is caused by: …") and fails on stderr;
        # its messages name our scratch files, which mean nothing to the user: name the packs instead
        stderr = "\n".join(x for x in (proc.stdout, proc.stderr) if x)
        for (key, _), f in zip(named, files, strict=True):
            stderr = re.sub(rf"-r {re.escape(str(f))}( \(line \d+\))?", f"the requirements of {key}", stderr)
        missing = {str(canonicalize_name(m)) for m in _NO_DIST.findall(stderr)} - sdists
        found = {m for m in missing if not allow_sdist and _sdist_only(m, index_url, min(timeout, 30.0))}
        if found:
            sdists |= found
            continue
        if "ResolutionImpossible" in stderr or "conflicting dependencies" in stderr:
            result.conflicts = _conflict_lines(stderr)
            result.conflicting_packs = _implicated(named, " ".join(result.conflicts))
            if len(files) > 1:
                alone = [k for (k, _), f in zip(named, files, strict=True) if k in known_ok
                         or _dry_run(python, [f], scratch, index_url, allow_sdist, runner, timeout)[2] is not None]
                if len(alone) == len(files):
                    result.conflicts.insert(0, "each pack resolves alone, but not together: " + ", ".join(alone))
        else:
            tail = [ln for ln in stderr.strip().splitlines() if ln.strip()][-3:]
            result.reasons.append("pip could not resolve the requirements: " + " / ".join(tail))
        break
    result.needs_sdist = sorted(sdists)
    if sdists:
        result.notes.append("the dependencies of " + ", ".join(sorted(sdists))
                            + " are unknown until built; they were not checked")


def _verdict(result: RequirementsCheck, accepted: set[str]) -> None:
    refused, confirm = bool(result.refused_lines), False
    hints: list[str] = []
    for c in result.guarded:
        if c.name in accepted:
            result.notes.append(f"accepted: {c.name} {c.before or '(none)'} -> {c.after}")
            continue
        refused = True
        result.reasons.append(f"would change {c.name} {c.before or '(not installed)'} -> {c.after}: {c.why_guarded}")
        hints.append(c.name)
    if result.conflicts:
        refused = True
        result.reasons.append("the requirements conflict: " + "; ".join(result.conflicts))
    for c in result.downgraded:
        if not c.guarded:
            result.reasons.append(f"would downgrade {c.name} {c.before} -> {c.after}")
            confirm |= "downgrades" not in accepted
    if result.needs_sdist:
        result.reasons.append("only source archives exist for " + ", ".join(result.needs_sdist)
                              + " (building them runs their code)")
        confirm |= "sdist" not in accepted
    if refused:
        result.verdict = "refused"
    elif confirm or any(r.startswith("pip could not") for r in result.reasons):
        result.verdict = "needs_confirmation"
    if hints:
        result.accept_hint = ("to accept, re-check with accept=" + repr(sorted(set(hints)))
                              + " — only if you know this pack needs that exact build")
    elif result.verdict == "needs_confirmation":
        result.accept_hint = "confirm the item in the plan (accept=['downgrades'] / ['sdist'])"
    elif result.refused_lines:
        result.accept_hint = "refused lines are never run for you: install those yourself if you trust them"


def check_plan_requirements(
    pack_dirs: dict[str, Path], python: Path, *, staging_dir: Path, allowed_roots: Sequence[Path],
    index_url: str | None = None, allow_sdist: bool = False, accept: Iterable[str] = (),
    runner: Runner = subprocess.run, timeout: float = 300.0,
) -> tuple[dict[str, RequirementsCheck], RequirementsCheck]:
    """Each pack alone, then all together: ``({pack: check}, combined)`` — the combined check finds conflicts."""
    accept = list(accept)
    identity = python_identity(python, runner=runner)
    parsed = {name: parse_requirements(d) for name, d in pack_dirs.items()}
    kw = dict(staging_dir=staging_dir, allowed_roots=allowed_roots, index_url=index_url, allow_sdist=allow_sdist,
              accept=accept, identity=identity, runner=runner, timeout=timeout)
    each = {name: check_requirements({name: p}, python, **kw) for name, p in parsed.items()}  # type: ignore[arg-type]
    alone = [name for name, c in each.items() if c.dry_run_ok]
    together = check_requirements(parsed, python, resolves_alone=alone, **kw)  # type: ignore[arg-type]
    return each, together


# --- apply time ------------------------------------------------------------------------------------


class RequirementsInstall(BaseModel):
    """What :func:`install_checked_requirements` ran (or left for the user)."""

    requirements_file: str | None = None
    installed: bool = False
    commands: list[list[str]] = Field(default_factory=list)
    pending_commands: list[list[str]] = Field(default_factory=list)


def install_checked_requirements(
    pack_dir: Path, *, python: Path | None, staging_dir: Path, index_url: str | None = None,
    allow_sdist: bool = False, expected_python_sha256: str | None = None, constraints: Sequence[str] = (),
    timeout: float = 600.0, runner: Runner = subprocess.run,
) -> RequirementsInstall:
    """Install the pack's sanitised requirements with ComfyUI's ``python`` (binary-only, our index).

    Refuses (:class:`RequirementRefused`) if any line is refused; refuses if ``python`` is not the
    one the plan checked (``expected_python_sha256``). ``constraints`` (``name==version`` from the
    plan's check) keep pip to exactly what was approved. Without ``python`` the command is returned.
    """
    parsed = parse_requirements(pack_dir)
    out = RequirementsInstall(requirements_file=", ".join(parsed.files) or None)
    if parsed.refused:
        first = parsed.refused[0]
        raise RequirementRefused(
            f"{pack_dir.name}: {first.file}:{first.line} `{first.text}` refused ({first.kind}): {first.reason}"
            + (f" (+{len(parsed.refused) - 1} more)" if len(parsed.refused) > 1 else ""),
            hint="the pack is in place; install its requirements yourself if you trust them")
    if not parsed.requirements:
        return out
    if python is None:
        out.pending_commands.append(["<comfyui_python>", "-m", "pip", "install", *_pip_options(index_url, allow_sdist),
                                     *parsed.requirements])
        return out
    if expected_python_sha256:
        verify_python(expected_python_sha256, python, runner=runner)
    scratch = _scratch(staging_dir)
    try:
        files = ["-r", str(_write_sanitised(scratch, "requirements", parsed.requirements))]
        if constraints:
            files += ["-c", str(_write_sanitised(scratch, "constraints", constraints))]
        cmd = [str(python), "-I", "-m", "pip", "--isolated", "install", "--quiet", *_pip_options(index_url, allow_sdist),
               *files]
        out.commands.append(cmd)
        proc = _run(cmd, runner, timeout, f"installing the requirements of {pack_dir.name}")
        if proc.returncode != 0:
            tail = [ln for ln in (proc.stderr or "").strip().splitlines() if ln.strip()][-1:]
            raise ComfyFixerError(f"installing the requirements of {pack_dir.name} failed: {' '.join(tail)}",
                                  hint="fix the requirement and run the plan again")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out.installed = True
    return out


# --- snapshots and undo -----------------------------------------------------------------------------


def pip_freeze(python: Path, *, runner: Runner = subprocess.run, timeout: float = 120.0) -> list[str]:
    """``pip freeze`` of ComfyUI's ``python`` (isolated, no user config), one requirement per line, sorted."""
    proc = _run([str(python), "-I", "-m", "pip", "--isolated", "freeze", "--disable-pip-version-check"], runner,
                timeout, "listing what ComfyUI's Python has installed")
    if proc.returncode != 0:
        tail = [ln for ln in (proc.stderr or "").strip().splitlines() if ln.strip()][-1:]
        raise ComfyFixerError(f"`pip freeze` failed in {python}: {' '.join(tail)}",
                              hint="check that ComfyUI's Python has pip")
    return sorted((ln.strip() for ln in proc.stdout.splitlines() if ln.strip() and not ln.startswith("#")),
                  key=str.lower)


def uninstall_packages(python: Path, names: Sequence[str], *, expected_python_sha256: str | None = None,
                       runner: Runner = subprocess.run, timeout: float = 600.0) -> list[str]:
    """``pip uninstall -y`` ``names`` (plain distribution names only) in ComfyUI's ``python``; the command run.

    Refuses a name that is not a plain project name (it could be read as an option or a path) and,
    like installs, an interpreter that is not the one the plan checked.
    """
    bad = [n for n in names if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", n)]
    if bad:
        raise RequirementRefused(f"not a plain package name: {bad[0]!r}", hint="uninstall it yourself")
    if expected_python_sha256:
        verify_python(expected_python_sha256, python, runner=runner)
    cmd = [str(python), "-I", "-m", "pip", "--isolated", "uninstall", "--yes", "--quiet", *names]
    if names:
        proc = _run(cmd, runner, timeout, "removing packages added since the snapshot")
        if proc.returncode != 0:
            tail = [ln for ln in (proc.stderr or "").strip().splitlines() if ln.strip()][-1:]
            raise ComfyFixerError(f"pip uninstall failed: {' '.join(tail)}", hint="remove those packages yourself")
    return cmd
