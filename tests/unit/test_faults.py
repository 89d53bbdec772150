"""bot.faults: the apology is in the conversation's language."""

from __future__ import annotations

import pytest

from bot import faults
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
    assert faults.reply_language(latest, previous) == expected


def test_apology_uses_the_catalogue():
    assert faults.apology(faults.ACTION_FAILED, parse_data("nb"), None) == say(
        "action_failed", "nb"
    )
    assert faults.apology(faults.DATABASE_UNAVAILABLE, None, "sv") == say(
        "database_unavailable", "sv"
    )
