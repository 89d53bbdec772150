"""What every action needs: the reply language, and sending a Reply."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import language
from bot.answers import Reply


def reply_language(tracker: Tracker) -> str:
    """The page's explicit choice, else a decisive detection, else the language so far."""
    info: dict[str, Any] = tracker.latest_message.get("language") or {}
    detection = None
    if info.get("detected") in language.SUPPORTED:
        detection = language.Detection(
            lang=info["detected"],
            confidence=float(info.get("confidence") or 0.0),
            scores=info.get("scores") or {},
            letters=language.MIN_LETTERS if info.get("decisive") else 0,
        )
    explicit = info.get("explicit") or _metadata_language(tracker)
    return language.choose(explicit, detection, tracker.get_slot("language"))


def _metadata_language(tracker: Tracker) -> str | None:
    """The client's `metadata.lang` on the latest user message. Needed for button
    payloads ("/scope_licence"), which skip the NLU pipeline and its detector."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata") or {}
            return metadata.get("lang") if isinstance(metadata, dict) else None
    return None


def send(dispatcher: CollectingDispatcher, reply: Reply) -> list[dict[str, Any]]:
    """The text (with any buttons) and the contract's custom payload; remember the language."""
    dispatcher.utter_message(
        text=reply.text, buttons=list(reply.buttons), json_message=reply.payload()
    )
    return [SlotSet("language", reply.lang)]
