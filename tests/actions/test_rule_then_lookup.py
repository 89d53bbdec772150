"""The rule before the form (actions/rule_then_lookup.py), run as the action server
runs it: which questions get the rule first, which start a lookup at once."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker

from actions.clarify import Clarify
from actions.lookup import Stop
from actions.rule_then_lookup import RuleThenLookup
from actions.scope import AnswerScope
from actions.small_talk import SmallTalk
from bot import rulebase
from bot.contract import LANGS
from bot.messages import say

from .conftest import run, tracker

pytestmark = pytest.mark.usefixtures("bot_db")


def with_entities(t: Tracker, **entities: str) -> Tracker:
    """The record facts the pipeline found in the message."""
    t.latest_message["entities"] = [{"entity": k, "value": v} for k, v in entities.items()]
    return t


def followups(events: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in events if e.get("event") == "followup"]


@pytest.mark.parametrize("lang", LANGS)
def test_a_version_question_without_facts_gets_the_rule_and_the_offer(lang):
    ran = run(
        RuleThenLookup(), tracker("Are old versions supported?", "scope_version_support", lang=lang)
    )
    topic = rulebase.current().topics["version_support"]
    assert ran.answer == {"rule_ids": list(topic.clauses), "verdict": "conditional", "lang": lang}
    assert ran.messages[0]["text"].startswith(topic.leads[lang])
    offer = f"{say('lookup_offer_version', lang)} {say('ask_product', lang)}"
    assert ran.messages[-1]["text"] == offer
    assert followups(ran.events) == []  # no form
    assert ran.slot("lookup_offer") == "version"


@pytest.mark.parametrize(
    "entities", [{"product": "Kaspersky Plus"}, {"version": "11.2"}, {"licence_key": "X"}]
)
def test_a_version_question_with_facts_goes_to_the_lookup(entities):
    t = with_entities(tracker("Is KES 11.2 still supported?", "scope_version_support"), **entities)
    ran = run(RuleThenLookup(), t)
    assert ran.messages == []
    assert followups(ran.events) == ["version_form"]


def test_the_offered_button_starts_the_form_without_the_rule_again():
    ran = run(RuleThenLookup(), tracker("/check_licence", "check_licence"))
    assert ran.messages == [] and followups(ran.events) == ["licence_form"]
    offered = {"lookup_offer": "version"}  # "Check without a key" after the licence step
    button = tracker("/scope_version_support", "scope_version_support", slots=offered)
    ran = run(RuleThenLookup(), button)
    assert ran.messages == [] and followups(ran.events) == ["version_form"]


def test_a_suggestion_button_to_the_version_topic_gets_the_rule_first():
    ran = run(RuleThenLookup(), tracker("/scope_version_support", "scope_version_support"))
    assert ran.answer["rule_ids"] == ["rules:4.3.2", "kb101732:1.2"]
    assert followups(ran.events) == []  # the lookup is offered, not started


@pytest.mark.parametrize("lang", LANGS)
def test_my_licence_without_a_key_gets_the_rule_then_the_form(lang):
    ran = run(RuleThenLookup(), tracker("Is my licence valid?", "check_licence", lang=lang))
    assert ran.answer["rule_ids"] == ["rules:4.5a", "rules:4.5b", "rules:2.4"]
    assert len(ran.messages) == 1  # the rule; the form then asks for the key, once
    assert "/check_licence" not in [b["payload"] for b in ran.buttons]
    assert followups(ran.events) == ["licence_form"]


def test_a_key_goes_to_the_licence_lookup_at_once():
    for intent in ("check_licence", "scope_licence"):
        t = with_entities(tracker("is ZRM6N-TL7VJ-Q26X8-ZEB76 valid", intent), licence_key="K")
        ran = run(RuleThenLookup(), t)
        assert ran.messages == [] and followups(ran.events) == ["licence_form"]


@pytest.mark.parametrize("lang", LANGS)
def test_the_licence_rule_is_a_scope_answer_with_the_check_button(lang):
    ran = run(RuleThenLookup(), tracker("Trenger jeg gyldig lisens?", "scope_licence", lang=lang))
    assert ran.answer["verdict"] == "conditional"
    assert "/check_licence" in [b["payload"] for b in ran.buttons]
    assert followups(ran.events) == []


OFFERED = {"lookup_offer": "version"}


def test_after_the_offer_a_product_or_a_yes_runs_the_lookup():
    t = with_entities(tracker("we use KES", "scope_software_bugs", slots=OFFERED), product="KES")
    assert followups(run(AnswerScope(), t).events) == ["version_form"]
    assert followups(run(SmallTalk(), tracker("yes", "affirm", slots=OFFERED)).events) == [
        "version_form"
    ]
    # a misspelt name nobody understood is the answer to "which product?"
    ran = run(Clarify(), tracker("Kaspersky Totl Securty", "nlu_fallback", slots=OFFERED))
    assert followups(ran.events) == ["version_form"]
    assert ran.slot("product") == "Kaspersky Totl Securty"


def test_after_the_offer_anything_else_is_answered_and_the_offer_ends():
    ran = run(SmallTalk(), tracker("thanks", "thanks", slots=OFFERED))
    assert ran.text == say("thanks", "en")
    assert ran.slot("lookup_offer") is None
    ran = run(
        AnswerScope(), tracker("Can you disinfect my PC?", "scope_disinfection", slots=OFFERED)
    )
    assert followups(ran.events) == [] and ran.slot("lookup_offer") is None
    # without an offer, a product in a question is just part of the question
    t = with_entities(tracker("KES crashes", "scope_software_bugs"), product="KES")
    assert followups(run(AnswerScope(), t).events) == []


def test_stop_withdraws_a_standing_offer_so_a_later_yes_starts_nothing():
    offered = {"lookup_offer": "version"}  # "Check without a key", then "Stop"
    stopped = run(Stop(), tracker("/stop", "stop", slots=offered))
    assert {"event": "slot", "name": "lookup_offer", "value": None} in [
        {k: e.get(k) for k in ("event", "name", "value")} for e in stopped.events
    ]
    # with the offer gone, the version button gets the rule first again
    ran = run(RuleThenLookup(), tracker("/scope_version_support", "scope_version_support"))
    assert ran.answer["rule_ids"][0] == "rules:4.3.2" and followups(ran.events) == []
