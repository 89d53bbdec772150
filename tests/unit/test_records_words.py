"""The word lists of content/lexicon/records.yml: one list of version words for
the lookups and for messages, and an edit to a list is live without a restart."""

from __future__ import annotations

import functools
import shutil

import pytest

from bot import lexicon, records
from bot.records import facts, words
from tests.unit.records_data import TODAY, load

KIS = "Kaspersky Internet Security"
KES_W = "Kaspersky Endpoint Security for Windows"


@pytest.fixture(scope="module")
def loaded(module_database_url, tmp_path_factory) -> str:
    return load(module_database_url, tmp_path_factory.mktemp("records"))


def test_every_version_word_works_in_a_lookup_and_in_a_message(loaded):
    version_words = words.current().version_words
    assert {"version", "versjon", "versionen", "v", "release"} <= version_words
    for word in sorted(version_words):
        found = records.lookup_version(KIS, f"{word} 21", TODAY, loaded)
        assert (found.record_version, found.match) == ("21", "exact"), word
        assert facts.extract(f"{KIS} {word} 21", loaded).version == "21", word
    family = records.lookup_version(KES_W, "versjon 11", TODAY, loaded)
    assert (family.record_version, family.match, family.alternatives) == (
        "11.11",
        "family",
        ("11.10", "11.6"),
    )


def test_a_version_word_is_stripped_only_before_a_number(loaded):
    assert records.lookup_version(KIS, "Version", TODAY, loaded).reason == "unknown_version"
    assert records.lookup_version(KIS, "V 19", TODAY, loaded).record_version == "19"


def test_an_edited_word_list_is_live_and_rebuilds_the_matcher(loaded, tmp_path, monkeypatch):
    shutil.copy(lexicon.LEXICON_DIR / "records.yml", tmp_path / "records.yml")
    monkeypatch.setattr(lexicon, "get", functools.partial(lexicon.get, directory=tmp_path))
    message = "Kaspersky Plus 3 dygn"  # Swedish days: not in the list yet
    before = facts.current_matcher(loaded)
    assert facts.extract(message, loaded).version == "3"
    assert facts.current_matcher(loaded) is before  # cached while nothing changes

    path = tmp_path / "records.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    - dagar\n", "    - dagar\n    - dygn\n"), encoding="utf-8")

    assert "dygn" in words.current().quantity_units
    assert facts.extract(message, loaded).version is None
    assert facts.current_matcher(loaded) is not before
