"""Not understood: ask to rephrase, offering the likeliest topics as buttons."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import rule_then_lookup
from actions.conversation import reply_language, send, wants_full
from bot import answers, rulebase

# A topic below this confidence is not worth offering as a button.
MIN_OPTION_CONFIDENCE = 0.05
# The last resort: when the top topic has this confidence and leads the next by
# this margin, its answer is given as a guess ("I think you are asking about ...")
# rather than asking to rephrase. Measured on the tuning sets so that answers from
# a wrong topic stay rare (python -m bench.segments; docs/decisions/pipeline.md,
# "The last resort").
LEAD_CONFIDENCE = 0.2
LEAD_MARGIN = 0.1


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
        leading = _leading_topic(rules, ranking)
        if rules is not None and leading is not None:
            others = [intent for intent, _ in ranking[1:]]
            reply = answers.likely_topic(rules, leading, others, lang, wants_full(tracker))
            return send(dispatcher, reply) + rule_then_lookup.clear_offer()
        return (
            send(dispatcher, answers.fallback(rules, ranking, lang))
            + rule_then_lookup.clear_offer()
        )


def _leading_topic(
    rules: rulebase.RuleBase | None, ranking: list[tuple[str, float]]
) -> rulebase.Topic | None:
    """The topic that clearly leads an unsure reading, if one does."""
    if rules is None or not ranking:
        return None
    (intent, confidence), second = ranking[0], (ranking[1][1] if len(ranking) > 1 else 0.0)
    if confidence < LEAD_CONFIDENCE or confidence - second < LEAD_MARGIN:
        return None
    return rules.topic_for_intent(intent)
