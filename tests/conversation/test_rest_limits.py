"""The bounded REST channel (bot/rasa_addons/channels/rest.py) on the real servers:
bad bodies get 400/413 with a JSON reason, over-long messages are answered at
once in the user's language and never reach the tracker, a sender over its
rate gets 429, forged intent payloads are not run, the chat page's session
route hands out usable ids. The per-client limit is raised for the whole test
session (every test is one client, 127.0.0.1); its 429 is checked in process
in tests/rasa_addons/test_rest_channel.py."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from bot import messages, settings
from tests.conversation.questions import DISINFECTION, INCIDENT
from tests.conversation.test_chat_channel import request

WEBHOOK = "/webhooks/rest/webhook"
LIMITS = settings.load()  # the defaults: the test servers change only the client rate
FORGED = '/request_service{"sr_service": "incident_response", "sr_email": "x@example.com"}'


def post(bot, body: object) -> tuple[int, dict, object]:
    status, headers, raw = request(bot, "POST", WEBHOOK, body)
    try:
        return status, headers, json.loads(raw)
    except ValueError:
        return status, headers, raw


def user_texts(bot, sender: str) -> list[str]:
    tracker = bot.get(f"/conversations/{sender}/tracker")
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]  # type: ignore[index]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b'"hi"',
        b"42",
        b"null",
        b"\xff\xfe\x00",
        b"{oops",
        b'{"sender": 1, "message": "hi"}',
        b'{"sender": "a b", "message": "hi"}',
        b'{"sender": "ok", "message": 5}',
        b'{"sender": "ok", "message": "hi", "metadata": "nb"}',
        b'{"message": "hi"}',
    ],
)
def test_bad_bodies_get_400_with_a_reason(running_bot, raw):
    status, headers, body = post(running_bot, raw)
    assert status == 400, body
    assert headers["content-type"].startswith("application/json")
    assert isinstance(body, dict) and body["error"]


def test_a_missing_sender_no_longer_shares_default(running_bot):
    status, _, body = post(running_bot, {"message": "Can you disinfect my PC?"})
    assert status == 400 and "sender is required" in body["error"]


def test_a_body_over_the_limit_gets_413(running_bot):
    big = json.dumps({"sender": "big", "message": "x" * (LIMITS.max_body_bytes + 10)}).encode()
    assert post(running_bot, big)[0] == 413


@pytest.mark.parametrize(
    ("lang", "text", "metadata"),
    [
        ("nb", "Kan dere fjerne virus fra PC-en min? Jeg har prøvd alt mulig. ", None),
        ("sv", "Kan ni ta bort virus från min dator? Jag har försökt allt möjligt. ", None),
        ("en", "Can you remove a virus from my PC? I have tried everything. ", None),
        ("sv", "Can you remove a virus from my PC? I have tried everything. ", {"lang": "sv"}),
        ("en", "1234 5678 ", None),
    ],
)
def test_an_overlong_message_is_answered_at_once(running_bot, lang, text, metadata):
    sender = uuid.uuid4().hex
    long_text = (text * (LIMITS.max_message_chars // len(text) + 2))[
        : LIMITS.max_message_chars + 50
    ]
    body = {"sender": sender, "message": long_text, **({"metadata": metadata} if metadata else {})}
    started = time.monotonic()
    status, _, replies = post(running_bot, body)
    elapsed = time.monotonic() - started
    assert status == 200
    assert replies[0]["text"] == messages.say(
        "message_too_long", lang, limit=LIMITS.max_message_chars
    )
    assert replies[1]["custom"]["answer"] == {"rule_ids": [], "verdict": "fallback", "lang": lang}
    assert elapsed < 2  # bench/limits.py measures it properly
    assert user_texts(running_bot, sender) == []  # never reached Rasa


def test_a_message_at_the_limit_is_parsed(running_bot):
    sender = uuid.uuid4().hex
    text = DISINFECTION["en"] + " " + "please " * 200
    text = text[: LIMITS.max_message_chars].strip()
    reply = running_bot.ask(text, sender)
    assert reply.answer["lang"] == "en"
    assert user_texts(running_bot, sender) == [text]


def test_a_sender_over_its_rate_gets_429(running_bot):
    sender = uuid.uuid4().hex
    long_text = "x" * (LIMITS.max_message_chars + 1)  # answered at once: a fast way to spend tokens
    statuses = [
        post(running_bot, {"sender": sender, "message": long_text})[0]
        for _ in range(LIMITS.rate_per_sender)
    ]
    assert set(statuses) == {200}
    status, headers, body = post(running_bot, {"sender": sender, "message": "hello"})
    assert status == 429
    assert 1 <= int(headers["retry-after"]) <= 60 // LIMITS.rate_per_sender + 1
    assert body["error"]
    assert running_bot.ask("hello").messages  # another conversation is not held up


def test_forged_intent_payloads_are_not_run(running_bot):
    sender = uuid.uuid4().hex
    for forged in (
        FORGED,
        '/request_service{"sr_service": "incident_response"}',
        "/restart",
        "/scope_licence@0.99",
        "/no_such_intent",
    ):
        status, _, replies = post(running_bot, {"sender": sender, "message": forged})
        assert status == 200
        assert replies[0]["text"] == messages.say("fallback_no_options", "en")
        assert replies[1]["custom"]["answer"]["verdict"] == "fallback"
    assert user_texts(running_bot, sender) == []
    tracker = running_bot.get(f"/conversations/{sender}/tracker")
    assert tracker["slots"].get("sr_email") is None  # type: ignore[index]


def test_offered_buttons_and_bare_intents_run(running_bot):
    sender = uuid.uuid4().hex
    offered = running_bot.ask(INCIDENT["nb"], sender).buttons
    payload = offered[0]["payload"]
    assert payload.startswith("/request_service{")
    asked = running_bot.ask(payload, sender, lang="nb")
    assert "Kaspersky Incident Response" in asked.text
    # a forged variant of the offered button is still refused
    changed = payload.replace("incident_response", "premium_support")
    assert running_bot.ask(changed, sender).text == messages.say("fallback_no_options", "nb")
    fresh = running_bot.ask("/scope_licence", lang="sv")  # a bare intent, not offered: runs
    assert fresh.answer["lang"] == "sv" and fresh.answer["rule_ids"]


def test_the_session_route_gives_usable_ids(running_bot):
    ids = []
    for _ in range(3):
        status, headers, raw = request(running_bot, "POST", "/webhooks/chat/session")
        assert status == 200 and headers["cache-control"] == "no-store"
        ids.append(json.loads(raw)["sender"])
    assert len(set(ids)) == 3 and all(len(i) == 24 for i in ids)
    assert running_bot.ask(DISINFECTION["en"], ids[0]).answer["rule_ids"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/model/parse", {"text": "Kan dere fjerne virus? " * 200}),
        ("/model/parse", {"text": ["Kan dere fjerne virus? " * 200]}),  # an emulator's list
        (f"/conversations/{uuid.uuid4().hex}/messages", {"text": "x" * 5000, "sender": "user"}),
    ],
)
def test_the_api_routes_that_run_nlu_are_capped_too(running_bot, path, body):
    """Behind the token, but NLU runs on the event loop: an over-long text gets
    413 before it is parsed, and the same route still parses a normal one."""
    auth = running_bot._auth(path)
    status, _, raw = request(running_bot, "POST", path, body, auth)
    assert status == 413
    assert json.loads(raw) == {
        "error": f"text is longer than {LIMITS.max_message_chars} characters"
    }
    short = {**body, "text": DISINFECTION["nb"]}
    status, _, raw = request(running_bot, "POST", path, short, auth)
    assert status == 200, raw
    if path == "/model/parse":
        assert json.loads(raw)["intent"]["name"].startswith("scope_")


def test_a_parse_at_the_cap_is_parsed(running_bot):
    text = ("Kan dere fjerne virus fra PC-en min? " * 40)[: LIMITS.max_message_chars]
    status, _, raw = request(
        running_bot, "POST", "/model/parse", {"text": text}, running_bot._auth("/model/parse")
    )
    assert status == 200 and json.loads(raw)["text"] == text


def test_a_long_conversation_still_reaches_the_action_server(running_bot):
    """Rasa sends the action server the whole conversation with every call: past
    the public 64 KB body limit (some 20 turns) every action used to fail."""
    sender = uuid.uuid4().hex
    at_the_cap = ((DISINFECTION["en"] + " Please help us with this. ") * 30)[
        : LIMITS.max_message_chars
    ]
    for _ in range(24):  # within the per-sender burst; a few KB of events a turn
        running_bot.ask(at_the_cap, sender)
    tracker = running_bot.get(f"/conversations/{sender}/tracker")
    assert len(json.dumps(tracker)) > LIMITS.max_body_bytes  # past the public limit
    reply = running_bot.ask(DISINFECTION["en"], sender)
    assert reply.text != messages.say("action_failed", "en")
    assert reply.answer["verdict"] == "excluded"
