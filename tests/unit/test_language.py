"""Which language a message is in, and which language to answer in."""

from __future__ import annotations

import pytest

from bot import language
from bot.contract import LANGS
from bot.language import choose, detect

SENTENCES = {
    "en": [
        "Can you remove a virus from my laptop?",
        "Is my version still supported?",
        "Will someone come to our office to install it?",
        "Do I need a valid licence to get help?",
        "How fast do you answer support requests?",
        "Can you help me configure the firewall on our network?",
        "My computer is very slow after installing the antivirus",
    ],
    "nb": [
        "Kan dere fjerne viruset fra PC-en min?",
        "Er versjonen min fortsatt støttet?",
        "Kan noen komme til kontoret vårt og installere det?",
        "Trenger jeg gyldig lisens for å få hjelp?",
        "Hvor raskt svarer dere på henvendelser?",
        "Jeg har mistet lisensnøkkelen min, hva gjør jeg nå?",
        "Maskinen min er veldig treg etter at jeg installerte antivirus",
    ],
    "sv": [
        "Kan ni ta bort viruset från min dator?",
        "Stöds min version fortfarande?",
        "Kan någon komma till vårt kontor och installera det?",
        "Behöver jag en giltig licens för att få hjälp?",
        "Hur snabbt svarar ni på ärenden?",
        "Jag har tappat bort min licensnyckel, vad gör jag nu?",
        "Min dator är väldigt långsam efter att jag installerade antivirus",
    ],
}
CASES = [(lang, text) for lang, texts in SENTENCES.items() for text in texts]


@pytest.mark.parametrize(("lang", "text"), CASES, ids=[t for _, t in CASES])
def test_detects_short_sentences(lang, text):
    detection = detect(text)
    assert detection.lang == lang, detection
    assert detection.decisive, detection
    assert set(detection.scores) == set(LANGS)


@pytest.mark.parametrize("text", ["ok", "ja", "hej", "nei", "Ja!"])
def test_very_short_messages_are_not_decisive(text):
    assert not detect(text).decisive


def test_no_letters_means_the_default():
    detection = detect("123 ?!")
    assert (detection.lang, detection.letters, detection.decisive) == ("en", 0, False)


@pytest.mark.parametrize(
    ("explicit", "expected"),
    [
        ("nb-NO", "nb"),
        ("no", "nb"),
        ("sv_SE", "sv"),
        ("SV", "sv"),
        ("en-GB", "en"),
        ("Norsk", "nb"),
    ],
)
def test_an_explicit_choice_wins(explicit, expected):
    english = detect("Can you remove a virus from my laptop?")
    assert choose(explicit, english, "en" if expected != "en" else "sv") == expected


@pytest.mark.parametrize("unsupported", ["de", "fr-FR", "", None, 42])
def test_an_unsupported_explicit_choice_falls_through(unsupported):
    swedish = detect("Kan ni ta bort viruset från min dator?")
    assert choose(unsupported, swedish, "nb") == "sv"
    assert choose(unsupported, detect("ok"), "nb") == "nb"


@pytest.mark.parametrize("previous", ["en", "nb", "sv"])
@pytest.mark.parametrize("text", ["ok", "ja", "hej"])
def test_a_short_ambiguous_message_keeps_the_language(text, previous):
    assert choose(None, detect(text), previous) == previous


@pytest.mark.parametrize(
    ("text", "previous", "expected"),
    [
        ("Kan dere fjerne viruset fra PC-en min?", "en", "nb"),
        ("Kan ni ta bort viruset från min dator?", "nb", "sv"),
        ("Can you remove a virus from my laptop?", "sv", "en"),
    ],
)
def test_a_decisive_message_switches_the_language(text, previous, expected):
    assert choose(None, detect(text), previous) == expected


def test_without_a_previous_language_detection_decides():
    assert choose(None, detect("Stöds min version fortfarande?"), None) == "sv"
    assert choose(None, detect("hej"), None) == detect("hej").lang
    assert choose(None, None, None) == "en"
    assert choose(None, None, "nb-NO") == "nb"


@pytest.mark.parametrize(
    "text", ["Kaspersky Internet Security 19", "Windows Server 2019", "ransomware"]
)
@pytest.mark.parametrize("previous", ["en", "nb", "sv"])
def test_a_product_name_alone_keeps_the_language(text, previous):
    """Long enough to count, but no language wins clearly (a typical reply to
    "which version do you have?")."""
    detection = detect(text)
    assert detection.letters >= language.MIN_LETTERS
    assert not detection.decisive, detection
    assert choose(None, detection, previous) == previous
