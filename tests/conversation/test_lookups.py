"""Version and licence lookups against the sample records, through the running bot."""

from __future__ import annotations

import pytest

from bot import records
from bot.messages import say
from tests.servers import new_sender

# From content/records/: KIS 19 ended 2021-06-30 (home); KES for Windows 12.8 and
# Kaspersky Plus 21.19 have no end date; the KSC 13.2 licence expired 2024-09-30.
VALID_KEY = "ZRM6N-TL7VJ-Q26X8-ZEB76"  # KES for Linux 12.2, valid until 2028-03-31
EXPIRED_KEY = "DE6NB-WPM5K-T7JEE-U3UKS"  # KSC 13.2, expired 2024-09-30


@pytest.mark.parametrize(
    ("lang", "question"),
    [
        ("en", "Is Kaspersky Internet Security 19 still supported?"),
        ("nb", "Er Kaspersky Internet Security 19 fortsatt støttet?"),
        ("sv", "Stöds Kaspersky Internet Security 19 fortfarande?"),
    ],
)
def test_end_of_life_in_one_message(running_bot, lang, question):
    reply = running_bot.ask(question)
    assert reply.answer == {
        "rule_ids": ["rules:4.3.2", "kb101732:1.2"],
        "verdict": "not_supported",
        "lang": lang,
        "lookup": {
            "product": "Kaspersky Internet Security",
            "version": "19",
            "status": "end_of_life",
            "support_ends": "2021-06-30",
        },
    }
    assert "2021" in reply.text
    renewal = {"en": "Support renewal", "nb": "Fornyelse av støtte", "sv": "Förnyad support"}
    assert renewal[lang] in reply.text


ASK_VERSION = {
    "en": ("Is my version still supported?", "we use KES", "product", "version"),
    "nb": ("Er versjonen min fortsatt støttet?", "vi bruker KES", "produkt", "versjon"),
    "sv": ("Stöds min version fortfarande?", "vi använder KES", "produkt", "version"),
}


@pytest.mark.parametrize("lang", ["en", "nb", "sv"])
def test_asks_only_for_what_is_missing(running_bot, lang):
    question, product, product_word, version_word = ASK_VERSION[lang]
    sender = new_sender()
    first = running_bot.ask(question, sender)
    assert product_word in first.text.lower()
    second = running_bot.ask(product, sender)
    assert version_word in second.text.lower()
    assert "12.8" in [b["payload"] for b in second.buttons]  # the newest versions offered
    answer = running_bot.ask("12.8", sender).answer
    assert answer["lookup"] == {
        "product": "Kaspersky Endpoint Security for Windows",
        "version": "12.8",
        "status": "supported",
        "support_ends": None,
    }
    assert answer["verdict"] == "conditional"  # business: depends on a valid licence
    assert answer["rule_ids"] == ["rules:4.5b", "rules:2.4"]
    assert answer["lang"] == lang


@pytest.mark.parametrize(
    ("lang", "question"),
    [
        ("en", "Is Kaspersky Plus 21.19 still supported?"),
        ("nb", "Er Kaspersky Plus 21.19 fortsatt støttet?"),
        ("sv", "Stöds Kaspersky Plus 21.19?"),
    ],
)
def test_home_product_supported(running_bot, lang, question):
    answer = running_bot.ask(question).answer
    assert answer["verdict"] == "included"
    assert answer["rule_ids"] == ["rules:4.5a"]
    assert answer["lookup"]["status"] == "supported"
    assert answer["lang"] == lang


@pytest.mark.parametrize(
    ("lang", "question"),
    [
        ("en", "Is Kaspersky Security Center 9 still supported?"),
        ("nb", "Er Kaspersky Security Center 9 fortsatt støttet?"),
        ("sv", "Stöds Kaspersky Security Center 9 fortfarande?"),
    ],
)
def test_unknown_version_offers_the_nearest(running_bot, lang, question):
    sender = new_sender()
    reply = running_bot.ask(question, sender)
    assert "9" in reply.text
    offered = [b["payload"] for b in reply.buttons]
    assert offered and all(v in {"13.2", "14", "14.2", "15", "15.1"} for v in offered)
    answer = running_bot.ask(offered[0], sender).answer
    assert answer["lookup"]["product"] == "Kaspersky Security Center"
    assert answer["lookup"]["version"] == offered[0]
    assert answer["lang"] == lang


@pytest.mark.parametrize(
    ("lang", "question"),
    [
        ("en", "Is Kaspersky Security Center 9 still supported?"),
        ("nb", "Er Kaspersky Security Center 9 fortsatt støttet?"),
        ("sv", "Stöds Kaspersky Security Center 9 fortfarande?"),
    ],
)
def test_unknown_version_gets_the_rule_and_one_question(running_bot, lang, question):
    reply = running_bot.ask(question, new_sender())
    versions = [a for a in reply.answers if a.get("lookup", {}).get("status") == "unknown"]
    (unknown,) = versions  # the rule that applies to any version, with the lookup
    assert unknown["rule_ids"][0] == "rules:4.3.2" and unknown["lang"] == lang
    assert unknown["lookup"] == {
        "product": "Kaspersky Security Center",
        "version": "9",
        "status": "unknown",
    }
    assert say("how_to_find_version", lang) in reply.text
    # asked once: the form does not ask for the version again in the same turn
    again = say("ask_version", lang, product="Kaspersky Security Center", example="x")
    texts = [m["text"] for m in reply.messages if "text" in m]
    assert not any(text.startswith(again.split("?")[0]) for text in texts)


@pytest.mark.parametrize("lang", ["en", "nb", "sv"])
def test_unknown_product_offers_the_nearest(running_bot, lang):
    sender = new_sender()
    running_bot.ask(ASK_VERSION[lang][0], sender)
    reply = running_bot.ask("Kaspersky Totl Securty Plus Max", sender, lang=lang)
    assert "Kaspersky Total Security" in [b["payload"] for b in reply.buttons]
    assert "Kaspersky Totl Securty Plus Max" in reply.text


@pytest.mark.parametrize("lang", ["en", "nb", "sv"])
def test_valid_licence(running_bot, lang):
    sender = new_sender()
    ask = {
        "en": "Can you check whether my licence is valid?",
        "nb": "Kan du sjekke om lisensen min er gyldig?",
        "sv": "Kan du kontrollera om min licens är giltig?",
    }
    prompt = running_bot.ask(ask[lang], sender)
    assert "XXXXX-XXXXX-XXXXX-XXXXX" in prompt.text
    reply = running_bot.ask(VALID_KEY, sender)
    answer = reply.answer
    assert answer["lookup"]["licence"] == "valid"
    assert answer["lookup"]["product"] == "Kaspersky Endpoint Security for Linux"
    assert answer["verdict"] == "included"
    assert answer["lang"] == lang
    assert "ZEB76" in reply.text and VALID_KEY not in reply.text  # only the last group


CHECK_LICENCE = {
    "en": "is my licence key still valid?",
    "nb": "er lisensnøkkelen min fortsatt gyldig?",
    "sv": "är min licensnyckel fortfarande giltig?",
}
STOP = {"en": "stop, never mind", "nb": "avbryt, glem det", "sv": "avbryt, strunta i det"}


@pytest.mark.parametrize("lang", ["en", "nb", "sv"])
def test_expired_licence_of_an_end_of_life_version(running_bot, lang):
    sender = new_sender()
    running_bot.ask(CHECK_LICENCE[lang], sender)
    reply = running_bot.ask(EXPIRED_KEY.lower(), sender)
    assert reply.answer["lookup"]["licence"] == "expired"
    assert reply.answer["lookup"]["status"] == "end_of_life"
    assert reply.answer["lang"] == lang
    assert EXPIRED_KEY not in reply.text.upper() and "U3UKS" in reply.text


@pytest.mark.parametrize("lang", ["en", "nb", "sv"])
def test_three_malformed_keys_then_stop(running_bot, lang):
    sender = new_sender()
    running_bot.ask(CHECK_LICENCE[lang], sender)
    first = running_bot.ask("ABC-123", sender)
    assert "XXXXX-XXXXX-XXXXX-XXXXX" in first.text and first.buttons == []
    running_bot.ask("12345", sender)
    third = running_bot.ask("AAAA-BBBB", sender)
    assert [b["payload"] for b in third.buttons] == ["/stop", "/scope_version_support"]
    stopped = running_bot.ask("/stop", sender)
    assert stopped.answer["verdict"] == "info"
    assert stopped.answer["lang"] == lang


@pytest.mark.parametrize("lang", ["en", "nb", "sv"])
def test_stop_in_the_middle_then_ask_something_else(running_bot, lang):
    sender = new_sender()
    running_bot.ask(ASK_VERSION[lang][0], sender)
    stopped = running_bot.ask(STOP[lang], sender)
    assert stopped.answer["verdict"] == "info"
    assert stopped.answer["lang"] == lang
    tracker = running_bot.get(f"/conversations/{sender}/tracker")
    assert not (tracker.get("active_loop") or {}).get("name")  # the form is closed
    after = running_bot.ask("Will someone come to our office to help?", sender)
    assert after.answer["verdict"] == "paid"


def test_a_product_imported_after_training_is_recognised(running_bot, tmp_path):
    csv = tmp_path / "products.csv"
    csv.write_text(
        "product,version,segment,released,end_of_support\n"
        "Kaspersky Hyperion Shield,3.1,business,2026-01-15,2030-12-31\n",
        encoding="utf-8",
    )
    records.import_products(csv, running_bot.cfg.database_url)
    answer = running_bot.ask("Is Kaspersky Hyperion Shield 3.1 still supported?").answer
    assert answer["lookup"]["product"] == "Kaspersky Hyperion Shield"
    assert answer["lookup"]["status"] == "supported"
    assert answer["lookup"]["support_ends"] == "2030-12-31"
