"""What every form's validation needs from the tracker (issue 12, items 3 and 5):
the message typed at the step, with the NLU's reading and the buttons the step
offered, and the scope answer to a question asked in the middle of a form. What
the message means is bot.form_input's."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import send, wants_full
from bot import answers, form_input, records, rulebase
from bot.messages import say
from bot.records import facts


@dataclass(frozen=True)
class Turn:
    step: str | None  # the slot the form asked for; None when the form is only starting
    text: str
    intent: str | None
    confidence: float
    buttons: tuple[dict[str, Any], ...]  # offered with the step's question


def offered_buttons(tracker: Tracker) -> tuple[dict[str, Any], ...]:
    """The buttons of the bot's messages between the previous user message and this one."""
    buttons: list[dict[str, Any]] = []
    seen_latest = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_latest:
                break
            seen_latest = True
        elif kind == "bot" and seen_latest:
            found = (event.get("data") or {}).get("buttons") or []
            buttons[:0] = [b for b in found if isinstance(b, dict)]
    return tuple(buttons)


def turn(tracker: Tracker, form: str) -> Turn:
    """The latest message as an answer to the form's step (step None: the form is
    not asking yet, e.g. it is being started by this message)."""
    intent = tracker.latest_message.get("intent") or {}
    active = (tracker.active_loop or {}).get("name") == form
    step = tracker.get_slot("requested_slot") if active else None
    try:
        confidence = float(intent.get("confidence") or 0.0)
    except (TypeError, ValueError):
        confidence = 0.0
    return Turn(
        step=step if isinstance(step, str) else None,
        text=str(tracker.latest_message.get("text") or ""),
        intent=intent.get("name") if isinstance(intent.get("name"), str) else None,
        confidence=confidence,
        buttons=offered_buttons(tracker),
    )


def answer_question(
    dispatcher: CollectingDispatcher, tracker: Tracker, intent: str, lang: str
) -> list[dict[str, Any]]:
    """The normal answer to a question asked at a form step (a lookup that names
    its product and version, or a key, from the records), without its buttons:
    the step's own question follows, with its buttons."""
    try:
        rules = rulebase.current()
    except rulebase.RulebaseMissing:
        dispatcher.utter_message(text=say("rulebase_unavailable", lang))
        return []
    topic = rules.topic_for_intent(form_input.topic_intent(intent))
    found = (
        facts.extract(str(tracker.latest_message.get("text") or ""))
        if (intent in form_input.LOOKUP_INTENTS)
        else None
    )
    if found and form_input.lookup_in_question(
        intent, found.product, found.version, found.licence_key
    ):
        entitled = records.entitlement(found.product, found.version, found.licence_key)
        reply = answers.entitlement_answer(rules, entitled, lang, full=wants_full(tracker))
    elif topic is None:
        reply = answers.fallback(rules, [], lang)
    else:
        reply = answers.topic_answer(rules, topic, lang, full=wants_full(tracker))
    return send(dispatcher, dataclasses.replace(reply, buttons=()))


def decide(turn: Turn, **options: Any) -> form_input.Decision:
    """What this turn's message means at its step (bot.form_input.decide)."""
    return form_input.decide(
        turn.step,
        turn.text,
        turn.intent,
        turn.confidence,
        buttons=turn.buttons,
        value_shaped=form_input.value_shaped(turn.step, turn.text),
        **options,
    )
