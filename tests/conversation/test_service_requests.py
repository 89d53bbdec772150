"""Requesting a paid service through the running bot: filed end to end, a field
corrected, a cancel, a malformed e-mail, a doubled confirmation."""

from __future__ import annotations

import re
import uuid

import pytest

from bot import service_requests
from bot.contract import LANGS
from tests.conversation.questions import INCIDENT, ONSITE

START = {
    "en": "We'd like to buy a remote session with one of your specialists",
    "nb": "Vi vil gjerne bestille en fjernøkt med en av spesialistene deres",
    "sv": "Vi vill beställa en fjärrsession med en av era specialister",
}
COUNTRY = {"en": "Norway", "nb": "Norge", "sv": "Sverige"}
SKIP = {"en": "-", "nb": "-", "sv": "-"}  # the "No key" button
YES = {"en": "yes", "nb": "ja", "sv": "ja"}
STOP = {"en": "cancel", "nb": "avbryt", "sv": "avbryt"}
DESCRIPTION = {
    "en": "We need help setting up KES on 40 laptops.",
    "nb": "Vi trenger hjelp til å sette opp KES på 40 bærbare.",
    "sv": "Vi behöver hjälp att installera KES på 40 bärbara datorer.",
}
CHANGE_EMAIL = {"en": "change the e-mail", "nb": "endre e-posten", "sv": "ändra e-posten"}


def filled_up_to_summary(bot, sender: str, lang: str, email: str = "kari@example.no"):
    bot.ask(START[lang], sender)  # service taken from the message: asks the name
    bot.ask("Kari Nordmann", sender)
    bot.ask(email, sender)
    bot.ask("Fjordvik Regnskap AS", sender)
    bot.ask(COUNTRY[lang], sender)
    bot.ask(SKIP[lang], sender)
    return bot.ask(DESCRIPTION[lang], sender)


def requests_of(sender: str, url: str) -> list:
    return [r for r in service_requests.list_requests(url=url) if r.conversation_id == sender]


@pytest.mark.parametrize("lang", LANGS)
def test_filed_end_to_end(running_bot, lang):
    sender = uuid.uuid4().hex
    summary = filled_up_to_summary(running_bot, sender, lang)
    # each value in part: whoever writes next with this id sees the summary too
    assert "Ka•• No••••••" in summary.text and "ka•••@ex•••••.no" in summary.text
    assert "Fj•••••• Re•••••• AS" in summary.text
    for whole in ("Kari", "Nordmann", "kari@", "Fjordvik", "Regnskap"):
        assert whole not in summary.text
    assert [b["payload"] for b in summary.buttons] == ["/affirm", "/deny", "/stop"]
    reply = running_bot.ask(YES[lang], sender)
    payload = [m["custom"]["service_request"] for m in reply.messages if "custom" in m][0]
    assert re.fullmatch(r"SR-\d{4}-\d{6}", payload["reference"])
    assert payload["queue"] == "professional_services"
    assert payload["reference"] in reply.text
    (stored,) = requests_of(sender, running_bot.cfg.database_url)
    assert stored.reference == payload["reference"]
    assert (stored.name, stored.email, stored.company, stored.country, stored.language) == (
        "Kari Nordmann",
        "kari@example.no",
        "Fjordvik Regnskap AS",
        "NO" if lang != "sv" else "SE",
        lang,
    )
    assert stored.licence_key is None
    assert stored.description == DESCRIPTION[lang]


@pytest.mark.parametrize("lang", LANGS)
def test_a_field_corrected_before_sending(running_bot, lang):
    sender = uuid.uuid4().hex
    filled_up_to_summary(running_bot, sender, lang, email="kari@example.no")
    running_bot.ask(CHANGE_EMAIL[lang], sender)  # asks for the e-mail again
    summary = running_bot.ask("kari.nordmann@fjordvik.no", sender)
    assert "ka•••@fj••••••.no" in summary.text and "example.no" not in summary.text
    running_bot.ask(YES[lang], sender)
    (stored,) = requests_of(sender, running_bot.cfg.database_url)
    assert stored.email == "kari.nordmann@fjordvik.no"


@pytest.mark.parametrize("lang", LANGS)
def test_cancel_files_nothing(running_bot, lang):
    sender = uuid.uuid4().hex
    running_bot.ask(START[lang], sender)
    running_bot.ask("Kari Nordmann", sender)
    asked = running_bot.ask(STOP[lang], sender)  # a name was given: asks first (issue 12)
    assert [b["payload"] for b in asked.buttons] == ["/stop", "/deny"]
    reply = running_bot.ask(YES[lang], sender)
    assert reply.answer["verdict"] == "info"
    assert reply.answer["lang"] == lang
    assert requests_of(sender, running_bot.cfg.database_url) == []
    after = running_bot.ask(ONSITE[lang], sender)  # the form is closed
    assert after.answer["verdict"] == "paid"


@pytest.mark.parametrize("lang", LANGS)
def test_malformed_email_is_asked_again(running_bot, lang):
    sender = uuid.uuid4().hex
    running_bot.ask(START[lang], sender)
    running_bot.ask("Kari Nordmann", sender)
    reply = running_bot.ask("kari at example dot no", sender)
    assert "@" in reply.text  # the expected form of an address, in this language
    nxt = running_bot.ask("kari@example.no", sender)  # now accepted: asks the company
    assert "kari@example.no" not in nxt.text


@pytest.mark.parametrize("lang", LANGS)
def test_doubled_confirmation_files_once(running_bot, lang):
    sender = uuid.uuid4().hex
    filled_up_to_summary(running_bot, sender, lang)
    running_bot.ask(YES[lang], sender)
    running_bot.ask(YES[lang], sender)
    assert len(requests_of(sender, running_bot.cfg.database_url)) == 1


@pytest.mark.parametrize("sender", ["me", "test-conversation", "aaaaaaaa11111111"])
def test_a_guessable_conversation_id_takes_no_request(running_bot, sender):
    # REST takes any id; whoever sends "me" next continues "me": no personal data there
    reply = running_bot.ask(START["en"], sender)
    assert "can't take a request in this conversation" in reply.text
    assert reply.answer["verdict"] == "info"
    running_bot.ask("Kari Nordmann", sender)  # no form asked for it: not taken as a name
    tracker = running_bot.get(f"/conversations/{sender}/tracker")
    assert not (tracker.get("active_loop") or {}).get("name")
    assert all(tracker["slots"][f"sr_{f}"] is None for f in service_requests.FIELDS)
    assert running_bot.ask(YES["en"], sender)  # nothing to send
    assert requests_of(sender, running_bot.cfg.database_url) == []


def test_a_paid_answer_offers_the_request(running_bot):
    reply = running_bot.ask(ONSITE["en"])
    payloads = [b["payload"] for b in reply.buttons]
    assert '/request_service{"sr_service": "professional_services"}' in payloads
    sender = uuid.uuid4().hex
    running_bot.ask(INCIDENT["en"], sender)  # offers the button (only offered ones run)
    asked = running_bot.ask('/request_service{"sr_service": "incident_response"}', sender)
    assert "Kaspersky Incident Response" in asked.text  # pre-filled: asks the name


def test_a_service_not_offered_in_a_country_says_what_is(running_bot):
    sender = uuid.uuid4().hex
    running_bot.ask(INCIDENT["en"], sender)  # offers the button (only offered ones run)
    running_bot.ask('/request_service{"sr_service": "incident_response"}', sender)
    running_bot.ask("Jon Jónsson", sender)
    running_bot.ask("jon@example.is", sender)
    running_bot.ask("private", sender)
    reply = running_bot.ask("Iceland", sender)
    assert "not offered" in reply.text
    assert "Kaspersky Professional Services" in [b["title"] for b in reply.buttons]


def test_nothing_is_lost_when_the_action_server_restarts_mid_form(running_bot):
    sender = uuid.uuid4().hex
    running_bot.ask(START["nb"], sender)
    running_bot.ask("Kari Nordmann", sender)
    running_bot.ask("kari@example.no", sender)
    running_bot.servers.restart_actions()
    running_bot.servers.wait_ready()
    running_bot.ask("Fjordvik Regnskap AS", sender)  # the form goes on where it was
    running_bot.ask(COUNTRY["nb"], sender)
    running_bot.ask(SKIP["nb"], sender)
    summary = running_bot.ask(DESCRIPTION["nb"], sender)
    assert "Ka•• No••••••" in summary.text and "ka•••@ex•••••.no" in summary.text
    running_bot.ask(YES["nb"], sender)
    (stored,) = requests_of(sender, running_bot.cfg.database_url)
    assert (stored.name, stored.email, stored.company) == (
        "Kari Nordmann",
        "kari@example.no",
        "Fjordvik Regnskap AS",
    )
