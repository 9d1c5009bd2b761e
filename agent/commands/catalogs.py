"""``comfyfixer catalogs``: show and refresh the model and node catalogs."""

from __future__ import annotations

import typer

from comfyfixer.agent.options import JSON_OUT

catalogs_app = typer.Typer(help="ComfyUI-Manager catalogs and template model URLs.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(catalogs_app, name="catalogs")


@catalogs_app.command("refresh")
def refresh_command(
    base_url: str | None = typer.Option(None, "--base-url", help="Where the Manager's JSON files live "
                                        "(default: the catalogs_url setting, raw GitHub unless set)."),
    json_out: bool = JSON_OUT,
) -> int:
    """Download fresh copies of ComfyUI-Manager's catalogs into the cache folder."""
    from comfyfixer.agent.config import load_settings
    from comfyfixer.agent.output import console, emit_json
    from comfyfixer.tools.catalogs.manager import manager_cache_dir
    from comfyfixer.tools.catalogs.refresh import refresh_catalogs
    from comfyfixer.tools.errors import ConfigError

    settings = load_settings()
    if settings.offline:
        raise ConfigError("offline mode is on", hint="unset COMFYFIXER_OFFLINE to refresh catalogs")
    result = refresh_catalogs(manager_cache_dir(settings.cache_dir), base_url=base_url or settings.catalogs_url,
                              timeout=settings.http_timeout, retries=settings.http_retries)
    if json_out:
        emit_json(result)
    else:
        for name, size in result.files.items():
            how = "new" if name in result.changed else "unchanged"
            console.print(f"{name}: {size:,} bytes ({how}) → {result.folder}", markup=False)
    return 0


@catalogs_app.command("show")
def show_command(json_out: bool = JSON_OUT) -> int:
    """Say which catalogs are in use and how much they hold."""
    from comfyfixer.agent import services
    from comfyfixer.agent.output import console, emit_json
    from comfyfixer.tools.catalogs.model_index import build_model_index, find_template_dirs

    _, ctx = services.context()
    cat = ctx.catalog()
    index = build_model_index(cat, find_template_dirs())
    data = {
        "manager": cat.source.describe() if cat else None,
        "packs": len({p.reference for p in cat.packs.values()}) if cat else 0,
        "node_classes": len(cat.node_claims) if cat else 0,
        "model_sources": index.sources,
        "model_files": len(index.names()),
    }
    if json_out:
        emit_json(data)
    else:
        for k, v in data.items():
            console.print(f"{k}: {v}", markup=False)
    return 0
