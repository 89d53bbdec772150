"""A lookup answer in the chat page shows its values in the chosen language
(issue 12): the payload keeps the contract's values ("supported", "valid"),
the page names them from /webhooks/chat/lookup-labels."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from bot import messages
from tests.browser.test_chat_page import ANSWER, ask, last_answer, open_chat

pytestmark = pytest.mark.usefixtures("running_bot")

VALID_KEY = "ZRM6N-TL7VJ-Q26X8-ZEB76"  # content/records/: KES for Linux 12.2, valid
CHECK = {
    "en": f"Is this licence key valid? {VALID_KEY}",
    "nb": f"Er denne lisensnøkkelen gyldig? {VALID_KEY}",
    "sv": f"Är den här licensnyckeln giltig? {VALID_KEY}",
}


def test_lookup_labels_route(running_bot):
    assert running_bot.get("/webhooks/chat/lookup-labels?lang=nb") == {
        "status": {
            "supported": messages.say("lookup_status_supported", "nb"),
            "end_of_life": messages.say("lookup_status_end_of_life", "nb"),
            "unknown": messages.say("lookup_status_unknown", "nb"),
        },
        "licence": {
            "valid": messages.say("lookup_licence_valid", "nb"),
            "expired": messages.say("lookup_licence_expired", "nb"),
            "unknown": messages.say("lookup_licence_unknown", "nb"),
        },
    }


@pytest.mark.parametrize("lang", ["nb", "sv", "en"])
def test_lookup_values_in_the_chosen_language(new_page, chat_url, lang):
    page = open_chat(new_page, chat_url)
    page.get_by_label("Language").select_option(lang)
    ask(page, CHECK[lang])
    answer = last_answer(page)
    assert answer["lang"] == lang
    assert answer["lookup"]["status"] == "supported"  # the payload is the contract's
    assert answer["lookup"]["licence"] == "valid"
    lookup = page.locator(ANSWER).last.locator(".ssc-lookup")
    status = messages.say("lookup_status_supported", lang)
    valid = messages.say("lookup_licence_valid", lang)
    expect(lookup.locator('dd[data-field="status"]')).to_have_text(status)
    expect(lookup.locator('dd[data-field="licence"]')).to_have_text(valid)
    if lang != "en":  # the words differ from the English ones
        assert (status, valid) != ("supported", "valid")
