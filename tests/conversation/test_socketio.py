"""The socket.io channel (bot/rasa_addons/channels/socketio.py) through the real
servers, with python-socketio's client speaking as rasa-webchat does:
session_request, then user_uttered with customData. Polling transport (the
client's websocket transport needs a package the project does not install;
the browser test goes over websocket)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import socketio

from bot.contract import LANGS
from bot.messages import say
from tests.conversation.questions import DISINFECTION, ONSITE, TWO_QUESTIONS

WEBCHAT_KEYS = ({"text"}, {"text", "quick_replies"})  # what rasa-webchat 1.0 renders


class Widget:
    """One socket, used like rasa-webchat uses it."""

    def __init__(self, url: str, lang: str | None = None, headers: dict | None = None):
        self.client = socketio.SimpleClient()
        self.client.connect(url, transports=["polling"], headers=headers or {})
        self.custom = {"language": lang} if lang else {}
        self.session_id: str | None = None

    def request_session(self, session_id: str | None = None) -> str:
        self.client.emit("session_request", {"session_id": session_id})
        event, data = self.client.receive(timeout=10)
        assert event == "session_confirm", (event, data)
        self.session_id = data
        return data

    def say(self, text: str, session_id: str | None = None) -> list[dict]:
        self.send(text, session_id)
        return self.replies()

    def send(self, text: str, session_id: str | None = None) -> None:
        body = {"message": text, "customData": self.custom}
        self.client.emit("user_uttered", {**body, "session_id": session_id or self.session_id})

    def replies(self, first: float = 30, quiet: float = 1.0) -> list[dict]:
        """The bot_uttered events of one turn: the first within `first` seconds,
        then all that follow until `quiet` seconds pass without one."""
        got: list[dict] = []
        timeout = first
        while True:
            try:
                event, data = self.client.receive(timeout=timeout)
            except socketio.exceptions.TimeoutError:
                return got
            assert event == "bot_uttered", (event, data)
            got.append(data)
            timeout = quiet

    def close(self) -> None:
        # python-engineio's polling client joins its reader thread on disconnect,
        # which can wait on a long-poll the server holds: bound it, so a slow
        # goodbye never hangs the test run (the socket is a daemon thread's).
        closing = threading.Thread(target=self.client.disconnect, daemon=True)
        closing.start()
        closing.join(timeout=5)


@pytest.fixture
def widget(running_bot) -> Iterator:
    """Factory of connected widgets, disconnected after the test."""
    made: list[Widget] = []

    def make(lang: str | None = None, headers: dict | None = None) -> Widget:
        made.append(Widget(running_bot.url, lang, headers))
        return made[-1]

    yield make
    for w in made:
        w.close()


@pytest.fixture(scope="module", autouse=True)
def log_start(running_bot) -> int:
    """Where the Rasa server's log stood when this module started."""
    path = running_bot.servers.log_dir / "rasa.log"
    return path.stat().st_size if path.exists() else 0


def tracker_texts(running_bot, session_id: str) -> list[str]:
    tracker = running_bot.get(f"/conversations/{session_id}/tracker")
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]


def answer_of(replies: list[dict]) -> dict:
    answers = [r["metadata"]["answer"] for r in replies if "answer" in r.get("metadata", {})]
    assert len(answers) == 1, replies
    return answers[0]


def test_health_route(running_bot):
    assert running_bot.get("/webhooks/socketio/") == {"status": "ok"}


@pytest.mark.parametrize("lang", LANGS)
def test_answer_with_text_buttons_and_payload_in_each_language(widget, lang):
    w = widget(lang)
    w.request_session()
    replies = w.say(ONSITE[lang])  # a paid answer: text, a request button, the payload
    assert len(replies) == 1, replies
    reply = replies[0]
    assert set(reply) == {"text", "quick_replies", "metadata"}
    assert "Kaspersky Professional Services" in reply["text"]
    assert reply["quick_replies"] and all(
        set(b) == {"content_type", "title", "payload"} and b["payload"].startswith("/")
        for b in reply["quick_replies"]
    )
    answer = reply["metadata"]["answer"]
    assert answer["verdict"] == "paid"
    assert answer["rule_ids"][0] == "rules:4.2.5"
    assert answer["lang"] == lang


@pytest.mark.parametrize("lang", LANGS)
def test_two_questions_get_two_answers_each_with_its_payload(widget, lang):
    w = widget(lang)
    w.request_session()
    replies = w.say(TWO_QUESTIONS[lang])
    answers = [r["metadata"]["answer"] for r in replies if "answer" in r.get("metadata", {})]
    # one payload per answer, in the order asked, each naming its part (section 2a)
    assert [a["rule_ids"][0] for a in answers] == ["rules:4.2.3", "kb101732:2.5"], replies
    assert all(a["lang"] == lang and a["segment"] in TWO_QUESTIONS[lang] for a in answers)
    assert answers[0]["segment"] != answers[1]["segment"]
    # each answer's text is in the message that carries its payload
    carriers = [r for r in replies if "answer" in r.get("metadata", {})]
    assert all(r["text"].strip() for r in carriers)


@pytest.mark.parametrize("lang", LANGS)
def test_custom_data_language_decides_the_reply_language(widget, lang):
    """The question in English, the page in `lang`: the page wins, as metadata.lang does."""
    w = widget(lang)
    w.request_session()
    replies = w.say(DISINFECTION["en"])
    assert answer_of(replies) == {
        "rule_ids": ["rules:4.2.3", "kb101732:2.2", "rules:4.1.2c"],
        "verdict": "excluded",
        "lang": lang,
    }
    for reply in replies:  # every message is one rasa-webchat renders, metadata aside
        assert {k for k in reply if k != "metadata"} in WEBCHAT_KEYS, reply


def test_an_invalid_language_is_ignored(widget):
    w = widget("klingon")
    w.request_session()
    assert answer_of(w.say(DISINFECTION["sv"]))["lang"] == "sv"  # detected instead


def test_a_button_payload_answers_in_the_pages_language(widget):
    w = widget("nb")
    w.request_session()
    answer = answer_of(w.say("/scope_licence"))  # skips NLU, so no detection
    assert answer["lang"] == "nb"
    assert answer["rule_ids"] == ["rules:4.5a", "rules:4.5b", "rules:2.4"]


def test_reconnecting_with_the_session_id_continues_the_form(widget, running_bot):
    first = widget("en")
    session_id = first.request_session()
    # the rule first, then the offer that asks for the product (issue 12)
    assert "product" in first.say("Is my version still supported?")[-1]["text"].lower()
    first.close()

    again = widget("en")
    assert again.request_session(session_id) == session_id
    replies = again.say("we use KES")
    assert "version" in replies[0]["text"].lower()
    assert "12.8" in [b["payload"] for r in replies for b in r.get("quick_replies", [])]
    answer = answer_of(again.say("12.8"))
    assert answer["lookup"]["product"] == "Kaspersky Endpoint Security for Windows"
    texts = tracker_texts(running_bot, session_id)
    assert texts[-3:] == ["Is my version still supported?", "we use KES", "12.8"]


def test_two_tabs_of_one_session_both_get_the_replies(widget):
    one = widget("en")
    session_id = one.request_session()
    two = widget("en")
    two.request_session(session_id)
    replies = one.say(DISINFECTION["en"])
    assert answer_of(replies)["verdict"] == "excluded"
    assert two.replies(first=5) == replies


def test_someone_elses_session_id_gets_neither_their_replies_nor_their_conversation(
    widget, running_bot
):
    alice = widget("en")
    alice_id = alice.request_session()
    mallory = widget("en")
    mallory_id = mallory.request_session()

    # Mallory's message names Alice's session: it is Mallory's own turn all the same.
    assert answer_of(mallory.say(DISINFECTION["en"], session_id=alice_id))
    assert alice.replies(first=2) == []
    assert DISINFECTION["en"] in tracker_texts(running_bot, mallory_id)

    # Alice's replies stay Alice's.
    assert answer_of(alice.say(ONSITE["en"]))["verdict"] == "paid"
    assert mallory.replies(first=2) == []
    assert DISINFECTION["en"] not in tracker_texts(running_bot, alice_id)


def test_a_socket_without_session_request_gets_a_fresh_session(widget, running_bot):
    alice = widget("en")
    alice_id = alice.request_session()
    stranger = widget("en")
    replies = stranger.say(DISINFECTION["en"], session_id=alice_id)  # never asked for one
    assert answer_of(replies)["verdict"] == "excluded"
    assert alice.replies(first=2) == []
    assert DISINFECTION["en"] not in tracker_texts(running_bot, alice_id)


def test_a_short_guessable_session_id_is_not_resumed(widget):
    w = widget("en")
    assert w.request_session("1") != "1"


def test_events_that_are_not_objects_are_ignored(widget):
    w = widget("en")
    w.request_session()
    w.client.emit("user_uttered", "Can you disinfect my PC?")
    w.client.emit("user_uttered", ["Can you disinfect my PC?"])
    w.client.emit("user_uttered", {"message": {"text": "nested"}})
    w.client.emit("session_request", 42)
    assert w.replies(first=3) == []
    assert answer_of(w.say(DISINFECTION["en"]))["verdict"] == "excluded"  # still served


@pytest.mark.parametrize("lang", LANGS)
def test_an_overlong_message_is_refused_before_nlu(widget, running_bot, lang):
    w = widget(lang)
    session_id = w.request_session()
    text = (DISINFECTION[lang] + " ") * 40
    assert len(text) > 1000
    replies = w.say(text)
    number = "1,000" if lang == "en" else "1\u00a0000"
    assert replies == [{"text": say("message_too_long", lang, limit=number)}]
    assert text not in tracker_texts(running_bot, session_id)
    assert answer_of(w.say(DISINFECTION[lang]))["lang"] == lang  # the next one is answered


def test_a_payload_over_the_size_limit_is_not_processed(widget, running_bot):
    w = widget("en")
    session_id = w.request_session()
    try:
        w.send("x" * 40_000)
    except socketio.exceptions.SocketIOError:
        pass  # the server may drop the connection
    assert w.replies(first=3) == []
    assert all(len(t or "") < 1000 for t in tracker_texts(running_bot, session_id))
    other = widget("en")
    other.request_session()
    assert answer_of(other.say(DISINFECTION["en"]))["verdict"] == "excluded"


def test_a_flood_is_told_its_messages_were_not_read(widget):
    w = widget("sv")
    w.request_session()
    # Two bursts of 12 (polling sends what is queued in one request; engine.io
    # refuses more than 16 packets in one): 24 messages in well under a second.
    for _ in range(2):
        for _ in range(12):
            w.send("hej")
        time.sleep(0.3)
    not_read = say("too_many_messages", "sv", seconds=1)
    slow = answered = 0
    while answered < 10:  # the accepted ones queue for the conversation's lock
        replies = w.replies(first=60, quiet=0.5)
        assert replies, f"{answered} answered, {slow} told to slow down"
        told = sum(r == {"text": not_read} for r in replies)
        slow += told
        answered += len(replies) - told
    assert slow >= 5  # a burst of 10 passes, then 5 a second
    time.sleep(1.0)  # the bucket refills
    assert answer_of(w.say(DISINFECTION["sv"]))["lang"] == "sv"


def test_one_address_cannot_open_many_sockets(running_bot):
    """BOT_SOCKETS_PER_CLIENT (20, the default: the test servers keep it) sockets
    from 127.0.0.1, whatever X-Forwarded-For they send; then refused, with the
    reason. Sockets of earlier tests may still be closing, so 'at most'."""
    cap = running_bot.cfg.sockets_per_client
    clients, refusals = [], []
    for i in range(cap + 5):
        client = socketio.Client(reconnection=False)
        refused: list = []
        client.on("connect_error", refused.append)
        # wait=False: a refused client's connect() would wait on its long-poll
        client.connect(
            running_bot.url,
            transports=["polling"],
            headers={"X-Forwarded-For": f"198.51.100.{i}"},  # not trusted: ignored
            wait=False,
        )
        deadline = time.monotonic() + 10
        while "/" not in client.namespaces and not refused:
            assert time.monotonic() < deadline, "neither connected nor refused"
            time.sleep(0.02)
        clients.append(client)
        refusals += refused
    try:
        assert cap - 3 <= len(clients) - len(refusals) <= cap
        assert len(refusals) >= 5
        assert all("too many connections from this address" in str(r) for r in refusals)
    finally:
        # The server hears each goodbye at once; the client's own thread may then
        # wait on its long-poll, so it is not joined.
        for client in clients:
            threading.Thread(target=client.disconnect, daemon=True).start()
        time.sleep(2)  # the tests after this one open sockets of their own


def test_an_origin_not_allowed_is_refused(widget, running_bot):
    with pytest.raises(socketio.exceptions.ConnectionError):
        widget(headers={"Origin": "http://evil.example"})
    allowed = running_bot.cfg.allowed_origins[0]  # the rasa-webchat test page's origin
    w = widget("en", headers={"Origin": allowed})
    assert w.request_session()


def test_the_server_logged_no_exception(running_bot, log_start):
    """Runs last: nothing above made the Rasa server log an exception."""
    time.sleep(1.0)  # the last turns' lines reach the file
    path = running_bot.servers.log_dir / "rasa.log"
    log = path.read_bytes()[log_start:].decode("utf-8", "replace")
    bad = [line for line in log.splitlines() if "Traceback" in line or "Exception" in line]
    assert not bad, f"the Rasa server logged:\n{log[-4000:]}"


def test_a_forged_intent_payload_is_not_run(widget, running_bot):
    w = widget("en")
    session_id = w.request_session()
    forged = '/request_service{"sr_service": "incident_response", "sr_email": "x@example.com"}'
    replies = w.say(forged)
    assert [r["text"] for r in replies] == [say("fallback_no_options", "en")]
    assert tracker_texts(running_bot, session_id) == []  # never reached Rasa
    # a bare intent of the domain still runs, as a button the widget may send
    assert answer_of(w.say("/scope_licence"))["verdict"] == "conditional"
