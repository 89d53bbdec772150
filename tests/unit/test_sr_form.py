"""bot.service_requests.form and .services: what a form answer means (a
skipped optional field, the field a correction names, an address in a
sentence) and which paid service a message names."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot import db, lexicon, rulebase
from bot import service_requests as sr


# Before: words were found as substrings, in field order, so the first field
# whose word hid anywhere in the text won ("namn" in "namnet" beat "företaget").
@pytest.mark.parametrize(
    "text, field",
    [
        # en
        ("change the name of the company", "company"),
        ("change the company's name", "company"),
        ("the company name is wrong", "company"),
        ("change my name", "name"),
        ("change the e-mail", "email"),
        ("wrong licence key", "licence_key"),
        # nb
        ("endre navnet på firmaet", "company"),
        ("endre firmanavn", "company"),
        ("bedriftens navn er feil", "company"),
        ("endre navnet", "name"),
        ("feil navn", "name"),
        ("endre e-posten", "email"),
        ("endre landet", "country"),
        # sv
        ("ändra namnet på företaget", "company"),
        ("företagsnamnet är fel", "company"),
        ("ändra namnet", "name"),
        ("fel namn", "name"),
        ("ändra e-posten", "email"),
        ("ändra licensnyckeln", "licence_key"),
    ],
)
def test_a_correction_names_the_most_specific_field(text, field):
    assert sr.field_named(text) == field


@pytest.mark.parametrize("text", ["change something", "nei", "ändra", "username", "landscape"])
def test_no_field_when_no_whole_word_names_one(text):
    assert sr.field_named(text) is None


def test_each_field_button_payload_names_its_field():
    for field in sr.FIELDS:
        assert sr.field_named(sr.field_words(field, "en")[0]) == field


def test_no_word_names_two_fields():
    seen: dict[str, str] = {}
    for field in sr.FIELDS:
        for word in lexicon.get(f"sr_field_words_{field}").folded():
            assert seen.setdefault(word, field) == field, f"{word!r}: {seen[word]} and {field}"


@pytest.mark.parametrize(
    "text, skip",
    [
        ("-", True),
        (" Skip ", True),
        ("no", True),
        ("Nei.", True),
        ("hoppa  över!", True),
        ("har ingen", True),
        ("Privat", True),
        ("Fjordvik AS", False),
        ("", False),
        ("nobody", False),
        # the buttons' titles typed (issue 12): "Ingen nøkkel" was refused as a key
        ("Ingen nøkkel", True),
        ("ingen nyckel", True),
        ("No key", True),
        ("hopp over", True),
        ("Ingen nøkkel-nummer", False),
    ],
)
def test_skip_words_in_any_language(text, skip):
    assert sr.is_skip(text) is skip


def test_an_address_inside_a_sentence():
    assert sr.email_in("my e-mail is kari@fjordvik.no now") == "kari@fjordvik.no"
    assert sr.email_in("change the e-mail") is None


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> Iterator[rulebase.RuleBase]:
    url = f"sqlite:///{tmp_path_factory.mktemp('rb') / 'bot.db'}"
    rulebase.load(url)
    yield rulebase.current(url)
    db.engine_for(url).dispose()


@pytest.mark.parametrize(
    "text, service",
    [
        ("We want incident response", "incident_response"),
        ("kan vi kjøpe fornyet støtte?", "support_renewal"),
        ("Vi vill beställa en fjärrsession", "professional_services"),
        ("premiumstøtte takk", "premium_support"),
        ("Kaspersky Premium Support", "premium_support"),
        ("premium_support", "premium_support"),
        ("support_renewal", "support_renewal"),
        ("we need support", None),
        # each service by its name in nb and sv (issue 12), not only the English
        ("Vi vil kjøpe hendelsesrespons", "incident_response"),
        ("hendelseshåndtering", "incident_response"),
        ("Vi vill köpa incidenthantering", "incident_response"),
        ("profesjonelle tjenester", "professional_services"),
        ("Vi vill beställa professionella tjänster", "professional_services"),
        ("premiumsupport", "premium_support"),
        ("fornyelse av støtte", "support_renewal"),
        ("Förnyad support", "support_renewal"),
        ("Kaspersky Premium", None),
    ],
)
def test_which_service_a_message_names(rules, text, service):
    assert sr.find_service(text, rules) == service
