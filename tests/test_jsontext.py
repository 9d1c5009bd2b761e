"""tools/jsontext.py: where a JSON value inside free text ends."""

from __future__ import annotations

import json

import pytest

from comfyfixer.tools.jsontext import value_end


@pytest.mark.parametrize("value", ['{"a": "}"}', '[1, {"b": "x\\"]"}]', '{"k": ["{", "["]}', "{}"])
def test_the_matching_bracket_is_found_outside_strings(value: str) -> None:
    text = f"said: {value}, then more {{prose}}"
    start = text.index(value[0])
    end = value_end(text, start)
    assert end is not None and text[start:end] == value and json.loads(text[start:end]) is not None


def test_an_unclosed_value_has_no_end() -> None:
    assert value_end('{"a": [1, 2}', 0) is None
    assert value_end('{"a": "never closed}', 0) is None
