"""The public port publishes only the public routes, on the real HAProxy binary.

deploy/compose/haproxy.cfg as committed, its container addresses replaced by
loopback ports where a small HTTP server stands in for every replica and
echoes the path it was asked for: the public routes reach it; Rasa's HTTP API
and the paths a server might read differently from HAProxy (dot segments,
doubled slashes, percent-encoding, case) get HAProxy's 404 and never reach it.
`make cluster`'s rendering lets this host's own tools through, nobody else.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.runtime.cluster import haproxy
from bot.runtime.cluster.checks import check_haproxy
from bot.runtime.processes import LaunchError, free_port
from bot.settings import PROJECT_DIR

pytestmark = pytest.mark.process  # starts HAProxy; make test-fast leaves it out

try:
    HAPROXY: str | None = check_haproxy()
except LaunchError:
    HAPROXY = None
if HAPROXY is None:
    pytest.skip(
        "HAProxy is not installed (apt-get install haproxy): the path allow-list "
        "is checked on the real binary",
        allow_module_level=True,
    )

HEALTH = "/webhooks/chat/health"  # HAProxy's own check, and the readiness probe here

PUBLIC = [
    ("POST", "/webhooks/rest/webhook"),
    ("GET", "/webhooks/rest/"),
    ("GET", "/webhooks/chat/"),
    ("POST", "/webhooks/chat/session"),
    ("GET", "/webhooks/chat/static/chat.js"),
    ("GET", "/webhooks/trainer/"),
    ("GET", "/webhooks/trainer/api/state"),
    ("GET", "/socket.io/?EIO=4&transport=polling"),
]

API = [
    "/",
    "/version",
    "/status",
    "/model/parse",
    "/model",
    "/conversations/abc/tracker",
    "/conversations/abc/messages",
    "/auth/jwt",
    "/webhooks",  # the prefix without its slash: no route of Rasa's
    "http://bot.example.com/model/parse",  # absolute form: HAProxy still reads the path
]

TRICKS = [
    "//model/parse",
    "/webhooks/rest/../../model/parse",
    "/socket.io/../model/parse",
    "/webhooks//../model/parse",
    "/webhooks/rest/webhook/..",
    "/webhooks/rest/%2e%2e/%2e%2e/model/parse",
    "/webhooks/rest/%2E%2E/%2E%2E/status",
    "/webhooks/rest%2f..%2f..%2fstatus",
    "/webhooks/rest%2F%2E%2E%2Fstatus",
    "/webhooks/..%5cstatus",
    "/%6dodel/parse",
    "/%77ebhooks/../model/parse",
    "/MODEL/parse",
    "/Webhooks/rest/webhook",
]


class _Echo(BaseHTTPRequestHandler):
    """Every replica and action server: 200 and the path as it arrived."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        body = self.path.encode("latin-1")
        self.send_response(200)
        self.send_header("X-Echo", "replica")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def echo() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _request(
    port: int, method: str, target: str, source: str = "127.0.0.1", origin: str = ""
) -> tuple:
    """(status, headers, body) of one request sent byte for byte as written:
    no client library normalises the path on the way."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as s:
        s.sendall(
            (
                f"{method} {target} HTTP/1.1\r\nHost: bot.example.com\r\n"
                + (f"Origin: {origin}\r\n" if origin else "")
                + "Content-Length: 0\r\nConnection: close\r\n\r\n"
            ).encode("latin-1")
        )
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    return int(lines[0].split()[1]), headers, body.decode("latin-1")


@contextmanager
def _running(config: str, directory: Path, public_port: int) -> Iterator[None]:
    path = directory / "haproxy.cfg"
    path.write_text(config, encoding="utf-8")
    checked = subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    log = directory / "haproxy.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([HAPROXY, "-db", "-f", str(path)], stdout=out, stderr=out)
    try:
        # Ready when a request goes through to the stand-in (not an assertion on time)
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text(encoding="utf-8")
            try:
                if _request(public_port, "GET", HEALTH)[1].get("x-echo"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _compose_on_loopback(public: int, backend: int, directory: Path) -> str:
    """deploy/compose/haproxy.cfg with loopback in place of the compose network."""
    text = (PROJECT_DIR / "deploy" / "compose" / "haproxy.cfg").read_text(encoding="utf-8")
    swaps = {
        "bind :8080": f"bind 127.0.0.1:{public}",
        "bind :5055": f"bind 127.0.0.1:{free_port()}",
        "bind :8404": f"bind 127.0.0.1:{free_port()}",
        "stats socket /tmp/haproxy.sock": f"stats socket {directory / 'haproxy.sock'}",
        **{f"{name}:": "127.0.0.1:" for name in ("rasa0", "rasa1", "actions0", "actions1")},
        ":5005 check": f":{backend} check",
        ":5055 check": f":{backend} check",
    }
    for old, new in swaps.items():
        assert old in text, f"deploy/compose/haproxy.cfg has no {old!r} any more: update this test"
        text = text.replace(old, new)
    return text


def _local_layout(port: int, replicas: int) -> haproxy.Layout:
    """`make cluster`'s layout with the stand-in as every replica and action server."""
    return haproxy.Layout(
        host="127.0.0.1",
        public_port=free_port(),
        actions_port=free_port(),
        stats_port=free_port(),
        rasa_ports=(port,) * replicas,
        action_ports=(port,),
    )


def _reached(response: tuple, target: str) -> bool:
    status, headers, body = response
    return status == 200 and headers.get("x-echo") == "replica" and body == target


def _refused(response: tuple) -> bool:
    status, headers, _ = response
    return status == 404 and "x-echo" not in headers


def test_compose_publishes_the_public_routes_and_nothing_else(echo, tmp_path):
    public = free_port()
    config = _compose_on_loopback(public, echo.server_address[1], tmp_path)
    with _running(config, tmp_path, public):
        for method, target in PUBLIC:
            assert _reached(_request(public, method, target), target), target
        for target in API + TRICKS:
            assert _refused(_request(public, "GET", target)), target
            assert _refused(_request(public, "POST", target)), target
    # Nothing but the public routes and the health checks ever reached a replica
    assert set(echo.seen) <= {target for _, target in PUBLIC} | {HEALTH}
    assert {target for _, target in PUBLIC} <= set(echo.seen)


def test_make_cluster_lets_only_this_host_use_the_api(echo, tmp_path):
    """BOT_HOST may be a public interface: another address gets the public routes
    only; this host's tools (bot retrain's /status, bot ask) keep the whole API."""
    layout = _local_layout(echo.server_address[1], replicas=2)
    public = layout.public_port
    with _running(haproxy.render_for(layout, tmp_path / "haproxy.sock", 300), tmp_path, public):
        assert _reached(_request(public, "GET", "/status"), "/status")
        assert _reached(_request(public, "POST", "/model/parse"), "/model/parse")
        other = "127.0.0.2"  # another address on this machine: not this host's tools
        assert _reached(_request(public, "POST", PUBLIC[0][1], other), PUBLIC[0][1])
        for target in ("/status", "/model/parse", "/webhooks/rest/../../model/parse"):
            assert _refused(_request(public, "GET", target, other)), target


def test_a_flood_from_one_address_is_refused_by_haproxy_itself(echo, tmp_path):
    """Past BOT_PROXY_RATE_PER_CLIENT requests in 10 s, one address gets the replicas'
    429 answer from HAProxy, readable by a widget on another site, and the replicas
    never see the rest; the health poll and static files are not counted and still
    answered; another address is counted on its own, and this host's tools (the
    API clients) are not limited."""
    layout = _local_layout(echo.server_address[1], replicas=1)
    public, rate, webhook = layout.public_port, 20, PUBLIC[0][1]
    with _running(haproxy.render_for(layout, tmp_path / "haproxy.sock", rate), tmp_path, public):
        before = len(echo.seen)
        # the widgets' health poll and the page's files are not counted
        for target in (HEALTH, "/webhooks/chat/static/chat.js") * rate:
            assert _reached(_request(public, "GET", target, "127.0.0.2"), target)
        site = "https://www.example.com"
        flood = [_request(public, "POST", webhook, "127.0.0.2", site) for _ in range(rate + 10)]
        assert all(_reached(r, webhook) for r in flood[:rate])
        for status, headers, body in flood[rate:]:
            assert status == 429 and "x-echo" not in headers
            assert headers["retry-after"] == "10"
            assert headers["access-control-allow-origin"] == site  # a widget can read it
            assert json.loads(body) == {"error": "too many requests: try again in 10 s"}
        assert echo.seen[before:].count(webhook) == rate
        assert _reached(_request(public, "GET", HEALTH, "127.0.0.2"), HEALTH)  # still
        assert _reached(_request(public, "POST", webhook, "127.0.0.3"), webhook)
        tools = [_request(public, "POST", "/model/parse") for _ in range(rate + 10)]
        assert all(_reached(r, "/model/parse") for r in tools)
