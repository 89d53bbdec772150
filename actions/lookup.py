"""Looking up the customer's product version or licence: the forms' prompts,
their validation, and the answers. The records are read through bot.records
(facts in a message: bot.records.facts); a licence key is never repeated in
full (only its last group)."""

from __future__ import annotations

import abc
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import forms, rule_then_lookup, service_request
from actions.conversation import reply_language, send, wants_full
from bot import answers, form_input, records, rulebase
from bot.messages import say
from bot.privacy import drafts, mask
from bot.records import facts

MAX_BAD_KEYS = 3
NO_KEY = "-"  # the licence form gave up on a key after MAX_BAD_KEYS tries
LOOKUP_SLOTS = ("product", "version", "licence_key", "bad_key_tries")
VERSION_TOPIC = "scope_version_support"  # its rule is what applies to any version


def _text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def _licence_key(tracker: Tracker) -> str | None:
    """The key the lookup was given: the slot within the turn it came; after that
    the tracker store has only its mask, and the draft the key itself."""
    key = tracker.get_slot("licence_key")
    if key and mask.is_masked(key):
        return drafts.get(tracker.sender_id).get(drafts.LOOKUP_KEY)
    return key


def _keep_key(tracker: Tracker, key: str | None) -> None:
    """A full key seen in this turn, kept in the draft for the turns after it."""
    if key and key != NO_KEY and not mask.is_masked(key):
        drafts.put(tracker.sender_id, {drafts.LOOKUP_KEY: key})


def _forget_key(tracker: Tracker) -> None:
    drafts.delete(tracker.sender_id, [drafts.LOOKUP_KEY])


def _reset() -> list[dict[str, Any]]:
    """A lookup answered: the next question starts afresh."""
    return [SlotSet(slot, 0.0 if slot == "bad_key_tries" else None) for slot in LOOKUP_SLOTS]


class AskProduct(Action):
    def name(self) -> str:
        return "action_ask_product"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        lang = reply_language(tracker)
        dispatcher.utter_message(text=say("ask_product", lang))
        return [SlotSet("language", lang)]


def _asked_unknown_version(tracker: Tracker) -> bool:
    """This turn already answered an unknown version, ending with its question."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        custom = (event.get("data") or {}).get("custom") if event.get("event") == "bot" else None
        lookup = ((custom or {}).get("answer") or {}).get("lookup") or {}
        if lookup.get("status") == "unknown" and lookup.get("version"):
            return True
    return False


class AskVersion(Action):
    def name(self) -> str:
        return "action_ask_version"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        lang = reply_language(tracker)
        if _asked_unknown_version(tracker):  # one question a turn: it was just asked
            return [SlotSet("language", lang)]
        product = tracker.get_slot("product")
        status = records.lookup_version(product, None)
        example = status.nearest[0] if status.nearest else "12.1"
        buttons = [{"title": v, "payload": v} for v in status.nearest]
        dispatcher.utter_message(
            text=say("ask_version", lang, product=product, example=example), buttons=buttons
        )
        return [SlotSet("language", lang)]


class AskLicenceKey(Action):
    def name(self) -> str:
        return "action_ask_licence_key"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        lang = reply_language(tracker)
        dispatcher.utter_message(text=say("ask_licence_key", lang))
        return [SlotSet("language", lang)]


class _LookupFormValidation(FormValidationAction, abc.ABC):
    """Before a step's value is validated: a question asked at the step is
    answered and the step asked again; "skip" at the key step ends the lookup
    without a key; "skip" elsewhere is never a reason to leave (bot.form_input).
    "stop" leaves as before: nothing is validated, the form is rejected and the
    stop rule runs action_stop. Abstract, so the action server registers only
    the subclasses."""

    @abc.abstractmethod
    def name(self) -> str: ...

    async def run(self, dispatcher, tracker, domain):
        _keep_key(tracker, tracker.get_slot("licence_key"))  # a key Rasa's extraction found
        turn = forms.turn(tracker, self.form_name())
        if turn.step is None:  # the form is starting: its trigger message is no answer
            return await super().run(dispatcher, tracker, domain)
        decision = forms.decide(turn)
        lang = reply_language(tracker)
        if decision.move == form_input.QUESTION and turn.intent:
            events = forms.answer_question(dispatcher, tracker, turn.intent, lang)
            return events + [SlotSet(turn.step, None)]
        if decision.move == form_input.SKIPPED and turn.step == "licence_key":
            # no key, by choice: bad_key_tries 0 tells the answer it was not a typo
            return [SlotSet("licence_key", NO_KEY), SlotSet("bad_key_tries", 0.0)]
        if decision.move == form_input.NEEDED:
            dispatcher.utter_message(text=say("form_needed", lang))
            return [SlotSet(turn.step, None)]
        if decision.move == form_input.CANCEL:
            return []  # nothing validated: the form is rejected, the stop rule leaves
        return await super().run(dispatcher, tracker, domain)


class ValidateVersionForm(_LookupFormValidation):
    def name(self) -> str:
        return "validate_version_form"

    def validate_product(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        lang = reply_language(tracker)
        found = facts.extract(_text(tracker))
        if found.licence_key:  # a key instead of a product: the licence names it
            licence = records.lookup_licence(found.licence_key)
            _keep_key(tracker, found.licence_key)
            if licence.product:
                return {
                    "product": licence.product,
                    "version": licence.version,
                    "licence_key": found.licence_key,
                }
        if found.product:
            slots = {"product": found.product}
            if found.version:
                slots["version"] = found.version
            return slots
        asked = _text(tracker).strip() or str(value or "")
        buttons = [{"title": p, "payload": p} for p in records.nearest_products(asked)]
        dispatcher.utter_message(text=say("unknown_product", lang, text=asked), buttons=buttons)
        return {"product": None}

    def validate_version(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        lang = reply_language(tracker)
        product = tracker.get_slot("product")
        found = facts.extract(_text(tracker))
        version = found.version or (str(value).strip() if value else None)
        status = records.lookup_version(product, version)
        if status.status != "unknown":
            return {"version": status.record_version}
        rules = rulebase.current()
        topic = rules.topic_for_intent(VERSION_TOPIC)
        if topic is None:  # a rule base without the version topic: the bare question
            buttons = [{"title": v, "payload": v} for v in status.nearest]
            dispatcher.utter_message(
                text=say("unknown_version", lang, product=status.product, version=version or ""),
                buttons=buttons,
            )
            return {"version": None}
        reply = answers.unknown_version(
            rules, topic, status.product or str(product), version or "", status.nearest, lang
        )
        send(dispatcher, reply)
        return {"version": None}


class ValidateLicenceForm(_LookupFormValidation):
    def name(self) -> str:
        return "validate_licence_form"

    def validate_licence_key(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        found = facts.extract(_text(tracker))
        if found.licence_key:
            _keep_key(tracker, found.licence_key)
            return {"licence_key": found.licence_key, "bad_key_tries": 0.0}
        tries = int(tracker.get_slot("bad_key_tries") or 0) + 1
        if tries >= MAX_BAD_KEYS:  # let the form end; the answer offers stop / go on
            return {"licence_key": NO_KEY, "bad_key_tries": float(tries)}
        dispatcher.utter_message(text=say("bad_key", reply_language(tracker)))
        return {"licence_key": None, "bad_key_tries": float(tries)}


class AnswerVersion(Action):
    def name(self) -> str:
        return "action_answer_version"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        lang = reply_language(tracker)
        found = records.entitlement(
            tracker.get_slot("product"),
            tracker.get_slot("version"),
            _licence_key(tracker),
        )
        reply = answers.entitlement_answer(
            rulebase.current(), found, lang, full=wants_full(tracker)
        )
        _forget_key(tracker)
        return send(dispatcher, reply) + _reset()


class AnswerLicence(Action):
    def name(self) -> str:
        return "action_answer_licence"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        lang = reply_language(tracker)
        key = _licence_key(tracker)
        _forget_key(tracker)
        if not key or key == NO_KEY:
            buttons = [
                {"title": say("button_stop", lang), "payload": "/stop"},
                {"title": say("button_without_key", lang), "payload": "/scope_version_support"},
            ]
            gave_up = int(tracker.get_slot("bad_key_tries") or 0) >= MAX_BAD_KEYS
            text = say("bad_key_final" if gave_up else "lookup_no_key", lang)
            dispatcher.utter_message(text=text, buttons=buttons)
            # "Check without a key" stands as an offer: its button starts the version lookup
            return _reset() + [SlotSet(rule_then_lookup.OFFER_SLOT, rule_then_lookup.VERSION_OFFER)]
        found = records.entitlement(key=key)
        reply = answers.entitlement_answer(
            rulebase.current(), found, lang, full=wants_full(tracker)
        )
        return send(dispatcher, reply) + _reset()


class Stop(Action):
    """Stop a form (or nothing): say so, keep nothing the form collected."""

    def name(self) -> str:
        return "action_stop"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        lang = reply_language(tracker)
        request_form = (tracker.active_loop or {}).get("name") == "service_request_form"
        text = say("sr_cancelled" if request_form else "stopped", lang)
        events = send(dispatcher, answers.Reply(text=text, lang=lang, verdict="info"))
        events += [SlotSet(slot, None) for slot in service_request.SLOTS]
        drafts.delete(tracker.sender_id)  # nothing the forms collected is kept
        # and no lookup offer stands after "stop": a later "yes" is not taken as one
        stopped = [SlotSet("requested_slot", None), ActiveLoop(None)]
        return events + _reset() + rule_then_lookup.clear_offer() + stopped
