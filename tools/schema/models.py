"""Typed node schema shared by the inspector, the readiness check and the reconstructor.

Built only by ``loader.py``; every shape of ``object_info`` ends up as these models, so consumers
never look at raw JSON. The widget rules (:attr:`InputSpec.is_widget`, the extra slots) mirror what
ComfyUI's frontend does when it writes ``widgets_values``; get them wrong and every later value of a
node is read into the wrong input.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, Field

# Input types that are values typed in a widget; everything else is a socket (MODEL, LATENT, ...).
WIDGET_TYPES = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"})


class InputSpec(BaseModel):
    """One input of a node, in ``input_order``.

    ``section`` is where the schema lists it; hidden inputs (``PROMPT``, ``UNIQUE_ID``…) are filled by the
    server and never appear in a workflow. ``default``, ``min`` and ``max`` come from the spec's options;
    ``image_upload`` is also set for video and audio uploads. ``force_input`` marks a widget type shown as a
    socket, ``multiline`` a text box.
    """

    name: str
    type: str = Field(description="INT, FLOAT, STRING, BOOLEAN, COMBO, or a socket type such as MODEL.")
    section: Literal["required", "optional", "hidden"] = "required"
    options: list[Any] | None = Field(None, description="Combo choices (a folder listing for model inputs).")
    default: Any = None
    min: float | None = None
    max: float | None = None
    control_after_generate: bool = False
    image_upload: bool = False
    force_input: bool = False
    multiline: bool = False
    # V3 dynamic inputs (comfy_api/latest/_io.py). A DynamicCombo is a COMBO whose choice adds inputs named
    # "<this>.<sub>" (the frontend stores their widget values right after the combo's); an Autogrow is a
    # group of sockets "<this>.<name>", the first ``grow_min`` of them required.
    dynamic_options: dict[str, list[InputSpec]] | None = None
    grow_names: list[str] | None = None
    grow_min: int = 0
    grow_input: InputSpec | None = None
    # The node's own VALIDATE_INPUTS / validate_inputs takes this input: ComfyUI then skips its combo and
    # min/max checks (recorded from the source, evals/record_core_schemas.py; object_info does not say).
    validated_by_node: bool = False
    # A V3 WidgetInput of a type the frontend draws itself (COLOR, BOUNDING_BOX, CURVE…): ``object_info``
    # marks them with a ``socketless`` key; their values are stored in ``widgets_values`` like any widget's.
    v3_widget: bool = False

    @property
    def is_widget(self) -> bool:
        """Whether the frontend shows this input as a widget (and stores it in ``widgets_values``)."""
        return self.section != "hidden" and (self.type in WIDGET_TYPES or self.v3_widget) and not self.force_input

    @property
    def extra_widget_slots(self) -> int:
        """Values the frontend stores after this widget's own value in ``widgets_values``.

        Seed-like INTs carry a control value ("fixed", "randomize", ...): the frontend adds one
        when the spec says ``control_after_generate`` or, absent the key, when the name is
        ``seed``/``noise_seed``. (An upload combo's button value comes after *all* widgets:
        see ``NodeSchema.trailing_widget_slots``.)
        """
        if self.type == "INT" and (self.control_after_generate or self.name in ("seed", "noise_seed")):
            return 1
        if self.type == "COMBO" and self.control_after_generate:
            return 1
        return 0


class OutputSpec(BaseModel):
    """One output socket: display ``name``, ``type`` (MODEL, IMAGE, …) and whether it outputs a list."""
    name: str
    type: str
    is_list: bool = False


class NodeSchema(BaseModel):
    """A node class as ComfyUI describes it.

    ``python_module`` says where the class comes from (``nodes``, ``comfy_extras.…``,
    ``custom_nodes.<pack>``); ``output_node`` marks nodes that end a graph (SaveImage…), ``api_node`` nodes
    that call a paid remote API, ``shape`` which ``object_info`` shape it was read from. Treat instances as
    read-only: the widget list is computed once and cached.
    """

    class_type: str
    display_name: str | None = None
    category: str | None = None
    python_module: str | None = None
    description: str | None = None
    inputs: list[InputSpec] = []
    outputs: list[OutputSpec] = []
    output_node: bool = False
    deprecated: bool = False
    api_node: bool = False
    shape: Literal["v1", "v2", "v3"] = "v1"

    def input(self, name: str) -> InputSpec | None:
        """The input named ``name``, or None."""
        return next((i for i in self.inputs if i.name == name), None)

    def widget_inputs(self) -> list[InputSpec]:
        """Inputs the frontend shows as widgets, in order: the positions of ``widgets_values`` (plus each
        input's extra slots) follow this list.
        """
        return self._widgets

    @cached_property
    def _widgets(self) -> list[InputSpec]:
        # Schemas are read-only once loaded; the inspector asks this for every node.
        return [i for i in self.inputs if i.is_widget]

    @property
    def trailing_widget_slots(self) -> int:
        """Values after the last widget: the upload button of ``image_upload`` combos ("image")."""
        return sum(1 for i in self.widget_inputs() if i.image_upload)

    @property
    def is_custom(self) -> bool:
        """The class comes from a custom node pack (``python_module`` under ``custom_nodes``)."""
        return bool(self.python_module and self.python_module.startswith("custom_nodes"))
