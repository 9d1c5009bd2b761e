"""Real workflows, mutated field by field with wrong JSON types: never a traceback, always a warning naming the node.

The originals are real: community workflows from the shared corpus (UI with links, one with group
nodes, an API prompt) and an official template whose subgraph is instantiated. Each mutation is
applied to a top-level node, to a node inside the subgraph definition, and to a node inside the
group node definition.
"""

from __future__ import annotations

import copy
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hostile_fixtures import mutate_json

from comfyfixer.tools.errors import InputError, WorkflowFormatError
from comfyfixer.tools.workflow import inspect_source, ui_to_api


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()  # the field is removed

# (field, wrong value): every JSON type a field should not have, and the odd shapes seen in broken exports.
NODE_MUTATIONS: list[tuple[str, Any]] = [
    ("inputs", 5), ("inputs", "abc"), ("inputs", {"model": 1}), ("inputs", [1, "x", None]),
    ("outputs", 7), ("outputs", "abc"), ("outputs", {"MODEL": 1}), ("outputs", [3]),
    ("widgets_values", 3), ("widgets_values", "abc"), ("widgets_values", True),
    ("pos", "abc"), ("pos", 5), ("size", "big"), ("flags", "x"), ("order", "first"),
    ("properties", [1, 2]), ("properties", "x"), ("properties", 5),
    ("properties", {"models": 5}),
    ("inputs", [{"name": 5, "type": "MODEL", "link": "x", "widget": "seed"}]),
    ("outputs", [{"name": ["MODEL"], "type": "MODEL", "links": 3, "slot_index": "0"}]),
    ("properties", {"models": [{"name": "a.safetensors", "url": 5, "directory": ["x"], "hash": {}}]}),
    ("mode", "abc"), ("mode", [4]), ("mode", float("inf")), ("mode", float("nan")), ("title", 5), ("title", ["t"]),
    ("type", 5), ("type", {"a": 1}), ("type", ["KSampler"]),
    ("id", DELETE), ("id", [1]), ("id", {"x": 1}), ("id", True),
]

# Entries that replace links[0]; the warning names the link by its id, or by its position.
LINK_MUTATIONS: list[Any] = [
    [1, 2], "x", 5, None, {"origin_id": 1}, [9001, 2, "x", 3, 0], [9002, 2, 0.5, 3, 0], [9003, {"a": 1}, 0, 3, 0],
    [9004, 2, 0, 3, [0]], {"id": 9005, "origin_id": 1, "origin_slot": "a", "target_id": 2, "target_slot": 0},
]

API_MUTATIONS: list[tuple[str, Any]] = [("inputs", 5), ("inputs", [1, 2]), ("inputs", "x"), ("class_type", 5),
                                        ("class_type", DELETE), ("_meta", 5), ("_meta", {"title": ["t"]})]


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def originals(shared_data: Path, templates_dir: Path) -> dict[str, dict[str, Any]]:
    corpus = shared_data / "workflows" / "corpus"
    return {
        "ui_links": _load(corpus / "1038lab__ComfyUI-RMBG" / "example_workflows__LoadImage_Node.json"),
        "ui_group_nodes": _load(corpus / "comfyanonymous__ComfyUI_examples" / "edit_models__sdxl_edit_model_png.workflow.json"),
        "template_subgraph": _load(templates_dir / "3d_hunyuan3d-v2.1.json"),
        "api": _load(corpus / "Acly__comfyui-inpaint-nodes" / "media__preprocess-blur-17_png.prompt.json"),
    }


def _targets(wf: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    """(how the node is named in warnings, the node list it sits in): a top node, a subgraph and a group node inner node."""
    out: list[tuple[str, list[Any]]] = [("top", wf["nodes"])]
    instantiated = {n.get("type") for n in wf["nodes"] if isinstance(n, dict)}
    for sg in (wf.get("definitions") or {}).get("subgraphs") or []:
        if sg["id"] in instantiated and sg.get("nodes"):
            out.append(("subgraph", sg["nodes"]))
            break
    for name, group in ((wf.get("extra") or {}).get("groupNodes") or {}).items():
        if {f"workflow>{name}", f"workflow/{name}"} & instantiated and group.get("nodes"):
            out.append(("group", group["nodes"]))
            break
    return out


def _names_node(warnings: list[str], where: str, node: dict[str, Any], index: int) -> bool:
    if where == "group":  # group node inner nodes are "<instance>:<index>"
        pattern = rf"node \S+:{re.escape(str(node.get('index', index)))}\b"
    elif where == "subgraph":  # subgraph inner nodes are "<instance>:<id>"
        pattern = rf"node \S+:{re.escape(str(node['id']))}\b"
    else:
        pattern = rf"node {re.escape(str(node['id']))}\b"
    return any(re.search(pattern, w) for w in warnings)


@pytest.mark.parametrize(("field", "bad"), NODE_MUTATIONS, ids=[f"{f}={v!r}"[:40] for f, v in NODE_MUTATIONS])
def test_wrong_type_in_a_node_field_is_a_warning(originals: dict[str, dict[str, Any]], field: str, bad: Any) -> None:
    checked: set[str] = set()
    for label, original in originals.items():
        if label == "api":
            continue
        for where, _ in _targets(original):
            if field == "id" and where == "group":
                continue  # group node inner nodes are named by their "index", not an id
            wf = copy.deepcopy(original)
            nodes = dict(_targets(wf))[where]
            index = 0
            node = nodes[index]
            before = dict(node)
            if bad is DELETE:
                del node[field]
            else:
                node[field] = bad
            snapshot = copy.deepcopy(wf)
            result = inspect_source(wf)  # must not raise
            json.loads(result.model_dump_json())  # and the result stays serialisable
            assert wf == snapshot  # the caller's workflow is never changed
            ui_to_api(wf)  # the UI → API conversion reads the same graph: no traceback either
            if field == "id":
                where_text = "" if where == "top" else " in "
                expected = f"node #{index}{where_text}"
                assert any(w.startswith(expected) and ("no id" in w or "an id that is" in w) for w in result.warnings), (
                    label, where, result.warnings[:5])
                if where == "top" and isinstance(before.get("type"), str):
                    assert any(before["type"] in w for w in result.warnings if w.startswith(expected))
            else:
                assert _names_node(result.warnings, where, before, index), (label, where, field, result.warnings[:5])
            checked.add(where)
    assert checked == ({"top", "subgraph"} if field == "id" else {"top", "subgraph", "group"})


@pytest.mark.parametrize("bad", LINK_MUTATIONS, ids=[repr(v)[:30] for v in LINK_MUTATIONS])
def test_malformed_link_entry_is_a_warning(originals: dict[str, dict[str, Any]], bad: Any) -> None:
    for label in ("ui_links", "template_subgraph"):
        wf = copy.deepcopy(originals[label])
        wf["links"][0] = bad
        result = inspect_source(wf)
        if isinstance(bad, list) and bad and isinstance(bad[0], int):
            name = f"link {bad[0]} "
        elif isinstance(bad, dict) and "id" in bad:
            name = f"link {bad['id']} "
        else:
            name = "link #0 "
        assert any(w.startswith(name) and "malformed" in w for w in result.warnings), (label, result.warnings[:5])
        # the rest of the graph is still read: the same node classes as the original
        original = inspect_source(originals[label])
        assert [t.class_type for t in result.node_types] == [t.class_type for t in original.node_types]


@pytest.mark.parametrize("bad", [5, "x", {"a": 1}, True])
def test_links_or_nodes_of_the_wrong_type(originals: dict[str, dict[str, Any]], bad: Any) -> None:
    wf = copy.deepcopy(originals["ui_links"])
    wf["links"] = bad
    result = inspect_source(wf)
    assert any(w.startswith("'links' is") for w in result.warnings)
    assert result.node_types  # nodes are still read
    wf = copy.deepcopy(originals["template_subgraph"])
    wf["definitions"]["subgraphs"][0]["nodes"] = bad
    wf["definitions"]["subgraphs"][0]["links"] = bad
    result = inspect_source(wf)
    assert any("'nodes' is" in w and "subgraph:" in w for w in result.warnings), result.warnings[:5]


@pytest.mark.parametrize(("field", "bad"), API_MUTATIONS, ids=[f"{f}={v!r}" for f, v in API_MUTATIONS])
def test_api_prompt_wrong_types(originals: dict[str, dict[str, Any]], field: str, bad: Any) -> None:
    wf = copy.deepcopy(originals["api"])
    nid = next(iter(wf))
    if bad is DELETE:
        del wf[nid][field]
    else:
        wf[nid][field] = bad
    result = inspect_source(wf)
    json.loads(result.model_dump_json())
    assert any(re.search(rf"node {re.escape(nid)}\b", w) for w in result.warnings), result.warnings[:5]


def test_real_corpora_give_no_malformed_field_warnings(shared_data: Path, templates_dir: Path) -> None:
    """The checks are not noise: the untouched originals carry none of these warnings."""
    from comfyfixer.tools.workflow import load_workflow

    pattern = re.compile(r"is (a|an|null)\b.*\bnot (a|an)\b|malformed|has no id")
    paths = [*sorted((shared_data / "workflows" / "corpus").rglob("*.json"))[:120], *sorted(templates_dir.glob("[a-h]*.json"))[:120]]
    read = 0
    for path in paths:
        try:
            graph = load_workflow(path).graph
        except WorkflowFormatError:  # index files and the like are not workflows
            continue
        read += 1
        assert not [w for w in graph.warnings if pattern.search(w)], path
    assert read >= 200


def test_seeded_random_mutations_never_raise(originals: dict[str, dict[str, Any]]) -> None:
    """600 seeded mutants (1-4 odd values anywhere in a node or the document): an InputError at most, never a crash.

    Run over the corpora, this generator found seven crash sites in the parser before the field
    checks (int() of a dict, of NaN or Infinity; iterating a number).
    """
    rnd = random.Random(12)
    for _ in range(150):
        for label, original in originals.items():
            wf = copy.deepcopy(original)
            for _ in range(rnd.randint(1, 4)):
                nodes = wf.get("nodes")
                mutate_json(rnd.choice(nodes) if isinstance(nodes, list) and nodes and rnd.random() < 0.8 else wf, rnd)
            try:
                json.loads(inspect_source(wf).model_dump_json())
                if label != "api":
                    ui_to_api(wf)
            except InputError:
                pass  # a clear refusal (e.g. no node list left) is fine; a traceback is not
