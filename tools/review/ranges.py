"""The knowledge pack's recommended sampling ranges (``knowledge/parameter-ranges.md``), read as data.

The table lives in the knowledge pack so the assistant cites the same numbers the review checks;
this module only parses it (once per process).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

DOC = "parameter-ranges.md"
SECTION = "parameter-ranges#Ranges table"


@dataclass(frozen=True)
class FamilyRanges:
    """One row: ranges are ``(low, high)`` or ``None`` when the knowledge pack gives no advice."""

    family: str
    steps: tuple[float, float] | None
    cfg: tuple[float, float] | None
    fast_steps: tuple[float, float] | None
    fast_cfg: tuple[float, float] | None
    guidance: tuple[float, float] | None
    samplers: tuple[str, ...]
    schedulers: tuple[str, ...]


def _range(cell: str) -> tuple[float, float] | None:
    """``20-30`` → ``(20.0, 30.0)``; ``5`` → ``(5.0, 5.0)``; ``-`` → ``None``."""
    cell = cell.strip()
    if cell in ("", "-"):
        return None
    low, _, high = cell.partition("-")
    return float(low), float(high or low)


def _names(cell: str) -> tuple[str, ...]:
    """A comma-separated cell as a tuple of names (``-`` is none)."""
    return tuple(x.strip() for x in cell.split(",") if x.strip() and x.strip() != "-")


def parse_ranges(text: str) -> dict[str, FamilyRanges]:
    """Rows of the first Markdown table whose header starts with ``family`` in ``text``."""
    rows: dict[str, FamilyRanges] = {}
    in_table = False
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            if in_table:
                break
            continue
        if cells[0] == "family":
            in_table = True
            continue
        if not in_table or set(cells[0]) <= {"-", " "}:
            continue
        if len(cells) < 8:
            continue
        rows[cells[0]] = FamilyRanges(cells[0], _range(cells[1]), _range(cells[2]), _range(cells[3]), _range(cells[4]),
                                      _range(cells[5]), _names(cells[6]), _names(cells[7]))
    return rows


@lru_cache(maxsize=1)
def family_ranges() -> dict[str, FamilyRanges]:
    """The ranges table shipped in the knowledge pack, by family id."""
    text = resources.files("comfyfixer.knowledge").joinpath(DOC).read_text(encoding="utf-8")
    return parse_ranges(text)
