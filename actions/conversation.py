"""What every action needs: the reply language, and sending a Reply."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import language
from bot.answers import Reply
from bot.contract import LANGS
from bot.privacy import log_filter

# Every action module imports this one, so the action server masks personal
# data in its log records from the first action on (the SDK logs failing
# actions with their tracker's text).
log_filter.install()

# Form fields whose answers are names, addresses, keys or numbers: no evidence of a
# language ("Kari Nordmann" reads as Norwegian), so they never switch it.
NON_LINGUISTIC_SLOTS = {
    "product",
    "version",
    "licence_key",
    "sr_service",
    "sr_name",
    "sr_email",
    "sr_company",
    "sr_country",
    "sr_licence_key",
}


def reply_language(tracker: Tracker) -> str:
    """The page's explicit choice, else a decisive detection, else the language so far."""
    info: dict[str, Any] = tracker.latest_message.get("language") or {}
    detection = None
    answering_a_field = tracker.active_loop and tracker.get_slot("requested_slot") in (
        NON_LINGUISTIC_SLOTS
    )
    if info.get("detected") in LANGS and not answering_a_field:
        detection = language.Detection(
            lang=info["detected"],
            confidence=float(info.get("confidence") or 0.0),
            scores=info.get("scores") or {},
            letters=language.MIN_LETTERS if info.get("decisive") else 0,
        )
    explicit = info.get("explicit") or _metadata_language(tracker)
    previous = tracker.get_slot("language")
    if answering_a_field and previous:
        return language.choose(explicit, None, previous)
    return language.choose(explicit, detection, previous)


def _latest_metadata(tracker: Tracker) -> dict[str, Any]:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata")
            return metadata if isinstance(metadata, dict) else {}
    return {}


def _metadata_language(tracker: Tracker) -> str | None:
    """The client's `metadata.lang` on the latest user message. Needed for button
    payloads ("/scope_licence"), which skip the NLU pipeline and its detector."""
    lang = _latest_metadata(tracker).get("lang")
    return lang if isinstance(lang, str) else None


def wants_full(tracker: Tracker) -> bool:
    """`metadata.detail == "full"`: every clause's wording in the text (`bot ask
    --full`, agents); otherwise a short line per clause (customers, phones)."""
    return _latest_metadata(tracker).get("detail") == "full"


def send(dispatcher: CollectingDispatcher, reply: Reply) -> list[dict[str, Any]]:
    """The text (with any buttons) and the contract's custom payload; remember the language."""
    dispatcher.utter_message(
        text=reply.text, buttons=list(reply.buttons), json_message=reply.payload()
    )
    return [SlotSet("language", reply.lang)]
