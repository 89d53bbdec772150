"""The customer chat page (bot/web/) in headless Chromium against the running
assistant: answers with verdict badges and citations, quick replies, languages,
history across reloads, safe rendering, feedback, and the reconnecting banner.

The server restart test stops the shared servers, so it is the last test here."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conversation.questions import DISINFECTION

pytestmark = pytest.mark.usefixtures("running_bot")

TURN = ".ssc-turn"
ANSWER = ".ssc-turn[data-verdict]"

QUESTIONS = DISINFECTION  # an "excluded" answer citing four clauses, in each language


def open_chat(new_page, chat_url, **kwargs):
    page = new_page(**kwargs)
    page.goto(chat_url)
    expect(page.get_by_label(re.compile("message|melding|meddelande", re.I))).to_be_visible()
    return page


def ask(page, text: str) -> None:
    """Type a question, send it with the keyboard, wait for the bot's turn."""
    before = page.locator(TURN).count()
    box = page.locator("#ssc-input")
    box.fill(text)
    box.press("Enter")
    expect(page.locator(TURN)).to_have_count(before + 1)
    expect(page.locator(".ssc-typing")).to_be_hidden()


def show_latest_answer(page) -> None:
    """Scroll the conversation to its end (for the screenshots)."""
    page.locator(".ssc-log").evaluate("log => { log.scrollTop = log.scrollHeight; }")
    page.wait_for_timeout(100)


def last_answer(page) -> dict:
    """The answer payload of the last bot turn, as the widget stored it."""
    return page.evaluate(
        """() => {
            const h = window.SupportScopeChat.api.state().history;
            for (let i = h.length - 1; i >= 0; i--) {
                for (const m of (h[i].messages || [])) {
                    if (m.custom && m.custom.answer) return m.custom.answer;
                }
            }
            return null;
        }"""
    )


def test_clause_route_takes_a_plain_id(running_bot):
    assert running_bot.get("/webhooks/chat/clause/rules:4.2.3?lang=en")["id"] == "rules:4.2.3"


def test_answer_shows_badge_and_expandable_citation(new_page, chat_url, running_bot):
    page = open_chat(new_page, chat_url)
    ask(page, QUESTIONS["en"])
    answer = last_answer(page)
    assert answer and answer["rule_ids"], answer
    labels = running_bot.get("/webhooks/chat/labels?lang=en")

    turn = page.locator(ANSWER).last
    expect(turn.locator(".ssc-bot .ssc-text").first).not_to_be_empty()
    expect(turn.locator(".ssc-badge")).to_have_text(labels[answer["verdict"]])

    first_id = answer["rule_ids"][0]
    chip = turn.get_by_role("button", name=first_id)
    expect(chip).to_have_attribute("aria-expanded", "false")
    expect(turn.locator(".ssc-chip")).to_have_count(len(answer["rule_ids"]))
    clause_text = turn.locator(f'.ssc-clause[data-rule-id="{first_id}"] .ssc-clause-text')
    expect(clause_text).to_be_hidden()
    chip.focus()
    page.keyboard.press("Enter")  # keyboard only
    expect(chip).to_have_attribute("aria-expanded", "true")
    clause = running_bot.get(f"/webhooks/chat/clause/{first_id}?lang=en")
    expect(clause_text).to_be_visible()
    expect(clause_text).to_have_text(" ".join(clause["text"].split()), use_inner_text=True)
    page.keyboard.press("Space")  # and closed again
    expect(clause_text).to_be_hidden()


def test_quick_reply_button_sends_payload_and_shows_title(new_page, chat_url):
    page = open_chat(new_page, chat_url)
    ask(page, "Do I need a valid licence?")
    button = page.locator(TURN).last.get_by_role("button", name="Check my licence")
    expect(button).to_be_visible()
    turns = page.locator(TURN).count()
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".ssc-user").last).to_have_text(re.compile(r"Check my licence$"))
    expect(page.locator(".ssc-user").last).not_to_contain_text("/")
    expect(page.locator(TURN)).to_have_count(turns + 1)
    expect(page.locator(TURN).last.locator(".ssc-bot").first).not_to_be_empty()
    expect(page.locator("#ssc-input")).to_be_focused()  # ready for the next question


def test_fallback_offers_topics_as_buttons(new_page, chat_url):
    page = open_chat(new_page, chat_url)
    ask(page, "support?")  # not understood; topics offered as buttons
    assert last_answer(page)["verdict"] == "fallback"
    buttons = page.locator(TURN).last.locator("button.ssc-quick")
    expect(buttons.first).to_be_visible()
    title = buttons.first.inner_text()
    payload = buttons.first.get_attribute("data-payload")
    assert payload.startswith("/")
    buttons.first.click()
    expect(page.locator(".ssc-user .ssc-text").last).to_have_text(title)
    expect(page.locator(ANSWER)).to_have_count(2)
    assert last_answer(page)["verdict"] != "fallback"


def test_over_the_rate_limit_it_says_when_to_send_again_and_keeps_the_text(new_page, chat_url):
    page = open_chat(new_page, chat_url)
    question = QUESTIONS["en"]
    # the REST channel's answer over the per-address limit (bot/rasa_addons/channels/rest.py)
    refusal = {
        "status": 429,
        "headers": {"Retry-After": "7", "Content-Type": "application/json"},
        "body": '{"error": "too many requests: try again in 7 s"}',
    }
    page.route("**/webhooks/rest/webhook", lambda route: route.fulfill(**refusal))
    box = page.locator("#ssc-input")
    box.fill(question)
    box.press("Enter")
    failed = page.locator(".ssc-user.ssc-failed")
    expect(failed).to_contain_text("too many messages at once")
    expect(failed).to_contain_text("again in 7 s")
    expect(page.locator(".ssc-banner")).to_be_hidden()  # still online: not "reconnecting"
    expect(box).to_have_value(question)  # nothing the user typed is lost
    expect(box).to_be_enabled()
    page.unroute("**/webhooks/rest/webhook")
    box.press("Enter")
    expect(page.locator(ANSWER)).to_have_count(1)
    assert last_answer(page)["rule_ids"][0] == "rules:4.2.3"


@pytest.mark.parametrize("lang", ["en", "nb", "sv"])
def test_answers_in_the_chosen_language(new_page, chat_url, docs_dir, lang):
    page = open_chat(new_page, chat_url)
    page.get_by_label("Language").select_option(lang)
    expect(page.locator(".ssc-root")).to_have_attribute("lang", lang)
    ask(page, QUESTIONS[lang])
    answer = last_answer(page)
    assert answer and answer["lang"] == lang, answer
    expect(page.locator(ANSWER).last.locator(".ssc-badge")).not_to_be_empty()
    page.locator(ANSWER).last.locator(".ssc-chip").first.click()
    expect(page.locator(ANSWER).last.locator(".ssc-clause-text").first).not_to_be_empty()
    show_latest_answer(page)
    page.screenshot(path=str(docs_dir / f"chat-{lang}.png"))


def test_chosen_language_is_sent_with_each_message(new_page, chat_url):
    page = open_chat(new_page, chat_url)
    page.get_by_label("Language").select_option("sv")
    ask(page, QUESTIONS["en"])  # English words, but the visitor chose Swedish
    assert last_answer(page)["lang"] == "sv"
    expect(page.locator("#ssc-lang")).to_have_value("sv")


def test_language_follows_the_users_language(new_page, chat_url):
    page = open_chat(new_page, chat_url, locale="en-US")
    expect(page.locator("#ssc-lang")).to_have_value("en")
    ask(page, QUESTIONS["nb"])
    assert last_answer(page)["lang"] == "nb"
    expect(page.locator("#ssc-lang")).to_have_value("nb")
    expect(page.locator("#ssc-input")).to_have_attribute("placeholder", re.compile("Spør"))


def test_default_language_from_the_browser(new_page, chat_url):
    page = open_chat(new_page, chat_url, locale="nn-NO")
    expect(page.locator("#ssc-lang")).to_have_value("nb")
    page = open_chat(new_page, chat_url, locale="sv-SE")
    expect(page.locator("#ssc-lang")).to_have_value("sv")


def test_history_survives_a_reload(new_page, chat_url):
    page = open_chat(new_page, chat_url)
    ask(page, QUESTIONS["en"])
    sender = page.evaluate("() => window.SupportScopeChat.api.state().sender")
    bot_text = page.locator(ANSWER).last.locator(".ssc-bot .ssc-text").first.inner_text()
    page.reload()
    expect(page.locator(".ssc-user .ssc-text")).to_have_text([QUESTIONS["en"]])
    first_text = page.locator(ANSWER).last.locator(".ssc-bot .ssc-text").first
    expect(first_text).to_have_text(bot_text, use_inner_text=True)
    expect(page.locator(ANSWER).last.locator(".ssc-badge")).not_to_be_empty()
    assert page.evaluate("() => window.SupportScopeChat.api.state().sender") == sender
    ask(page, "Do I need a valid licence?")  # the conversation goes on after the reload
    expect(page.locator(".ssc-user")).to_have_count(2)


def test_markup_is_shown_as_text(new_page, chat_url):
    page = open_chat(new_page, chat_url)
    evil = "<img src=x onerror=alert(1)>"
    ask(page, evil)
    expect(page.locator(".ssc-user .ssc-text").last).to_have_text(evil)
    assert page.locator(".ssc-root img").count() == 0
    page.reload()
    expect(page.locator(".ssc-user .ssc-text").last).to_have_text(evil)
    assert page.locator(".ssc-root img").count() == 0
    page.wait_for_timeout(300)  # a dialog would fail the test in new_page's teardown


def test_thumbs_down_is_stored(new_page, chat_url, running_bot):
    from bot.feedback import list_feedback

    page = open_chat(new_page, chat_url)
    ask(page, QUESTIONS["en"])
    answer = last_answer(page)
    sender = page.evaluate("() => window.SupportScopeChat.api.state().sender")
    down = page.locator(ANSWER).last.get_by_role("button", name="No, not helpful")
    down.click()
    expect(down).to_have_attribute("aria-pressed", "true")
    expect(page.locator(ANSWER).last.locator(".ssc-feedback-status")).not_to_be_empty()
    stored = [e for e in list_feedback(url=running_bot.cfg.database_url) if e.sender == sender]
    assert len(stored) == 1, stored
    entry = stored[0]
    assert entry.rating == "down"
    assert entry.question == QUESTIONS["en"]
    assert entry.verdict == answer["verdict"]
    assert list(entry.rule_ids) == answer["rule_ids"]
    assert entry.lang == "en"
    assert entry.answer.strip()


def test_two_questions_show_two_answers_each_with_its_citations_and_thumbs(
    new_page, chat_url, running_bot
):
    from bot.feedback import list_feedback

    page = open_chat(new_page, chat_url)
    ask(page, "Can you remove a virus from my PC, and are you open on Saturdays?")
    turn = page.locator(TURN).last
    metas = turn.locator(".ssc-answer-meta")
    expect(metas).to_have_count(2)
    expect(turn).to_have_attribute("data-answers", "2")
    answers = page.evaluate(
        """() => {
            const h = window.SupportScopeChat.api.state().history;
            return h[h.length - 1].messages.filter(m => m.custom && m.custom.answer)
                .map(m => m.custom.answer);
        }"""
    )
    for meta, answer in zip(metas.all(), answers, strict=True):
        expect(meta.locator(".ssc-badge")).to_be_visible()
        expect(meta.locator(".ssc-chip")).to_have_count(len(answer["rule_ids"]))
        expect(meta.get_by_role("button", name="No, not helpful")).to_be_visible()
    # each answer's meta follows its own text: the first sits between the two texts
    order = turn.evaluate(
        "t => [...t.children].map(c => c.classList.contains('ssc-answer-meta') ? 'm' : 't')"
    )
    assert "".join(order).startswith("t") and "tm" in "".join(order)
    sender = page.evaluate("() => window.SupportScopeChat.api.state().sender")
    second = metas.nth(1).get_by_role("button", name="Yes, helpful")
    second.click()
    expect(second).to_have_attribute("aria-pressed", "true")
    expect(metas.nth(0).get_by_role("button", name="Yes, helpful")).to_have_attribute(
        "aria-pressed", "false"
    )
    (stored,) = [e for e in list_feedback(url=running_bot.cfg.database_url) if e.sender == sender]
    assert list(stored.rule_ids) == answers[1]["rule_ids"]  # the second answer's, not the first's
    assert stored.question == answers[1]["segment"]


def test_phone_screenshot(new_page, chat_url, docs_dir):
    page = open_chat(new_page, chat_url, width=375, height=740)
    ask(page, "Do I need a valid licence?")
    ask(page, QUESTIONS["en"])
    page.locator(ANSWER).last.locator(".ssc-chip").first.click()
    expect(page.locator(ANSWER).last.locator(".ssc-clause-text").first).not_to_be_empty()
    # nothing wider than the screen
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    show_latest_answer(page)
    page.screenshot(path=str(docs_dir / "chat-phone.png"))


def _serve_once(html: str, port: int = 0):
    """Serve one HTML page from another local origin (own port), in a thread."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_embedded_on_another_site(new_page, running_bot):
    """One script tag on another origin: floating launcher, own colours, the
    server taken from the script's address, answers over CORS."""
    page = new_page()
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head>
        <body><h1>Shop</h1>
        <script>window.SupportScopeChat = {{title: "Shop help",
                                            colors: {{accent: "rgb(31, 78, 156)"}}}};</script>
        <script src="{running_bot.url}/webhooks/chat/static/widget.js"></script></body></html>"""
    shop = _serve_once(html)  # a real server: a page fulfilled by Playwright counts as public
    try:
        page.goto(f"http://127.0.0.1:{shop.server_address[1]}/shop.html")
    finally:
        shop.shutdown()
        shop.server_close()
    launcher = page.get_by_role("button", name="Open support chat")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#ssc-input")).to_be_hidden()
    launcher.click()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("heading", name="Shop help")).to_be_visible()
    expect(page.locator(".ssc-send")).to_have_css("background-color", "rgb(31, 78, 156)")
    expect(page.locator("#ssc-input")).to_be_focused()
    ask(page, QUESTIONS["en"])
    expect(page.locator(ANSWER).last.locator(".ssc-badge")).not_to_be_empty()


def test_zz_reconnects_after_a_server_restart(new_page, chat_url, running_bot):
    """Stops the shared servers: keep it last."""
    page = open_chat(new_page, chat_url)
    ask(page, QUESTIONS["en"])
    banner = page.locator(".ssc-banner")
    expect(banner).to_be_hidden()
    running_bot.servers.stop()
    try:
        box = page.locator("#ssc-input")
        box.fill("Do I need a valid licence?")
        box.press("Enter")
        expect(banner).to_be_visible(timeout=30_000)
        expect(banner).to_have_text(re.compile("Reconnecting"))
        expect(page.locator(".ssc-send")).to_be_disabled()
    finally:
        running_bot.servers.start()
        running_bot.servers.wait_ready()
    expect(banner).to_be_hidden(timeout=30_000)
    expect(page.locator(".ssc-send")).to_be_enabled()
    ask(page, "Do I need a valid licence?")
    expect(page.locator(TURN).last.locator(".ssc-bot").first).not_to_be_empty()
