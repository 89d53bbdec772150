"""The phrase catalogue, content/messages.yml."""

from __future__ import annotations

import datetime as dt
import string

import pytest
import yaml

from bot import messages
from bot.settings import PROJECT_DIR

from .contract import LANGS, VERDICTS

CATALOGUE = yaml.safe_load(messages.CATALOGUE.read_text(encoding="utf-8"))["messages"]


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_the_catalogue_is_the_project_file():
    assert messages.CATALOGUE == PROJECT_DIR / "content" / "messages.yml"
    assert messages.catalogue() == CATALOGUE


@pytest.mark.parametrize("key", list(CATALOGUE))
def test_every_message_has_every_language_and_the_same_placeholders(key):
    entry = CATALOGUE[key]
    assert sorted(entry) == sorted(LANGS)
    for lang in LANGS:
        assert isinstance(entry[lang], str) and entry[lang].strip(), f"{key}.{lang} is empty"
    placeholders = {lang: _placeholders(entry[lang]) for lang in LANGS}
    assert placeholders["nb"] == placeholders["en"], key
    assert placeholders["sv"] == placeholders["en"], key


@pytest.mark.parametrize("verdict", VERDICTS)
def test_every_contract_verdict_has_a_label(verdict):
    assert f"verdict_{verdict}" in CATALOGUE


def test_every_small_talk_intent_has_a_message():
    domain = yaml.safe_load((PROJECT_DIR / "domain" / "base.yml").read_text(encoding="utf-8"))
    intents = [i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]]
    assert intents
    assert [i for i in intents if i not in CATALOGUE] == []


@pytest.mark.parametrize("lang", LANGS)
def test_twelve_months(lang):
    assert len(CATALOGUE["months"][lang].split()) == 12


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("nb", "7. april 2022"), ("en", "7 April 2022"), ("sv", "7 april 2022")],
)
def test_date(lang, expected):
    assert messages.date(dt.date(2022, 4, 7), lang) == expected


@pytest.mark.parametrize(
    ("items", "lang", "expected"),
    [
        ([], "en", ""),
        (["A"], "en", "A"),
        (["A", "B"], "nb", "A og B"),
        (["A", "B", "C"], "sv", "A, B och C"),
    ],
)
def test_join(items, lang, expected):
    assert messages.join(items, lang) == expected


def test_date_uses_the_right_month():
    assert messages.date(dt.date(2023, 12, 31), "nb") == "31. desember 2023"
    assert messages.date(dt.date(2023, 1, 4), "sv") == "4 januari 2023"


def test_say_fills_placeholders_and_falls_back_to_english():
    offer = messages.say(
        "paid_offer_item", "nb", refs="Støtteregler §4.2.14", service="Kaspersky Incident Response"
    )
    assert (
        offer == "Det Støtteregler §4.2.14 beskriver, kan kjøpes som Kaspersky Incident Response."
    )
    assert messages.say("greet", "de") == CATALOGUE["greet"]["en"]


def test_no_message_is_defined_twice():
    """YAML keeps the last of two equal keys silently: one would shadow the other."""
    root = yaml.compose(messages.CATALOGUE.read_text(encoding="utf-8"))
    (_, catalogue_node), *_ = [(k, v) for k, v in root.value if k.value == "messages"]
    keys = [key.value for key, _ in catalogue_node.value]
    assert sorted(k for k in set(keys) if keys.count(k) > 1) == []
