"""Who may call what, through the real servers (tests/servers.py).

Rasa's HTTP API wants a JWT signed with BOT_API_TOKEN; `/`, `/version` and the
channel webhooks stay public; CORS answers only the allowed origins. The action
server listens on loopback only, wants BOT_ACTIONS_TOKEN on everything but
/health, and never echoes the tracker in an error.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import secrets
from tests.conversation.questions import DISINFECTION


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def call(
    url: str,
    method: str = "GET",
    body: object = None,
    headers: dict | None = None,
    raw: bytes | None = None,
) -> Answer:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return Answer(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def sender(running_bot) -> str:
    """A conversation that exists, so a refusal is about the token, not a 404."""
    sender = f"access-{uuid.uuid4().hex}"
    assert running_bot.send(DISINFECTION["en"], sender)
    return sender


def api_routes(sender: str, model: Path) -> list[tuple[str, str, object]]:
    return [
        ("GET", f"/conversations/{sender}/tracker", None),
        (
            "POST",
            f"/conversations/{sender}/tracker/events",
            {"event": "slot", "name": "language", "value": "en"},
        ),
        ("POST", "/model/parse", {"text": "Can you disinfect my PC?"}),
        ("PUT", "/model", {"model_file": str(model)}),
        ("GET", "/status", None),
    ]


# ---------------------------------------------------------------- Rasa's HTTP API


@pytest.mark.parametrize(
    "credentials", ["none", "query token", "wrong secret", "garbage", "agent token", "agent jwt"]
)
def test_the_http_api_refuses_requests_without_a_valid_token(
    running_bot, sender, model, credentials
):
    api = running_bot.cfg.api_token
    headers, query = {}, ""
    if credentials == "query token":  # Rasa's --auth-token style: not enabled
        query = f"?token={api}"
    elif credentials == "wrong secret":
        headers = bearer(secrets.bearer("not-the-secret-" + api))
    elif credentials == "garbage":
        headers = bearer("abc.def.ghi")
    elif credentials == "agent token":  # it opens /webhooks/agent/parse, nothing else
        headers = bearer(running_bot.cfg.agent_token or "")
    elif credentials == "agent jwt":
        headers = bearer(secrets.bearer(running_bot.cfg.agent_token or ""))
    before = running_bot.get(f"/conversations/{sender}/tracker")["events"]
    for method, path, body in api_routes(sender, model):
        answer = call(running_bot.url + path + query, method, body, headers)
        assert answer.status in (401, 403), (method, path, answer.status, answer.body[:200])
    assert running_bot.get(f"/conversations/{sender}/tracker")["events"] == before


def test_the_http_api_works_with_the_token(running_bot, sender, model):
    auth = bearer(secrets.bearer(running_bot.cfg.api_token))
    answers = {
        path: call(running_bot.url + path, method, body, auth)
        for method, path, body in api_routes(sender, model)
    }
    tracker = answers[f"/conversations/{sender}/tracker"]
    assert tracker.status == 200 and tracker.json()["sender_id"] == sender
    events = answers[f"/conversations/{sender}/tracker/events"]
    assert events.status == 200
    assert events.json()["events"][-1]["event"] == "slot"
    parse = answers["/model/parse"]
    assert parse.status == 200 and parse.json()["intent"]["name"] == "scope_disinfection"
    assert answers["/model"].status == 204  # the same model, loaded again
    assert answers["/status"].status == 200
    assert running_bot.ask(DISINFECTION["en"]).answer["verdict"] == "excluded"


def test_an_expired_token_is_refused(running_bot):
    # sanic-jwt allows 180 s of clock skew (its `leeway`): ten minutes is expired
    expired = secrets.bearer(running_bot.cfg.api_token, lifetime=-600)
    assert call(running_bot.url + "/status", headers=bearer(expired)).status == 401


# ---------------------------------------------------------------- the agents' route

AGENT_PARSE = "/webhooks/agent/parse"


def test_the_agent_token_reads_a_question_as_the_api_does(running_bot):
    question = {"text": DISINFECTION["nb"]}
    mine = call(
        running_bot.url + AGENT_PARSE, "POST", question, bearer(running_bot.cfg.agent_token)
    )
    assert mine.status == 200, mine.body[:200]
    api = call(
        running_bot.url + "/model/parse",
        "POST",
        question,
        bearer(secrets.bearer(running_bot.cfg.api_token)),
    )
    assert mine.json() == api.json()  # the same reading: intent, ranking, entities, language
    assert mine.json()["intent"]["name"] == "scope_disinfection"


@pytest.mark.parametrize("credentials", ["none", "wrong", "api jwt", "trainer token"])
def test_the_agent_route_refuses_any_other_credential(running_bot, credentials):
    headers = {
        "none": {},
        "wrong": bearer("x" * 43),
        "api jwt": bearer(secrets.bearer(running_bot.cfg.api_token)),
        "trainer token": bearer(running_bot.cfg.trainer_token),
    }[credentials]
    answer = call(running_bot.url + AGENT_PARSE, "POST", {"text": "hei"}, headers)
    assert answer.status == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="agent"'
    assert "agent token" in answer.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"text": "x" * 1001}, 413, "over 1000 characters"),
        ({"text": "   "}, 400, "text is empty"),
        ({"text": 5}, 400, "text is required"),
        ({"message": "hei"}, 400, "text is required"),
        (["hei"], 400, "expected a JSON object"),
    ],
)
def test_the_agent_route_says_what_is_wrong_with_a_body(running_bot, body, status, says):
    answer = call(running_bot.url + AGENT_PARSE, "POST", body, bearer(running_bot.cfg.agent_token))
    assert answer.status == status and says in answer.json()["error"]


@pytest.mark.parametrize("path", ["/", "/version"])
def test_root_and_version_stay_public(running_bot, path):
    assert call(running_bot.url + path).status == 200


def test_the_rest_webhook_stays_public(running_bot):
    answer = call(
        running_bot.url + "/webhooks/rest/webhook",
        "POST",
        {"sender": uuid.uuid4().hex, "message": DISINFECTION["en"]},
    )
    assert answer.status == 200
    assert any("custom" in m for m in answer.json())


def test_the_api_token_is_not_on_any_command_line(running_bot):
    tokens = [running_bot.cfg.api_token, running_bot.cfg.actions_token]
    for proc in running_bot.servers.procs:
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode()
        assert not [t for t in tokens if t and t in cmdline]


# ---------------------------------------------------------------- CORS


def preflight(running_bot, origin: str) -> Answer:
    return call(
        running_bot.url + "/webhooks/rest/webhook",
        "OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def test_a_preflight_from_an_unlisted_origin_gets_no_cors_headers(running_bot):
    answer = preflight(running_bot, "https://evil.example")
    assert "access-control-allow-origin" not in answer.headers
    post = call(running_bot.url + "/version", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in post.headers


def test_a_preflight_from_a_listed_origin_is_allowed(running_bot):
    origin = running_bot.cfg.allowed_origins[0]
    answer = preflight(running_bot, origin)
    assert answer.headers.get("access-control-allow-origin") == origin
    assert "POST" in answer.headers.get("access-control-allow-methods", "")


# ---------------------------------------------------------------- the action server


@pytest.fixture(scope="module")
def actions_url(running_bot) -> str:
    return f"http://127.0.0.1:{running_bot.cfg.actions_port}"


def action_call(sender: str, marker: str = "") -> dict:
    return {
        "next_action": "action_answer_scope",
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": {"language": "en", "note": marker},
            "latest_message": {
                "text": DISINFECTION["en"],
                "intent": {"name": "scope_disinfection"},
                "language": {"detected": "en", "confidence": 1.0, "decisive": True},
            },
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def test_the_action_server_listens_on_loopback_only(running_bot):
    port = f"{running_bot.cfg.actions_port:04X}"
    listening = [
        line.split()[1]
        for table in ("/proc/net/tcp", "/proc/net/tcp6")
        for line in Path(table).read_text().splitlines()[1:]
        if line.split()[1].endswith(f":{port}") and line.split()[3] == "0A"
    ]
    assert listening == ["0100007F:" + port]  # 127.0.0.1, nothing else


@pytest.mark.parametrize("token", [None, "wrong", "actions-but-not-bearer"])
def test_the_action_server_refuses_calls_without_its_token(running_bot, actions_url, token):
    headers = {}
    if token == "wrong":
        headers = bearer("x" * 43)
    elif token == "actions-but-not-bearer":
        headers = {"Authorization": running_bot.cfg.actions_token}
    for method, path in (("POST", "/webhook"), ("GET", "/actions")):
        body = action_call("refused") if method == "POST" else None
        answer = call(actions_url + path, method, body, headers)
        assert answer.status == 401, (path, answer.status)
        assert answer.json() == {"error": "unauthorised"}


def test_the_action_server_answers_with_its_token(running_bot, actions_url):
    auth = bearer(running_bot.cfg.actions_token)
    answer = call(actions_url + "/webhook", "POST", action_call("ok"), auth)
    assert answer.status == 200
    result = answer.json()
    assert result["responses"][0]["custom"]["answer"]["verdict"] == "excluded"
    assert call(actions_url + "/health").status == 200  # the launcher's check: open


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b'{"tracker": {"sender_id": "x"}}', b'{"next_action": "x"}'],
    ids=["not json", "not an object", "no action", "no tracker"],
)
def test_a_malformed_action_call_gets_400_without_the_body(running_bot, actions_url, raw):
    auth = bearer(running_bot.cfg.actions_token)
    answer = call(actions_url + "/webhook", "POST", raw=raw, headers=auth)
    assert answer.status == 400
    assert b"sender_id" not in answer.body and b'tracker":' not in answer.body


def test_a_failing_action_gets_a_generic_error_not_the_tracker(running_bot, actions_url):
    marker = f"private-{uuid.uuid4().hex}"
    body = action_call("broken", marker)
    del body["tracker"]["sender_id"]  # the SDK fails building the Tracker (KeyError)
    answer = call(actions_url + "/webhook", "POST", body, bearer(running_bot.cfg.actions_token))
    assert answer.status == 500
    assert answer.json() == {"error": "internal error"}
    assert marker.encode() not in answer.body
    log = (running_bot.cfg.var_dir / "logs" / "actions.log").read_text(errors="replace")
    assert marker not in log
