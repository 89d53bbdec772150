"""Not understood: ask to rephrase, offering the likeliest topics as buttons."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import rule_then_lookup
from actions.conversation import reply_language, send
from bot import answers, rulebase

# A topic below this confidence is not worth offering as a button.
MIN_OPTION_CONFIDENCE = 0.05


class Clarify(Action):
    def name(self) -> str:
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        followup = rule_then_lookup.offered_lookup(tracker, take_text=True)
        if followup:  # a bare product name after "tell me the product and version"
            return followup
        lang = reply_language(tracker)
        ranking = [
            (r["name"], float(r.get("confidence") or 0.0))
            for r in tracker.latest_message.get("intent_ranking") or []
            if r.get("name") != "nlu_fallback"
            and float(r.get("confidence") or 0.0) >= MIN_OPTION_CONFIDENCE
        ]
        try:
            rules = rulebase.current()
        except rulebase.RulebaseMissing:
            rules = None
        return (
            send(dispatcher, answers.fallback(rules, ranking, lang))
            + rule_then_lookup.clear_offer()
        )
