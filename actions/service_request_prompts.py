"""The paid-service form's prompts: one action per field (action_ask_sr_<field>)
and the summary with send / change / cancel (action_ask_sr_confirmed)."""

from __future__ import annotations

import abc
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet

from actions.conversation import reply_language
from actions.service_request import (
    CANCEL_PENDING,
    ask_cancel,
    country_in,
    form_values,
    refuse_guessable,
    service_name,
)
from bot import message_checks, rulebase
from bot.messages import say
from bot.privacy import mask, partial
from bot.service_requests import SKIP


class AskField(Action, abc.ABC):
    """action_ask_sr_<field>: the prompt for one field, in the user's language.
    Abstract, so the action server registers only the subclasses."""

    @property
    @abc.abstractmethod
    def field(self) -> str: ...

    def name(self) -> str:
        return f"action_ask_sr_{self.field}"

    def buttons(self, tracker: Tracker, lang: str) -> list[dict[str, str]]:
        return []

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        lang = reply_language(tracker)
        if tracker.get_slot(CANCEL_PENDING):
            ask_cancel(dispatcher, lang)
            return [SlotSet("language", lang)]
        service = service_name(tracker.get_slot("sr_service"), lang)
        text = say(f"ask_sr_{self.field}", lang, service=service)
        dispatcher.utter_message(text=text, buttons=self.buttons(tracker, lang))
        return [SlotSet("language", lang)]


class AskService(AskField):
    field = "service"

    def buttons(self, tracker, lang):
        return [
            {"title": s.names[lang], "payload": s.id} for s in rulebase.current().services.values()
        ]


class AskName(AskField):
    field = "name"


class AskEmail(AskField):
    field = "email"


class AskCompany(AskField):
    field = "company"

    def buttons(self, tracker, lang):
        return [{"title": say("button_private", lang), "payload": SKIP}]


class AskCountry(AskField):
    field = "country"


class AskLicenceKey(AskField):
    field = "licence_key"

    def buttons(self, tracker, lang):
        return [{"title": say("button_no_key", lang), "payload": SKIP}]


class AskDescription(AskField):
    field = "description"


class AskConfirmed(Action):
    """The summary of the request, with send / change / cancel."""

    def name(self) -> str:
        return "action_ask_sr_confirmed"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        if not message_checks.private_sender(tracker.sender_id):  # never shown to one
            return refuse_guessable(dispatcher, tracker)
        lang = reply_language(tracker)
        if tracker.get_slot(CANCEL_PENDING):
            ask_cancel(dispatcher, lang)
            return [SlotSet("language", lang)]
        none = say("sr_none", lang)
        values, _lost = form_values(tracker)  # what the user typed, from the draft
        known = mask.known_values(values)  # the name and company, inside the description

        def shown(field: str) -> str:  # in part: whoever writes next sees it too
            value = values[field]
            return none if value is None else partial.shown(field, str(value), known)

        text = say(
            "sr_summary",
            lang,
            service=service_name(tracker.get_slot("sr_service"), lang),
            name=shown("name"),
            email=shown("email"),
            company=shown("company"),
            country=country_in(tracker.get_slot("sr_country"), lang) or none,
            key=shown("licence_key"),
            description=shown("description"),
        )
        buttons = [
            {"title": say("button_send", lang), "payload": "/affirm"},
            {"title": say("button_change", lang), "payload": "/deny"},
            {"title": say("button_stop", lang), "payload": "/stop"},
        ]
        dispatcher.utter_message(text=text, buttons=buttons)
        return [SlotSet("language", lang)]
