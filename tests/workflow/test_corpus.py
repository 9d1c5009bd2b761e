"""The inspector over the real corpora: official templates and community workflows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from comfyfixer.evals.inspector_corpus import score_community, score_templates
from comfyfixer.tools.catalogs.manager import ManagerCatalog
from comfyfixer.tools.schema import bundled_core_schemas
from comfyfixer.tools.workflow import inspect_source

pytestmark = pytest.mark.slow


def test_official_templates(templates_dir: Path, catalog: ManagerCatalog) -> None:
    score = score_templates(templates_dir, bundled_core_schemas(), catalog)
    assert score.files >= 600
    assert score.crashed == []
    assert score.format_errors == []
    assert score.recall >= 0.99, score.missed[:20]
    assert score.subgraph_ids_as_types == []


def test_community_workflows(shared_data: Path, catalog: ManagerCatalog) -> None:
    score = score_community(shared_data, bundled_core_schemas(), catalog)
    assert score.files == 359
    assert score.crashed == []
    assert score.format_errors == []
    assert score.recall >= 0.97, score.missed[:20]
    # Truth names a few frontend-only nodes with a bare "https://github.com/<Class>" (no owner):
    # that is not an unambiguous pack, so it is not held against us.
    real = [d for d in score.pack_disagree if not re.search(r"truth https://github\.com/[^/]+, ", d)]
    assert real == [], real


def test_ui_and_api_halves_agree(shared_data: Path, catalog: ManagerCatalog) -> None:
    root = shared_data / "workflows" / "corpus"
    pairs = 0
    for ui_file in sorted(root.rglob("*.workflow.json")):
        api_file = ui_file.with_name(ui_file.name.replace(".workflow.json", ".prompt.json"))
        if not api_file.exists():
            continue
        pairs += 1
        ui = inspect_source(ui_file, catalog=catalog)
        api = inspect_source(api_file, catalog=catalog)
        assert ui.format == "ui" and api.format == "api"
        ui_models = {(m.filename, m.folder) for m in ui.models if m.active}
        api_models = {(m.filename, m.folder) for m in api.models}
        assert ui_models == api_models, ui_file.name
        # The API prompt drops muted/bypassed and frontend-only nodes, so compare active backend classes.
        ui_packs = {f.class_type: (f.status, [p.reference for p in f.packs])
                    for f in ui.custom_nodes if f.active and not f.frontend_only}
        api_packs = {f.class_type: (f.status, [p.reference for p in f.packs]) for f in api.custom_nodes}
        assert ui_packs == api_packs, ui_file.name
    assert pairs >= 80
