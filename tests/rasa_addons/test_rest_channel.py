"""The bounded REST channel and the chat routes' limits, in process: a bare Sanic
server with the two channels' blueprints, tiny limits from the environment, a
fake agent (domain intents, a tracker store) and a fake on_new_message that
records what would have reached Rasa. No model, no action server: the 429
paths with their own small limits, which the shared test servers (limits
raised for the whole session) cannot show. tests/conversation/test_rest_limits.py
checks the rest on the real servers."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

from bot.rasa_addons import nlu_pool
from bot.rasa_addons.channels.chat_page import ChatChannel
from bot.rasa_addons.channels.rest import RestChannel
from bot.runtime import processes
from tests.aio import environment, serving

PER_CLIENT = 40
PER_SENDER = 5
OFFER = '/request_service{"sr_service": "incident_response"}'
BUSY = "the parse queue is full"


class Store:
    """A tracker store holding one conversation in which the bot offered OFFER."""

    async def retrieve(self, sender: str) -> DialogueStateTracker | None:
        if sender != "offered":
            return None
        events = [
            UserUttered("Can you disinfect my PC?"),
            BotUttered("No.", data={"buttons": [{"title": "Ask", "payload": OFFER}]}),
        ]
        return DialogueStateTracker.from_events(sender, events)


class Server:
    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[str] = []
        self.clients: list[str | None] = []  # the parse queue's client, per message

    def request(self, method: str, path: str, body: object = None, ip_headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        try:
            conn.request(method, path, body=data, headers=ip_headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def send(self, sender: str, text: str, **extra) -> tuple[int, dict, object]:
        status, headers, raw = self.request(
            "POST", "/webhooks/rest/webhook", {"sender": sender, "message": text, **extra}
        )
        return status, headers, json.loads(raw)


LIMITS = {
    "BOT_RATE_PER_CLIENT": str(PER_CLIENT),
    "BOT_BURST_PER_CLIENT": str(PER_CLIENT),  # the whole minute at once: counted here
    "BOT_RATE_PER_SENDER": str(PER_SENDER),
    "BOT_MAX_MESSAGE_CHARS": "100",
    "BOT_MAX_BODY_BYTES": "2048",
}


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[Server, Sanic]]:
    """One server for the module (Sanic apps are not cheap to start and stop)."""
    with environment(LIMITS):
        srv = Server(processes.free_port())

        async def on_new_message(message: UserMessage) -> None:
            srv.received.append(message.text)
            srv.clients.append(nlu_pool.CLIENT.get())
            if message.text == BUSY:  # what the patched parse raises past the wait bound
                raise nlu_pool.Busy(3.2)
            await message.output_channel.send_text_message(message.sender_id, "echo")

        # Sanic rewrites some of its methods when an app starts; a second app in the
        # same process (the other in-process channel tests) needs the originals kept.
        Sanic.test_mode = True
        app = Sanic("test_rest_channel")
        app.ctx.agent = SimpleNamespace(
            domain=SimpleNamespace(intents=["scope_licence", "request_service", "restart"]),
            tracker_store=Store(),
        )
        app.blueprint(RestChannel().blueprint(on_new_message), url_prefix="/webhooks/rest")
        app.blueprint(ChatChannel().blueprint(on_new_message), url_prefix="/webhooks/chat")
        with serving(app, srv.port):
            yield srv, app


@pytest.fixture
def server(running) -> Server:
    """The module's server with fresh buckets and nothing received yet."""
    srv, app = running
    app.ctx.bot_limits = None
    srv.received.clear()
    srv.clients.clear()
    return srv


def test_a_message_reaches_rasa(server):
    status, _, body = server.send("web-1", "Can you fix my PC?", input_channel="evil")
    assert status == 200 and body == [{"recipient_id": "web-1", "text": "echo"}]
    assert server.received == ["Can you fix my PC?"]


def test_a_full_parse_queue_is_a_429_saying_when_to_send_again(server):
    status, headers, body = server.send("web-2", BUSY)
    assert status == 429 and headers["retry-after"] == "4"
    assert body == {"error": "too many requests: try again in 4 s"}
    # the parse queue took turns by the client's address, not by conversation
    assert server.clients == ["127.0.0.1"]


def test_per_sender_limit(server):
    for _ in range(PER_SENDER):
        assert server.send("busy", "hello")[0] == 200
    status, headers, body = server.send("busy", "hello")
    assert status == 429 and int(headers["retry-after"]) >= 1 and body["error"]
    assert server.send("other", "hello")[0] == 200
    assert len(server.received) == PER_SENDER + 1


def test_per_client_limit_is_shared_by_the_post_routes(server):
    statuses = [server.send(f"s{i}", "hi")[0] for i in range(PER_CLIENT - 10)]
    statuses += [server.request("POST", "/webhooks/chat/session")[0] for _ in range(10)]
    assert set(statuses) == {200}
    for path in ("/webhooks/rest/webhook", "/webhooks/chat/session", "/webhooks/chat/feedback"):
        status, headers, raw = server.request("POST", path, {"sender": "x", "message": "hi"})
        assert status == 429, path
        assert int(headers["retry-after"]) >= 1 and json.loads(raw)["error"]
    # X-Forwarded-For is not trusted: a forged address is still the same client.
    forged = server.request("POST", "/webhooks/chat/session", None, {"X-Forwarded-For": "10.9.8.7"})
    assert forged[0] == 429
    assert server.request("GET", "/webhooks/chat/health")[0] == 200  # GETs are not limited


def test_feedback_per_sender_limit(server):
    bad = {"sender": "fb", "rating": "meh", "question": "q", "answer": "a"}
    statuses = [
        server.request("POST", "/webhooks/chat/feedback", bad)[0] for _ in range(PER_SENDER + 1)
    ]
    assert statuses == [400] * PER_SENDER + [429]


def test_body_and_message_caps(server):
    assert server.request("POST", "/webhooks/rest/webhook", b"x" * 3000)[0] == 413
    status, _, body = server.send("long", "Kan dere fjerne virus fra PC-en min? " * 10)
    assert status == 200 and body[0]["recipient_id"] == "long"
    assert body[1]["custom"]["answer"] == {"rule_ids": [], "verdict": "fallback", "lang": "nb"}
    assert "100" in body[0]["text"]
    assert server.received == []


def test_intent_payloads(server):
    assert server.send("offered", OFFER)[0] == 200
    assert server.send("fresh", "/scope_licence")[0] == 200
    assert server.received == [OFFER, "/scope_licence"]
    for sender, text in [
        ("fresh", OFFER),
        ("offered", '/request_service{"sr_email": "x"}'),
        ("fresh", "/restart"),
        ("fresh", "/nope"),
    ]:
        status, _, body = server.send(sender, text, metadata={"lang": "sv"})
        assert status == 200
        assert body[1]["custom"]["answer"]["verdict"] == "fallback"
        assert body[1]["custom"]["answer"]["lang"] == "sv"
    assert len(server.received) == 2


def test_session_ids(server):
    ids = set()
    for _ in range(5):
        status, headers, raw = server.request("POST", "/webhooks/chat/session")
        assert status == 200 and headers["cache-control"] == "no-store"
        ids.add(json.loads(raw)["sender"])
    assert len(ids) == 5
    assert all(len(i) == 24 for i in ids)
