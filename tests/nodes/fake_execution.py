"""A stand-in for ComfyUI 0.3.64's ``execution`` module: same names, same signatures, no torch.

Only what the capture hooks touch is reproduced, with the same call structure as the real file:
``PromptExecutor.execute`` runs ``asyncio.run(self.execute_async(...))``; ``execute_async`` computes
which nodes are cached and calls the module-level ``execute`` per node through the module globals;
cached nodes are never staged (as ``ExecutionList`` does; ``execute`` would also return early for one),
and ``execute`` calls the module-level ``get_input_data``,
which resolves links to upstream outputs, wraps every value in a list and injects the V1 hidden
inputs. ``asyncio.sleep(0)`` between nodes lets two prompts interleave on one event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any


class Outputs:
    """``caches.outputs``: node id → output tuple (of lists, like ComfyUI's)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, node_id: str) -> Any:
        return self.data.get(node_id)


class Caches:
    def __init__(self) -> None:
        self.outputs = Outputs()
        self.signatures: dict[str, str] = {}


class DynamicPrompt:
    def __init__(self, prompt: dict[str, Any]) -> None:
        self.original_prompt = prompt

    def get_node(self, node_id: str) -> dict[str, Any]:
        return self.original_prompt[node_id]

    def get_display_node_id(self, node_id: str) -> str:
        return node_id


NODE_CLASS_MAPPINGS: dict[str, Any] = {}


def get_input_data(inputs, class_def, unique_id, outputs=None, dynprompt=None, extra_data={}):  # noqa: B006 - 0.3.64's signature
    valid = class_def.INPUT_TYPES()
    data: dict[str, Any] = {}
    for name, value in inputs.items():
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
            data[name] = outputs.get(value[0])[value[1]]
        else:
            data[name] = [value]
    for name, kind in valid.get("hidden", {}).items():
        if kind == "PROMPT":
            data[name] = [dynprompt.original_prompt if dynprompt is not None else None]
        elif kind == "EXTRA_PNGINFO":
            data[name] = [extra_data.get("extra_pnginfo")]
        elif kind == "UNIQUE_ID":
            data[name] = [unique_id]
    return data, [], {}


async def execute(server, dynprompt, caches, current_item, extra_data, executed, prompt_id, execution_list,
                  pending_subgraph_results, pending_async_nodes):
    unique_id = current_item
    node = dynprompt.get_node(unique_id)
    class_def = NODE_CLASS_MAPPINGS[node["class_type"]]
    if caches.outputs.get(unique_id) is not None:
        return ("SUCCESS", None, None)
    input_data_all, _missing, _hidden = get_input_data(node["inputs"], class_def, unique_id, caches.outputs, dynprompt,
                                                       extra_data)
    obj = class_def()
    kwargs = {k: v[0] for k, v in input_data_all.items()}
    result = getattr(obj, class_def.FUNCTION)(**kwargs)
    out = result if isinstance(result, tuple) else ()
    caches.outputs.data[unique_id] = tuple([v] for v in out)
    executed.add(unique_id)
    await asyncio.sleep(0)  # where a real run yields (async nodes, progress): lets queued prompts interleave
    return ("SUCCESS", None, None)


def _order(prompt: dict[str, Any]) -> list[str]:
    done: list[str] = []

    def visit(nid: str) -> None:
        if nid in done:
            return
        for v in prompt[nid]["inputs"].values():
            if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str):
                visit(v[0])
        done.append(nid)

    for nid in prompt:
        visit(nid)
    return done


class PromptExecutor:
    def __init__(self, server=None, cache_type=False, cache_size=None):
        self.server = server
        self.caches = Caches()
        self.success = True
        self.status_messages: list[Any] = []

    def execute(self, prompt, prompt_id, extra_data={}, execute_outputs=[]):  # noqa: B006
        asyncio.run(self.execute_async(prompt, prompt_id, extra_data, execute_outputs))

    async def execute_async(self, prompt, prompt_id, extra_data={}, execute_outputs=[]):  # noqa: B006
        self.status_messages = []
        dynamic_prompt = DynamicPrompt(prompt)
        # Same rule as ComfyUI's cache: a node whose inputs did not change keeps its outputs.
        for nid, node in prompt.items():
            sig = repr(node)
            if self.caches.signatures.get(nid) != sig:
                self.caches.outputs.data.pop(nid, None)
            self.caches.signatures[nid] = sig
        cached = [nid for nid in prompt if self.caches.outputs.get(nid) is not None]
        self.status_messages.append(("execution_cached", {"nodes": cached, "prompt_id": prompt_id}))
        executed: set[str] = set()
        for node_id in _order(prompt):
            if node_id in cached:
                continue  # ExecutionList.add_node never stages a cached node
            await execute(self.server, dynamic_prompt, self.caches, node_id, extra_data, executed, prompt_id, None, {}, {})
        self.status_messages.append(("execution_success", {"prompt_id": prompt_id}))
