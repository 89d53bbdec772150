"""Greetings, thanks, "are you a bot", out of scope: replies from the phrase catalogue."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import rule_then_lookup
from actions.conversation import reply_language, send
from bot import answers

INTENTS = (
    "greet",
    "goodbye",
    "thanks",
    "affirm",
    "deny",
    "bot_challenge",
    "human_handoff",
    "capabilities",
    "out_of_scope",
)


class SmallTalk(Action):
    def name(self) -> str:
        return "action_small_talk"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        followup = rule_then_lookup.offered_lookup(tracker)
        if followup:  # "yes" (or a product) after "tell me the product and version"
            return followup
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        reply = answers.small_talk(
            intent if intent in INTENTS else "out_of_scope", reply_language(tracker)
        )
        return send(dispatcher, reply) + rule_then_lookup.clear_offer()
