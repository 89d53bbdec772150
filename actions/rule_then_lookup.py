"""The rule before the form (issue 12).

A version or licence question is answered with the rule it rests on (the
topic's answer from the rule base, cited). The records lookup starts at once
only when the message gives the facts (a product, a version, a licence key), or
answers an offer of it (yes, or the offer's button), or is the licence check's
button; otherwise the reply offers it (a suggestion button to the version topic
too gets the rule first):

- "Are old versions supported?", "Is my version still supported?": the rule,
  then "tell me the product and version and I'll check" with the form's first
  question; no form starts, the next message runs the lookup if it names a
  product or version, or says yes (`offered_lookup`, called by the actions that
  answer everything else).
- "Is my licence valid?" (check_licence) without a key: the rule, then the
  licence form asks for the key (the user asked about their own licence).
- "Do I need a valid licence?" (scope_licence): the rule, with the button that
  checks a licence; no form.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import reply_language, send, wants_full
from bot import answers, rulebase
from bot.messages import say

VERSION_QUESTION = "scope_version_support"
LICENCE_RULE = "scope_licence"
CHECK_LICENCE = "check_licence"
VERSION_FACTS = {"product", "version", "licence_key"}  # a key names its product too
OFFER_SLOT = "lookup_offer"
VERSION_OFFER = "version"


def _intent(tracker: Tracker) -> str:
    return (tracker.latest_message.get("intent") or {}).get("name") or ""


def facts_given(tracker: Tracker) -> bool:
    """The message names a product, version or key: a version lookup can start."""
    return bool(_facts(tracker))


def _facts(tracker: Tracker) -> set[str]:
    """The record facts this message gives (entities of bot.rasa_addons.components.record_facts)."""
    return {
        str(e.get("entity"))
        for e in tracker.latest_message.get("entities") or []
        if isinstance(e, dict) and e.get("value")
    } & VERSION_FACTS


def _from_button(tracker: Tracker) -> bool:
    """A payload ("/check_licence"): the user chose the licence check."""
    return (tracker.latest_message.get("text") or "").startswith("/")


def clear_offer() -> list[dict[str, Any]]:
    """An offer holds for one message only."""
    return [SlotSet(OFFER_SLOT, None)]


def offered_lookup(tracker: Tracker, take_text: bool = False) -> list[dict[str, Any]] | None:
    """The previous reply offered a version lookup: a message that names a product
    or version, or says yes, runs it (the form asks for what is still missing).
    `take_text`: a message not understood otherwise is the answer to "which
    product?", as the form would have taken it (its validation says what it knows
    of a misspelt name)."""
    if tracker.get_slot(OFFER_SLOT) != VERSION_OFFER:
        return None
    # yes, the facts, or the offer's own button ("Check without a key") or question
    if _facts(tracker) or _intent(tracker) in ("affirm", VERSION_QUESTION):
        return [*clear_offer(), FollowupAction("version_form")]
    text = (tracker.latest_message.get("text") or "").strip()
    if take_text and text and not text.startswith("/"):
        return [*clear_offer(), SlotSet("product", text), FollowupAction("version_form")]
    return None


class RuleThenLookup(Action):
    def name(self) -> str:
        return "action_rule_then_lookup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = _intent(tracker)
        followup = offered_lookup(tracker, take_text=intent == VERSION_QUESTION)
        if followup:  # the answer to "tell me the product and version"
            return followup
        facts = _facts(tracker)
        # A version question's button with no lookup offered (a fallback's suggestion)
        # gets the rule first, as the typed question does.
        if intent == VERSION_QUESTION and facts:
            return [*clear_offer(), FollowupAction("version_form")]
        if intent in (CHECK_LICENCE, LICENCE_RULE) and "licence_key" in facts:
            return [*clear_offer(), FollowupAction("licence_form")]
        if intent == CHECK_LICENCE and _from_button(tracker):
            return [*clear_offer(), FollowupAction("licence_form")]
        lang = reply_language(tracker)
        try:
            rules = rulebase.current()
        except rulebase.RulebaseMissing:
            dispatcher.utter_message(text=say("rulebase_unavailable", lang))
            return clear_offer()
        topic = rules.topic_for_intent(LICENCE_RULE if intent == CHECK_LICENCE else intent)
        if topic is None:  # a model trained on topics since removed from the rule base
            return send(dispatcher, answers.fallback(rules, [], lang)) + clear_offer()
        reply = answers.topic_answer(rules, topic, lang, full=wants_full(tracker))
        if intent == CHECK_LICENCE:  # their own licence: the rule, then the form asks the key
            buttons = tuple(b for b in reply.buttons if b["payload"] != f"/{CHECK_LICENCE}")
            events = send(dispatcher, dataclasses.replace(reply, buttons=buttons))
            # the form asks for the key at once: no offer before it that says the same
            return events + clear_offer() + [FollowupAction("licence_form")]
        events = send(dispatcher, reply)
        if intent == VERSION_QUESTION:  # the rule, then the offer with the form's first question
            offer = f"{say('lookup_offer_version', lang)} {say('ask_product', lang)}"
            dispatcher.utter_message(text=offer)
            return events + [SlotSet(OFFER_SLOT, VERSION_OFFER)]
        return events + clear_offer()
