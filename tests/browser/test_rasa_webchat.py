"""A standard Rasa widget, rasa-webchat (vendored: tests/browser/assets/), in
headless Chromium against the running assistant's socket.io channel.

The page is served from its own origin (the one BOT_ALLOWED_ORIGINS names in
tests/servers.py), so this is the cross-origin embed a customer's site makes.
The screenshot goes to docs/rasa-webchat.png only with BOT_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import http.server
import json
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from bot.messages import say
from tests.conversation.questions import ONSITE

WEBCHAT_VERSION = "1.0.1"
WAIT = 30_000  # ms: a turn on a busy 2-core machine
BUNDLE = Path(__file__).parent / "assets" / "rasa-webchat" / WEBCHAT_VERSION / "index.js"

PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>rasa-webchat</title></head>
<body>
<div id="webchat"></div>
<script src="/rasa-webchat.js"></script>
<script>
  window.WebChat.default({{
    socketUrl: {socket_url},
    socketPath: "/socket.io/",
    customData: {{language: "{lang}"}},
    initPayload: "/greet",
    title: "Kaspersky support",
    params: {{storage: "session"}},
    customMessageDelay: () => 0
  }}, null);
</script>
</body></html>
"""


@pytest.fixture(scope="module")
def widget_site(running_bot) -> Iterator[str]:
    """A customer's page with the widget, on the origin the test servers allow."""
    origin = running_bot.cfg.allowed_origins[0]
    bundle = BUNDLE.read_bytes()

    class Site(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            if self.path == "/rasa-webchat.js":
                body, kind = bundle, "application/javascript"
            else:
                lang = self.path.strip("/") or "en"
                socket_url = json.dumps(running_bot.url)
                body, kind = PAGE.format(lang=lang, socket_url=socket_url).encode(), "text/html"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", urlsplit(origin).port), Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield origin
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def offline_page(new_page):
    """A page that reaches only this machine: the bundle's Google Fonts @import
    is refused at once instead of waiting on DNS."""

    def make(**kwargs):
        page = new_page(**kwargs)
        page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
        return page

    return make


@pytest.fixture
def screenshot_path(tmp_path) -> Path:
    if os.environ.get("BOT_UPDATE_SCREENSHOTS") == "1":
        return Path(__file__).resolve().parents[2] / "docs" / "rasa-webchat.png"
    return tmp_path / "rasa-webchat.png"


def test_question_answer_buttons_and_a_click_in_swedish(offline_page, widget_site, screenshot_path):
    page = offline_page(locale="sv-SE", width=1000, height=900)
    page.goto(widget_site + "/sv")
    page.locator(".rw-launcher").click()

    # The init payload (/greet) is answered in the page's language.
    responses = page.locator(".rw-response")
    expect(responses.first).to_contain_text(say("greet", "sv"), timeout=WAIT)

    box = page.locator("input.rw-new-message, textarea.rw-new-message")
    box.fill(ONSITE["sv"])
    box.press("Enter")
    answer = responses.filter(has_text="Kaspersky Professional Services").last
    expect(answer).to_be_visible(timeout=WAIT)
    buttons = page.locator(".rw-replies .rw-reply")
    expect(buttons.first).to_be_visible(timeout=WAIT)
    titles = buttons.all_inner_texts()
    assert titles, "the answer's quick replies are shown"
    page.locator(".rw-widget-container").screenshot(path=str(screenshot_path))

    before = responses.count()
    buttons.first.click()
    expect(page.locator(".rw-client").last).to_have_text(
        titles[0], timeout=WAIT
    )  # the choice, as the user's
    expect(responses.nth(before)).not_to_be_empty(timeout=WAIT)  # the next answer


def test_the_answer_payload_reaches_the_page(offline_page, widget_site):
    """rasa-webchat keeps `metadata` out of what it renders; the payload arrives
    on the socket beside the text. Seen here through the page's own socket."""
    page = offline_page()
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
    page.goto(widget_site + "/nb")
    page.locator(".rw-launcher").click()
    box = page.locator("input.rw-new-message, textarea.rw-new-message")
    expect(page.locator(".rw-response").first).to_be_visible(timeout=WAIT)
    box.fill(ONSITE["nb"])
    box.press("Enter")
    expect(page.locator(".rw-response").filter(has_text="Kaspersky Professional")).to_be_visible(
        timeout=WAIT
    )
    payloads = [json.loads(f[f.index("[") :]) for f in frames if '"bot_uttered"' in f]
    answers = [p[1]["metadata"]["answer"] for p in payloads if "answer" in p[1].get("metadata", {})]
    assert answers and answers[-1]["verdict"] == "paid" and answers[-1]["lang"] == "nb"
