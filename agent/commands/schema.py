"""``comfyfixer schema list|show|build``: the owner's workflow schemas (auto-inpaint, image-cycling,
dynamic-prompts), listed, shown and built into a validated workflow — or into a copy of one."""

from __future__ import annotations

from pathlib import Path

import typer

from comfyfixer.agent.options import COMFYUI, JSON_OUT
from comfyfixer.agent.output import console, emit_json

schema_app = typer.Typer(help="Workflow schemas: build patterns with swappable roles (list, show, build).",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(schema_app, name="schema")


@schema_app.command("list")
def list_command(json_out: bool = JSON_OUT) -> int:
    """The shipped workflow schemas, their roles ('?' = optional) and what they require."""
    from comfyfixer.agent import services
    from comfyfixer.tools.blueprints.capability import SchemaListInput

    _, ctx = services.context()
    with ctx:
        result = services.run("list_schemas", SchemaListInput(), ctx)
    if json_out:
        emit_json(result)
        return 0
    for s in result.schemas:
        needs = f" (requires {', '.join(s.requires)})" if s.requires else ""
        console.print(f"{s.name} {s.version}: {s.title}{needs}", markup=False)
        console.print(f"  roles: {', '.join(s.roles)}", markup=False)
    return 0


@schema_app.command("show")
def show_command(name: str = typer.Argument(..., help="The schema's name."), json_out: bool = JSON_OUT) -> int:
    """One schema whole: each role's candidates (node classes, packs), the parameters, the sources."""
    from comfyfixer.agent import services
    from comfyfixer.tools.blueprints.capability import SchemaListInput

    _, ctx = services.context()
    with ctx:
        result = services.run("list_schemas", SchemaListInput(name=name), ctx)
    if json_out:
        emit_json(result)
        return 0
    detail = result.detail or {}
    console.print(f"{detail.get('name')} {detail.get('version')}: {detail.get('title')}", markup=False)
    console.print(f"  {detail.get('description', '')}", markup=False)
    for req in detail.get("requires", []):
        console.print(f"  requires {req['schema']} (its roles as {req['alias']}/…)", markup=False)
    for rname, role in detail.get("roles", {}).items():
        flag = " (optional)" if role.get("optional") else ""
        console.print(f"  role {rname}{flag}: {role['description']}", markup=False)
        for cand in role["candidates"]:
            packs = ", ".join(p.get("id") or p["repo"] for p in cand.get("packs", [])) or "core"
            console.print(f"    - {cand['id']}: {cand['label']} [{packs}]", markup=False)
    for pname, param in detail.get("parameters", {}).items():
        console.print(f"  --set {pname}={param['default']!r}: {param['description']}", markup=False)
    for src in detail.get("sources", []):
        console.print(f"  source ({src['kind']}): {src['ref']} — {src['used_for']}", markup=False)
    return 0


@schema_app.command("build")
def build_command(
    name: str = typer.Argument(..., help="The schema: auto-inpaint, image-cycling or dynamic-prompts."),
    with_: list[str] = typer.Option([], "--with", help="ROLE=CANDIDATE (an id or a node class), or ROLE=none "
                                                      "for an optional role; repeatable."),
    set_: list[str] = typer.Option([], "--set", help="PARAMETER=VALUE; repeatable (see `schema show`)."),
    into: Path | None = typer.Option(None, "--into", help="Compose the chain into a copy of this UI workflow "
                                                         "or image that embeds one (<name>.vN.json; the original "
                                                         "is never changed)."),
    out: Path | None = typer.Option(None, "--out", help="Write into this folder (default with --into: beside it)."),
    plan: bool = typer.Option(False, "--plan", help="Then plan the missing packs and files, as `fix` does."),
    object_info: Path | None = typer.Option(None, "--object-info", help="Validate against this object_info JSON."),
    comfyui: Path | None = COMFYUI,
    comfyui_url: str | None = typer.Option(None, "--comfyui-url", help="A running ComfyUI: its /object_info says "
                                                                    "what is installed and validates the build."),
    json_out: bool = JSON_OUT,
) -> int:
    """Build a schema into a UI + API workflow validated against the node schemas (live ComfyUI,
    else the recorded core and pack schemas). Writes only with --out or --into; never overwrites.
    Exits 1 when the build does not validate (nothing is written then)."""
    from comfyfixer.agent import services
    from comfyfixer.tools.blueprints.capability import SchemaBuildInput
    from comfyfixer.tools.errors import InputError

    def pairs(items: list[str], flag: str) -> dict[str, str]:
        out_pairs: dict[str, str] = {}
        for item in items:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise InputError(f"{flag} wants KEY=VALUE, got {item[:60]!r}")
            out_pairs[key.strip()] = value.strip()
        return out_pairs

    inp = SchemaBuildInput(name=name, choices=pairs(with_, "--with"), parameters=pairs(set_, "--set"),
                           into=str(into) if into is not None else None)
    _, ctx = services.context(object_info_file=object_info, comfyui_dir=comfyui, comfyui_url=comfyui_url)
    if plan:  # before anything is written, not after
        from comfyfixer.agent.planning import require_comfyui_dir

        require_comfyui_dir(ctx)
    planned = None
    with ctx:
        result = services.run("build_schema", inp, ctx, out_dir=out, write=out is not None or into is not None)
        if plan and result.written:
            from comfyfixer.agent.planning import PlanFixInput

            planned = services.run("plan_fix", PlanFixInput(paths=[result.written[0]], pin=not ctx.offline), ctx)
    if json_out:
        emit_json({"build": result.model_dump(mode="json"), "plan": planned.model_dump(mode="json") if planned else None}
                  if plan else result)
        return 0 if result.status == "BUILT" else 1
    console.print(f"{result.status}: {result.schema_name} {result.version}", markup=False)
    for p in result.picks:
        if p.candidate is None:
            console.print(f"  {p.role}: left out", markup=False)
            continue
        where = (f"reuses node {p.reused_node}" if p.reused_node is not None else
                 "installed" if p.installed else "NOT installed")
        console.print(f"  {p.role}: {p.candidate} — {p.label} [{where}]", markup=False)
    console.print(f"  validated against {result.schemas}: {len(result.errors)} errors", markup=False)
    for err in result.errors:
        console.print(f"  error: {err}", markup=False)
    for need in result.needs:
        console.print(f"  needs {need}", markup=False)
    for pack in result.missing_packs:
        console.print(f"  missing pack {pack.id or pack.repo.rsplit('/', 1)[-1]} ({pack.repo}): {', '.join(pack.classes)}", markup=False)
    for note in result.notes:
        console.print(f"  note: {note}", markup=False)
    for path in result.written:
        console.print(f"  wrote {path}", markup=False)
    if not result.written and result.status == "BUILT":
        console.print("  nothing written: add --out DIR (or --into WORKFLOW) to write it", markup=False)
    if planned is not None:
        for line in planned.summary:
            console.print(f"  plan: {line}", markup=False)
        console.print(planned.next_step, markup=False)
    return 0 if result.status == "BUILT" else 1
