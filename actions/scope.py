"""Answer a support-scope question from the rule base."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import rule_then_lookup, segments
from actions.conversation import reply_language, send, wants_full
from bot import answers, rulebase
from bot.messages import say


class AnswerScope(Action):
    def name(self) -> str:
        return "action_answer_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        followup = rule_then_lookup.offered_lookup(tracker)
        if followup:  # the answer to "tell me the product and version"
            return followup
        lang = reply_language(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        try:
            rules = rulebase.current()
        except rulebase.RulebaseMissing:
            dispatcher.utter_message(text=say("rulebase_unavailable", lang))
            return []
        topic = rules.topic_for_intent(intent)
        if topic is None:  # a model trained on topics since removed from the rule base
            return (
                send(dispatcher, answers.fallback(rules, [], lang)) + rule_then_lookup.clear_offer()
            )
        reply = answers.topic_answer(rules, topic, lang, full=wants_full(tracker))
        decided, texts = segments.decided(tracker)
        if len(decided) > 1 or intent in texts:  # a part of the message asked it
            reply = segments.with_segment(reply, texts.get(intent), tracker)
        events = send(dispatcher, reply) + rule_then_lookup.clear_offer()
        return events + segments.the_others(dispatcher, tracker, rules, lang)
