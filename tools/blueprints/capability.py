"""``list_schemas`` and ``build_schema``: the owner's workflow schemas, listed and built on request.

The schemas inform full refactors and explicit requests only: nothing here runs unless the user asks
for a schema by name or purpose ("add auto-inpainting to this workflow"), and building never changes
a workflow in place — ``into`` composes the chain into a copy written as the next free
``<name>.vN.json``, and only the CLI (a caller-only ``write``) writes at all.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from comfyfixer.tools.blueprints.build import (
    Choice,
    FlatSchema,
    choose,
    composable_problem,
    compose_into,
    flatten,
    missing_packs,
    parameter_values,
    wire,
)
from comfyfixer.tools.blueprints.format import load_blueprint, schema_names
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import ComfyFixerError, InputError
from comfyfixer.tools.toolset import capability

log = logging.getLogger(__name__)

Scalar = str | int | float | bool


class SchemaListInput(BaseModel):
    """Which schema to show, or none for the list."""

    name: str | None = Field(default=None, max_length=60, description="A schema's name to show it whole (roles, "
                                                                      "candidates, parameters, sources); none lists all.")


class SchemaSummary(BaseModel):
    """One schema in a list."""

    name: str = Field(description="The schema's name.")
    version: str = Field(description="Its version.")
    title: str = Field(description="What it builds, in one line.")
    roles: list[str] = Field(description="Its roles, in build order (optional ones marked '?').")
    requires: list[str] = Field(default_factory=list, description="Schemas built in with it.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Parameters and their defaults.")


class SchemaListResult(BaseModel):
    """The shipped workflow schemas."""

    schemas: list[SchemaSummary] = Field(description="Every schema, or the one asked for.")
    detail: dict[str, Any] | None = Field(default=None, description="The whole schema, when one was named.")


@capability(command="schema list")
def list_schemas(inp: SchemaListInput, ctx: ToolContext) -> SchemaListResult:
    """Only when the user explicitly asks about workflow schemas (auto-inpaint, image-cycling,
    dynamic-prompts) or asks to add one of those chains: list the owner's workflow schemas, or show
    one whole (its roles, candidate node classes with their packs, parameters and sources). Never
    offer these on your own while checking, fixing or explaining a workflow."""
    names = [inp.name] if inp.name else list(schema_names())
    out = SchemaListResult(schemas=[])
    for name in names:
        bp = load_blueprint(name)
        out.schemas.append(SchemaSummary(
            name=bp.name, version=bp.version, title=bp.title,
            roles=[f"{r}?" if role.optional else r for r, role in flatten(bp).roles.items()],
            requires=[r.schema_ for r in bp.requires],
            parameters={k: p.default for k, p in flatten(bp).parameters.items()}))
    if inp.name:
        out.detail = load_blueprint(inp.name).model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return out


class SchemaBuildInput(BaseModel):
    """What to build, with which candidates and values, and optionally into which workflow."""

    name: str = Field(max_length=60, description="The schema: auto-inpaint, image-cycling or dynamic-prompts.")
    choices: dict[str, str] = Field(default_factory=dict, description="Role → candidate id or node class to use "
                                    "(e.g. detector=GroundingDinoSAMSegment (segment anything)), or 'none' to leave "
                                    "an optional role out. Unset roles take the best installed candidate.")
    parameters: dict[str, Scalar] = Field(default_factory=dict, description="Parameter → value (e.g. target=hand).")
    into: str | None = Field(default=None, description="A UI workflow to compose the chain into, only when the user "
                             "asked for that: a copy <name>.vN.json is made, the original is never changed.")


class RolePick(BaseModel):
    """The candidate used for one role."""

    role: str = Field(description="The role.")
    candidate: str | None = Field(description="The candidate id, or None when the optional role was left out.")
    label: str = Field(default="", description="The candidate in words.")
    classes: list[str] = Field(default_factory=list, description="Its node classes.")
    installed: bool = Field(description="Every class is installed here (or the role reuses an existing node).")
    why: str = Field(description="Why this candidate.")
    reused_node: int | None = Field(default=None, description="The existing node (UI id) the role reuses.")


class MissingPack(BaseModel):
    """A pack the built workflow needs that is not installed here."""

    id: str | None = Field(description="ComfyUI-Manager catalog id (None when the catalog gives none).")
    repo: str = Field(description="Git repository.")
    classes: list[str] = Field(description="The classes needed from it.")


class SchemaBuildResult(BaseModel):
    """The workflow built from a schema and whether it validated."""

    status: Literal["BUILT", "INVALID"] = Field(description="BUILT: 0 errors against the node schemas.")
    schema_name: str = Field(description="The schema built.")
    version: str = Field(description="Its version.")
    picks: list[RolePick] = Field(description="The candidate used per role.")
    parameters: dict[str, Any] = Field(description="The parameter values used.")
    errors: list[str] = Field(default_factory=list, description="Validation errors on the built nodes.")
    needs: list[str] = Field(default_factory=list, description="Files and values the machine running it must have.")
    schemas: str = Field(default="", description="Which node schemas validated it.")
    missing_packs: list[MissingPack] = Field(default_factory=list, description="Packs to install (a fix plan).")
    into: str | None = Field(default=None, description="The workflow composed into (left unchanged).")
    target: str | None = Field(default=None, description="Where the UI workflow is (or would be) written.")
    written: list[str] = Field(default_factory=list, description="Files written (CLI only).")
    notes: list[str] = Field(default_factory=list, description="What to know before running it.")
    # Last: the whole graphs are long, and a shortened result keeps what comes first.
    api: dict[str, Any] = Field(description="The API-format prompt (of the composed copy with into).")
    workflow: dict[str, Any] = Field(description="The UI-format workflow (the composed copy with into).")


@capability(command="schema build")
def build_schema(inp: SchemaBuildInput, ctx: ToolContext, *, out_dir: Path | None = None,
                 write: bool = False) -> SchemaBuildResult:
    """Only when the user explicitly asks for one of the owner's workflow schemas (e.g. "add
    auto-inpainting to this workflow", "build the image-cycling frontend"): build it. Picks per role
    the best candidate installed here (else the first, with its pack listed as missing), wires a UI
    and an API workflow and validates them against the node schemas; BUILT means 0 errors. With
    `into` the chain is composed into a copy of that workflow (reusing its image loader and
    checkpoint) — the original is never changed, and this tool writes nothing: tell the user the
    `comfyfixer schema build … --into …` command that writes the copy. Never call it unprompted."""
    bp = load_blueprint(inp.name)
    flat = flatten(bp)
    values = parameter_values(flat, inp.parameters)
    result = SchemaBuildResult(status="INVALID", schema_name=bp.name, version=bp.version, picks=[],
                               parameters=values, api={}, workflow={})
    installed, live = _installed(ctx, result.notes)
    choices = choose(flat, inp.choices, installed)
    doc, into = (None, None) if inp.into is None else _read_ui(inp.into)
    existing = ({n["id"]: str(n["type"]) for n in doc["nodes"] if isinstance(n, dict) and isinstance(n.get("id"), int)
                 and isinstance(n.get("type"), str) and n.get("mode", 0) == 0} if doc is not None else None)
    wiring = wire(flat, choices, values, existing)
    schemas = _validation_schemas(choices, live, result.notes)
    result.schemas = schemas.source
    result.picks = [_pick(ch) for ch in choices]
    result.missing_packs = [MissingPack(id=p.id, repo=p.repo, classes=c) for p, c in missing_packs(choices, installed).values()]

    from comfyfixer.tools.reconstruct.api_to_ui import api_to_ui
    from comfyfixer.tools.workflow.convert import ui_to_api

    new_api = {k: v for k, v in wiring.api.items() if k not in wiring.stubs}
    files = _check(wiring.api, set(new_api), schemas, live, result)
    conv = api_to_ui(wiring.api, schemas)
    result.errors += [w for w in conv.warnings if "dropped" in w or "not in its schema" in w]
    if doc is None:
        result.api, result.workflow = new_api, conv.workflow
        built_ids = set(new_api)
    else:
        result.workflow = compose_into(doc, wiring, conv.workflow, conv.id_map)
        old_ids = {str(n.get("id")) for n in doc["nodes"] if isinstance(n, dict)}
        result.api = ui_to_api(result.workflow, schemas)
        built_ids = {str(n["id"]) for n in result.workflow["nodes"]} - old_ids
        result.into = str(into)
    # The UI workflow, read back as ComfyUI's frontend would send it, must validate too.
    _check(ui_to_api(result.workflow, schemas), built_ids, schemas, live, result)
    _declare_models(result.workflow, files, ctx)
    result.errors = list(dict.fromkeys(result.errors))
    result.needs = list(dict.fromkeys(result.needs))
    result.status = "INVALID" if result.errors else "BUILT"
    _advise(flat, choices, result)
    from comfyfixer.tools.workflow.copies import next_version

    folder = out_dir or (into.parent if into is not None else None)
    if folder is not None:
        target = next_version(into, out_dir) if into is not None else _fresh(folder / f"{bp.name}.json")
        result.target = str(target)
        if write and result.status == "BUILT":
            result.written = _write(target, result, api_too=into is None)
        elif write:
            result.notes.append("nothing was written: the built workflow does not validate (see errors)")
    return result


def _installed(ctx: ToolContext, notes: list[str]) -> tuple[set[str], Any]:
    """Node classes installed here: core, the live (or saved) ``object_info``, the packs in custom_nodes."""
    from comfyfixer.tools.schema.loader import bundled_core_schemas

    installed = set(bundled_core_schemas())
    live = None
    if ctx.comfyui_url or ctx.object_info_file:
        try:
            live = ctx.schemas()
            installed |= set(live)
        except ComfyFixerError as exc:
            notes.append(f"the node schemas of {ctx.object_info_file or ctx.comfyui_url} could not be read "
                         f"({exc.message}); the recorded ones were used")
    if ctx.comfyui_dir is not None and (Path(ctx.comfyui_dir) / "custom_nodes").is_dir():
        from comfyfixer.tools.inventory.custom_nodes import scan_custom_nodes

        installed |= set(scan_custom_nodes([Path(ctx.comfyui_dir) / "custom_nodes"]).class_to_pack)
    return installed, live


def _validation_schemas(choices: list[Choice], live: Any, notes: list[str]) -> Any:
    """The live (or saved, else bundled core) schemas, merged with the recorded ones of the chosen packs."""
    from comfyfixer.tools.schema.loader import bundled_core_schemas
    from comfyfixer.tools.schema.packs import pack_schemas, recorded_packs

    base = live if live is not None else bundled_core_schemas()
    dirs: list[str] = []
    for ch in choices:
        cand = ch.candidate
        for pack in cand.packs if cand is not None else []:
            folder = pack.repo.rsplit("/", 1)[-1]
            if folder in recorded_packs():
                dirs.append(folder)
            elif not all(c in base for c in cand.classes()):
                notes.append(f"no recorded node schemas for {pack.repo}: its classes cannot be checked")
    return base.merged(pack_schemas(*dict.fromkeys(dirs))) if dirs else base


def _check(api: dict[str, Any], ids: set[str], schemas: Any, live: Any,
           result: SchemaBuildResult) -> list[tuple[str, str]]:
    """Validate ``api`` and keep the findings on the nodes ``ids`` (the built ones). A combo a recording
    lists empty (the node fills it at run time: Ollama's pulled models, a model folder) is a need, as
    ComfyUI's own check would accept any value the machine lists."""
    from comfyfixer.tools.reconstruct.validate import validate_api
    from comfyfixer.tools.schema.packs import unvalidated_combos

    def runtime_need(class_type: str, name: str | None, value: Any) -> str:
        return (f"{class_type}.{name} = {value!r}: the node lists its choices at run time "
                "(the recording cannot); make sure it exists there")

    report = validate_api(api, schemas)
    for nid in sorted(ids & set(api)):
        node = api[nid]
        schema = schemas.get(node["class_type"])
        if live is None or node["class_type"] not in live:  # combos ComfyUI does not check (Ollama's models)
            result.needs += [runtime_need(node["class_type"], k, node["inputs"][k])
                             for k in sorted(unvalidated_combos().get(node["class_type"], ())) if k in node["inputs"]]
        # ComfyUI ignores inputs a node does not declare: a misspelt name would silently do nothing.
        unknown = [k for k in node["inputs"] if schema is not None and schema.input(k) is None]
        result.errors += [f"node {nid} {node['class_type']}.{k}: the node has no input {k}" for k in unknown]
    for e in report.errors:
        if e.node_id not in ids:
            continue
        spec = schemas[e.class_type].input(e.input) if e.class_type in schemas and e.input else None
        recorded = live is None or e.class_type not in live
        if e.kind == "not_in_list" and spec is not None and not spec.options and recorded:
            result.needs.append(runtime_need(e.class_type, e.input, api[e.node_id]["inputs"].get(e.input)))
            continue
        result.errors.append(f"node {e.node_id} {e.class_type}.{e.input or ''}: {e.message}".replace(". :", ":"))
    needed = [m for m in report.needs_models if m.node_id in ids]
    result.needs += [f"{m.folder}/{m.file} (for {m.class_type}.{m.input})" for m in needed]
    return [(m.file, m.folder) for m in needed if m.folder not in ("input", "unknown")]


def _declare_models(workflow: dict[str, Any], files: list[tuple[str, str]], ctx: ToolContext) -> None:
    """List the model files the built nodes load in the workflow's ``models`` (folder, and the download
    URL ComfyUI-Manager's model list or the templates give), so `comfyfixer fix` can plan them."""
    if not files:
        return
    from comfyfixer.tools.catalogs.model_index import build_model_index, find_template_dirs

    index = ctx.memo("identify:model-index", lambda: build_model_index(ctx.catalog(), find_template_dirs()))
    models = workflow.setdefault("models", [])
    if not isinstance(models, list):
        return
    listed = {str(m.get("name")) for m in models if isinstance(m, dict)}
    for file, folder in dict.fromkeys(files):
        if file in listed:
            continue
        entry: dict[str, Any] = {"name": file, "directory": folder}
        urls = [c.url for c in index.lookup(file) if c.url.startswith("https://")]
        if urls:
            entry["url"] = urls[0]
        models.append(entry)


def _pick(ch: Choice) -> RolePick:
    cand = ch.candidate
    return RolePick(role=ch.role, candidate=cand.id if cand else None, label=cand.label if cand else "",
                    classes=cand.classes() if cand else [], installed=ch.installed or ch.reused is not None,
                    why="reuses the workflow's existing node" if ch.reused is not None else ch.why,
                    reused_node=ch.reused)


def _advise(flat: FlatSchema, choices: list[Choice], result: SchemaBuildResult) -> None:
    """Notes on optional roles, swaps and the packs to install."""
    for ch in choices:
        role = flat.roles[ch.role]
        others = [c.id for c in role.candidates if ch.candidate is None or c.id != ch.candidate.id]
        if others and ch.reused is None:
            result.notes.append(f"{ch.role}: swap with --with {ch.role}=" + "|".join(others)
                                + ("|none" if role.optional and ch.candidate is not None else ""))
    if result.missing_packs:
        result.notes.append("packs to install: " + ", ".join(f"{p.id or p.repo.rsplit('/', 1)[-1]} ({p.repo})"
                                                             for p in result.missing_packs)
                            + "; `comfyfixer schema build … --out DIR --plan` (or `comfyfixer fix` on the written "
                            "workflow) makes the fix plan")


def _read_ui(path_text: str) -> tuple[dict[str, Any], Path]:
    """The UI workflow at ``path_text`` (read only)."""
    from comfyfixer.tools.workflow.copies import read_ui_workflow

    path = Path(path_text).expanduser()
    doc = read_ui_workflow(path, what="--into")
    if not isinstance(doc.get("links", []), list):
        raise InputError(f"{path}: not a UI-format workflow (its links are not a list)",
                         hint="--into composes into the workflows ComfyUI saves")
    problem = composable_problem(doc)
    if problem:
        raise InputError(f"{path}: cannot compose into this workflow: {problem}",
                         hint="open and re-save it in ComfyUI, or build the schema on its own (--out)")
    return doc, path


def _fresh(path: Path) -> Path:
    """``path`` when free, else the next free ``.vN`` beside it."""
    from comfyfixer.tools.workflow.copies import next_version

    return path if not path.exists() else next_version(path)


def _write(target: Path, result: SchemaBuildResult, *, api_too: bool) -> list[str]:
    """Write the UI workflow (and, for a standalone build, the API prompt beside it); never overwrite."""
    from comfyfixer.tools.workflow.copies import write_new

    docs = [(target, result.workflow)]
    if api_too:
        docs.append((target.with_name(f"{target.name[:-len('.json')]}_api.json"), result.api))
    written = []
    for path, doc in docs:
        write_new(path, doc)
        written.append(str(path))
    return written
