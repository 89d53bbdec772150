"""Per-address limits through the real channels, in process: a bare Sanic server
with the REST, chat page and socket.io channels' blueprints, small limits from
the environment, and python-socketio's real client. on_new_message is a fake
that records what would have reached Rasa. The limits of the shared test
servers are raised for the whole session, which is why these run here;
tests/conversation/test_socketio.py checks the socket cap on the real server.

The server trusts one proxy, 127.0.0.2 (the loopback range is all this
machine's): clients that connect from it may name their address in
X-Forwarded-For; clients from 127.0.0.1 may not."""

from __future__ import annotations

import asyncio
import http.client
import json
import queue
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests
import socketio
from rasa.core.channels.channel import UserMessage
from requests.adapters import HTTPAdapter
from sanic import Sanic

from bot import language
from bot.address_limits import MemoryAddressLimits
from bot.limits import RateLimiter
from bot.messages import say
from bot.rasa_addons import nlu_pool
from bot.rasa_addons.channels.chat_page import ChatChannel
from bot.rasa_addons.channels.rest import Limits, RestChannel
from bot.rasa_addons.channels.socketio import SocketIOChannel
from bot.runtime import processes
from tests.aio import environment, run_apart, serving

BURST = 4
SOCKETS = 3
PROXY = "127.0.0.2"
BUSY = "the parse queue is full"
LIMITS = {
    "BOT_RATE_PER_CLIENT": "6",  # one every 10 s: nothing refills during a test
    "BOT_BURST_PER_CLIENT": str(BURST),
    "BOT_SOCKETS_PER_CLIENT": str(SOCKETS),
    "BOT_RATE_PER_SENDER": "1000",
    "BOT_TRUSTED_PROXIES": PROXY,
    "BOT_LIMITS_REDIS_URL": None,
    "BOT_LOCK_STORE_URL": None,
}


class FromSource(HTTPAdapter):
    """requests from a chosen source address (a second loopback address: the proxy)."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


class Widget:
    """One socket.io client, as rasa-webchat uses it (polling transport)."""

    def __init__(self, url: str, headers: dict | None = None, source: str | None = None):
        session = requests.Session()
        if source:
            session.mount("http://", FromSource(source))
        self.events: queue.Queue = queue.Queue()
        self.client = socketio.Client(reconnection=False, http_session=session)
        self.refusal: object = None
        self.client.on("bot_uttered", lambda data: self.events.put(data))
        self.client.on("connect_error", self._refused)
        # Not waited for by connect(): on a refusal python-socketio's client then
        # disconnects and waits on its long-poll, up to 30 s.
        self.client.connect(url, headers=headers or {}, transports=["polling"], wait=False)
        deadline = time.monotonic() + 10
        while "/" not in self.client.namespaces and self.refusal is None:
            assert time.monotonic() < deadline, "neither connected nor refused"
            time.sleep(0.01)
        if self.refusal is not None:
            self.close(wait=False)
            raise socketio.exceptions.ConnectionError(f"refused: {self.refusal}")

    def _refused(self, data: object) -> None:
        self.refusal = data  # what the server's ConnectionRefusedError said

    def send(self, text: str, **extra) -> None:
        self.client.emit("user_uttered", {"message": text, **extra})

    def reply(self, timeout: float = 10) -> dict:
        return self.events.get(timeout=timeout)

    def close(self, wait: bool = True) -> threading.Thread:
        """Disconnect in a thread: the polling client's goodbye can wait on a
        long-poll the server holds (tests/conversation/test_socketio.py)."""
        closing = threading.Thread(target=self.client.disconnect, daemon=True)
        closing.start()
        if wait:
            closing.join(timeout=5)
        return closing


class Server:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.received: list[str] = []
        self.widgets: list[Widget] = []

    def post(self, body: object, headers: dict | None = None, source: str | None = None):
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=10, source_address=(source, 0) if source else None
        )
        try:
            conn.request("POST", "/webhooks/rest/webhook", json.dumps(body), headers or {})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def widget(self, headers: dict | None = None, source: str | None = None) -> Widget:
        made = Widget(self.url, headers, source)
        self.widgets.append(made)
        return made


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[Server, Sanic]]:
    with environment(LIMITS):
        srv = Server(processes.free_port())

        async def on_new_message(message: UserMessage) -> None:
            srv.received.append(message.text)
            if message.text == BUSY:  # what the patched parse raises past the wait bound
                raise nlu_pool.Busy(3.2)
            await message.output_channel.send_response(message.sender_id, {"text": "echo"})

        # Sanic rewrites some of its methods when an app starts; a second app in the
        # same process (the other in-process channel tests) needs the originals kept.
        Sanic.test_mode = True
        app = Sanic("test_socketio_limits")
        app.ctx.agent = SimpleNamespace(domain=SimpleNamespace(intents=[]), tracker_store=None)
        app.blueprint(RestChannel().blueprint(on_new_message), url_prefix="/webhooks/rest")
        app.blueprint(ChatChannel().blueprint(on_new_message), url_prefix="/webhooks/chat")
        sockets = SocketIOChannel(session_persistence=True, metadata_key="metadata")
        app.blueprint(sockets.blueprint(on_new_message), url_prefix="/webhooks/socketio")
        with serving(app, srv.port):
            yield srv, app


@pytest.fixture
def server(running) -> Iterator[Server]:
    """The module's server with fresh limits, nothing received, no socket open."""
    srv, app = running
    app.ctx.bot_limits = None
    srv.received.clear()
    yield srv
    # Not waited for: the next test's limits are new, so a socket still closing
    # counts in none of them.
    for w in srv.widgets:
        w.close(wait=False)
    srv.widgets.clear()


def open_until_refused(server: Server, n: int, **kwargs) -> tuple[list[Widget], list[str]]:
    opened, refused = [], []
    for _ in range(n):
        try:
            opened.append(server.widget(**kwargs))
        except socketio.exceptions.ConnectionError as exc:
            refused.append(str(exc))
    return opened, refused


def test_one_address_gets_a_few_sockets_not_many(server):
    opened, refused = open_until_refused(server, SOCKETS + 5)
    assert len(opened) == SOCKETS and len(refused) == 5
    # the client is told why (python-socketio puts the server's reason in the error)
    assert all("too many connections from this address" in r for r in refused), refused
    # a forged X-Forwarded-For from a peer that is not the proxy changes nothing
    forged = {"X-Forwarded-For": "198.51.100.1"}
    assert open_until_refused(server, 1, headers=forged)[0] == []
    # one closes: one more may open
    opened[0].close(wait=False)
    deadline = time.monotonic() + 10
    while not open_until_refused(server, 1)[0]:
        assert time.monotonic() < deadline, "a closed socket still counted"
        time.sleep(0.2)


def test_behind_the_trusted_proxy_each_client_has_its_own_sockets(server):
    for client in ("198.51.100.1", "198.51.100.2"):
        headers = {"X-Forwarded-For": f"6.6.6.6, {client}"}  # the proxy appended the last
        opened, refused = open_until_refused(server, SOCKETS + 1, headers=headers, source=PROXY)
        assert (len(opened), len(refused)) == (SOCKETS, 1), client


def test_rest_and_socketio_spend_one_bucket(server):
    w = server.widget()
    assert server.post({"sender": "r1", "message": "one"})[0] == 200
    w.send("two")
    assert w.reply() == {"text": "echo"}
    assert server.post({"sender": "r2", "message": "three"})[0] == 200
    w.send("four")
    assert w.reply() == {"text": "echo"}
    # the burst is spent, whichever channel comes next
    w.send("five", metadata={"lang": "sv"})
    over = w.reply()
    assert over["text"].startswith(say("too_many_messages", "sv", seconds=1)[:30]), over
    status, body = server.post({"sender": "r3", "message": "six"})
    assert status == 429 and body["error"].startswith("too many requests: try again in")
    # many sockets buy nothing more
    others = [server.widget() for _ in range(SOCKETS - 1)]
    for other in others:
        other.send("seven")
        # one token in 10 s: the wait said is 10 s, or 9 on a slow machine
        told = other.reply()["text"]
        assert told in {say("too_many_messages", "en", seconds=n) for n in (9, 10)}, told
    assert server.received == ["one", "two", "three", "four"]  # nothing over reached Rasa
    # another client behind the trusted proxy has a bucket of its own
    proxied = {"X-Forwarded-For": "198.51.100.9"}
    assert server.post({"sender": "r4", "message": "eight"}, proxied, PROXY)[0] == 200
    # a forged header from anyone else is still the same client
    assert server.post({"sender": "r5", "message": "nine"}, proxied)[0] == 429


def test_a_full_parse_queue_says_the_message_was_not_read(server):
    w = server.widget()
    w.send(BUSY, metadata={"lang": "nb"})
    assert w.reply()["text"] == say("too_many_messages", "nb", seconds=4)
    w.send("next")  # the socket is still open and the next message goes through
    assert w.reply() == {"text": "echo"}


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ({"lang": "sv", "detail": "x" * 1100}, "metadata is larger than 1024 bytes"),
        ({"lang": "sv", "user": "me"}, "metadata may hold only lang, detail"),
        ({"lang": {"deep": ["sv"]}}, "metadata.lang must be a string"),
        # socket.io also takes metadata as a JSON string (REST: an object only)
        ('{"lang": "sv", "tracking": "abc"}', "metadata may hold only lang, detail"),
    ],
)
def test_metadata_over_the_bound_is_refused_with_a_clear_message(server, metadata, reason):
    w = server.widget()
    w.send("Kan ni ta bort virus?", metadata=metadata, customData={"language": "sv"})
    text = w.reply()["text"]
    assert text.startswith("Jag kunde inte läsa det meddelandet") and reason in text, text
    status, body = server.post({"sender": "m1", "message": "hej", "metadata": metadata})
    rest_reason = reason if isinstance(metadata, dict) else "metadata must be a JSON object"
    assert status == 400 and rest_reason in body["error"]
    assert server.received == []
    # the keys clients use pass
    w.send("hej", metadata={"lang": "sv", "detail": "full"})
    assert w.reply() == {"text": "echo"}
    assert server.post({"sender": "m2", "message": "hej", "metadata": {"lang": "nb"}})[0] == 200


def test_a_socket_refused_again_and_again_costs_one_language_detection(server, monkeypatch):
    detected: list[str] = []
    real = language.detect

    def counting(text: str):
        detected.append(text)
        return real(text)

    monkeypatch.setattr(language, "detect", counting)
    w = server.widget()
    for n in range(6):  # the burst, then refusals, all in Swedish
        w.send(f"Kan ni ta bort viruset från min dator nummer {n}?")
        w.reply()
    assert len(server.received) < 6  # some were refused ...
    assert len(detected) == 1  # ... and each refusal's language came from the first


def test_a_client_gone_while_its_socket_is_counted_is_released():
    # A hang-up while the limits are asked (Redis' round trip) makes socket.io skip
    # the disconnect handler: the socket must not stay counted against the address.
    class Slow(MemoryAddressLimits):
        async def open_socket(self, key: str, sid: str) -> bool:
            await asyncio.sleep(0.05)
            return await super().open_socket(key, sid)

    async def hang_ups() -> tuple[dict, dict]:
        channel = SocketIOChannel(session_persistence=True)

        async def on_new_message(message: UserMessage) -> None:
            return None

        channel.blueprint(on_new_message)
        sio = channel.sio
        slow = Slow(60, 10, 2)
        limits = Limits(slow, RateLimiter(30), RateLimiter(30))
        channel.app = SimpleNamespace(ctx=SimpleNamespace(bot_limits=limits))

        async def unsent(*_: object, **__: object) -> None:
            return None

        sio._send_packet = unsent
        for n in range(3):  # more than the cap of 2
            eio = f"eio{n}"
            sio.environ[eio] = {"REMOTE_ADDR": "203.0.113.5"}
            connecting = asyncio.create_task(sio._handle_connect(eio, "/", None))
            await asyncio.sleep(0.01)  # the server is asking the limits
            await sio._handle_eio_disconnect(eio, "transport close")  # the client hangs up
            await connecting
        return slow.sockets, channel.addresses

    held, addresses = run_apart(hang_ups())
    assert not any(held.values()) and addresses == {}
