"""Support-scope questions through the running Rasa server and action server."""

from __future__ import annotations

import shutil
import uuid

import pytest
import yaml

from bot import rulebase
from bot.answers import clause_line
from bot.messages import say
from bot.settings import PROJECT_DIR
from tests.conversation.questions import DISINFECTION, ONSITE
from tests.servers import Reply


def rules_now():
    return rulebase.current()


@pytest.mark.parametrize("lang", ["en", "nb", "sv"])
def test_disinfection_answered_in_the_users_language_with_every_part(running_bot, lang):
    reply = running_bot.ask(DISINFECTION[lang])
    topic = rules_now().topics["disinfection"]
    assert reply.answer == {
        "rule_ids": ["rules:4.2.3", "kb101732:2.2", "rules:4.1.2c"],
        "verdict": "excluded",
        "lang": lang,
    }
    assert reply.text.startswith(topic.leads[lang])
    for cid in topic.clauses:  # a short line per clause: verdict and short citation
        clause = rules_now().clauses[cid]
        assert f"• {clause_line(clause, lang)}" in reply.text.split("\n")
        assert clause.text(lang).rstrip(" ;") not in reply.text
    assert reply.buttons == []  # no clause sells cleaning a PC: nothing to request

    # An agent asks for the whole wording (`bot ask --full` sends detail=full).
    body = {
        "sender": uuid.uuid4().hex,
        "message": DISINFECTION[lang],
        "metadata": {"detail": "full"},
    }
    full = Reply(running_bot.post("/webhooks/rest/webhook", body))  # type: ignore[arg-type]
    assert full.answer == reply.answer
    for cid in topic.clauses:  # the wording of each clause, in this language
        assert rules_now().clauses[cid].text(lang).rstrip(" ;") in full.text
    assert "4.2.3" in full.text and "2022" in full.text  # a readable citation


@pytest.mark.parametrize("lang", ["en", "nb", "sv"])
def test_paid_topic_names_the_service_and_how_to_get_it(running_bot, lang):
    reply = running_bot.ask(ONSITE[lang])
    assert reply.answer["verdict"] == "paid"
    assert reply.answer["rule_ids"][0] == "rules:4.2.5"
    assert "Kaspersky Professional Services" in reply.text


def test_out_of_scope_is_not_answered_from_a_clause(running_bot):
    reply = running_bot.ask("What's the weather like in Oslo tomorrow?")
    assert reply.answer == {"rule_ids": [], "verdict": "fallback", "lang": "en"}


def test_gibberish_asks_to_rephrase(running_bot):
    reply = running_bot.ask("qwxz vbnm plok")
    assert reply.answer["verdict"] == "fallback"
    assert reply.answer["rule_ids"] == []
    # Either the likeliest topics as buttons (each a real topic) with the phrase
    # that offers them, or no buttons and a phrase that offers none (not
    # understood, or out of scope), in the reply's language.
    for button in reply.buttons:
        assert rules_now().topic_for_intent(button["payload"].lstrip("/")) is not None
    lang = reply.answer["lang"]
    if reply.buttons:
        assert reply.text == say("fallback", lang)
    else:
        assert reply.text in (say("fallback_no_options", lang), say("out_of_scope", lang))


def test_a_topic_button_answers_that_topic(running_bot):
    reply = running_bot.ask("/scope_licence", lang="sv")
    assert reply.answer["rule_ids"] == ["rules:4.5a", "rules:4.5b", "rules:2.4"]
    assert reply.answer["verdict"] == "conditional"
    assert reply.answer["lang"] == "sv"


def test_language_set_by_the_page_wins_over_detection(running_bot):
    reply = running_bot.ask(DISINFECTION["en"], lang="nb")
    assert reply.answer["lang"] == "nb"
    assert reply.text.startswith(rules_now().topics["disinfection"].leads["nb"])


def test_the_conversation_follows_a_change_of_language(running_bot):
    sender = uuid.uuid4().hex
    assert running_bot.ask(DISINFECTION["en"], sender).answer["lang"] == "en"
    assert running_bot.ask(ONSITE["sv"], sender).answer["lang"] == "sv"
    # too short to tell: stays Swedish
    assert running_bot.ask("ok tack", sender).answer["lang"] == "sv"


@pytest.mark.parametrize(
    ("text", "lang", "word"),
    [
        ("Hello there", "en", "Hello"),
        ("Hei, god morgen!", "nb", "Hei"),
        ("Hej, god morgon!", "sv", "Hej"),
    ],
)
def test_greeting_in_each_language(running_bot, text, lang, word):
    reply = running_bot.ask(text)
    assert reply.answer == {"rule_ids": [], "verdict": "info", "lang": lang}
    assert reply.text.startswith(word)


def test_a_corrected_sentence_is_live_without_retraining(running_bot, tmp_path):
    """Edit a lead in a copy of the rule base, load it: the server answers with it."""
    url = running_bot.cfg.database_url
    copy = tmp_path / "rulebase"
    shutil.copytree(PROJECT_DIR / "content" / "rulebase", copy)
    topics_file = copy / "topics.yml"
    data = yaml.safe_load(topics_file.read_text(encoding="utf-8"))
    for topic in data["topics"]:
        if topic["id"] == "disinfection":
            topic["lead"]["en"] = "Corrected: specialists do not disinfect computers."
    topics_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    try:
        rulebase.load(url, directory=copy)
        assert running_bot.ask(DISINFECTION["en"]).text.startswith("Corrected: specialists")
    finally:
        rulebase.load(url)
    assert running_bot.ask(DISINFECTION["en"]).text.startswith(
        rules_now().topics["disinfection"].leads["en"]
    )


def test_a_conversation_survives_a_restart(running_bot):
    sender = uuid.uuid4().hex
    running_bot.ask(ONSITE["nb"], sender)
    running_bot.servers.stop()
    running_bot.servers.start()
    running_bot.servers.wait_ready()
    tracker = running_bot.get(f"/conversations/{sender}/tracker")
    said = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
    assert ONSITE["nb"] in said
    assert tracker["slots"]["language"] == "nb"
    # a short reply after the restart is still answered in Norwegian
    assert running_bot.ask("ja", sender).answer["lang"] == "nb"


OVERVIEW = {
    "en": "What does standard support include?",
    "nb": "Hva er inkludert i standard støtte?",
    "sv": "Vad ingår i standardsupporten?",
}


@pytest.mark.parametrize("lang", ["en", "nb", "sv"])
def test_what_standard_support_includes_gets_the_overview(running_bot, lang):
    reply = running_bot.ask(OVERVIEW[lang])
    assert reply.answer["verdict"] == "info"
    assert reply.answer["rule_ids"][0] == "rules:4.1.1"
    assert reply.answer["lang"] == lang
    assert reply.text.startswith(rules_now().topics["standard_support"].leads[lang])
