"""The trainer page's Insights view in headless Chromium, on the shared servers
(tests/servers.py), after customers have talked to them through the REST
channel: the cards and charts drawn, a topic's link opening its inbox entries,
the period chosen, a wrong one refused, and a phone's width without sideways
scrolling. Screenshots go to docs/ with BOT_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from bot.contract import LANGS
from tests.conversation.questions import DISINFECTION, INCIDENT, ONSITE, TWO_QUESTIONS
from tests.conversation.test_insights import hold_conversations
from tests.servers import Bot, new_sender

SERVER = 30_000  # ms
CHARTS = 7


@pytest.fixture(scope="module")
def talked(running_bot: Bot) -> Bot:
    """Conversations in every language, enough for bars above the hidden counts,
    with feedback, out of scope and the request form filed, cancelled and left."""
    hold_conversations(running_bot, fallback=False)
    for lang in LANGS:
        for question in (DISINFECTION, ONSITE, INCIDENT, TWO_QUESTIONS) * 2:
            running_bot.ask(question[lang], new_sender(), lang)
    return running_bot


def insights_url(bot: Bot) -> str:
    return bot.url + "/webhooks/trainer/"


def signed_in(new_page, bot: Bot, **size):
    page = new_page(**size)
    page.goto(insights_url(bot) + "#insights")
    box = page.get_by_label("Trainer token")
    box.fill(token_of(bot))
    box.press("Enter")
    expect(page.get_by_role("tab", name="Insights")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#in-charts svg")).to_have_count(CHARTS, timeout=SERVER)
    return page


def token_of(bot: Bot) -> str:
    """The servers' trainer token (tests/servers.py puts it in the environment)."""
    return os.environ["BOT_TRAINER_TOKEN"]


def api(bot: Bot, query: str, token: str | None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(insights_url(bot) + "api/insights" + query, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_the_route_wants_the_token_and_a_real_period(talked: Bot) -> None:
    assert api(talked, "", None)[0] == 401
    assert api(talked, "", "not-the-token")[0] == 401
    status, body = api(talked, "?days=0", token_of(talked))
    assert status == 400 and "days" in body["error"]
    status, body = api(talked, "?since=2026-12-01&until=2026-11-01", token_of(talked))
    assert status == 400 and "before" in body["error"]
    status, body = api(talked, "?days=7&days=8", token_of(talked))
    assert status == 400 and "more than once" in body["error"]
    status, body = api(talked, "?days=7", token_of(talked))
    assert status == 200 and set(body["charts"]) >= {"weeks", "topics", "forms"}
    assert body["conversations"]["all"] >= 5 * len(LANGS)


def test_desktop_cards_charts_and_a_topic_opening_its_inbox(new_page, talked, docs_dir) -> None:
    page = signed_in(new_page, talked, width=1440, height=1500)
    cards = page.locator(".in-card")
    expect(cards).to_have_count(7)
    expect(cards.first.locator(".in-label")).to_have_text("Conversations")
    expect(cards.first.locator(".in-value")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator("#in-charts h2").first).to_have_text(re.compile("by week"))
    bars = page.locator("#in-charts svg").nth(1).locator("rect")
    assert bars.count() > 4  # the legend's four and at least one bar
    page.screenshot(path=str(docs_dir / "insights.png"))

    link = page.locator("#in-topics a", has_text="Disinfecting an infected computer")
    expect(link).to_have_count(1)
    link.click()
    expect(page.get_by_role("tab", name="Inbox")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#tr-f-intent")).to_have_value("scope_disinfection")
    expect(page.locator("#tr-f-status")).to_have_value("all")
    assert page.url.endswith("#inbox?intent=scope_disinfection")


def test_choosing_the_period(new_page, talked) -> None:
    page = signed_in(new_page, talked)
    page.locator("#in-days").select_option("7")
    expect(page.locator("#in-note")).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d to "))
    page.locator("#in-days").select_option("")  # days of my choice
    page.get_by_label("First day").fill("2026-12-01")
    page.get_by_label("Last day").fill("2026-11-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#in-error")).to_contain_text("before")
    page.get_by_label("Last day").fill("2026-12-31")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#in-note")).to_contain_text("2026-12-01 to 2026-12-31")
    expect(page.locator("#in-error")).to_be_empty()


def test_phone_width_has_no_sideways_scrolling(new_page, talked, docs_dir) -> None:
    page = signed_in(new_page, talked, width=390, height=844)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"
    for i in range(CHARTS):
        box = page.locator("#in-charts svg").nth(i).bounding_box()
        assert box is not None and box["width"] <= 390
    page.screenshot(path=str(docs_dir / "insights-phone.png"), full_page=True)
