"""The Content-Security-Policy of the chat page and the trainer page
(bot/rasa_addons/channels/chat_page.py): sent, strict (no inline code), satisfied
by the pages in Chromium, and framing limited to the allowed origins.

Every browser test's page reports CSP violations as failures (conftest.new_page),
so the chat page's, the trainer page's and the embedding tests are checks of the
policy too; here the headers, a whole chat under the policy, a proof that the
watch sees a violation, and framing."""

from __future__ import annotations

import re
import urllib.request
from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.browser.conftest import CSP_MARK, watch_csp
from tests.browser.test_chat_page import ANSWER, QUESTIONS, _serve_once, ask, open_chat


def policy(url: str) -> dict[str, str]:
    """The page's CSP as {directive: sources}."""
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        header = response.headers["Content-Security-Policy"]
    assert header, f"no Content-Security-Policy on {url}"
    pairs = (d.strip().split(" ", 1) for d in header.split(";"))
    return {p[0]: (p[1] if len(p) > 1 else "") for p in pairs}


def test_both_pages_send_a_strict_policy(running_bot):
    rasa = running_bot.cfg.rasa_url
    chat = policy(rasa + "/webhooks/chat/")
    trainer = policy(rasa + "/webhooks/trainer/")
    for page in (chat, trainer):
        assert page["default-src"] == "'none'"
        assert page["script-src"] == page["style-src"] == page["connect-src"] == "'self'"
        assert page["object-src"] == page["base-uri"] == "'none'"
        assert "unsafe" not in " ".join(page.values())
    # framed by this server's pages and the sites that may call the bot; the
    # settings' regex origin (a sanic-cors pattern, no CSP source) is left out
    plain = [o for o in running_bot.cfg.allowed_origins if "\\" not in o]
    assert len(plain) < len(running_bot.cfg.allowed_origins)
    assert chat["frame-ancestors"] == " ".join(["'self'", *plain])
    assert trainer["frame-ancestors"] == "'none'"  # a console of its own: never framed


def test_a_whole_conversation_under_the_policy(new_page, chat_url):
    """Answer, badge, citation opened, thumbs, reload: new_page fails on a violation."""
    page = open_chat(new_page, chat_url)
    ask(page, QUESTIONS["en"])
    answer = page.locator(ANSWER).last
    expect(answer.locator(".ssc-badge")).not_to_be_empty()
    answer.locator(".ssc-chip").first.click()
    expect(answer.locator(".ssc-clause").first).to_contain_text(re.compile(r"\w"))
    answer.get_by_role("button", name="Yes, helpful").click()
    expect(answer.locator(".ssc-feedback-status")).not_to_be_empty()
    page.reload()
    expect(page.locator("main#chat > .ssc-root.ssc-inline")).to_have_count(1)  # chat-page.js
    expect(page.locator("main#chat")).to_have_css("max-width", "760px")  # chat-page.css
    expect(page.locator(ANSWER)).to_have_count(1)


def test_the_watch_sees_a_violation(browser, chat_url):
    """Not vacuous: inline code put into the chat page is blocked and reported."""
    context = browser.new_context()
    try:
        page = context.new_page()
        seen: list[str] = []
        watch_csp(page, seen)
        page.goto(chat_url)
        expect(page.locator("#ssc-input")).to_be_visible()
        with page.expect_console_message(lambda m: CSP_MARK in m.text):
            page.evaluate(
                """() => { const s = document.createElement("script");
                           s.textContent = "window.__inlineRan = true";
                           document.body.appendChild(s); }"""
            )
        assert page.evaluate("() => window.__inlineRan") is None
        assert any("script-src" in line for line in seen), seen
    finally:
        context.close()


def _framing(url: str) -> str:
    return f'<!doctype html><title>Framer</title><iframe src="{url}" width="600" height="500">'


def test_framed_only_by_the_allowed_origins(browser, chat_url, running_bot):
    """An allowed origin frames the chat; any other local origin gets no chat."""
    allowed = next(
        o
        for o in running_bot.cfg.allowed_origins
        if "\\" not in o and urlsplit(o).port != urlsplit(running_bot.url).port
    )
    context = browser.new_context()
    sites = [
        _serve_once(_framing(chat_url), urlsplit(allowed).port),
        _serve_once(_framing(chat_url)),
    ]
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{sites[0].server_address[1]}/")
        expect(page.frame_locator("iframe").locator("#ssc-input")).to_be_visible()
        refused: list[str] = []
        watch_csp(page, refused)
        with page.expect_console_message(lambda m: "frame-ancestors" in m.text):
            page.goto(f"http://127.0.0.1:{sites[1].server_address[1]}/")
        assert page.frame_locator("iframe").locator("#ssc-input").count() == 0
        assert any("frame-ancestors" in line for line in refused), refused
    finally:
        context.close()
        for site in sites:
            site.shutdown()
            site.server_close()
