"""Load node schemas from a live ComfyUI, a saved ``object_info`` JSON, or the bundled core snapshot.

Three shapes are normalised into ``NodeSchema``:

* V1, what ``GET /object_info`` serves: ``input.required/optional/hidden`` + ``input_order``,
  ``output``/``output_name``; combos as ``[[choices], opts]`` or ``["COMBO", {"options": [...]}]``.
* V2, the frontend's transformed shape: ``inputs`` is an object of ``{name, type, ...}``, ``outputs`` a list.
* V3, a schema as ``io.ComfyNode.define_schema()`` builds it: ``node_id``, ``inputs[]`` with ``id``,
  ``io_type`` and ``optional``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from comfyfixer.tools.errors import ConfigError, InputError
from comfyfixer.tools.schema.models import WIDGET_TYPES, InputSpec, NodeSchema, OutputSpec

log = logging.getLogger(__name__)

SNAPSHOT_RESOURCE = "core_object_info.json"
NEWER_SNAPSHOT_RESOURCE = "core_object_info_newer.json"
# Core classes newer than 0.33.0, recorded from single files of ComfyUI's newer source (data/SOURCES.md).
NEWEST_SNAPSHOT_RESOURCE = "core_object_info_newest.json"
DYNAMIC_COMBO, AUTOGROW = "COMFY_DYNAMICCOMBO_V3", "COMFY_AUTOGROW_V3"
VALIDATED_BY_NODE = "__validated_by_node__"  # snapshot key: class → inputs the node validates itself
# Types the frontend draws as a widget although object_info gives them no socketless mark: the 3D viewport
# (its value is kept in widgets_values: the Pixal3D templates save Preview3DAdvanced as ['', 1024, 1024]).
FRONTEND_WIDGET_TYPES = frozenset({"LOAD_3D", "LOAD_3D_ANIMATION"})


class SchemaSet(Mapping[str, NodeSchema]):
    """Node schemas by class type, with where they came from.

    A read-only mapping; ``source`` is a human description for reports ("live ComfyUI http://…",
    "bundled core snapshot (ComfyUI 0.3.64)") and ``comfyui_version`` the version when known.
    """

    def __init__(self, schemas: dict[str, NodeSchema], source: str, comfyui_version: str | None = None) -> None:
        self._schemas = schemas
        self.source = source
        self.comfyui_version = comfyui_version

    def __getitem__(self, key: str) -> NodeSchema:
        return self._schemas[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._schemas)

    def __len__(self) -> int:
        return len(self._schemas)

    def merged(self, other: SchemaSet) -> SchemaSet:
        """This set with ``other``'s classes added (ours win on clashes)."""
        combined = dict(other._schemas)
        combined.update(self._schemas)
        return SchemaSet(combined, f"{self.source} + {other.source}", self.comfyui_version or other.comfyui_version)


def _combo_options(spec0: Any, opts: Mapping[str, Any]) -> list[Any] | None:
    if isinstance(spec0, list):
        return list(spec0)
    if spec0 == "COMBO":
        options = opts.get("options")
        return list(options) if isinstance(options, list) else []
    return None


def _input_from_v1(name: str, spec: Any, section: str) -> InputSpec:
    if isinstance(spec, str):  # V1 hidden inputs are plain strings ("PROMPT")
        return InputSpec(name=name, type=spec, section=section)
    if not isinstance(spec, list | tuple) or not spec:
        return InputSpec(name=name, type="*", section=section)
    head = spec[0]
    opts: Mapping[str, Any] = spec[1] if len(spec) > 1 and isinstance(spec[1], Mapping) else {}
    if head in (DYNAMIC_COMBO, AUTOGROW):
        return _dynamic_from_v1(name, head, section, opts)
    options = _combo_options(head, opts)
    typ = "COMBO" if options is not None else (head if isinstance(head, str) else "*")
    return _make_input(name, typ, section, opts, options)


def _v1_sections(inputs: Any, prefix: str) -> list[InputSpec]:
    """The required and optional inputs of a V1 ``{"required": …, "optional": …}`` block, named ``prefix.name``."""
    out = []
    for section in ("required", "optional"):
        block = inputs.get(section) if isinstance(inputs, Mapping) else None
        for sub, spec in (block or {}).items() if isinstance(block, Mapping) else ():
            out.append(_input_from_v1(f"{prefix}.{sub}", spec, section))
    return out


def _dynamic_from_v1(name: str, head: str, section: str, opts: Mapping[str, Any]) -> InputSpec:
    """A V3 DynamicCombo (a COMBO of option keys, each with its sub-inputs) or Autogrow (a named group of
    sockets from one template input), as ``comfy_api/latest/_io.py`` serialises them."""
    if head == DYNAMIC_COMBO:
        choices = [o for o in opts.get("options") or [] if isinstance(o, Mapping) and "key" in o]
        spec = _make_input(name, "COMBO", section, opts, [o["key"] for o in choices])
        spec.dynamic_options = {str(o["key"]): _v1_sections(o.get("inputs"), name) for o in choices}
        return spec
    raw = opts.get("template")
    template: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    spec = _make_input(name, head, section, opts, None)
    subs = _v1_sections(template.get("input"), name)
    if "names" in template:
        spec.grow_names = [str(n) for n in template.get("names") or []]
    else:
        spec.grow_names = [f"{template.get('prefix', '')}{i}" for i in range(int(template.get("max") or 0))]
    spec.grow_min = int(template.get("min") or 0)
    spec.grow_input = subs[0] if subs else None
    return spec


def _make_input(name: str, typ: str, section: str, opts: Mapping[str, Any], options: list[Any] | None) -> InputSpec:
    """An ``InputSpec`` from a type, section and options mapping (defaults, bounds and widget flags)."""
    def num(key: str) -> float | None:
        """Option ``key`` as a float when it is a number (booleans excluded), else None."""
        v = opts.get(key)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    return InputSpec(
        name=name,
        type=typ,
        section=section,
        options=options,
        default=opts.get("default"),
        min=num("min"),
        max=num("max"),
        control_after_generate=bool(opts.get("control_after_generate")),
        image_upload=bool(opts.get("image_upload") or opts.get("video_upload") or opts.get("audio_upload")),
        force_input=bool(opts.get("forceInput")),
        multiline=bool(opts.get("multiline")),
        v3_widget=("socketless" in opts or typ in FRONTEND_WIDGET_TYPES) and typ not in WIDGET_TYPES,
    )


def _schema(
    class_type: str, info: Mapping[str, Any], inputs: list[InputSpec], outputs: list[OutputSpec],
    shape: Literal["v1", "v2", "v3"],
    *, output_node_key: str = "output_node", deprecated_key: str = "deprecated", api_node_key: str = "api_node",
) -> NodeSchema:
    """The fields every shape shares; V3 names the flags ``is_output_node`` and so on."""
    return NodeSchema(
        class_type=class_type,
        display_name=info.get("display_name"),
        category=info.get("category"),
        python_module=info.get("python_module"),
        description=info.get("description") or None,
        inputs=inputs,
        outputs=outputs,
        output_node=bool(info.get(output_node_key)),
        deprecated=bool(info.get(deprecated_key)),
        api_node=bool(info.get(api_node_key)),
        shape=shape,
    )


def _parse_v1(class_type: str, info: Mapping[str, Any]) -> NodeSchema:
    """A ``/object_info`` entry: inputs per section in ``input_order``, outputs with names and list flags."""
    inputs: list[InputSpec] = []
    raw_inputs = info.get("input") or {}
    order = info.get("input_order") or {}
    for section in ("required", "optional", "hidden"):
        specs = raw_inputs.get(section) or {}
        if not isinstance(specs, Mapping):
            continue
        names = [n for n in order.get(section, []) if n in specs] or list(specs)
        names += [n for n in specs if n not in names]
        inputs.extend(_input_from_v1(n, specs[n], section) for n in names)
    outs = info.get("output") or []
    out_names = info.get("output_name") or outs
    out_lists = info.get("output_is_list") or [False] * len(outs)
    outputs = [
        OutputSpec(
            name=str(out_names[i]) if i < len(out_names) else str(t),
            type=t if isinstance(t, str) else "COMBO",
            is_list=bool(out_lists[i]) if i < len(out_lists) else False,
        )
        for i, t in enumerate(outs)
    ]
    v3_tell = all(k in info for k in ("deprecated", "experimental", "api_node"))
    return _schema(class_type, info, inputs, outputs, "v3" if v3_tell else "v1")


def _parse_v2(class_type: str, info: Mapping[str, Any]) -> NodeSchema:
    """A frontend-shaped entry: ``inputs`` as a mapping of specs with ``isOptional``/``hidden`` flags."""
    inputs = []
    for name, spec in (info.get("inputs") or {}).items():
        if not isinstance(spec, Mapping):
            continue
        options = spec.get("options")
        typ = spec.get("type", "*")
        if isinstance(options, list) or typ == "COMBO":
            typ = "COMBO"
        section = "hidden" if spec.get("hidden") else "optional" if spec.get("isOptional") else "required"
        inputs.append(_make_input(spec.get("name", name), typ, section, spec, list(options or []) if typ == "COMBO" else None))
    outputs = [
        OutputSpec(name=str(o.get("name") or o.get("type")), type=str(o.get("type", "*")), is_list=bool(o.get("is_list")))
        for o in info.get("outputs") or []
        if isinstance(o, Mapping)
    ]
    return _schema(class_type, info, inputs, outputs, "v2")


def _parse_v3(info: Mapping[str, Any]) -> NodeSchema:
    """A V3 ``define_schema()`` entry: ``inputs`` as a list with ``id``/``io_type``/``optional``, hidden
    inputs by name, outputs with ``is_output_list``.
    """
    inputs = []
    for spec in info.get("inputs") or []:
        if not isinstance(spec, Mapping):
            continue
        typ = str(spec.get("io_type") or spec.get("type") or "*")
        options = spec.get("options")
        if typ == "COMBO" or isinstance(options, list):
            typ = "COMBO"
        section = "optional" if spec.get("optional") else "required"
        name = str(spec.get("id") or spec.get("name"))
        inputs.append(_make_input(name, typ, section, spec, list(options or []) if typ == "COMBO" else None))
    for hidden in info.get("hidden") or []:
        inputs.append(InputSpec(name=str(hidden), type=str(hidden), section="hidden"))
    outputs = [
        OutputSpec(
            name=str(o.get("display_name") or o.get("id") or o.get("io_type")),
            type=str(o.get("io_type") or o.get("type") or "*"),
            is_list=bool(o.get("is_output_list")),
        )
        for o in info.get("outputs") or []
        if isinstance(o, Mapping)
    ]
    return _schema(str(info["node_id"]), info, inputs, outputs, "v3", output_node_key="is_output_node",
                   deprecated_key="is_deprecated", api_node_key="is_api_node")


def parse_schema(class_type: str, info: Mapping[str, Any]) -> NodeSchema:
    """Normalise one node description in any of the three shapes.

    The shape is told apart by its keys: V3 has ``node_id`` and an ``inputs`` list, V2 an ``inputs``
    mapping and no ``input``, anything else is read as V1. V1 inputs keep ``input_order`` when the server
    sends it (newer servers do), else the mapping's order. A V1 answer from a V3 node (it carries
    ``deprecated``, ``experimental`` and ``api_node``) is marked ``shape="v3"``.
    """
    if "node_id" in info and isinstance(info.get("inputs"), list):
        return _parse_v3(info)
    if isinstance(info.get("inputs"), Mapping) and "input" not in info:
        return _parse_v2(class_type, info)
    return _parse_v1(class_type, info)


def parse_object_info(data: Any, source: str, comfyui_version: str | None = None) -> SchemaSet:
    """Parse a whole ``object_info`` document (a mapping of class type to description, or a V3 list).

    A node that fails to parse is logged and skipped, so one odd custom node does not lose the rest.
    Raises ``InputError`` when ``data`` is neither a mapping nor a list.
    """
    schemas: dict[str, NodeSchema] = {}
    items: list[tuple[str, Any]]
    if isinstance(data, Mapping):
        items = list(data.items())
    elif isinstance(data, list):
        items = [(str(d.get("node_id", "")), d) for d in data if isinstance(d, Mapping)]
    else:
        raise InputError(f"{source}: object_info must be a JSON object of node classes")
    for class_type, info in items:
        if not isinstance(info, Mapping):
            continue
        try:
            schema = parse_schema(class_type, info)
        except Exception as exc:  # one odd node must not lose the rest
            log.warning("skipping schema of %s from %s: %s", class_type, source, exc)
            continue
        schemas[schema.class_type] = schema
    return SchemaSet(schemas, source, comfyui_version)


def load_object_info(path: Path | str) -> SchemaSet:
    """Load a saved ``object_info`` JSON file (as saved from ``/object_info``, or the frontend's V2 shape).

    Raises ``InputError`` if the file is missing or not JSON.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{p}: no such object_info file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not valid object_info JSON ({exc})") from None
    return parse_object_info(data, f"object_info file {p}")


def fetch_object_info(base_url: str, *, timeout: float = 30.0) -> SchemaSet:
    """Fetch ``/object_info`` (and the version from ``/system_stats``) from a running ComfyUI.

    Plain http is allowed (loopback servers). One attempt, no retries: this is called to start a
    command, and a server that is down should be reported at once. Raises ``ConfigError`` when the
    server does not answer or answers with something that is not JSON; a failing ``/system_stats`` only
    leaves the version unknown.
    """
    import httpx

    from comfyfixer.tools.http import build_client

    url = base_url.rstrip("/")
    try:
        with build_client(timeout=timeout, allow_http=True) as client:
            resp = client.get(f"{url}/object_info")
            resp.raise_for_status()
            data = resp.json()
            version = None
            try:
                stats = client.get(f"{url}/system_stats")
                if stats.status_code == 200:
                    version = stats.json().get("system", {}).get("comfyui_version")
            except (httpx.HTTPError, ValueError):
                pass
    except httpx.HTTPError as exc:
        raise ConfigError(f"ComfyUI at {url} did not answer /object_info ({exc})", hint="is it running? check --comfyui-url") from None
    except ValueError:
        raise ConfigError(f"ComfyUI at {url} answered /object_info with something that is not JSON") from None
    return parse_object_info(data, f"live ComfyUI {url}", version)


def load_schemas(source: str | Path | None) -> SchemaSet:
    """Schemas from a URL (``http…``), a file path, or the bundled core snapshot when ``None``.

    Raises as :func:`fetch_object_info` or :func:`load_object_info` do.
    """
    if source is None:
        return bundled_core_schemas()
    s = str(source)
    if s.startswith(("http://", "https://")):
        return fetch_object_info(s)
    return load_object_info(Path(s))


@lru_cache(maxsize=1)
def bundled_core_schemas() -> SchemaSet:
    """Core node schemas of ComfyUI 0.3.64, shipped with the project (model lists emptied).

    Read from package data once per process. Combo inputs that list models or uploads are empty, so
    "is this value allowed?" cannot be answered from the snapshot for those inputs. Rebuild it with
    ``python -m comfyfixer.tools.schema.snapshot`` (see ``snapshot.py``).
    """
    return _bundled(SNAPSHOT_RESOURCE)


@lru_cache(maxsize=1)
def bundled_newer_core_schemas() -> SchemaSet:
    """Core node schemas of a newer ComfyUI (0.33.0), recorded from its source (``data/SOURCES.md``).

    For graphs that use core nodes added after the recorded 0.3.64 dump (FLUX.2, LTX-2, ACE-Step 1.5,
    …) or newer values of old nodes (``CLIPLoader`` types). Same form as :func:`bundled_core_schemas`.
    """
    return _bundled(NEWER_SNAPSHOT_RESOURCE)


@lru_cache(maxsize=1)
def bundled_newest_core_schemas() -> SchemaSet:
    """The 0.33.0 set with the few core classes newer still (YuE2, BlockSparseAttention, the newer
    ``CreateVideo``, …) laid over it; each recorded from its file in ComfyUI's newer source (``data/SOURCES.md``).

    A class in both is the newer one: a graph saved with the 0.33.0 version of a changed class (an INT
    ``CreateVideo.bit_depth``) validates against :func:`bundled_newer_core_schemas` instead.
    """
    newest = _bundled(NEWEST_SNAPSHOT_RESOURCE)
    merged = newest.merged(bundled_newer_core_schemas())
    merged.source = newest.source  # "… (ComfyUI 0.33.0 + newer files)" already says what it is laid over
    return merged


def newer_core_schema_sets() -> tuple[SchemaSet, SchemaSet]:
    """The bundled core sets newer than the recorded 0.3.64 dump, older first: 0.33.0, then 0.33.0 + newer files."""
    return bundled_newer_core_schemas(), bundled_newest_core_schemas()


def _bundled(resource: str) -> SchemaSet:
    """A snapshot shipped in ``data/``, tagged with its ComfyUI version."""
    text = resources.files("comfyfixer.tools.schema").joinpath("data", resource).read_text(encoding="utf-8")
    data = json.loads(text)
    version = data.pop("__comfyui_version__", None)
    own = data.pop(VALIDATED_BY_NODE, {})
    schemas = parse_object_info(data, f"bundled core snapshot (ComfyUI {version})", version)
    for cls, names in own.items():
        for spec in schemas[cls].inputs if cls in schemas else ():
            spec.validated_by_node = "*" in names or spec.name in names
    return schemas
