"""Both kinds of form walked with typed answers only, through the running bot,
in en, nb and sv (issue 12, items 3 and 5): a question asked mid-form is
answered and the step asked again; buttons' titles and everyday words typed do
what the buttons do; "skip" never cancels; cancelling asks first when answers
were given, and "no" loses nothing."""

from __future__ import annotations

import pytest

from bot import service_requests
from bot.contract import LANGS
from bot.messages import say
from tests.conversation.questions import DISINFECTION, INCIDENT, ONSITE
from tests.servers import new_sender

START = {
    "en": "We'd like to buy a remote session with one of your specialists",
    "nb": "Vi vil gjerne bestille en fjernøkt med en av spesialistene deres",
    "sv": "Vi vill beställa en fjärrsession med en av era specialister",
}
COUNTRY = {"en": "Norway", "nb": "Norge", "sv": "Sverige"}
COUNTRY_CODE = {"en": "NO", "nb": "NO", "sv": "SE"}
SKIP_KEY = {"en": "skip", "nb": "hopp over", "sv": "hoppa över"}  # never cancels
NO_KEY_TITLE = {"en": "No key", "nb": "Ingen nøkkel", "sv": "Ingen nyckel"}
SEND = {"en": "Send it", "nb": "send den", "sv": "Skicka"}
CANCEL = {"en": "cancel", "nb": "avbryt", "sv": "avbryt"}
NO = {"en": "no", "nb": "nei", "sv": "nej"}
YES = {"en": "yes", "nb": "ja", "sv": "ja"}
DESCRIPTION = {
    "en": "We need help setting up KES on 40 laptops.",
    "nb": "Vi trenger hjelp til å sette opp KES på 40 bærbare.",
    "sv": "Vi behöver hjälp att installera KES på 40 bärbara datorer.",
}
END_OF_LIFE = {
    "en": "Is Kaspersky Internet Security 19 still supported?",
    "nb": "Er Kaspersky Internet Security 19 fortsatt støttet?",
    "sv": "Stöds Kaspersky Internet Security 19 fortfarande?",
}


def requests_of(sender: str, url: str) -> list:
    return [r for r in service_requests.list_requests(url=url) if r.conversation_id == sender]


def asks(reply, key: str, lang: str, **values) -> bool:
    """Whether the reply ends with the step's own question."""
    return reply.messages[-1].get("text") == say(key, lang, **values)


def answered(reply) -> dict:
    """The scope answer in a reply (its contract payload, one per reply)."""
    answer = reply.answer
    assert answer["rule_ids"], reply.messages
    return answer


@pytest.mark.parametrize("lang", LANGS)
def test_request_typed_only_with_a_question_midway(running_bot, lang):
    sender = new_sender()
    service = "Kaspersky Professional Services"
    assert asks(running_bot.ask(START[lang], sender), "ask_sr_name", lang, service=service)
    running_bot.ask("Kari Nordmann", sender)
    # a question at the e-mail step: answered, then the e-mail asked again
    reply = running_bot.ask(DISINFECTION[lang], sender)
    assert answered(reply)["lang"] == lang
    assert asks(reply, "ask_sr_email", lang)
    running_bot.ask("kari@example.no", sender)
    running_bot.ask("Fjordvik Regnskap AS", sender)
    assert asks(running_bot.ask(COUNTRY[lang], sender), "ask_sr_licence_key", lang)
    # "skip" at the key step skips the key (it used to cancel the request)
    assert asks(running_bot.ask(SKIP_KEY[lang], sender), "ask_sr_description", lang)
    summary = running_bot.ask(DESCRIPTION[lang], sender)
    assert f": {COUNTRY[lang]}\n" in summary.text  # the country's name, in this language
    # a question at the summary: answered, then the summary again
    reply = running_bot.ask(ONSITE[lang], sender)
    assert answered(reply)["verdict"] == "paid"
    assert reply.messages[-1]["text"] == summary.text
    # the send button's title, typed
    filed = running_bot.ask(SEND[lang], sender)
    payload = [m["custom"]["service_request"] for m in filed.messages if "custom" in m][0]
    (stored,) = requests_of(sender, running_bot.cfg.database_url)
    assert stored.reference == payload["reference"]
    assert (stored.name, stored.email, stored.company, stored.country) == (
        "Kari Nordmann",
        "kari@example.no",
        "Fjordvik Regnskap AS",
        COUNTRY_CODE[lang],
    )
    assert stored.licence_key is None
    assert stored.description == DESCRIPTION[lang]


@pytest.mark.parametrize("lang", LANGS)
def test_typed_titles_private_and_no_key_and_a_service_named_in_the_language(running_bot, lang):
    sender = new_sender()
    service_words = {
        "en": "We want to buy incident response",
        "nb": "Vi vil kjøpe hendelsesrespons",
        "sv": "Vi vill köpa incidenthantering",
    }
    running_bot.ask(INCIDENT[lang], sender)  # offers the request button
    running_bot.ask("/request_service", sender, lang=lang)  # no service: asks which
    running_bot.ask(service_words[lang], sender)  # the service named in this language
    running_bot.ask("Ola Nordmann", sender)
    running_bot.ask("ola@example.com", sender)
    running_bot.ask(say("button_private", lang), sender)  # "Private" typed
    reply = running_bot.ask(END_OF_LIFE[lang], sender)  # another lookup, at the country step
    assert reply.answer["lookup"]["status"] == "end_of_life"
    assert asks(reply, "ask_sr_country", lang)
    running_bot.ask(COUNTRY[lang], sender)
    reply = running_bot.ask(NO_KEY_TITLE[lang], sender)  # was refused as a malformed key
    assert asks(reply, "ask_sr_description", lang)
    summary = running_bot.ask(DESCRIPTION[lang], sender)
    assert "Kaspersky Incident Response" in summary.text
    running_bot.ask(YES[lang], sender)
    (stored,) = requests_of(sender, running_bot.cfg.database_url)
    assert (stored.service, stored.company, stored.licence_key) == ("incident_response", None, None)


@pytest.mark.parametrize("lang", LANGS)
def test_cancel_asks_first_and_no_loses_nothing(running_bot, lang):
    sender = new_sender()
    running_bot.ask(START[lang], sender)
    running_bot.ask("Kari Nordmann", sender)
    running_bot.ask("kari@example.no", sender)
    asked = running_bot.ask(CANCEL[lang], sender)  # at the company step
    assert asked.text == say("sr_cancel_confirm", lang)
    assert [b["payload"] for b in asked.buttons] == ["/stop", "/deny"]
    assert asks(running_bot.ask(NO[lang], sender), "ask_sr_company", lang)  # the same step
    running_bot.ask("Fjordvik Regnskap AS", sender)
    running_bot.ask(COUNTRY[lang], sender)
    running_bot.ask(SKIP_KEY[lang], sender)
    summary = running_bot.ask(DESCRIPTION[lang], sender)
    assert "Ka•• No••••••" in summary.text and "ka•••@ex•••••.no" in summary.text  # kept
    assert running_bot.ask(CANCEL[lang], sender).text == say("sr_cancel_confirm", lang)
    cancelled = running_bot.ask(YES[lang], sender)
    assert cancelled.text == say("sr_cancelled", lang)
    assert cancelled.answer == {"rule_ids": [], "verdict": "info", "lang": lang}
    assert requests_of(sender, running_bot.cfg.database_url) == []
    tracker = running_bot.get(f"/conversations/{sender}/tracker")
    assert not (tracker.get("active_loop") or {}).get("name")  # the form is closed
    assert running_bot.ask(ONSITE[lang], sender).answer["verdict"] == "paid"


@pytest.mark.parametrize("lang", LANGS)
def test_cancel_with_nothing_given_and_skip_at_a_needed_step(running_bot, lang):
    sender = new_sender()
    running_bot.ask(START[lang], sender)
    needed = running_bot.ask(SKIP_KEY[lang], sender)  # "skip" at the name: needed, not cancel
    assert needed.messages[0]["text"] == say("form_needed", lang)
    assert asks(needed, "ask_sr_name", lang, service="Kaspersky Professional Services")
    cancelled = running_bot.ask(CANCEL[lang], sender)  # nothing given yet: no question
    assert cancelled.text == say("sr_cancelled", lang)


ASK_VERSION = {
    "en": "Is my version still supported?",
    "nb": "Er versjonen min fortsatt støttet?",
    "sv": "Stöds min version fortfarande?",
}
CHECK_LICENCE = {
    "en": "Can you check whether my licence is valid?",
    "nb": "Kan du sjekke om lisensen min er gyldig?",
    "sv": "Kan du kontrollera om min licens är giltig?",
}


@pytest.mark.parametrize("lang", LANGS)
def test_version_lookup_with_a_question_at_each_step(running_bot, lang):
    sender = new_sender()
    first = running_bot.ask(ASK_VERSION[lang], sender)  # the rule, then the offer
    assert first.messages[-1]["text"].endswith(say("ask_product", lang))
    reply = running_bot.ask(YES[lang], sender)  # yes to the offer: the form starts
    assert asks(reply, "ask_product", lang)
    reply = running_bot.ask(ONSITE[lang], sender)  # a question at the product step
    assert answered(reply)["verdict"] == "paid"
    assert asks(reply, "ask_product", lang)
    reply = running_bot.ask("Kaspersky Endpoint Security for Windows", sender)
    assert "12.8" in [b["payload"] for b in reply.buttons]
    reply = running_bot.ask(DISINFECTION[lang], sender)  # and at the version step
    assert answered(reply)["lang"] == lang
    assert "12.8" in [b["payload"] for b in reply.buttons]  # the version asked again
    answer = running_bot.ask("12.8", sender).answer
    assert answer["lookup"]["version"] == "12.8" and answer["lang"] == lang


@pytest.mark.parametrize("lang", LANGS)
def test_licence_lookup_question_then_skip_the_key(running_bot, lang):
    sender = new_sender()
    running_bot.ask(CHECK_LICENCE[lang], sender)
    reply = running_bot.ask(ONSITE[lang], sender)  # a question at the key step
    assert answered(reply)["verdict"] == "paid"
    assert asks(reply, "ask_licence_key", lang)
    reply = running_bot.ask(SKIP_KEY[lang], sender)  # "skip": no key, not a typo, not stop
    assert reply.text == say("lookup_no_key", lang)
    assert [b["payload"] for b in reply.buttons] == ["/stop", "/scope_version_support"]
    tracker = running_bot.get(f"/conversations/{sender}/tracker")
    assert not (tracker.get("active_loop") or {}).get("name")
    # "Check without a key": the version lookup starts at once (offered, not suggested)
    reply = running_bot.ask("/scope_version_support", sender, lang=lang)
    assert asks(reply, "ask_product", lang) and len(reply.messages) == 1
