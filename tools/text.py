"""Make untrusted text inert before a terminal, a log line or a report shows it.

Workflows, catalogs and servers hand us strings (model names, node types, notes, URLs) that may carry
characters a terminal or a viewer *acts on* instead of showing: an ESC can clear the screen, retitle the
window or move the cursor; ``\\r`` rewrites the current line; a bidi override (U+202E) reverses what follows;
zero-width characters hide text or make two different names look alike. :func:`inert` replaces every such
character with a visible escape, so the user sees exactly what the string contains:

======================================  =========================================================
characters                              shown as
======================================  =========================================================
C0 controls U+0000–U+001F, DEL, C1      ``\\x1b``, ``\\x7f``, ``\\x9b``; ``\\r``, ``\\n``, ``\\t``
U+0080–U+009F
format characters (category Cf: bidi    ``\\u202e``, ``\\u200d``, ``\\ufeff``, ``\\U000e0041``
embeddings/overrides/isolates and
marks, zero-width space/joiners, word
joiner, BOM, soft hyphen, tag
characters, ...)
line/paragraph separators U+2028/2029   ``\\u2028``, ``\\u2029``
lone surrogates (undecodable bytes)     ``\\udc80`` (they would also crash a UTF-8 write)
======================================  =========================================================

``\\n`` and ``\\t`` are kept only with ``multiline=True`` (a block of our own layout, such as a rich
renderable): a newline or a tab moves the cursor forward only, so it cannot overwrite what was shown, while
``\\r`` moves it back and is therefore always escaped. Backslashes are left alone (Windows paths stay
readable); a literal ``\\x1b`` in a name is visibly not an escape character, which is all that matters here.

:func:`inert_json` applies the same rule to serialised JSON using JSON's own ``\\uXXXX`` escapes, so the
document parses to exactly the same data but prints harmlessly.

The character set is fixed here (not computed from :mod:`unicodedata` at import: scanning the code space
costs ~12 ms per process). ``tests/output/test_inert.py`` checks it against the running Python's Unicode
database, so a new format character in a newer Unicode version makes a test fail instead of slipping through.
"""

from __future__ import annotations

import re

__all__ = ["UNSAFE_RANGES", "escape_char", "inert", "inert_json", "is_inert"]

# Unicode category Cf (format characters) as of Unicode 15.1, as inclusive ranges. Unicode 14 (Python 3.11)
# is a subset; 0x13439–0x1343F were added in 15.0.
_FORMAT_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD),
    (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)

#: Every code point :func:`inert` escapes (inclusive ranges), ``\n`` and ``\t`` included.
UNSAFE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F),  # C0 controls
    (0x007F, 0x009F),  # DEL and C1 controls (0x9B is a one-byte CSI on some terminals)
    (0x2028, 0x2029),  # line and paragraph separators
    (0xD800, 0xDFFF),  # lone surrogates, e.g. from surrogateescape-decoded file names
    *_FORMAT_RANGES,
)


def _char_class(ranges: tuple[tuple[int, int], ...], keep: str = "") -> re.Pattern[str]:
    """One compiled character class for ``ranges`` minus the ``keep`` characters."""
    kept = sorted(ord(c) for c in keep)
    parts = []
    for lo, hi in ranges:
        start = lo
        for k in kept:  # split the range around each kept character
            if start <= k <= hi:
                if start < k:
                    parts.append((start, k - 1))
                start = k + 1
        if start <= hi:
            parts.append((start, hi))
    cls = "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in parts)
    return re.compile(f"[{cls}]")


_UNSAFE = _char_class(UNSAFE_RANGES)
_UNSAFE_MULTILINE = _char_class(UNSAFE_RANGES, keep="\n\t")
_UNSAFE_RUNS = re.compile(_UNSAFE.pattern + "+")
_UNSAFE_MULTILINE_RUNS = re.compile(_UNSAFE_MULTILINE.pattern + "+")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_char(ch: str) -> str:
    """The visible escape for one character, Python-style: ``\\r``, ``\\x1b``, ``\\u202e``, ``\\U000e0041``."""
    named = _NAMED.get(ch)
    if named is not None:
        return named
    cp = ord(ch)
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


class _Escapes(dict[int, str]):
    """``str.translate`` table filled on first use (a full table would cost ~1 ms at every start)."""

    def __missing__(self, cp: int) -> str:
        self[cp] = value = escape_char(chr(cp))
        return value


_ESCAPES = _Escapes()


def _replace_run(m: re.Match[str]) -> str:
    return m.group().translate(_ESCAPES)


def _printable(text: str, multiline: bool) -> bool:
    # str.isprintable() is False for every character of UNSAFE_RANGES (all are categories Cc, Cf, Cs, Zl,
    # Zp or, in older Unicode, Cn), and runs at C speed; True therefore proves there is nothing to escape.
    if multiline:
        text = text.replace("\n", "").replace("\t", "")  # returns `text` itself when neither occurs
    return text.isprintable()


def inert(text: str, *, multiline: bool = False) -> str:
    """``text`` with every control, format, separator and lone-surrogate character shown as an escape.

    Returns ``text`` itself (no copy) when there is nothing to escape, which is almost always, so it is
    cheap enough to run on every printed string (~150 ns for a short clean name; per MB about 3 ms of
    ordinary text, 20–30 ms when it holds something unsafe or merely non-printable, like a no-break
    space, ~150 ms when half of it is unsafe). ``multiline=True``
    keeps ``\\n`` and ``\\t`` (for blocks laid out by us); without it a string stays on one line.
    Idempotent: the escapes are plain ASCII.
    """
    if _printable(text, multiline):
        return text
    runs = _UNSAFE_MULTILINE_RUNS if multiline else _UNSAFE_RUNS
    return runs.sub(_replace_run, text)


def is_inert(text: str, *, multiline: bool = False) -> bool:
    """True when :func:`inert` would leave ``text`` unchanged."""
    return _printable(text, multiline) or (_UNSAFE_MULTILINE if multiline else _UNSAFE).search(text) is None


def _json_escape(m: re.Match[str]) -> str:
    cp = ord(m.group())
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    cp -= 0x10000  # JSON spells astral characters as a UTF-16 surrogate pair
    return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"


def inert_json(json_text: str) -> str:
    """Serialised JSON with the same characters as :func:`inert` written as ``\\uXXXX`` escapes.

    ``json.dumps(..., ensure_ascii=False)`` already escapes C0 controls but leaves DEL, C1 controls, bidi
    and zero-width characters raw (and writes lone surrogates that no UTF-8 stream accepts). Outside strings
    a JSON text holds only ASCII structure and whitespace, so every match is inside a string and the result
    decodes to exactly the same data. Structural newlines and tabs (``indent=``) are kept.
    """
    if _printable(json_text, True):
        return json_text
    return _UNSAFE_MULTILINE.sub(_json_escape, json_text)
