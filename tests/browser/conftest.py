"""Browser tests: the chat page in real headless Chromium (Debian's, driven by
Playwright's sync API) against the Rasa and action servers that
tests/servers.py starts (one pair for the whole test run)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("BOT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def chat_url(running_bot) -> str:
    return running_bot.url + "/webhooks/chat/"


# Our pages send a Content-Security-Policy: each violation is an event in the page
# (and a line of Chromium's own in the console); both are reported to the test.
CSP_MARK = "CSP violation"
_CSP_LISTENER = (
    'document.addEventListener("securitypolicyviolation", (e) => console.error('
    f'"{CSP_MARK}: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline")));'
)


def watch_csp(page, sink: list[str]) -> None:
    """Every CSP violation in `page` (any of its frames) goes into `sink`."""
    page.add_init_script(_CSP_LISTENER)  # injected by the browser: no policy applies to it

    def on_console(message) -> None:
        if CSP_MARK in message.text or "Content Security Policy" in message.text:
            sink.append(f"console: {message.text}")

    page.on("console", on_console)


@pytest.fixture
def new_page(browser):
    """Factory: a page in a fresh context (own localStorage), closed afterwards.
    Any JavaScript dialog, uncaught page error or CSP violation fails the test."""
    contexts = []
    problems: list[str] = []

    def make(locale: str = "en-US", width: int = 1280, height: int = 860):
        context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)

        def on_dialog(dialog):
            problems.append(f"dialog {dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
        watch_csp(page, problems)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not problems, problems


@pytest.fixture(scope="session")
def docs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: docs/ only when asked (BOT_UPDATE_SCREENSHOTS=1), so
    `make test` leaves the work tree clean; a temporary folder otherwise."""
    if os.environ.get("BOT_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        return DOCS
    return tmp_path_factory.mktemp("screenshots")
