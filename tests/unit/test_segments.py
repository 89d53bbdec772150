"""A message's parts and which of them are answered (bot.segments), and the letters
customers leave out (bot.text.fold_letters)."""

from __future__ import annotations

import pytest

from bot import segments
from bot.segments import Reading
from bot.text import fold_letters, sentence_key

pytestmark = pytest.mark.unit

PLAN = segments.Plan(
    answerable=frozenset({"scope_disinfection", "scope_after_hours", "request_service"}),
    last=frozenset({"request_service"}),
)


@pytest.mark.parametrize(
    ("text", "lang", "parts"),
    [
        (
            "Can you remove a virus from my PC, and are you open on Saturdays?",
            "en",
            ["Can you remove a virus from my PC", "are you open on Saturdays?"],
        ),
        (
            "Vi har KSC 10. Er den fortsatt stottet, og kan dere komme pa besok?",
            "nb",
            ["Vi har KSC 10.", "Er den fortsatt stottet", "kan dere komme pa besok?"],
        ),
        (
            "Kan ni ta bort viruset och också hjälpa till på helgen?",
            "sv",
            ["Kan ni ta bort viruset", "hjälpa till på helgen?"],
        ),
        ("first line here\nsecond line here", "en", ["first line here", "second line here"]),
        (
            "Version 11.2 is old. Is it supported?",
            "en",
            ["Version 11.2 is old.", "Is it supported?"],
        ),
        # "and" before a question word splits without a comma
        (
            "Where is the installer and is there a manual?",
            "en",
            ["Where is the installer", "is there a manual?"],
        ),
        (
            "vad ingar i supporten och var finns guiderna",
            "sv",
            ["vad ingar i supporten", "var finns guiderna"],
        ),
        # a part's leading "Og", "Også:" goes: the question is what follows
        (
            "Hva gjør Emotet? Og kan dere rense PC-en? Også: er Avast greit?",
            "nb",
            ["Hva gjør Emotet?", "kan dere rense PC-en?", "er Avast greit?"],
        ),
    ],
)
def test_a_message_splits_at_sentences_lines_and_clause_cues(text, lang, parts):
    assert segments.split(text, lang) == parts


@pytest.mark.parametrize(
    "text",
    [
        "virus removal included?",  # one part
        "Hi! Can you help?",  # "Hi!" is no question of its own
        "/scope_disinfection",  # a button's payload
        "install and configure KES for us",  # "and" without a comma joins, it does not split
        "x. " * 1_000,  # too long to split
    ],
)
def test_a_message_of_one_part_is_not_split(text):
    assert segments.split(text, "en") == []


def test_parts_are_bounded():
    text = " ".join(f"Question number {n}?" for n in range(10))
    assert len(segments.split(text, "en")) == segments.MAX_PARTS


def _decide(whole, parts, confident, threshold=0.6):
    return segments.decide(
        whole,
        parts,
        whole_confident=confident,
        threshold=threshold,
        answerable=PLAN.answerable,
        last=PLAN.last,
    )


def test_a_sure_part_answers_where_the_whole_falls_back():
    whole = Reading("long text", "scope_after_hours", 0.2)
    parts = [Reading("context", "out_of_scope", 0.9), Reading("q", "scope_disinfection", 0.8)]
    decision = _decide(whole, parts, confident=False)
    assert decision.intents == ["scope_disinfection"] and decision.changed
    assert decision.texts == {"scope_disinfection": "q"}


def test_an_unsure_part_leaves_the_fallback():
    whole = Reading("long text", "scope_after_hours", 0.2)
    decision = _decide(whole, [Reading("q", "scope_disinfection", 0.5)], confident=False)
    assert not decision.changed


def test_two_topics_are_answered_in_the_order_asked():
    whole = Reading("both", "scope_after_hours", 0.5)
    parts = [Reading("a", "scope_disinfection", 0.7), Reading("b", "scope_after_hours", 0.9)]
    decision = _decide(whole, parts, confident=True)
    assert decision.intents == ["scope_disinfection", "scope_after_hours"]


def test_a_form_starting_intent_is_answered_last():
    whole = Reading("both", "request_service", 0.6)
    parts = [Reading("a", "request_service", 0.9), Reading("b", "scope_disinfection", 0.8)]
    decision = _decide(whole, parts, confident=True)
    assert decision.intents == ["scope_disinfection", "request_service"]


def test_a_confident_whole_with_one_topic_stands():
    whole = Reading("w", "scope_disinfection", 0.9)
    parts = [Reading("a", "scope_disinfection", 0.95), Reading("b", "out_of_scope", 0.9)]
    decision = _decide(whole, parts, confident=True)
    assert decision.intents == ["scope_disinfection"] and not decision.changed


def test_the_decision_is_plain_json():
    whole = Reading("w", "scope_after_hours", 0.2)
    decision = _decide(whole, [Reading("q", "scope_disinfection", 0.8)], confident=False)
    assert decision.as_output() == {
        "parts": [{"text": "q", "intent": "scope_disinfection", "confidence": 0.8}],
        "answer": ["scope_disinfection"],
        "texts": {"scope_disinfection": "q"},
        "changed": True,
    }


def test_the_plan_comes_from_the_topics():
    plan = segments.plan()
    assert {"scope_disinfection", "check_licence", "request_service"} <= plan.answerable
    assert {"scope_version_support", "request_service"} <= plan.last
    assert "scope_disinfection" not in plan.last


@pytest.mark.parametrize(
    ("typed", "spelled"),
    [
        ("stotte pa lordag", "Støtte på lørdag"),
        ("stotte paa lordag", "støtte på lørdag"),
        ("behover jag", "Behöver jag"),
        ("naer", "nær"),
    ],
)
def test_letters_left_out_fold_to_the_same_form(typed, spelled):
    assert fold_letters(typed) == fold_letters(spelled)
    assert sentence_key(typed + "?") == sentence_key(spelled)


def test_oe_is_not_folded_noe_is_not_no():
    assert fold_letters("noe") != fold_letters("no")


def test_a_second_answer_needs_its_own_threshold_beside_a_sure_whole():
    parts = [Reading("a", "scope_disinfection", 0.65), Reading("b", "scope_after_hours", 0.85)]
    beside = segments.decide(
        Reading("both", "scope_after_hours", 0.5), parts, whole_confident=True,
        threshold=0.8, second=0.6, answerable=PLAN.answerable, last=PLAN.last,
    )  # fmt: skip
    assert beside.intents == ["scope_disinfection", "scope_after_hours"]  # as asked
    fell_back = segments.decide(
        Reading("both", "scope_after_hours", 0.2), parts, whole_confident=False,
        threshold=0.8, second=0.6, answerable=PLAN.answerable, last=PLAN.last,
    )  # fmt: skip
    assert fell_back.intents == ["scope_after_hours"]  # a weak part never leads a fallback


def test_a_part_agreeing_with_the_fallen_back_whole_undoes_the_fallback():
    whole = Reading("context first", "scope_disinfection", 0.25)
    decision = _decide(whole, [Reading("q", "scope_disinfection", 0.9)], confident=False)
    assert decision.intents == ["scope_disinfection"] and decision.changed


@pytest.mark.parametrize("intent", ["stop", "affirm", "out_of_scope"])
def test_a_sure_whole_that_is_no_topic_is_never_overridden(intent):
    whole = Reading("Stop. What are your hours?", intent, 0.95)
    decision = _decide(whole, [Reading("hours", "scope_after_hours", 0.9)], confident=True)
    assert decision.intents == [intent] and not decision.changed


@pytest.mark.parametrize(
    ("whole", "confident", "part", "needed"),
    [
        # the whole falls back: a part of some weight may answer
        (
            Reading("w", "scope_after_hours", 0.2),
            False,
            Reading("p", "scope_after_hours", 0.5),
            True,
        ),
        # below the floor: not even e5 lifts it to the bar (measured)
        (
            Reading("w", "scope_after_hours", 0.2),
            False,
            Reading("p", "scope_disinfection", 0.2),
            False,
        ),
        # a sure whole: a part naming another topic may add a second answer
        (
            Reading("w", "scope_after_hours", 0.9),
            True,
            Reading("p", "scope_disinfection", 0.5),
            True,
        ),
        # ... one naming the whole's own topic cannot
        (
            Reading("w", "scope_after_hours", 0.9),
            True,
            Reading("p", "scope_after_hours", 0.5),
            False,
        ),
        # a sure "stop" is never overridden: no part matters
        (Reading("w", "stop", 0.9), True, Reading("p", "scope_disinfection", 0.7), False),
    ],
)
def test_a_part_is_read_again_with_everything_only_where_it_can_change_the_answer(
    whole, confident, part, needed
):
    got = segments.needs_full_reading(whole, confident, part, floor=0.3, answerable=PLAN.answerable)
    assert got is needed
