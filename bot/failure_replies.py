"""What the user is told when a part of the assistant fails: in their language, at once.

Used where no action can answer: by the Rasa server when the action server is
down, hung or failing (bot/rasa_addons/patches.py) and by the action server when
the database is unreachable (bot/rasa_addons/entry/action_server.py). Both have the
latest user message as Rasa's parse data, a dict, and the `language` slot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot import language
from bot.contract import LANGS
from bot.messages import say

ACTION_FAILED = "action_failed"  # the action server refused, hung or failed
DATABASE_UNAVAILABLE = "database_unavailable"  # the project database is unreachable


def reply_language(latest_message: Mapping[str, Any] | None, previous: object) -> str:
    """As actions/conversation.reply_language, from the parse data alone."""
    latest = latest_message or {}
    info = latest.get("language") or {}
    metadata = latest.get("metadata") or {}
    explicit = info.get("explicit") or (
        metadata.get("lang") if isinstance(metadata, Mapping) else None
    )
    detection = None
    if info.get("detected") in LANGS:
        detection = language.Detection(
            lang=info["detected"],
            confidence=float(info.get("confidence") or 0.0),
            scores=info.get("scores") or {},
            letters=language.MIN_LETTERS if info.get("decisive") else 0,
        )
    return language.choose(explicit, detection, previous)


def apology(key: str, latest_message: Mapping[str, Any] | None, previous: object) -> str:
    """The phrase `key` in the language the conversation is in; English if all else fails."""
    try:
        return say(key, reply_language(latest_message, previous))
    except Exception:  # noqa: BLE001 - a broken catalogue must not silence the apology
        return "Sorry, something went wrong. Please try again shortly."
