"""bot.form_input: what a message typed at a form step means (issue 12, items 3
and 5): a question answered first, a button's title typed, "skip", send, and
stop (asked first once something was given). Words from content/lexicon/."""

from __future__ import annotations

import pytest

from bot import form_input as fi
from bot import lexicon

SURE = fi.QUESTION_THRESHOLD + 0.05
UNSURE = fi.QUESTION_THRESHOLD - 0.05

COMPANY_BUTTONS = ({"title": "Privat", "payload": "-"},)
KEY_BUTTONS = ({"title": "Ingen nøkkel", "payload": "-"},)
SUMMARY_BUTTONS = {
    "en": ({"title": "Send it", "payload": "/affirm"}, {"title": "Stop", "payload": "/stop"}),
    "nb": ({"title": "Send", "payload": "/affirm"}, {"title": "Avbryt", "payload": "/stop"}),
    "sv": ({"title": "Skicka", "payload": "/affirm"}, {"title": "Avbryt", "payload": "/stop"}),
}


def move(step, text, intent=None, confidence=0.0, **kw) -> fi.Decision:
    return fi.decide(step, text, intent, confidence, **kw)


# Item 3: a question at a step that expects a short value is answered first.
@pytest.mark.parametrize(
    "step", ["product", "version", "licence_key", "sr_name", "sr_company", "sr_confirmed"]
)
def test_a_confident_scope_question_is_answered_at_a_short_step(step):
    d = move(step, "Can someone come to our office?", "scope_onsite_remote", SURE)
    assert d.move == fi.QUESTION


def test_another_lookup_counts_as_a_question_and_is_answered_with_its_rule():
    assert move("sr_email", "is my licence valid", "check_licence", SURE).move == fi.QUESTION
    assert fi.topic_intent("check_licence") == "scope_licence"
    assert fi.topic_intent("scope_disinfection") == "scope_disinfection"


def test_below_the_threshold_the_text_is_the_answer():
    d = move("sr_company", "Acme Support AS", "scope_how_to_ask", UNSURE)
    assert d == fi.Decision(fi.ANSWER, "Acme Support AS")


def test_the_description_takes_whatever_is_typed():
    text = "Can you come on site and set up KES on 40 laptops?"
    d = move("sr_description", text, "scope_onsite_remote", 0.99)
    assert d == fi.Decision(fi.ANSWER, text)


def test_a_valid_value_wins_over_a_reading_as_a_question():
    d = move("sr_country", "Norge", "scope_supported_products", 0.99, value_shaped=True)
    assert d == fi.Decision(fi.ANSWER, "Norge")


@pytest.mark.parametrize("intent", ["affirm", "greet", "out_of_scope", "request_service", None])
def test_only_scope_and_lookup_intents_interrupt(intent):
    assert move("sr_name", "Kari Nordmann", intent, 0.99).move == fi.ANSWER


# Item 5: a button's title, typed, does what the button does.
@pytest.mark.parametrize("lang", ["en", "nb", "sv"])
def test_the_send_buttons_title_typed_sends(lang):
    title = SUMMARY_BUTTONS[lang][0]["title"]
    d = move("sr_confirmed", title, "out_of_scope", 0.7, buttons=SUMMARY_BUTTONS[lang])
    assert d.move == fi.SEND


@pytest.mark.parametrize(
    "text", ["Send it", "send it!", "Send", "send den", "Skicka", "skicka den", "ja", "Yes"]
)
def test_everyday_words_for_send_send_without_buttons(text):
    assert move("sr_confirmed", text, "chitchat", 0.9).move == fi.SEND


@pytest.mark.parametrize("text", ["Ingen nøkkel", "ingen nøkkel", "no key", "ingen nyckel"])
def test_no_key_typed_skips_the_key(text):
    d = move("sr_licence_key", text, "stop", 0.95, buttons=KEY_BUTTONS)
    assert d == fi.Decision(fi.SKIPPED, "-")


@pytest.mark.parametrize("text", ["hopp over", "Hoppa över", "skip", "Skip."])
def test_skip_never_cancels(text):
    for step in ("sr_company", "sr_licence_key", "licence_key"):
        assert move(step, text, "stop", 0.99).move == fi.SKIPPED
    for step in ("sr_name", "sr_email", "sr_country", "product", "version"):
        assert move(step, text, "stop", 0.99, answers_given=True).move == fi.NEEDED


def test_private_typed_is_the_private_button():
    assert move("sr_company", "privat", None, 0.0, buttons=COMPANY_BUTTONS).move == fi.SKIPPED
    assert move("sr_company", "Private", None, 0.0).move == fi.SKIPPED


def test_a_value_button_typed_gives_its_payload():
    buttons = ({"title": "Kaspersky Incident Response", "payload": "incident_response"},)
    text = "kaspersky incident response"
    d = move("sr_service", text, "scope_disinfection", 0.9, buttons=buttons)
    assert d == fi.Decision(fi.ANSWER, "incident_response")


# Cancelling: asked first when something was given; nothing lost on "no".
def test_stop_with_nothing_given_cancels_at_once():
    d = move("sr_name", "avbryt", "stop", 0.9, answers_given=False, confirm_cancel=True)
    assert d.move == fi.CANCEL


def test_stop_with_answers_given_asks_first():
    d = move("sr_email", "avbryt", "stop", 0.9, answers_given=True, confirm_cancel=True)
    assert d.move == fi.ASK_CANCEL


def test_lookup_forms_stop_as_before():
    d = move("version", "stop", "stop", 0.9, answers_given=True, confirm_cancel=False)
    assert d.move == fi.CANCEL


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("ja", "affirm", fi.CANCEL),
        ("Yes, cancel", None, fi.CANCEL),
        ("avbryt", "stop", fi.CANCEL),
        ("nei", "deny", fi.RESUME),
        ("Nej, fortsätt", None, fi.RESUME),
        ("continue", "out_of_scope", fi.RESUME),
    ],
)
def test_the_answer_to_cancel_the_request(text, intent, expected):
    kw = {"answers_given": True, "confirm_cancel": True, "cancel_pending": True}
    assert move("sr_email", text, intent, 0.9, **kw).move == expected


def test_another_answer_while_cancel_is_asked_is_read_as_usual():
    kw = {"answers_given": True, "confirm_cancel": True, "cancel_pending": True}
    d = move("sr_email", "kari@example.no", "out_of_scope", 0.5, value_shaped=True, **kw)
    assert d == fi.Decision(fi.ANSWER, "kari@example.no")


def test_the_summarys_change_words_are_not_a_refused_skip():
    assert move("sr_confirmed", "nei", None, 0.0).move == fi.CHANGE
    assert move("sr_confirmed", "Endre noe", None, 0.0).move == fi.CHANGE


def test_typed_button_matches_whole_titles_only():
    buttons = ({"title": "Send it", "payload": "/affirm"},)
    assert fi.typed_button("  SEND IT! ", buttons) == "/affirm"
    assert fi.typed_button("send it to my boss", buttons) is None
    assert fi.typed_button("", buttons) is None


def test_the_word_lists_exist_in_every_language():
    for name in ("form_send_words", "form_change_words"):
        words = lexicon.get(name)
        assert all(words.words(lang) for lang in ("en", "nb", "sv")), name
    for name in ("form_cancel_yes_words", "form_cancel_no_words", "sr_skip_words"):
        assert all(lexicon.get(name).words(lang) for lang in ("en", "nb", "sv")), name


def test_a_lookup_asked_mid_form_is_looked_up_only_when_it_names_what_it_needs():
    key = "ZRM6N-TL7VJ-Q26X8-ZEB76"
    assert fi.lookup_in_question("scope_version_support", "Kaspersky Plus", "21.19", None)
    assert fi.lookup_in_question("scope_version_support", None, None, key)
    assert fi.lookup_in_question("check_licence", None, None, key)
    assert not fi.lookup_in_question("scope_version_support", "Kaspersky Plus", None, None)
    assert not fi.lookup_in_question("check_licence", "Kaspersky Plus", "21.19", None)
    assert not fi.lookup_in_question("scope_disinfection", "Kaspersky Plus", "21.19", key)


@pytest.mark.parametrize(
    "step, text, shaped",
    [
        ("sr_email", "ola@example.com", True),
        ("sr_email", "Can you disinfect my PC?", False),
        ("sr_country", "Norge", True),
        ("sr_country", "Sverige", True),
        ("sr_country", "Will someone come to our office?", False),
        ("sr_licence_key", "ZRM6N-TL7VJ-Q26X8-ZEB76", True),
        ("licence_key", "ABC-123", False),
        ("sr_name", "Kari Nordmann", False),  # no shape: only the threshold decides
        ("sr_company", "Acme AS", False),
        (None, "Norge", False),
    ],
)
def test_which_answers_have_the_shape_of_their_step(step, text, shaped):
    assert fi.value_shaped(step, text) is shaped
