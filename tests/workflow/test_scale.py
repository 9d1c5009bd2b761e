"""Inspection is linear in the number of nodes, and huge graphs are refused with a clear limit.

Before, a 20,000-node workflow took 56 s and 250,000 loader nodes did not finish in 300 s: model
references were matched per node by scanning every reference found so far. The bounds here:
``MAX_NODES`` (100,000 flattened nodes) is refused with ``WorkflowFormatError``; below it,
time(4N) / time(N) < 6 for N = 20,000 (linear is 4; the margin is for a loaded 2-core machine and
the garbage collector), and 80,000 nodes inspect in < 20 s.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from comfyfixer.tools.errors import WorkflowFormatError
from comfyfixer.tools.schema import bundled_core_schemas
from comfyfixer.tools.workflow import inspect_source
from comfyfixer.tools.workflow.graph import MAX_NODES


def ui_workflow(n: int) -> dict[str, Any]:
    """``n`` nodes: checkpoint loaders each linked to a KSampler, a model listed per loader, notes with URLs."""
    nodes: list[dict[str, Any]] = []
    links: list[list[Any]] = []
    for i in range(n // 2):
        a = 2 * i + 1
        nodes.append({"id": a, "type": "CheckpointLoaderSimple", "mode": 0, "pos": [0, 0],
                      "outputs": [{"name": "MODEL", "type": "MODEL", "links": [i + 1]}],
                      "properties": {"models": [{"name": f"m{i}.safetensors", "url": f"https://x/m{i}.safetensors",
                                                 "directory": "checkpoints"}]},
                      "widgets_values": [f"m{i}.safetensors"]})
        nodes.append({"id": a + 1, "type": "KSampler", "mode": 0, "inputs": [{"name": "model", "type": "MODEL", "link": i + 1}],
                      "widgets_values": [i, "fixed", 20, 7.0, "euler", "normal", 1.0]})
        links.append([i + 1, a, 0, a + 1, 0, "MODEL"])
    top_models = [{"name": f"m{i}.safetensors", "url": f"https://y/m{i}.safetensors"} for i in range(0, n // 2, 4)]
    return {"nodes": nodes, "links": links, "models": top_models}


def api_prompt(n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(n // 2):
        out[str(2 * i + 1)] = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": f"m{i}.safetensors"}}
        out[str(2 * i + 2)] = {"class_type": "KSampler", "inputs": {"model": [str(2 * i + 1), 0], "seed": i, "steps": 20}}
    return out


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` and the CPU time it took: other processes on a shared machine inflate wall time, not this.

    The cyclic garbage collector is paused while timing: its passes grow with everything the test
    process holds, and the algorithm, not the collector, is what must be linear.
    """
    gc.disable()
    try:
        start = time.process_time()
        result = fn()
        return result, time.process_time() - start
    finally:
        gc.enable()


def test_ui_inspection_time_is_linear_in_nodes() -> None:
    schemas = bundled_core_schemas()
    n = 20_000
    small = ui_workflow(n)
    # The fastest of a few runs: whatever else runs only ever adds time.
    t_small = min(_timed(partial(inspect_source, small, schemas=schemas))[1] for _ in range(3))
    big = ui_workflow(4 * n)
    runs = [_timed(partial(inspect_source, big, schemas=schemas)) for _ in range(2)]
    result, t_big = runs[0][0], min(t for _, t in runs)  # the faster of two, as for the small one
    assert len(result.models) == 2 * n  # every loader's model was found, once, with its URL
    assert all(m.url == f"https://x/{m.filename}" for m in result.models)
    assert t_big < 20, t_big
    assert t_big / t_small < 6, (t_small, t_big)


def test_api_prompt_of_80k_nodes_is_inspected_in_bounded_time() -> None:
    big = api_prompt(80_000)
    result, t_big = _timed(lambda: inspect_source(big, schemas=bundled_core_schemas()))
    assert len(result.models) == 40_000 and not result.warnings
    assert t_big < 20, t_big


def test_250k_nodes_are_refused_with_the_limit_in_the_message() -> None:
    """250,000 nodes (as a file ~60 MB, under the 64 MiB size limit): refused before any node is built."""
    wf = {"nodes": [{"id": i, "type": "CheckpointLoaderSimple", "widgets_values": [f"m{i}.safetensors"]}
                    for i in range(250_000)], "links": []}
    start = time.perf_counter()
    with pytest.raises(WorkflowFormatError, match=f"more than {MAX_NODES:,} nodes") as exc:
        inspect_source(wf)
    assert time.perf_counter() - start < 5
    assert exc.value.hint and "limit" in exc.value.hint
    api = {str(i): {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "m.safetensors"}} for i in range(250_000)}
    with pytest.raises(WorkflowFormatError, match="more than"):
        inspect_source(api)


def test_nested_subgraphs_cannot_multiply_past_the_limit() -> None:
    """Subgraph A holds 50 instances of B, B 50 of C, C 50 nodes: 125,000 nodes from 150 lines."""
    def sg(sid: str, inner: str, count: int) -> dict[str, Any]:
        return {"id": sid, "name": sid, "nodes": [{"id": i, "type": inner} for i in range(count)], "links": []}

    wf = {"nodes": [{"id": 1, "type": "A"}], "links": [],
          "definitions": {"subgraphs": [sg("A", "B", 50), sg("B", "C", 50), sg("C", "VAELoader", 50)]}}
    start = time.perf_counter()
    with pytest.raises(WorkflowFormatError, match="counted with subgraphs expanded"):
        inspect_source(wf)
    assert time.perf_counter() - start < 1  # counted before building: nothing was expanded
