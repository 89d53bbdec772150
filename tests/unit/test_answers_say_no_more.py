"""Answers that say no more than their clauses (issue 23, item 7): every paid
service an answer offers is sold by a clause it cites, and by one about what the
topic is about; what is "bought" is what a clause says can be bought; the no-
guarantee answers help "as best it can"; the findings of the independent read."""

from __future__ import annotations

import re

import pytest

from bot import answers, messages, rulebase

from .contract import LANGS

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def rb(module_database_url) -> rulebase.RuleBase:
    rulebase.load(module_database_url)
    return rulebase.current(module_database_url)


# Which paid services each topic's answer may offer (named in its text or behind
# a request button), and the cited clauses that sell each there: reviewed
# against the documents, so a topic offers only what its own subject is sold as.
# Every topic is listed, so a new topic is reviewed here before it can offer.
PS, PREMIUM, IR, RENEWAL = (
    "professional_services",
    "premium_support",
    "incident_response",
    "support_renewal",
)
TOPIC_OFFERS: dict[str, dict[str, set[str]]] = {
    "about_rules": {},
    "self_help": {},
    "support_hours": {},
    # kb101732:2.5 sells nothing; kb101732:3 names no service
    "after_hours": {},
    "how_to_ask": {},
    "licence": {},
    "supported_products": {},
    # rules:4: a promise to answer in a set time "kan bare tilbys som en del av
    # betalt tjeneste"; rules:5 names the paid services Kaspersky offers
    # ("profesjonelle tjenester og premiumstøtte") and says no more about which
    "response_time": {PS: {"rules:5"}, PREMIUM: {"rules:5"}},
    "software_bugs": {},
    "false_positive": {},
    "undetected_malware": {},
    # 4.2.3 / kb101732:2.2: cleaning a PC is sold by no clause; Incident Response
    # (4.2.14) sells investigating the causes of an incident, not cleaning
    "disinfection": {},
    "lost_licence": {},
    "download": {},
    "documentation": {},
    "online_accounts": {},
    "feature_request": {},
    "performance": {},
    "malware_description": {},
    # 4.2.5: "Støtte på stedet og eksterne støtteøkter (kan kjøpes ... Professional Services)"
    "onsite_remote": {PS: {"rules:4.2.5"}},
    "phone_chat": {},
    "third_party_software": {},
    "third_party_patches": {},
    "integration": {},
    # 4.2.10: "Konfigurering og kontroll av programvare ... (kan kjøpes ... Professional Services)"
    "configuration": {PS: {"rules:4.2.10"}},
    # 4.2.12: "Demonstrasjon ... av programvare (kan kjøpes ... Professional Services)"
    "training": {PS: {"rules:4.2.12"}},
    "deployment": {PS: {"rules:4.2.12"}},
    # 4.2.13 (an official opinion on a failure's causes) sells nothing
    "root_cause": {},
    # 4.2.14: "Analysering og undersøking av årsakene til hendelser ... (kan kjøpes ...
    # Kaspersky Incident Response)"
    "incident_investigation": {IR: {"rules:4.2.14"}},
    # kb101732:2.11 "hälsokontroll" is checking the program: 4.2.10 "kontroll av programvare"
    "health_check": {PS: {"rules:4.2.10"}},
    "system_requirements": {},
    # 4.3.2: "fornyelse av støtte kan kjøpes på forespørsel"
    "version_support": {RENEWAL: {"rules:4.3.2"}},
    "infected_install": {},
    "mixed_environment": {},
    "hardware_faults": {},
    "incompatible_platform": {},
    "missing_information": {},
    "instructions_ignored": {},
    # the overview's exclusions that are sold (4.2.5, 4.2.10), and rules:5
    "standard_support": {PS: {"rules:4.2.5", "rules:4.2.10", "rules:5"}, PREMIUM: {"rules:5"}},
    "paid_services": {PS: {"rules:5"}, PREMIUM: {"rules:5"}},
    "extra_tools": {},
    "feedback": {},
}


def _offered(rb: rulebase.RuleBase, reply: answers.Reply, lang: str) -> set[str]:
    """The services a reply offers: each one its text names (the lead, a clause's
    label, the paid offer) and each one a request button stands for; a button that
    names no service stands for the services the text names (the form asks which)."""
    named = {sid for sid, s in rb.services.items() if s.names[lang] in reply.text}
    offered = set(named)
    for b in reply.buttons:
        if b["payload"].startswith("/request_service{"):
            offered.add(b["payload"].split('"sr_service": "')[1].split('"')[0])
        elif b["payload"] == "/request_service":
            assert len(named) >= 2, (reply.rule_ids, b)  # one button for several, named
    return offered


def test_the_table_reviews_every_topic(rb):
    assert set(TOPIC_OFFERS) == set(rb.topics)
    for offers in TOPIC_OFFERS.values():
        assert set(offers) <= set(rb.services)


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("lang", LANGS)
def test_every_offer_is_sold_by_a_cited_clause_about_the_topic(rb, lang, full):
    for topic in rb.topics.values():
        reply = answers.topic_answer(rb, topic, lang, full=full)
        allowed = TOPIC_OFFERS[topic.id]
        offered = _offered(rb, reply, lang)
        assert offered == set(allowed), topic.id  # no more, and still what is sold
        for sid in offered:
            sellers = {cid for cid in reply.rule_ids if cid in rb.services[sid].sold_by}
            assert sellers, (topic.id, sid)  # sold by a clause the answer cites ...
            assert sellers == allowed[sid], (topic.id, sid)  # ... about this topic


# The words that sell: "kan kjøpes" in the Norwegian originals ("kan kjøpes som
# (en) tilleggstjeneste i Kaspersky ...", "fornyelse av støtte kan kjøpes"); the
# Swedish article sells nothing by name ("kan erbjudas som en separat betaltjänst").
BOUGHT = {"en": "can be bought", "nb": "kan kjøpes", "sv": "kan köpas"}


def _sells(clause: rulebase.Clause) -> bool:
    return "kan kjøpes" in clause.original


def _cited_in(rb: rulebase.RuleBase, sentence: str, lang: str) -> set[str]:
    """The clauses a sentence names by short citation ("Support rules §4.2.5")."""
    found = set()
    for cid, clause in rb.clauses.items():
        ref = re.escape(answers.short_citation(clause, lang))
        if re.search(ref + r"(?![0-9a-z]|\.[0-9])", sentence):
            found.add(cid)
    return found


def _sentences(text: str) -> list[str]:
    """The sentences of a reply, a clause line being one."""
    return [s for line in text.split("\n") for s in re.split(r"(?<=[.;:])\s+", line) if s.strip()]


@pytest.mark.parametrize("lang", LANGS)
def test_only_what_a_clause_says_can_be_bought_is_said_to_be_bought(rb, lang):
    bought = 0
    for topic in rb.topics.values():
        reply = answers.topic_answer(rb, topic, lang)
        for sentence in _sentences(reply.text):
            if BOUGHT[lang] not in sentence:
                continue
            bought += 1
            named = _cited_in(rb, sentence, lang)
            if named:  # the paid offer: each clause it names says "kan kjøpes"
                assert all(_sells(rb.clauses[cid]) for cid in named), (topic.id, sentence)
            else:  # a lead: the answer cites a clause that says so
                cited = [rb.clauses[cid] for cid in reply.rule_ids]
                assert any(_sells(c) for c in cited), (topic.id, sentence)
    assert bought >= 16  # the paid topics still say what can be bought


@pytest.mark.parametrize("lang", LANGS)
def test_rules_5_names_the_paid_services_once_and_sells_nothing(rb, lang):
    """rules:5 says some services "kan bli tilbudt som en del av betalte tjenester" and
    that Kaspersky offers professional services and premium support: the answers
    that cite it say just that, once, not that §5 "can be bought as" each of them."""
    ref5 = answers.short_citation(rb.clauses["rules:5"], lang)
    both = messages.join([rb.services[PS].names[lang], rb.services[PREMIUM].names[lang]], lang)
    general = messages.say("paid_offer_general", lang, refs=ref5, services=both)
    for topic_id in ("response_time", "paid_services"):
        reply = answers.topic_answer(rb, rb.topics[topic_id], lang)
        offer = reply.text.split("\n\n")[-1]
        assert offer == messages.say("paid_offer", lang, offers=general), topic_id
        assert BOUGHT[lang] not in offer, topic_id
    overview = answers.topic_answer(rb, rb.topics["standard_support"], lang)
    sold = messages.say(
        "paid_offer_items",
        lang,
        refs=messages.join(
            [answers.short_citation(rb.clauses[c], lang) for c in ("rules:4.2.5", "rules:4.2.10")],
            lang,
        ),
        service=rb.services[PS].names[lang],
    )
    offer = overview.text.split("\n\n")[-1]
    assert offer == messages.say("paid_offer", lang, offers=f"{sold} {general}")
    for topic in rb.topics.values():  # nowhere is §5 said to be bought as something
        for sentence in _sentences(answers.topic_answer(rb, topic, lang).text):
            if BOUGHT[lang] in sentence:
                assert "rules:5" not in _cited_in(rb, sentence, lang), (topic.id, sentence)


AS_BEST_IT_CAN = {"en": "as best it can", "nb": "så godt den kan", "sv": "så gott den kan"}


@pytest.mark.parametrize("lang", LANGS)
def test_no_guarantee_answers_help_as_best_it_can(rb, lang):
    """kb101732:4: "hjälper kunder efter bästa förmåga, men kan inte garantera ..." """
    topics = [t for t in rb.topics.values() if t.verdict == "no_guarantee"]
    assert len(topics) == 6
    for topic in topics:
        assert AS_BEST_IT_CAN[lang] in topic.leads[lang], topic.id
        assert any(cid.startswith("kb101732:4.") for cid in topic.clauses), topic.id


@pytest.mark.parametrize("lang", LANGS)
def test_how_to_ask_gives_the_business_licence_rule(rb, lang):
    """rules:2.4: a request to business support needs a valid licence in CompanyAccount."""
    topic = rb.topics["how_to_ask"]
    assert topic.clauses == ("rules:2.3", "rules:2.4", "rules:6")
    assert "Kaspersky CompanyAccount" in topic.leads[lang]


ROOT_CAUSE = {
    "en": "analysing the causes of a technical failure and obtaining an official opinion on them",
    "nb": "analyse av årsakene til en teknisk feil og innhenting av en offisiell mening om dem",
    "sv": "analys av orsakerna till ett tekniskt fel och inhämtande av ett officiellt utlåtande",
}


@pytest.mark.parametrize("lang", LANGS)
def test_root_cause_excludes_the_official_opinion_on_causes_not_analysis(rb, lang):
    """rules:4.2.13 excludes analysing a failure's causes with an official opinion;
    4.1.1 says support does handle requests about software errors."""
    topic = rb.topics["root_cause"]
    assert topic.clauses == ("rules:4.2.13", "rules:4.1.1")
    assert topic.verdict == "excluded"
    assert ROOT_CAUSE[lang] in topic.leads[lang]


PLATFORM = {"en": "platform software", "nb": "plattformprogramvare", "sv": "plattformsprogramvara"}


@pytest.mark.parametrize("lang", LANGS)
def test_incompatible_platform_is_about_platform_software(rb, lang):
    """rules:4.4.4 "inkompatible versjoner av plattformspesifikk programvare";
    kb101732:4.5's unsupported versions are those "som ännu inte har godkänts av
    Kaspersky för kompatibilitet": not Kaspersky's own unsupported versions."""
    topic = rb.topics["incompatible_platform"]
    assert PLATFORM[lang] in topic.leads[lang]
    assert PLATFORM[lang] in topic.titles[lang]
    assert "programversioner som inte stöds" not in topic.leads[lang]
