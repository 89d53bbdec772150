"""The records' word lists (content/lexicon/records.yml), folded, as one snapshot."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from bot import lexicon


@dataclass(frozen=True)
class Words:
    """What the lookups read from the lexicon; equal snapshots mean nothing changed."""

    version_words: frozenset[str]  # "version", "versjon", "v": a version number follows
    number_words: frozenset[str]  # "nr", "no": between a version word and its number
    quantity_units: frozenset[str]  # "år", "pcs": the number before is a quantity
    name_fillers: frozenset[str]  # "for", "til", "-": linking words inside a product name
    other_vendors: frozenset[str]  # "windows", "norton": not a Kaspersky name after these
    os_names: frozenset[str]  # "windows", "win" ...
    os_releases: frozenset[str]  # ... and their releases ("Windows 11" is no KES version)


_snapshot: tuple[lexicon.WordList, Words] | None = None
_lock = threading.Lock()


def current() -> Words:
    """The lists as the files say now. One lexicon look-up per call: lexicon hands
    out the same WordList objects until a file changes, so the probe's identity
    tells whether the folded snapshot is still good."""
    global _snapshot
    probe = lexicon.get("version_words")
    snapshot = _snapshot
    if snapshot is not None and snapshot[0] is probe:
        return snapshot[1]
    with _lock:
        fresh = Words(
            version_words=probe.folded(),
            number_words=lexicon.get("number_words").folded(),
            quantity_units=lexicon.get("quantity_units").folded(),
            name_fillers=lexicon.get("name_fillers").folded(),
            other_vendors=lexicon.get("other_vendors").folded(),
            os_names=lexicon.get("os_names").folded(),
            os_releases=lexicon.get("os_releases").folded(),
        )
        _snapshot = (probe, fresh)
    return fresh


def version_words() -> frozenset[str]:
    """ "version", "versjon", "v" ...: the one list the lookups and the matcher share."""
    return current().version_words
