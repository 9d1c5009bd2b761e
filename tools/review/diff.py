"""``diff_workflows``: how two versions of a workflow differ, and what the changes cost.

Both sides are compared as the API prompt ComfyUI would run (a UI file is converted the way the
frontend queues it), so a UI workflow and its own API export are equal, and subgraphs, reroutes and
primitives never show up as differences. Nodes are matched in passes, each over what is still
unmatched: same id, class and place in the graph; same place in the graph (so a re-numbered graph
lines up); same id and class; a shallower notion of place; finally same class, by how many values
agree. "Place in the graph" is a label refined a few rounds from a node's class and the labels of
what feeds it and what it feeds (input names included), so the positive and the negative prompt of
one sampler stay apart.

Implications come from rules of thumb in the knowledge pack (``parameter-ranges#Changes and their
cost``): a runtime proxy (steps × pixels × frames summed over the samplers), the weight-size ratio of
a precision change, fewer steps or a lower resolution as quality hints, and the review findings the
new version adds.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import InputError
from comfyfixer.tools.review import graphfacts as gf
from comfyfixer.tools.review.families import family_of_file, precision_of, weight_bits
from comfyfixer.tools.review.history import predecessor
from comfyfixer.tools.review.models import (
    DiffInput,
    Finding,
    ModelChange,
    NodeRef,
    ParamChange,
    Rewire,
    WorkflowDiff,
    WorkflowReview,
)
from comfyfixer.tools.review.review import fit_report, review_loaded, vram_fit
from comfyfixer.tools.schema.folders import looks_like_model_file
from comfyfixer.tools.schema.loader import SchemaSet
from comfyfixer.tools.toolset import capability
from comfyfixer.tools.workflow.graph import Graph, Link
from comfyfixer.tools.workflow.loader import LoadedWorkflow, load_workflow

log = logging.getLogger(__name__)
COST_SECTION = "parameter-ranges#Changes and their cost"
_ROUNDS = 3
KEY_INPUTS = frozenset(gf.SAMPLING_NAMES) | frozenset(gf.SIZE_NAMES) | {"strength_model", "strength_clip", "strength"}
_SEEDS = {"seed", "noise_seed"}


def structure_labels(graph: Graph, rounds: int = _ROUNDS) -> list[dict[str, str]]:
    """Per round, node id → a label of its class and its neighbourhood (round 0 is the class alone)."""
    feeds: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for node in graph.nodes.values():
        for name, value in node.inputs.items():
            if isinstance(value, Link):
                feeds[value.origin].append((node.id, name))
    labels = [{nid: n.class_type for nid, n in graph.nodes.items()}]
    for _ in range(rounds):
        prev = labels[-1]
        nxt = {}
        for nid, node in graph.nodes.items():
            ups = sorted(f"{name}<{prev.get(v.origin, '?')}:{v.slot}" for name, v in node.inputs.items()
                         if isinstance(v, Link))
            downs = sorted(f"{name}>{prev.get(target, '?')}" for target, name in feeds.get(nid, []))
            text = "\x1f".join([prev[nid], *ups, "\x1e", *downs])
            nxt[nid] = node.class_type + "#" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]
        labels.append(nxt)
    return labels


def _similarity(a: dict[str, Any], b: dict[str, Any]) -> int:
    """How many literal inputs two nodes share with equal values (picks among same-place candidates)."""
    return sum(1 for k, v in a.items() if k in b and b[k] == v)


def match_nodes(old: Graph, new: Graph) -> tuple[dict[str, str], dict[str, int]]:
    """old id → new id for the nodes that correspond, and how many each pass matched.

    The passes, each over the nodes still unmatched: (1) same id, class and place in the graph; (2)
    same place (a re-numbered graph); (3) same id and class (a node whose neighbourhood changed, e.g.
    the sampler behind a newly inserted LoRA); (4) same place one round deep; (5) same class, the
    most similar values first. Whatever is left over was added or removed.
    """
    lo, ln = structure_labels(old), structure_labels(new)
    pairs: dict[str, str] = {}
    taken: set[str] = set()
    counts: dict[str, int] = {"id": 0, "structure": 0, "type": 0}

    def free_old() -> list[str]:
        """Old ids still unmatched, in id order."""
        return sorted((i for i in old.nodes if i not in pairs), key=_id_key)

    def free_new() -> list[str]:
        """New ids still unmatched, in id order."""
        return sorted((i for i in new.nodes if i not in taken), key=_id_key)

    def pair(o: str, n: str, how: str) -> None:
        """Record a match and which pass made it."""
        pairs[o] = n
        taken.add(n)
        counts[how] += 1

    # 1. same id, same class, same place
    for o in free_old():
        if o in new.nodes and o not in taken and lo[-1][o] == ln[-1][o]:
            pair(o, o, "id")
    # 2. same place (re-numbered graphs), then 3. same id and class, then 4. a shallower place, 5. class.
    _by_key(free_old(), free_new(), lambda i: lo[-1][i], lambda i: ln[-1][i], old, new, pair, "structure")
    for o in free_old():
        if o in new.nodes and o not in taken and old.nodes[o].class_type == new.nodes[o].class_type:
            pair(o, o, "id")
    _by_key(free_old(), free_new(), lambda i: lo[1][i], lambda i: ln[1][i], old, new, pair, "structure")
    _by_key(free_old(), free_new(), lambda i: lo[0][i], lambda i: ln[0][i], old, new, pair, "type")
    return pairs, counts


def _by_key(olds: list[str], news: list[str], key_old: Callable[[str], str], key_new: Callable[[str], str],
            old: Graph, new: Graph, pair: Callable[[str, str, str], None], how: str) -> None:
    """Pair nodes with equal keys; within a key, the most similar values first, then id order."""
    groups: dict[str, list[str]] = defaultdict(list)
    for n in news:
        groups[key_new(n)].append(n)
    for o in olds:
        candidates = groups.get(key_old(o))
        if not candidates:
            continue
        lits = gf.literal_inputs(old.nodes[o])
        best = max(candidates, key=lambda n: (_similarity(lits, gf.literal_inputs(new.nodes[n])), n == o))
        candidates.remove(best)
        pair(o, best, how)


def _id_key(nid: str) -> tuple[int, ...]:
    """Sort key for node ids, numerically part by part."""
    return tuple(int(p) if p.isdigit() else 0 for p in nid.split(":"))


def _label(graph: Graph, nid: str | None) -> str | None:
    """``Class (id)`` of a node of ``graph``, or ``None`` when there is no such node."""
    return None if nid is None or nid not in graph.nodes else f"{graph.nodes[nid].class_type} ({nid})"


def _seed_is_rolled(loaded: LoadedWorkflow, nid: str) -> bool:
    """Whether the UI re-rolls this node's seed every run (randomize/increment/decrement), so its saved value means nothing."""
    node = loaded.graph.nodes.get(nid)
    return loaded.format == "ui" and node is not None and gf.seed_control(node) not in (None, "fixed")


def compare(old_l: LoadedWorkflow, new_l: LoadedWorkflow, schemas: SchemaSet) -> WorkflowDiff:
    """Diff two loaded workflows (the library form of ``diff_workflows``, without the readiness check)."""
    old_g, new_g = gf.prompt_graph(old_l, schemas), gf.prompt_graph(new_l, schemas)
    pairs, counts = match_nodes(old_g, new_g)
    diff = WorkflowDiff(old=old_l.path, new=new_l.path, old_format=old_l.format, new_format=new_l.format, equal=False,
                        matched=len(pairs), matched_by=counts, renumbered=sum(1 for o, n in pairs.items() if o != n))
    matched_new = set(pairs.values())
    diff.added = [NodeRef(id=n, class_type=new_g.nodes[n].class_type) for n in sorted(new_g.nodes, key=_id_key)
                  if n not in matched_new]
    diff.removed = [NodeRef(id=o, class_type=old_g.nodes[o].class_type) for o in sorted(old_g.nodes, key=_id_key)
                    if o not in pairs]
    for o, n in sorted(pairs.items(), key=lambda p: _id_key(p[1])):
        on, nn = old_g.nodes[o], new_g.nodes[n]
        for name in sorted(set(on.inputs) | set(nn.inputs)):
            a, b = on.inputs.get(name), nn.inputs.get(name)
            if isinstance(a, Link) or isinstance(b, Link):
                a_from = (pairs.get(a.origin, f"old:{a.origin}"), a.slot) if isinstance(a, Link) else None
                b_from = (b.origin, b.slot) if isinstance(b, Link) else None
                if a_from != b_from:
                    was = (_label(new_g, pairs.get(a.origin)) or _label(old_g, a.origin)) if isinstance(a, Link) else repr(a)
                    diff.rewired.append(Rewire(node=n, class_type=nn.class_type, input=name, old_from=was,
                                               new_from=_label(new_g, b.origin) if isinstance(b, Link) else repr(b)))
                continue
            if a == b or (gf.number(a) is not None and gf.number(b) is not None
                          and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)):
                continue  # 1.0000000000000002 and 1 are the same setting
            queued = old_l.format != new_l.format and _queue_time_only(name, a, b, schemas.get(nn.class_type))
            if (looks_like_model_file(a) or looks_like_model_file(b)) and not queued:
                diff.models.append(_model_change("swapped", n, nn.class_type, name, a, b))
                continue
            rolled = name in _SEEDS and (_seed_is_rolled(old_l, o) or _seed_is_rolled(new_l, n))
            diff.parameters.append(ParamChange(node=n, old_node=o, class_type=nn.class_type, input=name, old=a, new=b,
                                               key=name in KEY_INPUTS, runtime_only=rolled or queued))
    for ref, graph, change in [(r, new_g, "added") for r in diff.added] + [(r, old_g, "removed") for r in diff.removed]:
        for name, value in gf.literal_inputs(graph.nodes[ref.id]).items():
            if looks_like_model_file(value):
                a, b = (None, value) if change == "added" else (value, None)
                diff.models.append(_model_change(change, ref.id, ref.class_type, name, a, b))
    diff.equal = not (diff.added or diff.removed or diff.rewired or diff.models
                      or any(not p.runtime_only for p in diff.parameters))
    old_r, new_r = review_loaded(old_l, schemas), review_loaded(new_l, schemas)
    _implications(diff, old_r, new_r, old_g, new_g)
    diff.summary = _summary(diff)
    return diff


# The frontend's dynamic prompts drop /* block */ and // line comments from text widgets when it queues.
_COMMENTS = re.compile(r"/\*[\s\S]*?\*/|//.*")
_PERCENT = re.compile(r"%[^%\s]+%")
_CHOICE = re.compile(r"\{[^{}]*\|[^{}]*\}")
_UPLOAD_BUTTONS = frozenset({"upload", "choose file to upload"})


def _queue_time_only(name: str, a: Any, b: Any, schema: Any) -> bool:
    """Whether a UI value and its API counterpart differ only by what the frontend does when it queues:
    comments stripped from a prompt, the upload button's value old frontends sent, an input the class does
    not declare (an extension's widget, which ComfyUI ignores), or widgets of a class without a schema
    (their names cannot be read from the UI file)."""
    if name in _UPLOAD_BUTTONS:
        return True
    if isinstance(a, str) and isinstance(b, str):
        # {a|b} picks one option at random per queue, so such a prompt never matches its export.
        # %Node.widget% in a file name prefix is filled in at queue time too.
        return (_COMMENTS.sub("", a).strip() == _COMMENTS.sub("", b).strip() or bool(_CHOICE.search(a + b))
                or bool(_PERCENT.search(a + b)))
    if a is None or b is None:
        return schema is None or schema.input(name) is None
    return False


def _model_change(change: str, node: str, class_type: str, name: str, a: Any, b: Any) -> ModelChange:
    """A model change with each side's family, precision and the weight-size ratio their precisions imply."""
    fa, fb = (family_of_file(x) if isinstance(x, str) else None for x in (a, b))
    pa, pb = (precision_of(x) if isinstance(x, str) else None for x in (a, b))
    ba, bb = (weight_bits(x) if isinstance(x, str) else None for x in (a, b))
    ratio = bb / ba if ba and bb else None
    return ModelChange(change=change, node=node, class_type=class_type, input=name,
                       old=a if isinstance(a, str) else None, new=b if isinstance(b, str) else None,
                       old_family=fa.id if fa else None, new_family=fb.id if fb else None,
                       old_precision=pa, new_precision=pb, weight_ratio=ratio)


def runtime_cost(graph: Graph, review: WorkflowReview) -> float | None:
    """Σ over the samplers of effective steps × pixels × frames (the largest size the graph sets).

    Effective steps are those a sampler runs: an advanced sampler that starts at step 10 of 20 runs
    10. One-step schedulers (helpers of depth or pose passes) are left out. The proxy compares two
    versions of one workflow; it is not a time estimate across families or GPUs. ``None`` when the
    graph sets no steps (API nodes, utilities).
    """
    steps_total = 0.0
    for s in review.samplers:
        steps = gf.number(s.values.get("steps"))
        if steps is None or ("Scheduler" in s.class_type and steps <= 1):
            continue
        start = gf.number(s.values.get("start_at_step")) or 0.0
        end = gf.number(s.values.get("end_at_step"))
        steps_total += max(0.0, min(steps, end if end is not None else steps) - start)
    if not steps_total:
        return None
    sizes = [(r.width * r.height, r.frames or 1) for r in review.resolutions]
    pixels, frames = max(sizes) if sizes else (1, 1)
    return steps_total * pixels * frames


def _implications(diff: WorkflowDiff, old_r: WorkflowReview, new_r: WorkflowReview, old_g: Graph, new_g: Graph) -> None:
    """Fill the diff's task and family change, runtime proxy, precision, steps, resolution, LoRA and frame hints, the review findings the new version adds, and its new dependencies."""
    diff.old_task, diff.new_task = old_r.task, new_r.task
    diff.old_family, diff.new_family = old_r.family, new_r.family
    diff.old_cost, diff.new_cost = runtime_cost(old_g, old_r), runtime_cost(new_g, new_r)
    out = diff.implications
    if diff.old_cost and diff.new_cost:
        diff.runtime_ratio = round(diff.new_cost / diff.old_cost, 3)
        if abs(diff.runtime_ratio - 1) >= 0.05:
            faster = diff.runtime_ratio < 1
            out.append(Finding(level="info", code="runtime", source=COST_SECTION,
                               message=f"sampling work (steps × pixels × frames) is ×{diff.runtime_ratio:g}: "
                                       f"expect a {'faster' if faster else 'slower'} run"))
    if old_r.task != new_r.task:
        out.append(Finding(level="warning", code="task-changed", message=f"task changed: {old_r.task} → {new_r.task}"))
    if old_r.family != new_r.family:
        out.append(Finding(level="warning", code="family-changed", source=COST_SECTION,
                           message=f"model family changed: {old_r.family or 'none'} → {new_r.family or 'none'}; "
                                   "LoRAs, ControlNets and settings made for the old family may not fit"))
    for m in diff.models:
        if m.change == "swapped" and m.weight_ratio is not None and m.weight_ratio != 1:
            smaller = m.weight_ratio < 1
            bits = weight_bits(m.new) if m.new else None
            quality = "no visible change in quality" if not smaller else \
                "more loss of detail at 2-6 bits" if bits is not None and bits <= 6 else \
                "a small loss of fine detail" if bits is not None and bits <= 8.5 else "some loss of detail"
            out.append(Finding(level="warning" if smaller else "info", code="precision", node_id=m.node,
                               source=COST_SECTION,
                               message=f"{m.old} → {m.new}: {m.old_precision} → {m.new_precision}, about "
                                       f"{m.weight_ratio:.0%} of the weights' memory (VRAM); expect {quality}"))
        elif m.change != "swapped" and m.class_type.startswith("Lora"):
            out.append(Finding(level="info", code=f"lora-{m.change}", node_id=m.node,
                               message=f"LoRA {m.change}: {m.new or m.old}"))
    for p in diff.parameters:
        a, b = gf.number(p.old), gf.number(p.new)
        if a is None or b is None or p.runtime_only:
            continue
        if p.input == "steps" and b < a * 0.75:
            out.append(Finding(level="warning", code="fewer-steps", node_id=p.node, source=COST_SECTION,
                               message=f"steps {a:g} → {b:g} on {p.class_type}: faster, but may leave the image "
                                       "less finished unless a speed LoRA or distilled model was added"))
        elif p.input in ("width", "height") and b < a:
            out.append(Finding(level="warning", code="lower-resolution", node_id=p.node, source=COST_SECTION,
                               message=f"{p.input} {a:g} → {b:g}: less detail (and less memory and time)"))
        elif p.input in ("strength_model", "strength") and b < a and p.class_type.startswith("Lora"):
            out.append(Finding(level="info", code="lora-weaker", node_id=p.node,
                               message=f"LoRA strength {a:g} → {b:g}: its effect is weaker"))
        elif p.input in ("length", "num_frames", "frames", "video_frames") and a != b:
            out.append(Finding(level="info", code="frames", node_id=p.node, source=COST_SECTION,
                               message=f"frames {a:g} → {b:g}: video memory and time scale with it"))
    seen = {(f.code, f.node_id) for f in old_r.findings}
    diff.new_findings = [f for f in new_r.findings if (f.code, f.node_id) not in seen and f.level != "info"]
    old_files = {m.filename for m in old_r.models}
    new_classes = {n.class_type for n in new_g.nodes.values()} - {n.class_type for n in old_g.nodes.values()}
    diff.new_dependencies = sorted({m.filename for m in new_r.models if m.filename not in old_files}) + sorted(new_classes)


def _summary(d: WorkflowDiff) -> str:
    """One line: equal, or the counts of each kind of change."""
    if d.equal:
        return f"equal: {d.matched} nodes match" + (f" ({d.renumbered} re-numbered)" if d.renumbered else "")
    parts = [f"{len(d.added)} added", f"{len(d.removed)} removed", f"{len(d.rewired)} rewired",
             f"{sum(1 for p in d.parameters if not p.runtime_only)} value(s) changed", f"{len(d.models)} model change(s)"]
    if d.renumbered:
        parts.append(f"{d.renumbered} re-numbered")
    if d.runtime_ratio:
        parts.append(f"runtime ×{d.runtime_ratio:g}")
    return ", ".join(parts)


def _attach_sizes(diff: WorkflowDiff, reports: list[Any]) -> None:
    """Each changed model's resident size from the two fit estimates (header bytes of files found here,
    else the notes, the catalog or the knowledge pack), when they know it."""
    gib = 1024**3
    sizes = [{m.filename: (m.bytes, m.source) for m in r.models} if r is not None else {} for r in reports]
    for m in diff.models:
        old, new = sizes[0].get(m.old or ""), sizes[1].get(m.new or "")
        m.old_gb = round(old[0] / gib, 2) if old else None
        m.new_gb = round(new[0] / gib, 2) if new else None
        m.size_source = ", ".join(sorted({str(x[1]) for x in (old, new) if x})) or None


def _new_missing(diff: WorkflowDiff, old: Path, new: Path, ctx: ToolContext) -> list[str]:
    """What the configured ComfyUI lacks for the new version but not for the old (empty without a ComfyUI)."""
    if ctx.comfyui_dir is None and ctx.comfyui_url is None:
        return []
    from comfyfixer.tools.readiness import CheckInput, check_workflows

    def missing(path: Path) -> set[str]:
        """Missing node classes and model files of one workflow on this ComfyUI."""
        result = check_workflows(CheckInput(paths=[str(path)]), ctx)
        return {x for w in result.workflows for x in [*(n.class_type for n in w.missing_node_types),
                                                      *(m.filename for m in w.missing_models)]}

    return sorted(missing(new) - missing(old))


@capability(command="diff")
def diff_workflows(inp: DiffInput, ctx: ToolContext) -> WorkflowDiff:
    """Compare two versions of a ComfyUI workflow (UI or API JSON, or images that embed one).

    Both are compared as the prompt ComfyUI would run, so a UI file and its own API export are equal
    and a re-numbered graph still lines up (nodes are matched by id, then by class and place in the
    graph). Reports nodes added, removed and rewired; models swapped, added or removed (family,
    precision fp16/fp8/GGUF and the weight-size ratio); changed values (sampler, scheduler, steps, CFG,
    resolution, frames, denoise, LoRA strengths, seeds — seeds the UI re-rolls every run are marked);
    and what the changes imply: a runtime proxy (steps × pixels × frames), memory, quality hints from
    the knowledge pack (fp16 → fp8, fewer steps, lower resolution), new review findings and new
    dependencies (with what the configured ComfyUI lacks of them). Reads only; changes nothing.
    """
    schemas = ctx.schemas(inp.object_info)
    new = Path(inp.new).expanduser()
    if inp.old is not None:
        old = Path(inp.old).expanduser()
    else:
        found = predecessor(ctx, new) if new.is_file() else None
        if found is None:
            raise InputError(f"the history holds no earlier version of {new}",
                             hint="give both files (`comfyfixer diff OLD NEW`), or let `comfyfixer check` or "
                                  "`schedule` see the workflow before and after a change")
        old = found[0]
    diff = compare(load_workflow(old), load_workflow(new), schemas)
    if inp.old is None:
        diff.old = f"{new} (version first seen {found[1]['first_seen']})"  # type: ignore[index]
    reports = [fit_report(p, ctx) for p in (old, new)]
    fits = [vram_fit(p, ctx, report=r) for p, r in zip((old, new), reports, strict=True)]
    _attach_sizes(diff, reports)
    diff.old_vram_gb, diff.new_vram_gb = (f.peak_gb if f and f.peak_gb else None for f in fits)
    if diff.old_vram_gb and diff.new_vram_gb and abs(diff.new_vram_gb - diff.old_vram_gb) >= 0.05:
        diff.implications.append(Finding(
            level="warning" if diff.new_vram_gb > diff.old_vram_gb else "info", code="vram", source=COST_SECTION,
            message=f"peak VRAM need {diff.old_vram_gb:g} GB → {diff.new_vram_gb:g} GB (fit estimate)"
                    + (f"; {fits[1].summary}" if fits[1] and fits[1].verdict != "FITS" else "")))
    diff.new_missing = _new_missing(diff, old, new, ctx)
    if diff.new_missing:
        diff.implications.append(Finding(level="warning", code="new-missing",
                                         message=f"the new version needs {len(diff.new_missing)} thing(s) this "
                                                 f"ComfyUI lacks: {', '.join(diff.new_missing[:4])}"))
    log.debug("diffed %s → %s: %s", old, new, diff.summary)
    return diff
