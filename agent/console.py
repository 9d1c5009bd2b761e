"""The rich console of the CLI (:class:`InertConsole`); ``agent/output.py`` makes ``console`` and
``err_console`` from it on first use, so a command that prints only JSON never imports rich. The rules it
keeps are described in ``agent/output.py``."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import (
    Console,
    ConsoleOptions,
    RenderableType,
)
from rich.segment import Segment
from rich.text import Text

from comfyfixer.tools.text import inert


class InertConsole(Console):
    """A rich ``Console`` that shows control, bidi and zero-width characters as visible escapes.

    Accepts every ``Console`` argument. :meth:`redirected` swaps its output to a buffer (tests, embedding).
    """

    def __init__(self, **kwargs: Any) -> None:
        self._init_kwargs = dict(kwargs)
        super().__init__(**kwargs)

    def render_str(self, text: str, **options: Any) -> Text:
        """Inert ``text`` (keeping newlines and tabs), then let rich parse markup and build the ``Text``
        (``options`` are rich's own: style, justify, overflow, emoji, markup, highlight, highlighter)."""
        return super().render_str(inert(text, multiline=True), **options)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        """Render as rich does, with a last pass over the segments for text that bypassed ``render_str``.

        Control segments (cursor moves of live displays) are rich's own and pass unchanged; rich adds
        styles (SGR) only when it writes a segment, so they are not in the text seen here.
        """
        for seg in super().render(renderable, options):
            text, style, control = seg
            if control:
                yield seg
                continue
            if style is not None and style.link:
                style = style.update_link(None)
            text = inert(text, multiline=True)  # the same object when there is nothing to escape
            yield seg if (text is seg.text and style is seg.style) else Segment(text, style)

    @contextmanager
    def redirected(self, file: io.StringIO | None = None, **overrides: Any) -> Iterator[io.StringIO]:
        """Print to ``file`` (a new ``StringIO`` by default) with ``overrides`` applied, e.g.
        ``force_terminal=True, color_system="truecolor", width=120``; restores the console afterwards.

        The console object stays the same (modules hold it by name), so everything printed through it
        while the block runs lands in the buffer, styled as a terminal would receive it.
        """
        buf = file if file is not None else io.StringIO()
        saved = self._init_kwargs
        Console.__init__(self, **{**saved, **overrides, "file": buf})
        try:
            yield buf
        finally:
            Console.__init__(self, **saved)
