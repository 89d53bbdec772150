"""Several answers in one turn (answer-contract.md, section 2a): the questions of
one message that the NLU's segment merger chose (bot.segments), answered in the
order they were asked; an intent that starts a form comes last and starts it.

The scope action answers the first intent as always and then `the_others`; an
answer given for one part of the message carries that part, masked as the
tracker store masks it, under "segment"."""

from __future__ import annotations

import dataclasses
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import rule_then_lookup
from actions.conversation import send, wants_full
from bot import answers, rulebase
from bot.answers import Reply
from bot.messages import say
from bot.privacy import drafts, mask

SERVICE_FORM = "service_request_form"


def decided(tracker: Tracker) -> tuple[list[str], dict[str, str]]:
    """The intents to answer (the message's own first) and the part each came from;
    ([], {}) when the message was read whole."""
    found = tracker.latest_message.get("segments")
    if not isinstance(found, dict):
        return [], {}
    intents = [i for i in found.get("answer") or [] if isinstance(i, str)]
    texts = found.get("texts")
    if not isinstance(texts, dict):
        return intents, {}
    return intents, {k: v for k, v in texts.items() if isinstance(v, str)}


def with_segment(reply: Reply, text: str | None, tracker: Tracker | None = None) -> Reply:
    """The reply marked with the part of the message it answers, masked as the
    tracker store masks it (the patterns, and the conversation's form values)."""
    if not text:
        return reply
    known: list[tuple[str, str]] = []
    if tracker is not None:  # the draft has the real form values; the slots, this turn's
        slots = {s: tracker.get_slot(s) for s in mask.PERSONAL_SLOTS}
        try:
            known = mask.known_values(drafts.get(tracker.sender_id), slots)
        except Exception:  # noqa: BLE001 - the patterns still apply, as in the store
            known = mask.known_values(slots)
    segment = mask.mask_text(text, known)
    return dataclasses.replace(reply, extra={**reply.extra, "segment": segment})


def the_others(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    rules: rulebase.RuleBase,
    lang: str,
) -> list[dict[str, Any]]:
    """Answer every decided intent after the first; the events to return."""
    intents, texts = decided(tracker)
    events: list[dict[str, Any]] = []
    for intent in intents[1:]:
        if intent == "request_service":  # the form asks which service: it starts now
            return events + [FollowupAction(SERVICE_FORM)]
        rule = rule_then_lookup.LICENCE_RULE if intent == rule_then_lookup.CHECK_LICENCE else intent
        topic = rules.topic_for_intent(rule)
        if topic is None:
            continue
        reply = answers.topic_answer(rules, topic, lang, full=wants_full(tracker))
        if intent == rule_then_lookup.CHECK_LICENCE:  # the form asks for the key: no button
            own = f"/{rule_then_lookup.CHECK_LICENCE}"
            kept = tuple(b for b in reply.buttons if b["payload"] != own)
            reply = dataclasses.replace(reply, buttons=kept)
        events += send(dispatcher, with_segment(reply, texts.get(intent), tracker))
        if intent == rule_then_lookup.CHECK_LICENCE:  # their own licence: the form asks the key
            return events + [FollowupAction("licence_form")]
        if intent == rule_then_lookup.VERSION_QUESTION and rule_then_lookup.facts_given(tracker):
            return events + [FollowupAction("version_form")]  # the message names them
        if intent == rule_then_lookup.VERSION_QUESTION:  # the offer, as a typed question gets
            offer = f"{say('lookup_offer_version', lang)} {say('ask_product', lang)}"
            dispatcher.utter_message(text=offer)
            events.append(SlotSet(rule_then_lookup.OFFER_SLOT, rule_then_lookup.VERSION_OFFER))
    return events
