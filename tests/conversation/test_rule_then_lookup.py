"""The rule before the form, scope before the sale (issue 12), through the
running Rasa and action servers, in en, nb and sv.

- A version or licence question without the facts is answered with its rule,
  cited; then the lookup is offered (a version: "tell me the product and
  version" with the form's first question, no form; the user's own licence:
  the licence form asks for the key). With the facts, the lookup runs at once
  (tests/conversation/test_lookups.py).
- A request for something paid is answered with the clause that sells it and
  one button; the button, or an explicit order, starts the request form.
"""

from __future__ import annotations

import pytest

from bot import answers, messages, rulebase
from bot.contract import LANGS
from tests.servers import new_sender

VALID_KEY = "ZRM6N-TL7VJ-Q26X8-ZEB76"  # content/records/: KES for Linux 12.2, valid

VERSION_RULE = {
    "en": "Are old versions supported?",
    "nb": "Får gamle versjoner fortsatt støtte?",
    "sv": "Får gamla versioner fortfarande support?",
}
THANKS = {"en": "thanks", "nb": "takk", "sv": "tack"}
YES = {"en": "yes please", "nb": "ja takk", "sv": "ja tack"}
MY_LICENCE = {
    "en": "Could you check my licence for me?",
    "nb": "Kan du se på lisensen min for meg?",
    "sv": "Kan du titta på min licens åt mig?",
}
LICENCE_RULE = {
    "en": "Is a valid licence required to get help?",
    "nb": "Trenger jeg gyldig lisens?",
    "sv": "Måste man ha en giltig licens för att få hjälp?",
}
PAID_ASK = {  # (question, the service whose clause sells it)
    "en": ("We'd like an engineer to connect to our server", "professional_services"),
    "nb": ("Kan dere undersøke hvordan angriperne kom inn i nettverket vårt?", "incident_response"),
    "sv": ("Kan en av era tekniker ansluta till vår server åt oss?", "professional_services"),
}
ORDER = {
    "en": "I want to order Incident Response",
    "nb": "Vi vil kjøpe premiumstøtte",
    "sv": "Vi vill beställa Incident Response",
}


def active_loop(bot, sender: str) -> str | None:
    tracker = bot.get(f"/conversations/{sender}/tracker")
    return (tracker.get("active_loop") or {}).get("name")


def rules(bot) -> rulebase.RuleBase:
    return rulebase.current(bot.cfg.database_url)


# ------------------------------------------------------------ the rule first


@pytest.mark.parametrize("lang", LANGS)
def test_a_version_question_without_facts_gets_the_rule_then_the_offer(running_bot, lang):
    sender = new_sender()
    reply = running_bot.ask(VERSION_RULE[lang], sender)
    topic = rules(running_bot).topics["version_support"]
    assert reply.answer == {
        "rule_ids": ["rules:4.3.2", "kb101732:1.2"],
        "verdict": "conditional",
        "lang": lang,
    }
    first, *_, last = [m["text"] for m in reply.messages if "text" in m]
    assert first.startswith(topic.leads[lang])  # the rule, from the rule base, cited
    assert answers.short_citation(rules(running_bot).clauses["rules:4.3.2"], lang) in first
    offer = f"{messages.say('lookup_offer_version', lang)} {messages.say('ask_product', lang)}"
    assert last == offer  # then the offer, with the form's first question
    assert active_loop(running_bot, sender) is None  # a scope answer, not a form
    after = running_bot.ask(THANKS[lang], sender)  # something else: answered as such
    assert after.text == messages.say("thanks", lang)


@pytest.mark.parametrize("lang", LANGS)
def test_a_suggestion_button_to_a_lookup_topic_gives_the_rule_first(running_bot, lang):
    # "Is my version still supported?" offered among a fallback's suggestions: its
    # button sends the intent's payload, with the page's language
    sender = new_sender()
    reply = running_bot.ask("/scope_version_support", sender, lang=lang)
    assert reply.answer == {
        "rule_ids": ["rules:4.3.2", "kb101732:1.2"],
        "verdict": "conditional",
        "lang": lang,
    }
    offer = f"{messages.say('lookup_offer_version', lang)} {messages.say('ask_product', lang)}"
    assert [m["text"] for m in reply.messages if "text" in m][-1] == offer  # asked once
    assert active_loop(running_bot, sender) is None  # the rule, not the bare form


@pytest.mark.parametrize("lang", LANGS)
def test_naming_the_product_after_the_offer_runs_the_lookup(running_bot, lang):
    sender = new_sender()
    running_bot.ask(VERSION_RULE[lang], sender)
    answer = running_bot.ask("Kaspersky Plus 21.19", sender, lang=lang).answer
    assert answer["lookup"]["product"] == "Kaspersky Plus"
    assert answer["lookup"]["status"] == "supported"
    assert answer["lang"] == lang


@pytest.mark.parametrize("lang", LANGS)
def test_yes_to_the_offer_starts_the_form(running_bot, lang):
    sender = new_sender()
    running_bot.ask(VERSION_RULE[lang], sender)
    reply = running_bot.ask(YES[lang], sender, lang=lang)
    assert reply.text == messages.say("ask_product", lang)
    assert active_loop(running_bot, sender) == "version_form"


@pytest.mark.parametrize("lang", LANGS)
def test_my_licence_without_a_key_gets_the_rule_then_the_key_question(running_bot, lang):
    sender = new_sender()
    reply = running_bot.ask(MY_LICENCE[lang], sender)
    assert reply.answer == {
        "rule_ids": ["rules:4.5a", "rules:4.5b", "rules:2.4"],
        "verdict": "conditional",
        "lang": lang,
    }
    texts = [m["text"] for m in reply.messages if "text" in m]
    assert texts[0].startswith(rules(running_bot).topics["licence"].leads[lang])
    # the rule, then the key question once: no offer before it saying the same
    ask = messages.say("ask_licence_key", lang)
    assert texts[-1] == ask and texts[-2].startswith("• ")  # the rule's clause lines
    assert texts.count(ask) == 1
    assert "/check_licence" not in [b["payload"] for b in reply.buttons]  # the form asks
    assert active_loop(running_bot, sender) == "licence_form"
    answer = running_bot.ask(VALID_KEY, sender).answer
    assert answer["lookup"]["licence"] == "valid"
    assert answer["lang"] == lang


@pytest.mark.parametrize("lang", LANGS)
def test_the_licence_rule_is_a_scope_answer_and_the_button_starts_the_lookup(running_bot, lang):
    sender = new_sender()
    reply = running_bot.ask(LICENCE_RULE[lang], sender)
    assert reply.answer["rule_ids"] == ["rules:4.5a", "rules:4.5b", "rules:2.4"]
    assert reply.answer["lang"] == lang
    assert "/check_licence" in [b["payload"] for b in reply.buttons]
    assert active_loop(running_bot, sender) is None  # no form
    asked = running_bot.ask("/check_licence", sender, lang=lang)
    assert asked.text == messages.say("ask_licence_key", lang)  # the rule is not repeated
    assert active_loop(running_bot, sender) == "licence_form"


# ------------------------------------------------------ scope before the sale


@pytest.mark.parametrize("lang", LANGS)
def test_a_paid_request_gets_the_scope_answer_and_one_button(running_bot, lang):
    question, service_id = PAID_ASK[lang]
    rb = rules(running_bot)
    service = rb.services[service_id]
    sender = new_sender()
    reply = running_bot.ask(question, sender)
    answer = reply.answer
    assert answer["lang"] == lang
    assert answer["verdict"] in ("paid", "excluded")  # not in standard support
    sellers = [cid for cid in answer["rule_ids"] if cid in service.sold_by]
    assert sellers, answer  # the clause that sells it is cited ...
    offer = messages.say(
        "paid_offer_item",
        lang,
        refs=answers.short_citation(rb.clauses[sellers[0]], lang),
        service=service.names[lang],
    )
    assert offer in reply.text  # ... and named with the service
    assert reply.buttons == [answers.request_button(service, lang)]  # one button
    assert active_loop(running_bot, sender) is None  # no form yet
    asked = running_bot.ask(reply.buttons[0]["payload"], sender, lang=lang)
    assert asked.text == messages.say("ask_sr_name", lang, service=service.names[lang])
    assert active_loop(running_bot, sender) == "service_request_form"
    running_bot.ask("/stop", sender, lang=lang)


@pytest.mark.parametrize("lang", LANGS)
def test_an_explicit_order_starts_the_form_at_once(running_bot, lang):
    sender = new_sender()
    reply = running_bot.ask(ORDER[lang], sender)
    assert not [m for m in reply.messages if "answer" in m.get("custom", {})]  # no scope answer
    tracker = running_bot.get(f"/conversations/{sender}/tracker")
    assert (tracker.get("active_loop") or {}).get("name") == "service_request_form"
    asked = tracker["slots"]["requested_slot"]
    assert asked in ("sr_service", "sr_name")  # the service, unless the message named it
    running_bot.ask("/stop", sender, lang=lang)
