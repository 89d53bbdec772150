"""What the chat widget (bot/web/widget.js) keeps in the host site's localStorage:
a paid-service request's summary and "filed" message are shown but never stored,
nor what the visitor typed that they quote; a history a day old is dropped on
load and a new conversation starts. In Chromium, through the running bot."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from bot import service_requests
from tests.browser.test_chat_page import QUESTIONS, TURN, ask, open_chat
from tests.conversation.test_service_requests import DESCRIPTION, START

pytestmark = pytest.mark.usefixtures("running_bot")

TYPED = ["Kari Nordmann", "kari@example.no", "Fjordvik Regnskap AS"]  # into the form
WITHHELD = "Not kept on this device: it holds personal details."
HOUR_MS = 3600 * 1000


def stored_raw(page) -> str:
    """Everything the widget wrote to localStorage, as written."""
    return page.evaluate(
        """() => Object.keys(localStorage).filter(k => k.startsWith("supportScopeChat:"))
                   .map(k => localStorage.getItem(k)).join("\\n")"""
    )


def stored(page) -> dict:
    return json.loads(stored_raw(page))


def sender_of(page) -> str | None:
    return page.evaluate("() => window.SupportScopeChat.api.state().sender")


def test_the_request_summary_and_filed_message_never_reach_local_storage(
    new_page, chat_url, running_bot
):
    page = open_chat(new_page, chat_url)
    for text in [START["en"], *TYPED, "Norway", "-", DESCRIPTION["en"]]:
        ask(page, text)
    summary = page.locator(TURN).last
    expect(summary).to_contain_text("Please check your request")
    expect(summary).to_contain_text("ka•••@ex•••••.no")  # shown on the page, in part
    raw = stored_raw(page)
    assert START["en"] in raw  # the conversation itself is kept
    for secret in ["Please check your request", *TYPED, DESCRIPTION["en"]]:
        assert secret not in raw, secret
    sender = sender_of(page)

    page.reload()  # the summary's place says why it is missing; its buttons still work
    expect(page.locator(".ssc-user .ssc-text").first).to_have_text(START["en"])
    expect(page.locator(TURN).last.locator(".ssc-withheld")).to_have_text(WITHHELD)
    expect(page.locator(".ssc-user .ssc-withheld")).to_have_count(len(TYPED) + 3)
    assert sender_of(page) == sender
    before = page.locator(TURN).count()
    page.locator(TURN).last.get_by_role("button", name="Send it").click()
    expect(page.locator(TURN)).to_have_count(before + 1)
    filed = page.locator(TURN).last
    expect(filed).to_contain_text("kari@example.no")  # the "filed" message, shown
    reference = filed.locator(".ssc-service-request").inner_text()
    assert re.search(r"SR-\d{4}-\d{6}", reference)

    (request,) = [
        r
        for r in service_requests.list_requests(url=running_bot.cfg.database_url)
        if r.conversation_id == sender
    ]
    assert (request.name, request.email, request.company) == tuple(TYPED)
    raw = stored_raw(page)
    assert request.reference in raw  # the reference card is kept
    for secret in ["Done:", *TYPED]:
        assert secret not in raw, secret
    page.reload()
    expect(page.locator(TURN).last.locator(".ssc-service-request")).to_contain_text(
        request.reference
    )
    expect(page.locator(TURN).last.locator(".ssc-withheld")).to_have_text(WITHHELD)


def _age_history(page, hours: float | None) -> None:
    """Make the stored conversation's last message `hours` old (None: of no age,
    as a widget before the expiry stored it)."""
    page.evaluate(
        """([hours, hourMs]) => {
            const key = Object.keys(localStorage).find(k => k.startsWith("supportScopeChat:"));
            const state = JSON.parse(localStorage.getItem(key));
            if (hours === null) delete state.at; else state.at = Date.now() - hours * hourMs;
            localStorage.setItem(key, JSON.stringify(state));
        }""",
        [hours, HOUR_MS],
    )


@pytest.mark.parametrize("age", [25, None])
def test_a_history_a_day_old_is_dropped_on_load_and_a_new_conversation_starts(
    new_page, chat_url, age
):
    page = open_chat(new_page, chat_url)
    ask(page, QUESTIONS["en"])
    old_sender = sender_of(page)
    assert old_sender
    _age_history(page, 23)  # younger than a day: kept, same conversation
    page.reload()
    expect(page.locator(".ssc-user .ssc-text")).to_have_text([QUESTIONS["en"]])
    assert sender_of(page) == old_sender

    _age_history(page, age)
    page.reload()
    expect(page.locator(".ssc-welcome")).to_be_visible()
    expect(page.locator(".ssc-user")).to_have_count(0)
    assert stored(page)["history"] == []
    assert QUESTIONS["en"] not in stored_raw(page)
    ask(page, "Do I need a valid licence?")
    new_sender = sender_of(page)
    assert new_sender and new_sender != old_sender
    expect(page.locator(".ssc-user .ssc-text")).to_have_text(["Do I need a valid licence?"])
