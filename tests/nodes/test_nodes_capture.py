"""Runtime capture driven through a stand-in of ComfyUI 0.3.64's executor (``fake_execution.py``).

Two prompts interleave on one event loop; the hooks must keep their records apart, restore the
original functions by identity, refuse to stack on someone else's wrapper, and switch a session off
(once, logged) when a hook fails — without the run noticing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fake_execution as fx
import numpy as np
import pytest

from comfyfixer.nodes import activation, capture
from comfyfixer.nodes.nodes import ComfyFixerSaveImage
from comfyfixer.tools.imagemeta.reader import read_image


class IntConst:
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"value": ("INT", {})}}

    def run(self, value: int) -> tuple[int]:
        return (value,)


class Switch:
    """Picks one of two inputs: which one only the run knows when ``select`` comes through a link."""

    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"select": ("BOOLEAN", {}), "on_true": ("INT", {}), "on_false": ("INT", {})}}

    def run(self, select: bool, on_true: int, on_false: int) -> tuple[int]:
        return (on_true if select else on_false,)


class IsPositive:
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"value": ("INT", {})}}

    def run(self, value: int) -> tuple[bool]:
        return (value > 0,)


class MakeImage:
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"width": ("INT", {}), "height": ("INT", {})}}

    def run(self, width: int, height: int) -> tuple[Any]:
        return (np.full((1, height, width, 3), 0.5, dtype=np.float32),)


class Hostile:
    """Its output makes the capture's summary fail (a ``shape`` that raises)."""

    FUNCTION = "run"

    class Value:
        @property
        def shape(self) -> Any:
            raise RuntimeError("no shape for you")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"value": ("INT", {})}}

    def run(self, value: int) -> tuple[Any]:
        return (Hostile.Value(),)


class Sink:
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"value": ("*", {})}}

    def run(self, value: Any) -> tuple[Any]:
        return (value,)




class SaveHere(ComfyFixerSaveImage):
    """The real save node, writing to the test's folder instead of ComfyUI's output folder."""

    folder: Path | None = None  # each test sets its tmp_path


    def output_target(self, prefix: str, width: int, height: int) -> tuple[Path, str, int, str]:
        assert self.folder is not None, "set SaveHere.folder to the test's tmp_path"
        n = len(list(self.folder.glob(f"{prefix}_*_.*")))
        return self.folder, prefix, n + 1, ""


fx.NODE_CLASS_MAPPINGS.update({"IntConst": IntConst, "Switch": Switch, "IsPositive": IsPositive,
                               "MakeImage": MakeImage, "Hostile": Hostile, "Sink": Sink,
                               "ComfyFixerSaveImage": SaveHere})


def _prompt(value: int, *, capture_on: bool = True, prefix: str = "cap") -> dict[str, Any]:
    """value → IsPositive → Switch(select) chooses 64 or 32 → MakeImage width → save node."""
    return {
        "1": {"class_type": "IntConst", "inputs": {"value": value}},
        "2": {"class_type": "IsPositive", "inputs": {"value": ["1", 0]}},
        "3": {"class_type": "Switch", "inputs": {"select": ["2", 0], "on_true": 64, "on_false": 32}},
        "4": {"class_type": "MakeImage", "inputs": {"width": ["3", 0], "height": 16}},
        "5": {"class_type": "ComfyFixerSaveImage", "inputs": {"images": ["4", 0], "filename_prefix": prefix,
                                                              "format": "png", "capture": capture_on}},
    }


def _originals() -> tuple[Any, Any, Any]:
    return fx.get_input_data, fx.execute, fx.PromptExecutor.__dict__["execute_async"]


@pytest.fixture
def hooks(tmp_path: Path) -> Iterator[tuple[Any, Any, Any]]:
    """Hooks installed with the pack's own per-prompt rule; originals restored after."""
    before = _originals()
    SaveHere.folder = tmp_path
    capture.reset()
    assert capture.install(fx, wants=activation.wants_capture)
    yield before
    assert capture.uninstall()
    capture.reset()


def test_install_and_uninstall_restore_the_originals_by_identity() -> None:
    before = _originals()
    assert capture.install(fx)
    assert capture.is_installed()
    assert all(now is not then for now, then in zip(_originals(), before, strict=True))
    assert capture.install(fx)  # twice is once
    assert capture.uninstall()
    assert all(now is then for now, then in zip(_originals(), before, strict=True))
    assert not capture.is_installed()


def test_without_a_reason_to_capture_nothing_is_patched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    SaveHere.folder = tmp_path
    monkeypatch.delenv("COMFYFIXER_CAPTURE", raising=False)
    monkeypatch.setattr(activation, "_setting_cache", {"capture": False})
    before = _originals()
    activation.on_prompt({"prompt": _prompt(1, capture_on=False)})
    fx.PromptExecutor().execute(_prompt(1, capture_on=False, prefix="off"), "p-off")
    assert _originals() == before and not capture.is_installed()
    assert capture.session_for("p-off") is None


def test_the_save_node_toggle_arms_the_hooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMFYFIXER_CAPTURE", raising=False)
    monkeypatch.setattr(activation, "_setting_cache", {"capture": False})
    monkeypatch.setitem(sys.modules, "execution", fx)  # where ComfyUI's executor module lives at run time
    before = _originals()
    try:
        assert activation.on_prompt({"prompt": _prompt(1)}) == {"prompt": _prompt(1)}  # JSON unchanged
        assert capture.is_installed() and _originals() != before
        # A prompt that does not ask is not recorded even with the hooks in place.
        SaveHere.folder = tmp_path
        fx.PromptExecutor().execute(_prompt(1, capture_on=False, prefix="quiet"), "p-quiet")
        assert capture.session_for("p-quiet") is None
    finally:
        assert capture.uninstall()
    assert _originals() == before


def test_conflict_detection_stays_off_and_leaves_the_other_wrapper(caplog: pytest.LogCaptureFixture) -> None:
    original = fx.get_input_data

    @functools.wraps(original)
    def someone_elses(*a: Any, **kw: Any) -> Any:
        return original(*a, **kw)

    fx.get_input_data = someone_elses
    try:
        before = _originals()
        with caplog.at_level(logging.WARNING, logger="comfyfixer.nodes.capture"):
            assert capture.install(fx) is False
        assert _originals() == before and not capture.is_installed()
        assert "already wrapped" in caplog.text and "get_input_data" in caplog.text
    finally:
        fx.get_input_data = original


def test_uninstall_leaves_a_wrapper_added_after_ours() -> None:
    before = _originals()
    assert capture.install(fx)
    ours = fx.execute

    async def later(*a: Any, **kw: Any) -> Any:
        return await ours(*a, **kw)

    fx.execute = later
    assert capture.uninstall() is False  # reported, not silently broken
    assert fx.execute is later
    assert fx.get_input_data is before[0] and fx.PromptExecutor.__dict__["execute_async"] is before[2]
    fx.execute = before[1]


def test_two_interleaved_prompts_keep_their_captures_apart(hooks: Any, tmp_path: Path) -> None:
    a, b = fx.PromptExecutor(), fx.PromptExecutor()

    async def both() -> None:
        await asyncio.gather(a.execute_async(_prompt(5, prefix="a"), "prompt-a", {}, ["5"]),
                             b.execute_async(_prompt(-5, prefix="b"), "prompt-b", {}, ["5"]))

    asyncio.run(both())
    sa, sb = capture.session_for("prompt-a"), capture.session_for("prompt-b")
    assert sa is not None and sb is not None and sa.finished and sb.finished
    assert sa.order == sb.order == ["1", "2", "3", "4", "5"]
    # The switch's chosen branch is runtime-only knowledge: the prompt says "a link".
    assert sa.nodes["3"].resolved == {"select": True, "on_true": 64, "on_false": 32}
    assert sb.nodes["3"].resolved["select"] is False
    assert sa.nodes["4"].resolved["width"] == 64 and sb.nodes["4"].resolved["width"] == 32
    assert sa.nodes["5"].resolved["images"]["shape"] == [1, 16, 64, 3]
    assert sb.nodes["5"].resolved["images"]["shape"] == [1, 16, 32, 3]
    assert "prompt" not in sa.nodes["5"].resolved  # hidden inputs are never kept
    # Each saved image carries its own prompt's capture, read back by the project's reader.
    for prefix, width, pid in (("a", 64, "prompt-a"), ("b", 32, "prompt-b")):
        (img,) = tmp_path.glob(f"{prefix}_00001_.png")
        doc = read_image(img).extra["comfyfixer"]
        assert doc["capture_mode"] == "parser+hooks" and doc["runtime"]["prompt_id"] == pid
        assert doc["merged"]["4"]["inputs"]["width"] == {"value": width, "source": "runtime"}
        assert doc["merged"]["4"]["inputs"]["height"]["source"] == "runtime"


def test_cached_nodes_say_where_their_values_came_from(hooks: Any) -> None:
    ex = fx.PromptExecutor()
    ex.execute(_prompt(3, prefix="first"), "run-1", {}, ["5"])
    # Same prompt but a new save prefix: nodes 1-4 come from the cache and never resolve inputs.
    ex.execute(_prompt(3, prefix="second"), "run-2", {}, ["5"])
    second = capture.session_for("run-2")
    assert second is not None
    assert [n for n in second.order if second.nodes[n].cached] == ["1", "2", "3", "4"]
    assert second.nodes["3"].source == "previous_run" and second.nodes["3"].resolved["select"] is True
    assert second.nodes["5"].source == "runtime"
    assert second.as_dict()["execution_order"] == ["5"] and second.as_dict()["cached_nodes"] == ["1", "2", "3", "4"]
    capture.reset()  # a fresh process has no previous run: cached values are the parser's literals
    ex.execute(_prompt(3, prefix="third"), "run-3", {}, ["5"])
    third = capture.session_for("run-3")
    assert third is not None and third.nodes["3"].source == "parser"
    assert third.nodes["3"].resolved == {"on_true": 64, "on_false": 32}  # the linked select is unknown


def test_a_failing_hook_disables_only_its_session(hooks: Any, caplog: pytest.LogCaptureFixture) -> None:
    bad = {**_prompt(2, prefix="bad"),
           "6": {"class_type": "Hostile", "inputs": {"value": ["1", 0]}},
           "7": {"class_type": "Sink", "inputs": {"value": ["6", 0]}},
           "8": {"class_type": "Sink", "inputs": {"value": ["7", 0]}}}
    ex = fx.PromptExecutor()
    with caplog.at_level(logging.WARNING, logger="comfyfixer.nodes.capture"):
        ex.execute(bad, "bad-run", {}, ["5", "8"])
        ex2 = fx.PromptExecutor()
        ex2.execute(_prompt(2, prefix="fine"), "good-run", {}, ["5"])
    s = capture.session_for("bad-run")
    assert s is not None and s.error is not None and "no shape for you" in s.error
    assert s.order == ["1", "2", "3", "4", "5", "6", "7"]  # recording stopped at the failure, the run did not
    assert isinstance(ex.caches.outputs.get("8")[0][0], Hostile.Value)
    assert caplog.text.count("capture disabled for prompt bad-run") == 1
    good = capture.session_for("good-run")
    assert good is not None and good.error is None and len(good.order) == 5
