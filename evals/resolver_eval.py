"""Resolver eval: can we find every model the official templates use, with their URLs hidden?

Run: ``python -m comfyfixer.evals.resolver_eval [--limit N] [--json] [--show N]``

The official templates (``comfyui-workflow-templates-json``) name each model with the URL it comes
from (``properties.models``). The eval hides those URLs and asks the resolver for every distinct
``(filename, folder)`` pair, against local servers imitating Hugging Face's and Civitai's search
semantics over a realistic index:

* every repo and file the templates and ComfyUI-Manager's ``model-list.json`` point at;
* look-alike distractors: other precisions next to each file (fp16/bf16/fp8/scaled), GGUF
  re-quantisations, repos with the same name under other owners (mirrors: same bytes), repos
  holding a *different* file under a genuine name (someone's merge saved as ``x.safetensors``),
  renamed Civitai re-uploads, plus the real Civitai samples in ``shared/data/api/civitai``.

The templates themselves are not a catalog here (that would be the answer key); Manager's model
list is. A verdict is correct when its URL is one the templates use for that file, or it serves the
same bytes (same sha256). Scorecard: resolved correctly, resolved wrongly (must be 0), uncertain
with the right answer among the candidates, uncertain without it, not found.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from comfyfixer.evals.fakes.civitai_server import CivitaiFakeServer
from comfyfixer.evals.fakes.hf_server import FakeHfFile, FakeHfRepo, HfFakeServer
from comfyfixer.tools.catalogs.manager import ManagerCatalog, load_manager_catalog
from comfyfixer.tools.catalogs.model_index import ModelIndex, iter_properties_models
from comfyfixer.tools.civitai.client import CivitaiClient
from comfyfixer.tools.huggingface.client import HuggingFaceClient, parse_hf_url
from comfyfixer.tools.resolver.cache import DiskCache
from comfyfixer.tools.resolver.models import ModelQuery, ResolveStatus, Verdict
from comfyfixer.tools.resolver.strategy import ModelResolver
from comfyfixer.tools.resolver.tokens import analyze

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_CIVITAI = REPO_ROOT.parent / "shared" / "data" / "api" / "civitai"
GENERIC_NAMES = frozenset({"model.safetensors", "diffusion_pytorch_model.safetensors", "pytorch_model.bin",
                           "model.pt", "model.pth", "config.json", "model.onnx"})
_PRECISION_SWAPS = {"fp8_e4m3fn_scaled": ["fp16", "bf16"], "fp8_scaled": ["fp16", "bf16"], "fp8_e4m3fn": ["fp16", "fp8_e5m2"],
                    "fp16": ["fp8_e4m3fn", "bf16"], "bf16": ["fp16", "fp8_scaled"], "fp32": ["fp16"],
                    "int8_convrot": ["bf16"]}


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _num(text: str, lo: int, hi: int) -> int:
    return lo + int(_h(text)[:12], 16) % (hi - lo)


def _strip(url: str) -> str:
    return url.split("?", 1)[0]


# ---------------------------------------------------------------------------------------------- corpus
@dataclass
class Corpus:
    """The answer key and the catalogs the index is built from."""

    template_urls: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # name -> urls
    queries: list[tuple[str, str | None]] = field(default_factory=list)  # (name, folder)
    manager: ManagerCatalog | None = None
    served: dict[str, str] = field(default_factory=dict)  # canonical URL -> sha256 the fakes serve there

    def content_key(self, url: str) -> str:
        """Which bytes a URL serves: same basename ⇒ same bytes, except where the catalogs show otherwise."""
        url = _strip(url)
        name = url.rsplit("/", 1)[-1]
        if url in self.template_urls.get(name, set()):
            return name
        if name in GENERIC_NAMES:
            return url
        if self.manager is not None:
            sizes = {m.size for m in self.manager.models if m.filename.rsplit("/", 1)[-1] == name}
            if len(sizes) > 1:  # the Manager itself lists different files under this name
                return url
        return name

    def sha(self, url: str) -> str:
        return _h("content:" + self.content_key(url))


def load_corpus(templates_dir: Path, manager: ManagerCatalog | None) -> Corpus:
    c = Corpus(manager=manager)
    seen: set[tuple[str, str | None]] = set()
    for path in sorted(templates_dir.glob("*.json")):
        try:
            wf = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for m in iter_properties_models(wf):
            name, url = m.get("name"), m.get("url")
            if not isinstance(name, str) or not isinstance(url, str) or ("huggingface.co" not in url and "civitai" not in url):
                continue
            c.template_urls[name].add(_strip(url))
            key = (name, m.get("directory") if isinstance(m.get("directory"), str) else None)
            if key not in seen:
                seen.add(key)
                c.queries.append(key)
    return c


# ---------------------------------------------------------------------------------------------- HF index
_TRUSTED = ("Comfy-Org", "comfyanonymous", "Kijai", "city96", "black-forest-labs", "stabilityai", "Lightricks")
_GATED = {"black-forest-labs/FLUX.1-dev", "black-forest-labs/FLUX.1-Fill-dev", "black-forest-labs/FLUX.1-Kontext-dev",
          "stabilityai/stable-diffusion-3.5-large", "stabilityai/stable-diffusion-3-medium"}
_MIRROR_OWNERS = ("modelmirror", "aihub-backup", "comfy-community")
_GGUF_OWNERS = ("QuantStack", "gguf-org", "unsloth-community")
_MERGE_OWNERS = ("pixelmerge", "tuner-lab", "mergekit-fan")


def _variant_names(name: str) -> list[str]:
    """Other precisions of the same file, as repos really hold them next to each other."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        return []
    for tok, swaps in _PRECISION_SWAPS.items():
        if re.search(rf"(?<![a-z0-9]){re.escape(tok)}(?![a-z0-9])", stem):
            return [re.sub(rf"(?<![a-z0-9]){re.escape(tok)}(?![a-z0-9])", s, stem) + "." + ext for s in swaps]
    return [f"{stem}_fp8_e4m3fn.{ext}"] if ext == "safetensors" else []


def build_hf_index(corpus: Corpus) -> list[FakeHfRepo]:
    repos: dict[str, FakeHfRepo] = {}
    genuine_paths: dict[str, set[str]] = defaultdict(set)
    urls = {u for us in corpus.template_urls.values() for u in us}
    if corpus.manager is not None:
        urls |= {_strip(m.url) for m in corpus.manager.models if "huggingface.co" in m.url}
    for url in sorted(urls):
        parsed = parse_hf_url(url)
        if parsed is None:
            continue
        repo_id, _, path = parsed
        owner = repo_id.split("/")[0]
        repo = repos.setdefault(repo_id, FakeHfRepo(
            id=repo_id, downloads=_num(repo_id, 200_000, 3_000_000) if owner in _TRUSTED else _num(repo_id, 2_000, 400_000),
            likes=_num("l" + repo_id, 10, 3000), gated=repo_id in _GATED, license="other" if repo_id in _GATED else "apache-2.0",
            files=[FakeHfFile(".gitattributes", 1519), FakeHfFile("README.md", _num(repo_id, 300, 9000))]))
        if path not in genuine_paths[repo_id]:
            genuine_paths[repo_id].add(path)
            repo.files.append(FakeHfFile(path, _num(corpus.sha(url), 1 << 20, 24 << 30), corpus.sha(url)))
    # Other precisions next to each genuine file (different bytes, different names).
    for repo_id, paths in genuine_paths.items():
        repo = repos[repo_id]
        for path in sorted(paths):
            d, _, name = path.rpartition("/")
            for v in _variant_names(name):
                vp = f"{d}/{v}" if d else v
                if vp not in paths:
                    # A variant that happens to carry a genuine name elsewhere is that same file.
                    sha = corpus.sha(v) if v in corpus.template_urls else _h(f"variant:{repo_id}:{vp}")
                    repo.files.append(FakeHfFile(vp, _num(sha, 1 << 20, 24 << 30), sha))
    distractors: list[FakeHfRepo] = []
    for i, (repo_id, paths) in enumerate(sorted(genuine_paths.items())):
        owner, rname = repo_id.split("/")
        model_files = [p for p in sorted(paths) if p.endswith((".safetensors", ".sft"))]
        if not model_files:
            continue
        # GGUF re-quantisations of the diffusion models.
        gg = FakeHfRepo(id=f"{_GGUF_OWNERS[i % 3]}/{rname}-GGUF", downloads=_num("g" + repo_id, 5_000, 900_000))
        for p in model_files[:6]:
            stem = p.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            for q in ("Q4_K_M", "Q8_0"):
                gg.files.append(FakeHfFile(f"{stem}-{q}.gguf", _num(stem + q, 1 << 20, 12 << 30), _h(f"gguf:{stem}:{q}")))
        distractors.append(gg)
        if i % 4 == 0:  # a mirror: same repo name, another owner, same bytes
            distractors.append(FakeHfRepo(
                id=f"{_MIRROR_OWNERS[i % 3]}/{rname}", downloads=_num("m" + repo_id, 100, 50_000),
                files=[FakeHfFile(p, next(f.size for f in repos[repo_id].files if f.path == p),
                                  next(f.sha256 for f in repos[repo_id].files if f.path == p)) for p in model_files]))
        if i % 7 == 3:  # a different file saved under a genuine name
            p = model_files[0]
            name = p.rsplit("/", 1)[-1]
            fam = analyze(name).family or rname.lower()
            distractors.append(FakeHfRepo(
                id=f"{_MERGE_OWNERS[i % 3]}/{fam}-merges", downloads=_num("x" + repo_id, 1_000, 2_000_000),
                files=[FakeHfFile(name, _num("merge" + name, 1 << 20, 24 << 30), _h(f"merge:{name}"))]))
        if i % 5 == 1:  # an fp8 re-pack with renamed files
            distractors.append(FakeHfRepo(
                id=f"{_MERGE_OWNERS[(i + 1) % 3]}/{rname}-fp8", downloads=_num("f" + repo_id, 1_000, 300_000),
                files=[FakeHfFile(p.rsplit("/", 1)[-1].replace(".safetensors", "-fp8-e4m3fn.safetensors"),
                                  _num("fp8" + p, 1 << 20, 12 << 30), _h(f"fp8:{p}")) for p in model_files[:4]]))
    every = list(repos.values()) + distractors
    for r in every:
        for f in r.files:
            if f.sha256:
                corpus.served[f"/{r.id}/resolve/main/{f.path}"] = f.sha256
    return every


# ---------------------------------------------------------------------------------------------- Civitai index
def _civitai_file(fid: int, name: str, sha: str, version_id: int, base_url: str = "https://civitai.com") -> dict[str, Any]:
    return {"id": fid, "sizeKB": _num(sha, 1000, 2_000_000) + 0.5, "name": name, "type": "Model", "primary": True,
            "metadata": {"format": "SafeTensor" if name.endswith(".safetensors") else "PickleTensor"},
            "hashes": {"AutoV2": sha[:10].upper(), "SHA256": sha.upper()},
            "downloadUrl": f"{base_url}/api/download/models/{version_id}"}


def build_civitai_index(corpus: Corpus) -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = []
    for path in sorted(SHARED_CIVITAI.glob("*.json")) if SHARED_CIVITAI.is_dir() else []:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "modelVersions" in data:
            models.append(data)
        elif isinstance(data, dict) and isinstance(data.get("items"), list) and data["items"] and "modelVersions" in data["items"][0]:
            models.extend(data["items"])
    # Manager's Civitai entries.
    if corpus.manager is not None:
        for m in corpus.manager.models:
            mm = re.search(r"/models/(\d+)", m.reference or "")
            vm = re.search(r"/download/models/(\d+)", m.url)
            if not (mm and vm) or "civitai.com" not in m.url:
                continue
            vid, sha = int(vm.group(1)), corpus.sha(m.url)
            models.append({"id": int(mm.group(1)), "name": m.name, "type": "TextualInversion" if m.type == "embedding" else "Checkpoint",
                           "stats": {"downloadCount": _num(m.name, 1000, 90_000)}, "tags": [], "allowCommercialUse": "Image",
                           "modelVersions": [{"id": vid, "name": "v1", "baseModel": m.base or "SD 1.5",
                                              "files": [_civitai_file(vid, m.filename, sha, vid)]}]})
    # Re-uploads of template models: renamed (same bytes) or verbatim (same name, same bytes).
    next_id = 9_000_000
    for name in sorted(corpus.template_urls):
        if _num("c" + name, 0, 3) != 0:
            continue
        url = sorted(corpus.template_urls[name])[0]
        info = analyze(name)
        words = re.split(r"[_\-.]+", info.core)
        camel = words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])
        verbatim = _num("v" + name, 0, 2) == 0
        fname = name if verbatim else f"{camel}_v10.safetensors"
        next_id += 1
        models.append({"id": next_id, "name": " ".join(w.capitalize() for w in words) + (f" {info.precision}" if info.precision else ""),
                       "type": "Checkpoint", "stats": {"downloadCount": _num(name, 100, 40_000)}, "tags": [info.family or "base model"],
                       "creator": {"username": "reuploader"}, "allowCommercialUse": ["Image"],
                       "modelVersions": [{"id": next_id + 500_000, "name": "v1.0", "baseModel": "Other",
                                          "files": [_civitai_file(next_id, fname, corpus.sha(url), next_id + 500_000)]}]})
    for m in models:
        for v in m.get("modelVersions") or []:
            for f in v.get("files") or []:
                if f.get("downloadUrl") and (f.get("hashes") or {}).get("SHA256"):
                    corpus.served[_canonical(f["downloadUrl"])] = f["hashes"]["SHA256"].lower()
    return models


# ---------------------------------------------------------------------------------------------- scoring
class ItemResult(BaseModel):
    filename: str
    folder: str | None
    outcome: str  # correct | wrong | uncertain_right | uncertain_wrong | not_found
    status: str
    chosen: str | None = None
    expected: list[str] = []


class Scorecard(BaseModel):
    total: int
    correct: int
    wrong: int
    uncertain_right: int
    uncertain_wrong: int
    not_found: int
    seconds: float
    requests: dict[str, int]
    items: list[ItemResult]

    @property
    def correct_rate(self) -> float:
        return self.correct / self.total if self.total else 0.0


def _is_right(corpus: Corpus, name: str, url: str, sha: str | None) -> bool:
    """Right = a URL the templates use for this name, or a URL serving the same bytes."""
    accepted = corpus.template_urls.get(name, set())
    if _strip(url) in accepted:
        return True
    shas = {corpus.sha(u) for u in accepted}
    served = corpus.served.get(_canonical(url))
    return (served or sha) in shas if (served or sha) else False


def _canonical(url: str) -> str:
    """``https://huggingface.co/...`` and the fake endpoint's ``http://127.0.0.1:port/...`` are one URL."""
    return re.sub(r"^https?://[^/]+", "", _strip(url))


def score(corpus: Corpus, name: str, folder: str | None, v: Verdict) -> ItemResult:
    expected = sorted(corpus.template_urls.get(name, set()))
    best = v.best
    if v.status == ResolveStatus.RESOLVED and best is not None:
        ok = _is_right(corpus, name, best.url, best.sha256)
        return ItemResult(filename=name, folder=folder, outcome="correct" if ok else "wrong", status=v.status,
                          chosen=best.url, expected=expected)
    if v.status == ResolveStatus.UNCERTAIN:
        ok = any(_is_right(corpus, name, c.url, c.sha256) for c in v.candidates)
        return ItemResult(filename=name, folder=folder, outcome="uncertain_right" if ok else "uncertain_wrong",
                          status=v.status, chosen=best.url if best else None, expected=expected)
    return ItemResult(filename=name, folder=folder, outcome="not_found", status=v.status, expected=expected)


def run_eval(
    templates_dir: Path,
    manager: ManagerCatalog | None,
    *,
    limit: int | None = None,
    names: Iterable[str] | None = None,
    cache_dir: Path | None = None,
) -> Scorecard:
    corpus = load_corpus(templates_dir, manager)
    queries = corpus.queries
    if names is not None:
        wanted = set(names)
        queries = [q for q in queries if q[0] in wanted]
    if limit is not None:
        queries = queries[:limit]
    index = ModelIndex()
    if manager is not None:
        index.add_manager(manager)  # the templates are the answer key, not a catalog, here
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, \
            HfFakeServer(build_hf_index(corpus)) as hf_srv, CivitaiFakeServer(build_civitai_index(corpus)) as civ_srv, \
            HuggingFaceClient(endpoint=hf_srv.url, timeout=10, retries=1) as hf, \
            CivitaiClient(base_url=civ_srv.url, timeout=10, retries=1, min_interval=0) as civ:
        resolver = ModelResolver(index=index, hf=hf, civitai=civ, cache=DiskCache(cache_dir or Path(tmp)))
        items = [score(corpus, name, folder, resolver.resolve(ModelQuery(filename=name, folder=folder), use_cache=False))
                 for name, folder in queries]
        requests = {f"hf:{k}": v for k, v in hf_srv.requests.items()} | {f"civitai:{k}": v for k, v in civ_srv.requests.items()}
    outcomes = [i.outcome for i in items]
    return Scorecard(total=len(items), correct=outcomes.count("correct"), wrong=outcomes.count("wrong"),
                     uncertain_right=outcomes.count("uncertain_right"), uncertain_wrong=outcomes.count("uncertain_wrong"),
                     not_found=outcomes.count("not_found"), seconds=round(time.perf_counter() - started, 2),
                     requests=requests, items=items)


def _default_templates_dir() -> Path:
    import comfyui_workflow_templates_json as pkg  # the [test] extra

    return Path(pkg.__file__).parent / "templates"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m comfyfixer.evals.resolver_eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, help="Only the first N (filename, folder) pairs.")
    ap.add_argument("--templates", type=Path, help="Templates folder (default: the installed templates package).")
    ap.add_argument("--manager-wheel-dir", type=Path, default=REPO_ROOT / ".cache" / "corpora",
                    help="Folder holding comfyui_manager-*.whl.")
    ap.add_argument("--show", type=int, default=15, help="List up to N items that were not resolved correctly.")
    ap.add_argument("--json", action="store_true", help="Print the scorecard as JSON.")
    args = ap.parse_args(argv)
    manager = load_manager_catalog(wheel_dirs=[args.manager_wheel_dir])
    card = run_eval(args.templates or _default_templates_dir(), manager, limit=args.limit)
    if args.json:
        sys.stdout.write(card.model_dump_json(indent=2) + "\n")
        return 0 if card.wrong == 0 else 1
    print(f"resolver eval: {card.total} models from the official templates, URLs hidden ({card.seconds}s)")
    print(f"  resolved correctly            {card.correct:4d}  ({card.correct_rate:.1%})")
    print(f"  resolved wrongly              {card.wrong:4d}")
    print(f"  uncertain, answer in list     {card.uncertain_right:4d}")
    print(f"  uncertain, answer not in list {card.uncertain_wrong:4d}")
    print(f"  not found                     {card.not_found:4d}")
    print(f"  requests: {json.dumps(card.requests, sort_keys=True)}")
    misses = [i for i in card.items if i.outcome != "correct"][: args.show]
    for i in misses:
        print(f"  - {i.outcome:16s} {i.filename} [{i.folder}] chose {i.chosen} expected {i.expected[:2]}")
    return 0 if card.wrong == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
