"""Requesting a paid service: the form's validation, correction, and filing
(the prompts and the summary: service_request_prompts). What an answer means,
validation, routing and filing are bot.service_requests'; this module maps its
results and problem codes to messages in the user's language.

Personal answers (name, e-mail, company, licence key, description) are kept in
full in the request draft (bot.privacy.drafts); their slots hold only the masked
value, which is all the tracker store ever sees. The summary and filing read the
draft; filing and cancelling delete it."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import forms
from actions.conversation import reply_language, send
from bot import answers, db, form_input, message_checks, records, rulebase, service_requests
from bot.messages import say
from bot.privacy import drafts, mask
from bot.service_requests import FIELDS, SKIP, deferred

FORM = "service_request_form"
CANCEL_PENDING = "sr_cancel_pending"  # "Cancel the request?" waits for its answer
SLOTS = tuple(f"sr_{f}" for f in FIELDS) + ("sr_confirmed", CANCEL_PENDING)
DRAFTED = tuple(f for f in FIELDS if f in mask.PERSONAL_FIELDS)  # kept in the draft
DRAFTED_SET = frozenset(DRAFTED)


def reset_slots() -> list[dict[str, Any]]:
    return [SlotSet(slot, None) for slot in SLOTS]


def forget_draft(tracker: Tracker) -> None:
    """The request was filed or cancelled: its personal values go."""
    drafts.delete(tracker.sender_id, DRAFTED)


def form_values(tracker: Tracker) -> tuple[dict[str, str | None], list[str]]:
    """Every field's real value (the draft's for personal fields; None for a
    skipped one), and the fields whose slot is filled but whose real value is
    gone (a draft purged mid-form): those must be asked again."""
    return deferred.merge(form_slots(tracker), drafts.get(tracker.sender_id), DRAFTED_SET)


def _given_values(tracker: Tracker) -> dict[str, Any]:
    """form_values, or the (masked) slots while the database is unreachable: enough
    to know which fields were given, and a confirmation then still reaches the
    filing action, which defers it (bot.service_requests.deferred)."""
    try:
        return form_values(tracker)[0]
    except Exception as exc:
        if not db.unreachable(exc):
            raise
        return {f: form_slots(tracker)[f"sr_{f}"] for f in FIELDS}


def form_slots(tracker: Tracker) -> dict[str, Any]:
    """The form's slots as the tracker holds them (personal ones masked)."""
    return {f"sr_{f}": tracker.get_slot(f"sr_{f}") for f in FIELDS}


def service_name(service_id: str | None, lang: str) -> str:
    services = rulebase.current().services
    return services[service_id].names[lang] if service_id in services else str(service_id)


def country_in(code: str | None, lang: str) -> str | None:
    """The country's name in the user's language (the slot holds its ISO code)."""
    return service_requests.country_name(code, lang) if code and code != SKIP else None


def cancel(dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> list[dict[str, Any]]:
    """Say the request is cancelled (an answer with the contract's payload) and
    keep nothing of it."""
    events = send(
        dispatcher, answers.Reply(text=say("sr_cancelled", lang), lang=lang, verdict="info")
    )
    forget_draft(tracker)
    return events + reset_slots()


def refuse_guessable(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
    """No request in a conversation whose id someone else could guess
    (message_checks.private_sender): whoever sends that id next would see the
    summary and could send it. Says why; keeps nothing of the request."""
    lang = reply_language(tracker)
    reply = answers.Reply(text=say("sr_private_conversation", lang), lang=lang, verdict="info")
    try:
        forget_draft(tracker)  # none is written under such an id; one from before goes
    except Exception as exc:
        if not db.unreachable(exc):
            raise
    return send(dispatcher, reply) + reset_slots()


def ask_cancel(dispatcher: CollectingDispatcher, lang: str) -> None:
    """Asked instead of the step's question while "Cancel the request?" is open."""
    buttons = [
        {"title": say("button_cancel_yes", lang), "payload": "/stop"},
        {"title": say("button_cancel_no", lang), "payload": "/deny"},
    ]
    dispatcher.utter_message(text=say("sr_cancel_confirm", lang), buttons=buttons)


def _problem(dispatcher: CollectingDispatcher, code: str, lang: str, **values: Any) -> None:
    try:
        text = say(f"sr_problem_{code}", lang, **values)
    except KeyError:
        text = say("sr_problem_invalid", lang)
    dispatcher.utter_message(text=text)


class ValidateServiceRequestForm(FormValidationAction):
    def name(self) -> str:
        return "validate_service_request_form"

    async def run(self, dispatcher, tracker, domain):
        """Before a step's value is validated: what the message means there
        (bot.form_input): a question (answered, then the step again), a button's
        title typed, "skip", send, or stop (asked first once anything was given)."""
        if not message_checks.private_sender(tracker.sender_id):
            # at every step, not only the first: a step left over from another form
            # (slots carried into a new session) makes the form start mid-way
            return refuse_guessable(dispatcher, tracker) + [
                SlotSet("requested_slot", None),
                ActiveLoop(None),
            ]
        turn = forms.turn(tracker, FORM)
        if turn.step is None:  # the form is starting: its trigger message is no answer
            return await super().run(dispatcher, tracker, domain)
        given = _given_values(tracker)
        pending = bool(tracker.get_slot(CANCEL_PENDING))
        decision = forms.decide(
            turn,
            answers_given=any(given[f] is not None for f in FIELDS if f != "service"),
            confirm_cancel=True,
            cancel_pending=pending,
        )
        lang = reply_language(tracker)
        move = decision.move
        events: list[dict[str, Any]] = [SlotSet(CANCEL_PENDING, None)] if pending else []
        if move == form_input.CANCEL:
            return cancel(dispatcher, tracker, lang) + [
                SlotSet("requested_slot", None),
                ActiveLoop(None),
            ]
        if move == form_input.ASK_CANCEL:  # the step's ask action asks it (ask_cancel)
            return [SlotSet(CANCEL_PENDING, True), SlotSet(turn.step, None)]
        if move == form_input.RESUME:
            return events + [SlotSet(turn.step, None)]
        if move == form_input.QUESTION and turn.intent:
            answered = forms.answer_question(dispatcher, tracker, turn.intent, lang)
            return events + answered + [SlotSet(turn.step, None)]
        if move == form_input.NEEDED:
            dispatcher.utter_message(text=say("form_needed", lang))
            return events + [SlotSet(turn.step, None)]
        if move == form_input.SEND:
            return events + self._slots(self._send(tracker))
        if move in (form_input.SKIPPED, form_input.ANSWER) and decision.value != turn.text:
            # a button's value typed ("Ingen nøkkel" -> "-", "Privat" -> "-", a service)
            validate = getattr(self, f"validate_{turn.step}")
            return events + self._slots(validate(decision.value, dispatcher, tracker, domain))
        return events + await super().run(dispatcher, tracker, domain)

    @staticmethod
    def _slots(values: dict[str, Any]) -> list[dict[str, Any]]:
        return [SlotSet(slot, value) for slot, value in values.items()]

    @staticmethod
    def _send(tracker: Tracker) -> dict[str, Any]:
        """Yes at the summary: confirmed, unless the draft is gone (retention):
        then those fields are asked again."""
        try:
            _values, lost = form_values(tracker)
        except Exception as exc:
            if not db.unreachable(exc):
                raise
            return {"sr_confirmed": "yes"}  # confirmed: filing defers it (FileServiceRequest)
        if lost:
            return {**{f"sr_{f}": None for f in lost}, "sr_confirmed": None}
        return {"sr_confirmed": "yes"}

    def _check(self, field: str, value: Any, dispatcher, tracker) -> dict[str, Any]:
        lang = reply_language(tracker)
        if field in ("company", "licence_key") and service_requests.is_skip(str(value or "")):
            drafts.put(tracker.sender_id, {field: None})
            return {f"sr_{field}": SKIP}
        clean, problem = service_requests.validate_field(field, value)
        if problem == "key_unknown" and clean:
            _problem(dispatcher, problem, lang, last=records.mask_key(clean).rsplit("-", 1)[-1])
            return {f"sr_{field}": None}
        if problem or clean is None:
            _problem(dispatcher, problem or "empty", lang)
            return {f"sr_{field}": None}
        if field in DRAFTED:  # the real value to the draft, the masked one to the slot
            drafts.put(tracker.sender_id, {field: clean})
            return {f"sr_{field}": mask.mask_slot(f"sr_{field}", clean)}
        return {f"sr_{field}": clean}

    def validate_sr_service(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        service = service_requests.find_service(str(value or ""))
        if service is None:
            _problem(dispatcher, "service_unknown", reply_language(tracker))
            return {"sr_service": None}
        return {"sr_service": service}

    def validate_sr_name(self, value, dispatcher, tracker, domain):
        return self._check("name", value, dispatcher, tracker)

    def validate_sr_email(self, value, dispatcher, tracker, domain):
        return self._check("email", value, dispatcher, tracker)

    def validate_sr_company(self, value, dispatcher, tracker, domain):
        return self._check("company", value, dispatcher, tracker)

    def validate_sr_licence_key(self, value, dispatcher, tracker, domain):
        return self._check("licence_key", value, dispatcher, tracker)

    def validate_sr_description(self, value, dispatcher, tracker, domain):
        return self._check("description", value, dispatcher, tracker)

    def validate_sr_country(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        lang = reply_language(tracker)
        checked = self._check("country", value, dispatcher, tracker)
        country = checked["sr_country"]
        service = tracker.get_slot("sr_service")
        if country is None or service is None:
            return checked
        try:
            found = service_requests.route(service, country)
        except service_requests.RoutingError:  # a broken routing table: say so, keep going
            dispatcher.utter_message(text=say("sr_unavailable", lang))
            return checked
        if found.offered:
            return checked
        names = ", ".join(service_name(s, lang) for s in found.alternatives)
        key = "sr_not_offered" if names else "sr_not_offered_none"
        dispatcher.utter_message(
            text=say(
                key,
                lang,
                service=service_name(service, lang),
                country=country_in(country, lang),
                alternatives=names,
            ),
            buttons=[{"title": service_name(s, lang), "payload": s} for s in found.alternatives],
        )
        # keep the country, ask for the service again (offering what is offered there)
        return {"sr_country": country, "sr_service": None}

    def validate_sr_confirmed(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        lang = reply_language(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        text = tracker.latest_message.get("text") or ""
        if intent == "affirm":
            return self._send(tracker)
        email = service_requests.email_in(text)
        if email:  # "my e-mail is x@y.no": take it, show the summary again
            checked = self._check("email", email, dispatcher, tracker)
            return {**checked, "sr_confirmed": None}
        field = service_requests.field_named(text)
        if field:
            return {f"sr_{field}": None, "sr_confirmed": None}  # asked again, then the summary
        buttons = [  # each payload is a word that names its field
            {
                "title": say(f"sr_field_{f}", lang),
                "payload": service_requests.field_words(f, "en")[0],
            }
            for f in FIELDS
        ]
        dispatcher.utter_message(text=say("sr_which_field", lang), buttons=buttons)
        return {"sr_confirmed": None}


class FileServiceRequest(Action):
    def name(self) -> str:
        return "action_file_service_request"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        if tracker.get_slot("sr_confirmed") != "yes":  # ended without a yes (cancelled)
            forget_draft(tracker)
            return reset_slots()
        if not message_checks.private_sender(tracker.sender_id):  # never filed from one
            return refuse_guessable(dispatcher, tracker)
        lang = reply_language(tracker)
        try:
            return self._file(dispatcher, tracker, lang)
        except Exception as exc:
            if not db.unreachable(exc):
                raise
        # Confirmed, but the database is unreachable: never lost. The outbox
        # files it when the database is back (the same idempotency key, so a
        # filing whose commit did land is not filed twice).
        try:
            deferred.defer(tracker.sender_id, lang, form_slots(tracker))
        except OSError:  # not even the outbox: say plainly that nothing was sent
            dispatcher.utter_message(text=say("sr_not_filed", lang))
            return [SlotSet("language", lang)]
        dispatcher.utter_message(text=say("sr_deferred", lang))
        return reset_slots() + [SlotSet("language", lang)]

    def _file(self, dispatcher, tracker, lang: str) -> list[dict[str, Any]]:
        fields, lost = form_values(tracker)  # the full values, from the draft
        if lost:  # never file a masked value
            dispatcher.utter_message(text=say("sr_unavailable", lang))
            forget_draft(tracker)
            return reset_slots()
        try:
            filed = service_requests.file_request(
                fields,
                conversation_id=tracker.sender_id,
                language=lang,
                idempotency_key=service_requests.idempotency_key_for(tracker.sender_id, fields),
            )
        except service_requests.RequestInvalid as invalid:  # e.g. the routing table changed
            for problem in invalid.problems:
                _problem(dispatcher, problem.code, lang)
            forget_draft(tracker)
            return reset_slots()
        except service_requests.RoutingError:
            dispatcher.utter_message(text=say("sr_unavailable", lang))
            forget_draft(tracker)
            return reset_slots()
        try:
            forget_draft(tracker)
        except Exception as exc:  # filed: the draft goes with retention (BOT_RETENTION_DAYS)
            if not db.unreachable(exc):
                raise
        if filed.created:
            service_requests.notify_in_background(filed.reference)
        dispatcher.utter_message(
            text=say(
                "sr_filed",
                lang,
                reference=filed.reference,
                service=service_name(fields["service"], lang),
                email=fields["email"],
            ),
            json_message=filed.payload,
        )
        return reset_slots() + [SlotSet("language", lang)]
