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

    reply = answers.topic_answer(rb, topic, lang, full=True)

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
    texts = {
        lang: answers.topic_answer(rb, rb.topics["disinfection"], lang, full=True).text
        for lang in LANGS
    }
    assert len(set(texts.values())) == 3
    assert rb.clauses["rules:4.2.3"].original in texts["nb"]
    assert rb.clauses["rules:4.2.3"].original not in texts["en"]


SHORT = {
    "en": [
        "Not in standard support — Support rules §4.2.3",
        "Not in standard support — Article 101732 §2.2",
    ],
    "nb": [
        "Ikke en del av standard støtte — Støtteregler §4.2.3",
        "Ikke en del av standard støtte — Artikkel 101732 §2.2",
    ],
    "sv": [
        "Ingår inte i standardsupporten — Supportregler §4.2.3",
        "Ingår inte i standardsupporten — Artikel 101732 §2.2",
    ],
}


@pytest.mark.parametrize("lang", LANGS)
def test_a_customer_gets_one_short_line_per_clause(rb, lang):
    topic = rb.topics["disinfection"]
    short = answers.topic_answer(rb, topic, lang)
    full = answers.topic_answer(rb, topic, lang, full=True)
    lines = short.text.split("\n")
    assert lines[0] == topic.leads[lang]
    for expected in SHORT[lang]:
        assert f"• {expected}" in lines
    for cid in topic.clauses:  # the wording is one tap away, not in the text
        assert rb.clauses[cid].texts[lang].rstrip(" ;") not in short.text
    assert len(short.text) < len(full.text) / 2
    assert short.payload() == full.payload()  # the contract payload is unchanged
    assert short.buttons == full.buttons


@pytest.mark.parametrize("lang", LANGS)
def test_a_paid_topic_names_the_paid_service(rb, lang):
    topic = rb.topics["onsite_remote"]
    reply = answers.topic_answer(rb, topic, lang)
    assert "Kaspersky Professional Services" in reply.text
    item = answers.messages.say(
        "paid_offer_item",
        lang,
        refs=answers.short_citation(rb.clauses["rules:4.2.5"], lang),
        service="Kaspersky Professional Services",
    )
    assert reply.text.endswith(answers.messages.say("paid_offer", lang, offers=item))
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


# ---------------------------------------------------------------- no overreach

# services.yml `sold_by`, written out: the clauses whose original wording sells
# each service ("kan kjøpes som tilleggstjeneste i Kaspersky ...", rules:5 naming
# professional services and premium support, 4.3.2 "fornyelse av støtte kan kjøpes").
SOLD_BY = {
    "professional_services": {"rules:4.2.5", "rules:4.2.10", "rules:4.2.12", "rules:5"},
    "premium_support": {"rules:5"},
    "incident_response": {"rules:4.2.14"},
    "support_renewal": {"rules:4.3.2"},
}


def _offered(rb: rulebase.RuleBase, reply: answers.Reply) -> set[str]:
    """The services a reply offers: the one its request button names, or, when
    one button stands for several (the form then asks which), those named in
    its paid offer."""
    offered: set[str] = set()
    for b in reply.buttons:
        if b["payload"].startswith("/request_service{"):
            offered.add(b["payload"].split('"sr_service": "')[1].split('"')[0])
        elif b["payload"] == "/request_service":
            offered |= {s.id for s in answers.paid_services(rb, reply.rule_ids)}
    return offered


def _request_buttons(reply: answers.Reply) -> list[dict[str, str]]:
    return [b for b in reply.buttons if b["payload"].startswith("/request_service")]


@pytest.mark.parametrize("lang", LANGS)
def test_a_paid_answer_offers_the_request_form_with_one_button(rb, lang):
    """Scope before the sale: the verdict and the clause that sells, then one button."""
    onsite = answers.topic_answer(rb, rb.topics["onsite_remote"], lang)
    assert onsite.buttons == (answers.request_button(rb.services["professional_services"], lang),)
    assert "rules:4.2.5" in onsite.rule_ids
    assert answers.short_citation(rb.clauses["rules:4.2.5"], lang) in onsite.text
    # several services sold (rules:5): still one button, and the form asks which
    overview = answers.topic_answer(rb, rb.topics["paid_services"], lang)
    assert _request_buttons(overview) == [
        {
            "title": answers.messages.say("button_request_paid_service", lang),
            "payload": "/request_service",
        }
    ]
    for topic in rb.topics.values():
        assert len(_request_buttons(answers.topic_answer(rb, topic, lang))) <= 1, topic.id


def test_services_are_sold_by_the_clauses_that_say_so(rb):
    assert {sid: set(s.sold_by) for sid, s in rb.services.items()} == SOLD_BY


@pytest.mark.parametrize("lang", LANGS)
def test_no_answer_offers_a_service_that_no_cited_clause_sells(rb, lang):
    offers = 0
    for topic in rb.topics.values():
        reply = answers.topic_answer(rb, topic, lang)
        for service in _offered(rb, reply):
            assert SOLD_BY[service] & set(reply.rule_ids), (topic.id, service)
            assert rb.services[service].names[lang] in reply.text
            offers += 1
        if not _offered(rb, reply):
            assert answers.messages.say("paid_offer", lang, offers="").strip() not in reply.text
    assert offers >= 6  # the paid topics still offer what the documents sell


@pytest.mark.parametrize("lang", LANGS)
def test_after_hours_support_is_not_sold_as_professional_services(rb, lang):
    reply = answers.topic_answer(rb, rb.topics["after_hours"], lang)
    assert _offered(rb, reply) == set()
    assert "Professional Services" not in reply.text


@pytest.mark.parametrize("lang", LANGS)
def test_a_health_check_cites_the_clause_that_sells_configuration_checks(rb, lang):
    reply = answers.topic_answer(rb, rb.topics["health_check"], lang)
    assert "rules:4.2.10" in reply.rule_ids
    assert _offered(rb, reply) == {"professional_services"}
    assert "rules:4.2.10" in rb.clauses["kb101732:2.11"].see_also
    assert "kb101732:2.11" in rb.clauses["rules:4.2.10"].see_also


def test_disinfection_offers_nothing_to_buy(rb):
    """No clause sells cleaning a PC (4.2.3, kb101732:2.2); Incident Response sells
    investigating the causes of an incident (4.2.14), a topic of its own."""
    for lang in LANGS:
        reply = answers.topic_answer(rb, rb.topics["disinfection"], lang)
        assert reply.rule_ids == ("rules:4.2.3", "kb101732:2.2", "rules:4.1.2c")
        assert _offered(rb, reply) == set()
        assert _request_buttons(reply) == []
        assert rb.services["incident_response"].names[lang] not in reply.text
        assert answers.messages.say("paid_offer", lang, offers="").strip() not in reply.text
    assert "rules:4.2.14" in rb.topics["incident_investigation"].clauses


@pytest.mark.parametrize("lang", LANGS)
def test_training_names_online_courses_and_paid_demonstrations(rb, lang):
    reply = answers.topic_answer(rb, rb.topics["training"], lang)
    assert {"rules:4.2.12", "rules:2.1"} <= set(reply.rule_ids)
    assert "Kaspersky Online Courses" in reply.text
    assert _offered(rb, reply) == {"professional_services"}


@pytest.mark.parametrize("lang", LANGS)
def test_the_overview_names_what_is_included_and_the_paid_routes(rb, lang):
    reply = answers.topic_answer(rb, rb.topics["standard_support"], lang)
    included = [cid for cid, c in rb.clauses.items() if cid.startswith("rules:4.1.")]
    assert list(reply.rule_ids[: len(included)]) == included
    assert all(rb.clauses[cid].verdict == "included" for cid in included)
    # the exclusions its lead lists, cited (disinfection by specialists, on-site and
    # remote sessions, third-party programs, configuration by specialists, training)
    excluded = ["rules:4.2.3", "rules:4.2.5", "rules:4.2.7", "rules:4.2.10", "rules:4.2.11"]
    assert list(reply.rule_ids[len(included) :]) == [*excluded, "rules:5"]
    assert all(rb.clauses[cid].verdict in ("excluded", "paid") for cid in excluded)
    assert reply.verdict == "info"
    assert _offered(rb, reply) == {"professional_services", "premium_support"}
