"""The one vcrpy configuration of the test suite: where cassettes live, how they match, what is filtered.

Tests never configure vcrpy themselves (a ratchet in ``tests/test_architecture.py`` enforces it). They take
the ``replay`` fixture of ``tests/conftest.py`` and open cassettes by file name::

    def test_model_lookup(replay) -> None:
        with replay("civitai_model.yaml"), CivitaiClient() as c:
            ...

Rules every cassette follows:

* **Replay only.** ``record_mode="none"``: a request the cassette does not hold fails the test
  (``CannotOverwriteExistingCassetteException``), nothing is ever recorded while testing. Cassettes are
  built by scripts (``tests/cassettes/build_*.py``, ``tests/reconstruct/cassettes/build_cassettes.py``,
  ``tests/agent/cassettes/build_agent_cassette.py``) that keep the source of every body; ``tests/test_recorded.py``
  rebuilds the built ones and fails on any that differs, so edit the builder, never the file.
* **Where they live.** Cassettes shared by several test folders sit in ``tests/cassettes/``; a cassette
  that one test folder alone uses sits in a ``cassettes/`` folder beside its tests. A name is looked up
  beside the test first, then in ``tests/cassettes/``; the extension picks the serializer (``.yaml``,
  ``.json``).
* **Matching** is on method, scheme, host, port, path and query; a test may add ``body`` (the assistant's
  recorded model traffic matches on it so that a changed prompt fails loudly).
* **Secrets never reach a file.** ``authorization``, ``x-api-key`` and ``cookie`` request headers, the
  ``token`` query parameter and ``set-cookie`` response headers are dropped when recording (the
  recorder builders use is configured here too), and a ratchet checks the cassette files for them.
* **Every interaction is played.** After each test the fixture fails it, naming the cassette and the
  interactions that were never asked for: an unplayed interaction is either a call the code stopped
  making or a stale line in the cassette.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import vcr
from vcr.cassette import Cassette

TESTS = Path(__file__).resolve().parent
SHARED_CASSETTES = TESTS / "cassettes"
CASSETTE_SUFFIXES = {".yaml": "yaml", ".json": "json"}
MATCH_ON: tuple[str, ...] = ("method", "scheme", "host", "port", "path", "query")
FILTERED_REQUEST_HEADERS: tuple[str, ...] = ("authorization", "x-api-key", "cookie")
FILTERED_RESPONSE_HEADERS: tuple[str, ...] = ("set-cookie",)
FILTERED_QUERY_PARAMETERS: tuple[str, ...] = ("token",)


def _drop_response_headers(response: dict[str, Any]) -> dict[str, Any]:
    """``before_record_response`` hook: remove cookies a server set (vcrpy filters request headers only)."""
    headers = response.get("headers") or {}
    for name in [h for h in headers if h.lower() in FILTERED_RESPONSE_HEADERS]:
        del headers[name]
    return response


def _vcr(record_mode: str, match_on: Sequence[str] = MATCH_ON) -> vcr.VCR:
    return vcr.VCR(
        record_mode=record_mode,
        match_on=tuple(match_on),
        filter_headers=FILTERED_REQUEST_HEADERS,
        filter_query_parameters=FILTERED_QUERY_PARAMETERS,
        before_record_response=_drop_response_headers,
        decode_compressed_response=True,
    )


_REPLAY = _vcr("none")


def cassette_files() -> list[Path]:
    """Every cassette file in the suite (any ``.yaml``/``.json`` in a ``cassettes`` folder under tests/)."""
    return sorted(p for p in TESTS.rglob("*") if p.parent.name == "cassettes" and p.suffix in CASSETTE_SUFFIXES)


def locate(name: str, test_dir: Path) -> Path:
    """The cassette ``name`` for a test in ``test_dir``: beside the test first, then ``tests/cassettes``."""
    if Path(name).name != name or Path(name).suffix not in CASSETTE_SUFFIXES:
        raise ValueError(f"cassette {name!r}: give a bare file name ending in {sorted(CASSETTE_SUFFIXES)}")
    for folder in (test_dir / "cassettes", SHARED_CASSETTES):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"no cassette {name!r} in {test_dir / 'cassettes'} or {SHARED_CASSETTES}: "
                            "build it with the builder script of its folder")


def recorder(match_on: Sequence[str] = MATCH_ON) -> vcr.VCR:
    """A recording vcrpy with the suite's filters, for builder scripts only (``record_mode="all"``)."""
    return _vcr("all", match_on)


def unplayed(cassette: Cassette) -> list[str]:
    """``"#index METHOD uri"`` of each interaction of ``cassette`` that was never played."""
    return [f"#{i} {req.method} {req.uri}" for i, (req, _resp) in enumerate(cassette.data)
            if cassette.play_counts[i] == 0]


@dataclass
class Replayer:
    """Opens cassettes for one test and checks, after it, that each was played to the end."""

    test_dir: Path
    opened: list[tuple[Path, Cassette, str | None]] = field(default_factory=list)

    @contextmanager
    def __call__(self, name: str, *, match_on: Sequence[str] = MATCH_ON, allow_playback_repeats: bool = False,
                 partial: str | None = None) -> Iterator[Cassette]:
        """Replay cassette ``name`` (see ``locate``) inside the ``with`` block and yield it.

        ``match_on`` may add criteria (``"body"``) to the suite's default. ``partial`` exempts the cassette from
        the all-played check and says why (a test that proves a request does *not* match); such a test
        should assert on ``play_count`` itself.
        """
        path = locate(name, self.test_dir)
        with _REPLAY.use_cassette(str(path), serializer=CASSETTE_SUFFIXES[path.suffix], match_on=tuple(match_on),
                                  allow_playback_repeats=allow_playback_repeats) as cassette:
            self.opened.append((path, cassette, partial))
            yield cassette

    def verify(self) -> None:
        """Fail (AssertionError) naming every opened cassette that still holds unplayed interactions."""
        problems = []
        for path, cassette, partial in self.opened:
            missing = [] if partial else unplayed(cassette)
            if missing:
                problems.append(f"{path.relative_to(TESTS)}: {len(missing)} of {len(cassette)} "
                                f"interactions never played: " + "; ".join(missing))
        assert not problems, ("every recorded interaction must be played (make the call the test was written for, "
                              "or trim the cassette's builder):\n" + "\n".join(problems))
