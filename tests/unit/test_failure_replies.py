"""bot.failure_replies: the apology is in the conversation's language."""

from __future__ import annotations

import pytest

from bot import failure_replies
from bot.messages import say


def parse_data(detected: str | None = None, decisive: bool = True, lang: str | None = None):
    data: dict = {"text": "..."}
    if detected:
        data["language"] = {"detected": detected, "confidence": 0.95, "decisive": decisive}
    if lang:
        data["metadata"] = {"lang": lang}
    return data


@pytest.mark.parametrize(
    ("latest", "previous", "expected"),
    [
        (parse_data("sv"), "nb", "sv"),  # a decisive detection switches
        (parse_data("sv", decisive=False), "nb", "nb"),  # a weak one does not
        (parse_data("sv", lang="en"), "nb", "en"),  # the page's choice wins
        (None, "nb", "nb"),  # no message at all: the conversation's language
        (None, None, "en"),
    ],
)
def test_reply_language(latest, previous, expected):
    assert failure_replies.reply_language(latest, previous) == expected


def test_apology_uses_the_catalogue():
    assert failure_replies.apology(failure_replies.ACTION_FAILED, parse_data("nb"), None) == say(
        "action_failed", "nb"
    )
    assert failure_replies.apology(failure_replies.DATABASE_UNAVAILABLE, None, "sv") == say(
        "database_unavailable", "sv"
    )
