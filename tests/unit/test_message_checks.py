"""bot/message_checks.py: what the REST channel accepts, without a server."""

from __future__ import annotations

import json

import pytest

from bot import message_checks
from bot.message_checks import Refused

KB = 64 * 1024


def parse(body: object, max_chars: int = 1000) -> message_checks.Message:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return message_checks.parse(raw, KB, max_chars)


def refused(body: object) -> tuple[int, str]:
    with pytest.raises(Refused) as caught:
        parse(body)
    return caught.value.status, str(caught.value)


def test_a_good_message():
    message = parse(
        {
            "sender": "web-1f2e",
            "message": "  Can you fix my PC?\x00 ",
            "metadata": {"lang": "nb-NO"},
        }
    )
    assert (message.sender, message.text, message.lang) == ("web-1f2e", "Can you fix my PC?", "nb")
    assert not message.too_long and not message.is_intent


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   ",
        b"[]",
        b'"text"',
        b"42",
        b"null",
        b"true",
        b"{not json",
        b"\xff\xfe{}",
        b'{"sender": "a"',
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_not_a_json_object(raw):
    with pytest.raises(Refused) as caught:
        message_checks.parse(raw, KB, 1000)
    assert caught.value.status == 400
    assert str(caught.value)


def test_too_large():
    with pytest.raises(Refused) as caught:
        message_checks.parse(b" " * (KB + 1), KB, 1000)
    assert caught.value.status == 413


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"message": "hi"}, "sender is required"),
        ({"sender": "", "message": "hi"}, "sender is required"),
        ({"sender": 42, "message": "hi"}, "sender must be"),
        ({"sender": "a" * 65, "message": "hi"}, "sender must be"),
        ({"sender": "a b", "message": "hi"}, "sender must be"),
        ({"sender": "a/../b", "message": "hi"}, "sender must be"),
        ({"sender": "å", "message": "hi"}, "sender must be"),
        ({"sender": "a\n", "message": "hi"}, "sender must be"),
        ({"sender": "a"}, "message is required"),
        ({"sender": "a", "message": 5}, "message must be a string"),
        ({"sender": "a", "message": ["hi"]}, "message must be a string"),
        ({"sender": "a", "message": " \x00\u202e "}, "message is empty"),
        ({"sender": "a", "message": "hi", "metadata": "nb"}, "metadata must be a JSON object"),
        ({"sender": "a", "message": "hi", "metadata": [1]}, "metadata must be a JSON object"),
        ({"sender": "a", "message": "hi", "metadata": {"a": [[[[[1]]]]]}}, "may hold only"),
        ({"sender": "a", "message": "hi", "metadata": {"lang": ["sv"]}}, "must be a string"),
        ({"sender": "a", "message": "hi", "metadata": {"lang": "x" * 1100}}, "larger than 1024"),
    ],
)
def test_refused_with_a_reason(body, words):
    status, message = refused(body)
    assert status == 400 and words in message


def test_lone_surrogates():
    raw = b'{"sender": "a", "message": "hi \\ud800 there", "metadata": {"x": "\\udfff"}}'
    with pytest.raises(Refused):
        message_checks.parse(raw, KB, 1000)
    message = message_checks.parse(b'{"sender": "a", "message": "hi \\ud800"}', KB, 1000)
    assert message.text == "hi"  # a surrogate is a control character: removed


def test_the_longest_sender_and_every_allowed_character():
    assert parse({"sender": "a" * 64, "message": "hi"}).sender == "a" * 64
    assert parse({"sender": "Az09_.:-", "message": "hi"}).sender == "Az09_.:-"


def test_an_overlong_message_is_kept_as_a_prefix():
    message = parse({"sender": "a", "message": "Hei, kan dere hjelpe meg? " * 100}, max_chars=1000)
    assert message.too_long
    assert len(message.text) <= 2 * message_checks.DETECT_PREFIX
    assert not parse({"sender": "a", "message": "x" * 1000}).too_long


def test_reply_language():
    def lang(text: str, meta: dict | None = None, previous: str | None = None) -> str:
        message = message_checks.Message("a", text, meta, too_long=True)
        return message_checks.reply_language(message, previous)

    assert lang("Kan dere fjerne virus fra PC-en min? Jeg har prøvd alt.", {"lang": "sv"}) == "sv"
    assert lang("Kan dere fjerne virus fra PC-en min? Jeg har prøvd alt.") == "nb"
    assert lang("Kan ni ta bort virus från min dator? Jag har försökt allt.") == "sv"
    assert lang("/scope_licence", previous="nb") == "nb"
    assert lang("1234 5678 !!!! ????") == "en"


OFFERED = ['/request_service{"sr_service": "incident_response"}', "/affirm"]
INTENTS = ["scope_licence", "affirm", "request_service", "restart", "session_start"]


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ('/request_service{"sr_service": "incident_response"}', True),  # offered
        ('/request_service{"sr_service": "premium_support"}', False),  # not offered
        ('/request_service{"sr_email": "x@example.com"}', False),  # slot values forged
        ("/scope_licence", True),  # a bare intent of the domain
        ("/scope_licence ", True),
        ("/request_service", True),
        ("/no_such_intent", False),
        ("/scope_licence@0.99", False),  # a forged confidence
        ("/restart", False),  # Rasa's control intents
        ("/session_start", False),
        ("/", False),
        ("//scope_licence", False),
        ("/scope licence", False),
    ],
)
def test_intent_allowed(text, allowed):
    assert message_checks.intent_allowed(text, OFFERED, INTENTS) is allowed


def test_offered_payloads_from_bot_events():
    events = [
        {"event": "bot", "data": {"buttons": [{"title": "A", "payload": "/a"}, {"title": "x"}]}},
        {"event": "bot", "data": None},
        {"event": "bot", "data": {"buttons": [{"payload": 5}, "junk", {"payload": " /b "}]}},
    ]
    assert message_checks.offered_payloads(events) == ["/a", "/b"]


def test_the_api_nlu_routes_and_their_text_cap():
    assert message_checks.runs_nlu("POST", "/model/parse")
    assert message_checks.runs_nlu("POST", "/conversations/a/b/messages")  # ids may hold slashes
    assert not message_checks.runs_nlu("GET", "/model/parse")
    assert not message_checks.runs_nlu("POST", "/conversations/a/tracker/events")
    assert message_checks.text_too_long({"text": "x" * 11}, 10)
    assert message_checks.text_too_long({"text": ["short", "x" * 11]}, 10)
    assert not message_checks.text_too_long({"text": "x" * 10}, 10)
    for body in ({"text": 5}, {"q": "x" * 11}, ["x" * 11], None):
        assert not message_checks.text_too_long(body, 10)  # Rasa's own checks answer these


@pytest.mark.parametrize(
    "sender",
    ["me", "a", "conv-1", "test-conversation", "aaaaaaaaaaaaaaaa1", "1234567890123456", "abab" * 8],
)
def test_a_guessable_conversation_id_is_not_private(sender):
    assert not message_checks.private_sender(sender)


@pytest.mark.parametrize(
    "sender",
    [
        "3f2b9c0e7d1a4b6c8e5f0a1b2c3d4e5f",
        "2c6a8b4e-1f3d-4e5a-9b7c-0d1e2f3a4b5c",
        "bot-ask-9f8e7d6c5b4a",
    ],
)
def test_a_random_conversation_id_is_private(sender):
    assert message_checks.private_sender(sender)


def test_every_issued_id_is_valid_and_private():
    issued = {message_checks.new_sender() for _ in range(2000)}
    assert len(issued) == 2000  # 1 in 60 lacks a digit when first drawn: drawn again
    assert all(message_checks.valid_sender(s) and message_checks.private_sender(s) for s in issued)
