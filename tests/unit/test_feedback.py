"""Feedback on answers (bot/feedback.py) on real databases (SQLite and PostgreSQL):
what is stored, and what is refused with nothing stored."""

from __future__ import annotations

import datetime as dt

import pytest

from bot import feedback, rulebase

GOOD = {
    "sender": "conv-1",
    "rating": "down",
    "question": "Kan dere optimalisere PC-en min?",
    "answer": "Nei, det er ikke en del av standard støtte.\nSe punkt 4.2.3.",
    "rule_ids": ["rules:4.2.3", "kb101732:2.1"],
    "verdict": "paid",
    "lang": "nb",
    "comment": "Svaret var uklart",
}


@pytest.fixture
def url(database_url) -> str:
    rulebase.load(database_url)
    return database_url


def test_stores_every_field(url):
    before = dt.datetime.now(dt.timezone.utc)
    new_id = feedback.record(**GOOD, url=url)
    (entry,) = feedback.list_feedback(url=url)
    assert entry.id == new_id
    assert entry.sender == "conv-1"
    assert entry.rating == "down"
    assert entry.question == GOOD["question"]
    assert entry.answer == GOOD["answer"]  # the newline stays
    assert entry.rule_ids == ("rules:4.2.3", "kb101732:2.1")
    assert entry.verdict == "paid"
    assert entry.lang == "nb"
    assert entry.comment == "Svaret var uklart"
    assert before - dt.timedelta(seconds=5) <= entry.created_at
    assert entry.created_at <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)
    assert feedback.to_json(entry)["rule_ids"] == ["rules:4.2.3", "kb101732:2.1"]


def test_optional_fields_and_filter_by_rating(url):
    first = feedback.record(
        sender="c2", rating="up", question="hi", answer="Hello!", rule_ids=[], lang="en", url=url
    )
    second = feedback.record(**GOOD, url=url)
    assert [e.id for e in feedback.list_feedback(url=url)] == [first, second]
    (up,) = feedback.list_feedback(rating="up", url=url)
    assert up.id == first and up.comment is None and up.verdict is None and up.rule_ids == ()
    assert [e.id for e in feedback.list_feedback(rating="down", url=url)] == [second]


def test_control_characters_are_stripped(url):
    feedback.record(
        **{**GOOD, "comment": "  bad\x00 \x1b[31mred\x07  ", "question": "why\x08?\r\nreally"},
        url=url,
    )
    (entry,) = feedback.list_feedback(url=url)
    assert entry.comment == "bad [31mred"
    assert entry.question == "why?\nreally"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rating": "meh"}, "rating"),
        ({"rating": None}, "rating"),
        ({"lang": "de"}, "lang"),
        ({"verdict": "maybe"}, "verdict"),
        ({"question": "x" * 2001}, "question is too long"),
        ({"answer": "x" * 8001}, "answer is too long"),
        ({"comment": "x" * 1001}, "comment is too long"),
        ({"answer": "   "}, "answer is required"),
        ({"sender": ""}, "sender is required"),
        ({"sender": 42}, "sender must be a string"),
        ({"rule_ids": ["rules:99.9"]}, "unknown clause ids"),
        ({"rule_ids": "rules:4.2.3"}, "rule_ids must be a list"),
        ({"rule_ids": [1, 2]}, "rule_ids must be a list"),
    ],
)
def test_bad_feedback_is_refused_and_nothing_stored(url, change, message):
    with pytest.raises(feedback.FeedbackInvalid, match=message):
        feedback.record(**{**GOOD, **change}, url=url)
    assert feedback.list_feedback(url=url) == []


def test_limits_are_inclusive(url):
    feedback.record(
        **{**GOOD, "question": "q" * 2000, "answer": "a" * 8000, "comment": "c" * 1000}, url=url
    )
    (entry,) = feedback.list_feedback(url=url)
    assert (len(entry.question), len(entry.answer), len(entry.comment)) == (2000, 8000, 1000)


def test_list_refuses_a_bad_rating(url):
    with pytest.raises(feedback.FeedbackInvalid):
        feedback.list_feedback(rating="sideways", url=url)


def test_personal_data_in_feedback_is_stored_masked(database_url):
    feedback.record(
        sender="s1",
        rating="down",
        question="My key ZRM6N-TL7VJ-Q26X8-ZEB76 fails, mail kari.nordmann@example.no",
        answer="Call +47 912 34 567",
        comment="kari.nordmann@example.no",
        url=database_url,
    )
    (entry,) = feedback.list_feedback(url=database_url)
    stored = " ".join([entry.question, entry.answer, entry.comment or ""])
    for secret in ("ZRM6N-TL7VJ-Q26X8", "kari.nordmann@example.no", "912 34 567"):
        assert secret not in stored
    assert "ZEB76" in entry.question  # the key's last group, as everywhere


def test_the_turns_of_a_conversation_and_the_one_feedback_is_about():
    events = [
        {"event": "user", "text": "Can you remove a virus, and are you open on Saturdays?"},
        {"event": "bot", "text": "No, disinfection is excluded."},
        {
            "event": "bot",
            "data": {"custom": {"answer": {"rule_ids": ["a"], "verdict": "excluded"}}},
        },
        {"event": "bot", "text": "Support is open on weekdays."},
        {
            "event": "bot",
            "data": {
                "custom": {
                    "answer": {"rule_ids": ["b"], "verdict": "excluded", "segment": "open on Sat?"}
                }
            },
        },
        {"event": "user", "text": "thanks"},
        {"event": "bot", "text": "You're welcome."},  # no payload: nothing to rate
    ]
    first, second = feedback.answered_turns(events)
    assert first.question.startswith("Can you remove") and first.answer.startswith("No,")
    assert (second.question, second.answer) == ("open on Sat?", "Support is open on weekdays.")
    assert feedback.matching_turn([first, second], ["b"], None) == second
    assert feedback.matching_turn([first, second], ["a"], "excluded") == first
    for rule_ids, verdict in ((["a"], "paid"), (["c"], None), ("a", None)):
        with pytest.raises(feedback.FeedbackInvalid, match="no such answer"):
            feedback.matching_turn([first, second], rule_ids, verdict)
