"""Replies composed from the rule base and the phrase catalogue."""

from __future__ import annotations

import pytest

from bot import answers, rulebase

from .contract import LANGS

DATES = {
    ("rules", "en"): "7 April 2022",
    ("rules", "nb"): "7. april 2022",
    ("rules", "sv"): "7 april 2022",
    ("kb101732", "en"): "4 April 2023",
    ("kb101732", "nb"): "4. april 2023",
    ("kb101732", "sv"): "4 april 2023",
}
SECTION_WORD = {"en": "section", "nb": "punkt", "sv": "punkt"}
ARTICLE = {
    "en": "article 101732, point",
    "nb": "artikkel 101732, punkt",
    "sv": "artikel 101732, punkt",
}


@pytest.fixture(scope="module")
def rb(module_database_url) -> rulebase.RuleBase:
    rulebase.load(module_database_url)
    return rulebase.current(module_database_url)


@pytest.mark.parametrize("lang", LANGS)
def test_topic_answer_leads_quotes_and_cites(rb, lang):
    topic = rb.topics["disinfection"]
    assert topic.clauses[:2] == ("rules:4.2.3", "kb101732:2.2")

    reply = answers.topic_answer(rb, topic, lang)

    assert reply.text.startswith(topic.leads[lang])
    for cid in topic.clauses:
        clause = rb.clauses[cid]
        assert clause.texts[lang].rstrip(" ;") in reply.text, cid
        prefix = clause.document.prefix
        if prefix == "rules":
            cited = f"{SECTION_WORD[lang]} {clause.section}, {DATES[prefix, lang]}"
        else:
            cited = f"{ARTICLE[lang]} {clause.section}, {DATES[prefix, lang]}"
        assert cited in reply.text, (cid, cited)
        assert answers.citation(clause, lang) in reply.text
    assert reply.lang == lang
    assert reply.verdict == "excluded"
    assert reply.payload() == {
        "answer": {"rule_ids": list(topic.clauses), "verdict": "excluded", "lang": lang}
    }


def test_answers_differ_by_language(rb):
    texts = {lang: answers.topic_answer(rb, rb.topics["disinfection"], lang).text for lang in LANGS}
    assert len(set(texts.values())) == 3
    assert rb.clauses["rules:4.2.3"].original in texts["nb"]
    assert rb.clauses["rules:4.2.3"].original not in texts["en"]


@pytest.mark.parametrize("lang", LANGS)
def test_a_paid_topic_names_the_paid_service(rb, lang):
    topic = rb.topics["onsite_remote"]
    reply = answers.topic_answer(rb, topic, lang)
    assert "Kaspersky Professional Services" in reply.text
    offer = answers.messages.say("paid_offer", lang, service="Kaspersky Professional Services")
    assert reply.text.endswith(offer)
    assert reply.payload()["answer"]["verdict"] == "paid"
    assert reply.payload()["answer"]["rule_ids"] == list(topic.clauses)


def test_an_unpaid_topic_offers_nothing_to_buy(rb):
    reply = answers.topic_answer(rb, rb.topics["software_bugs"], "en")
    assert "can be bought" not in reply.text
    assert reply.payload()["answer"] == {
        "rule_ids": ["rules:4.1.1"],
        "verdict": "included",
        "lang": "en",
    }


@pytest.mark.parametrize("lang", LANGS)
def test_fallback_offers_up_to_three_topics(rb, lang):
    ranking = [
        ("scope_disinfection", 0.41),
        ("greet", 0.2),
        ("scope_onsite_remote", 0.15),
        ("scope_licence", 0.1),
        ("scope_training", 0.05),
    ]
    reply = answers.fallback(rb, ranking, lang)
    assert [b["payload"] for b in reply.buttons] == [
        "/scope_disinfection",
        "/scope_onsite_remote",
        "/scope_licence",
    ]
    assert [b["title"] for b in reply.buttons] == [
        rb.topics[t].titles[lang] for t in ("disinfection", "onsite_remote", "licence")
    ]
    assert reply.verdict == "fallback"
    assert reply.payload() == {"answer": {"rule_ids": [], "verdict": "fallback", "lang": lang}}
    assert reply.text == answers.messages.say("fallback", lang)


def test_fallback_without_known_topics_has_no_buttons(rb):
    reply = answers.fallback(rb, [("greet", 0.9), ("nonsense", 0.1)], "nb")
    assert reply.buttons == ()
    assert reply.verdict == "fallback"
    assert reply.text == answers.messages.say("fallback_no_options", "nb")


def test_small_talk_verdicts():
    assert answers.small_talk("greet", "sv").payload()["answer"]["verdict"] == "info"
    out = answers.small_talk("out_of_scope", "en")
    assert out.payload() == {"answer": {"rule_ids": [], "verdict": "fallback", "lang": "en"}}
