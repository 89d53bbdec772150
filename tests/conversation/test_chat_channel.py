"""The chat page's routes (bot/rasa_addons/channels/chat_page.py) on the running Rasa
server: health, clause look-ups, verdict labels, feedback into the database,
the page and its static files (and no way out of bot/web/)."""

from __future__ import annotations

import http.client
import json
import urllib.parse
import uuid
from pathlib import Path

import pytest

from bot import feedback
from bot.rasa_addons.channels.chat_page import WEB_DIR, static_file

CHAT = "/webhooks/chat"


def request(bot, method: str, path: str, body: object = None, headers: dict | None = None):
    """(status, headers, body bytes); the path is sent exactly as given."""
    parsed = urllib.parse.urlsplit(bot.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    data = None
    all_headers = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=all_headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def get_json(bot, path: str) -> tuple[int, object]:
    status, _, raw = request(bot, "GET", path)
    return status, json.loads(raw)


def test_health(running_bot):
    assert get_json(running_bot, f"{CHAT}/health") == (200, {"status": "ok"})


def test_clause_in_norwegian(running_bot):
    status, body = get_json(running_bot, f"{CHAT}/clause/rules:4.2.3?lang=nb")
    assert status == 200
    assert body["id"] == "rules:4.2.3"
    assert body["text"] == body["original"]  # the rules are Norwegian
    assert body["original"]
    assert "4.2.3" in body["citation"]
    assert body["verdict"]
    assert body["label"]


def test_clause_wording_follows_the_language(running_bot):
    _, nb = get_json(running_bot, f"{CHAT}/clause/kb101732:2.1?lang=nb")
    _, sv = get_json(running_bot, f"{CHAT}/clause/kb101732:2.1?lang=sv")
    assert sv["text"] == sv["original"] == nb["original"]
    assert nb["text"] != nb["original"]
    assert "101732" in sv["citation"]


def test_unknown_clause_and_bad_lang(running_bot):
    status, body = get_json(running_bot, f"{CHAT}/clause/rules:99.9?lang=en")
    assert status == 404 and "error" in body
    status, body = get_json(running_bot, f"{CHAT}/clause/rules:4.2.3?lang=de")
    assert status == 400 and "lang" in body["error"]


def test_labels(running_bot):
    status, en = get_json(running_bot, f"{CHAT}/labels?lang=en")
    _, nb = get_json(running_bot, f"{CHAT}/labels?lang=nb")
    verdicts = {"included", "excluded", "paid", "not_supported", "no_guarantee"}
    verdicts |= {"conditional", "info", "fallback"}
    assert status == 200
    assert set(en) == set(nb) == verdicts
    assert all(isinstance(v, str) and v for v in en.values())
    assert en != nb
    assert get_json(running_bot, f"{CHAT}/labels?lang=xx")[0] == 400


def test_feedback_is_stored_with_the_conversations_own_question_and_answer(running_bot):
    sender = uuid.uuid4().hex
    reply = running_bot.ask("Will one of your technicians come to our office?", sender)
    given = reply.answer
    body = {
        "sender": sender,
        "rating": "down",
        "question": "something else the page claims was asked",
        "answer": "and an answer the bot never gave",
        "rule_ids": given["rule_ids"],
        "verdict": given["verdict"],
        "lang": "en",
        "comment": "too short",
    }
    status, _, raw = request(running_bot, "POST", f"{CHAT}/feedback", body)
    assert status == 201, raw
    new_id = json.loads(raw)["id"]
    stored = [e for e in feedback.list_feedback(url=running_bot.cfg.database_url) if e.id == new_id]
    assert len(stored) == 1
    entry = stored[0]
    assert (entry.sender, entry.rating, entry.comment) == (sender, "down", "too short")
    assert entry.rule_ids == tuple(given["rule_ids"]) and entry.verdict == given["verdict"]
    # what the trainers will read is what was asked and answered, not what the page said
    assert entry.question == "Will one of your technicians come to our office?"
    assert entry.answer and entry.answer in reply.text


def test_feedback_on_an_answer_never_given_is_refused(running_bot):
    # thumbs-down with a question of one's own: a way to fill the trainers' inbox
    asked = uuid.uuid4().hex
    running_bot.ask("Will one of your technicians come to our office?", asked)
    body = {"rating": "down", "question": "buy cheap pills", "answer": "a", "lang": "en"}
    for sender, rule_ids in ((asked, ["rules:4.2.3"]), (uuid.uuid4().hex, ["rules:4.2.5"])):
        status, _, raw = request(
            running_bot,
            "POST",
            f"{CHAT}/feedback",
            {**body, "sender": sender, "rule_ids": rule_ids},
        )
        assert status == 400 and json.loads(raw)["error"] == "no such answer in this conversation"
    stored = feedback.list_feedback(url=running_bot.cfg.database_url)
    assert not [e for e in stored if e.question == "buy cheap pills"]


@pytest.mark.parametrize(
    "body",
    [
        {"rating": "meh"},
        {"lang": "de"},
        {"comment": "x" * 1001},
        {"sender": None},
    ],
)
def test_bad_feedback_is_refused(running_bot, body):
    sender = uuid.uuid4().hex
    given = running_bot.ask("Will one of your technicians come to our office?", sender).answer
    good = {"sender": sender, "rating": "up", "question": "q", "answer": "a", "lang": "en"}
    good.update(rule_ids=given["rule_ids"], verdict=given["verdict"])
    status, _, raw = request(running_bot, "POST", f"{CHAT}/feedback", {**good, **body})
    assert status == 400, raw
    assert json.loads(raw)["error"]
    stored = feedback.list_feedback(url=running_bot.cfg.database_url)
    assert not [e for e in stored if e.sender == sender]


@pytest.mark.parametrize("sender", ["two words", "x" * 65, "a/b", "kari@example.no", "ä", 42, ""])
def test_feedback_refuses_a_sender_the_rest_channel_refuses_in_its_words(running_bot, sender):
    """Before the tracker store is asked, and whatever else the body says."""
    given = running_bot.ask("Will one of your technicians come to our office?").answer
    body = {"sender": sender, "rating": "down", "lang": "en", "comment": f"mark {uuid.uuid4()}"}
    body.update(rule_ids=given["rule_ids"], verdict=given["verdict"])
    status, _, raw = request(running_bot, "POST", f"{CHAT}/feedback", body)
    rest_status, _, rest_raw = request(
        running_bot, "POST", "/webhooks/rest/webhook", {"sender": sender, "message": "hi"}
    )
    assert (status, rest_status) == (400, 400), (raw, rest_raw)
    assert json.loads(raw)["error"] == json.loads(rest_raw)["error"]
    assert json.loads(raw)["error"].startswith("sender ")
    stored = feedback.list_feedback(url=running_bot.cfg.database_url)
    assert not [e for e in stored if e.comment == body["comment"]]


def test_feedback_that_is_not_json(running_bot):
    status, _, raw = request(running_bot, "POST", f"{CHAT}/feedback", b"{not json")
    assert status == 400 and json.loads(raw)["error"]
    status, _, _ = request(running_bot, "POST", f"{CHAT}/feedback", [1, 2])
    assert status == 400


def test_the_page(running_bot):
    status, headers, raw = request(running_bot, "GET", f"{CHAT}/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert raw.strip()


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../bot/db.py",
        "/static/..%2f..%2fbot%2fdb.py",
        "/static/%2e%2e/%2e%2e/bot/db.py",
        "/static/../rasa_addons/chat_page.py",
        "/static/.hidden",
        "/static/nothing-here.js",
    ],
)
def test_static_stays_inside_bot_web(running_bot, path):
    status, _, raw = request(running_bot, "GET", CHAT + path)
    assert status in (400, 404)
    assert b"sqlalchemy" not in raw and b"ChatChannel" not in raw


def test_static_file_if_the_page_is_installed(running_bot):
    files = [p for p in WEB_DIR.rglob("*") if p.is_file() and p.suffix in (".js", ".css")]
    if not files:
        pytest.skip("bot/web/ has no .js or .css yet")
    path = files[0]
    relative = path.relative_to(WEB_DIR).as_posix()
    status, headers, raw = request(running_bot, "GET", f"{CHAT}/static/{relative}")
    assert status == 200 and raw == path.read_bytes()
    wanted = "application/javascript" if path.suffix == ".js" else "text/css"
    assert headers["content-type"].startswith(wanted)
    assert "max-age" in headers["cache-control"]
    again = request(
        running_bot, "GET", f"{CHAT}/static/{relative}", None, {"If-None-Match": headers["etag"]}
    )
    assert again[0] == 304


def test_static_file_resolution(tmp_path: Path):
    """No server needed: what static_file lets out of its root."""
    root = tmp_path / "web"
    (root / "sub").mkdir(parents=True)
    (root / "widget.js").write_text("x")
    (root / "sub" / "a.css").write_text("x")
    (root / ".env").write_text("secret")
    (root / "notes.py").write_text("x")
    (tmp_path / "outside.js").write_text("x")
    (root / "link.js").symlink_to(tmp_path / "outside.js")
    assert static_file(root, "widget.js") == (root / "widget.js").resolve()
    assert static_file(root, "sub/a.css") == (root / "sub" / "a.css").resolve()
    for bad in [
        "../outside.js",
        "sub/../../outside.js",
        ".env",
        "notes.py",
        "link.js",
        "/etc/passwd",
        "",
        "sub",
        "sub//a.css",
        "sub\\a.css",
        "widget.js\x00",
    ]:
        assert static_file(root, bad) is None, bad
