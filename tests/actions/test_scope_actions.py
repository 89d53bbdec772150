"""Scope answers, small talk and clarification, run as the action server runs them."""

from __future__ import annotations

import pytest

from actions.clarify import Clarify
from actions.conversation import reply_language
from actions.scope import AnswerScope
from actions.small_talk import SmallTalk
from bot import rulebase
from bot.messages import say

from .conftest import run, tracker

pytestmark = pytest.mark.usefixtures("bot_db")


@pytest.mark.parametrize(
    ("text", "lang", "intent"),
    [
        ("Can you disinfect my PC?", "en", "scope_disinfection"),
        ("Kan dere fjerne virus fra PC-en min?", "nb", "scope_disinfection"),
        ("Kan ni ta bort virus från min dator?", "sv", "scope_disinfection"),
    ],
)
def test_a_topic_is_answered_from_the_rule_base_in_the_users_language(text, lang, intent):
    rules = rulebase.current()
    topic = rules.topic_for_intent(intent)
    assert topic is not None

    ran = run(AnswerScope(), tracker(text, intent, lang=lang))

    answer = ran.answer
    assert answer["lang"] == lang
    assert answer["verdict"] == topic.verdict
    assert answer["rule_ids"][: len(topic.clauses)] == list(topic.clauses)
    assert topic.leads[lang].split()[0] in ran.text
    assert ran.slot("language") == lang


def test_an_intent_without_a_topic_falls_back_instead_of_failing():
    ran = run(AnswerScope(), tracker("Hello?", "scope_no_such_topic"))
    assert ran.answer == {"rule_ids": [], "verdict": "fallback", "lang": "en"}


def test_without_a_rule_base_the_user_is_told(monkeypatch, tmp_path):
    monkeypatch.setenv("BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    ran = run(AnswerScope(), tracker("Can you disinfect my PC?", "scope_disinfection"))
    assert [m["text"] for m in ran.messages] == [say("rulebase_unavailable", "en")]
    assert ran.messages[0]["custom"] == {}
    assert ran.events == []


def test_clarify_offers_the_likeliest_topics_and_skips_unlikely_ones():
    ranking = [
        ("nlu_fallback", 0.7),
        ("scope_disinfection", 0.18),  # below LEAD_CONFIDENCE: no guess
        ("scope_onsite_remote", 0.06),
        ("scope_phone_chat", 0.01),  # below MIN_OPTION_CONFIDENCE
    ]
    ran = run(Clarify(), tracker("hmm virus??", "nlu_fallback", ranking=ranking))
    payloads = [b["payload"] for b in ran.buttons]
    assert payloads[0] == "/scope_disinfection"
    assert "/scope_phone_chat" not in payloads
    assert "/nlu_fallback" not in payloads
    assert ran.answer["verdict"] == "fallback"


@pytest.mark.parametrize("lang", ["en", "nb", "sv"])
def test_clarify_answers_a_clearly_leading_topic_as_a_guess(lang):
    ranking = [
        ("nlu_fallback", 0.7),
        ("scope_disinfection", 0.28),
        ("scope_onsite_remote", 0.12),
        ("scope_phone_chat", 0.07),
    ]
    ran = run(Clarify(), tracker("hmm virus??", "nlu_fallback", ranking=ranking, lang=lang))
    topic = rulebase.current().topics["disinfection"]
    assert ran.text.startswith(say("fallback_lead", lang, title=topic.titles[lang]))
    assert topic.leads[lang] in ran.text
    assert ran.answer["rule_ids"] == list(topic.clauses)
    assert ran.answer["verdict"] == topic.verdict
    payloads = [b["payload"] for b in ran.buttons]
    assert "/scope_onsite_remote" in payloads and "/scope_phone_chat" in payloads
    assert "/scope_disinfection" not in payloads  # it is the answer, not an option


def test_clarify_does_not_guess_when_two_topics_are_close():
    ranking = [("nlu_fallback", 0.7), ("scope_disinfection", 0.28), ("scope_onsite_remote", 0.22)]
    ran = run(Clarify(), tracker("hmm virus??", "nlu_fallback", ranking=ranking))
    assert ran.answer["verdict"] == "fallback"


@pytest.mark.parametrize(("intent", "lang"), [("greet", "nb"), ("thanks", "sv"), ("weird", "en")])
def test_small_talk_replies_in_the_language_and_unknown_intents_are_out_of_scope(intent, lang):
    ran = run(SmallTalk(), tracker("Hei / Tack / ???", intent, lang=lang))
    assert ran.answer["lang"] == lang
    assert ran.answer["rule_ids"] == []
    assert ran.text


def test_the_page_language_wins_over_detection():
    t = tracker("Can you disinfect my PC?", "scope_disinfection", lang="en", explicit="sv")
    assert reply_language(t) == "sv"


def test_a_name_typed_into_a_form_never_switches_the_language():
    t = tracker(
        "Kari Nordmann",
        "inform",
        lang="nb",
        slots={"language": "sv", "requested_slot": "sr_name"},
        active_loop="service_request_form",
    )
    assert reply_language(t) == "sv"


def test_button_payloads_take_the_language_from_the_message_metadata():
    t = tracker(
        "/scope_licence", "scope_licence", lang="en", decisive=False, metadata={"lang": "nb"}
    )
    assert reply_language(t) == "nb"
