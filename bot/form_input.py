"""What a message typed at a form step means, before it is taken as the step's
answer (issue 12, items 3 and 5): a question to answer first, a button's title
typed instead of clicked, "skip", or cancelling.

`decide` is pure: the caller (actions/) passes the step, the text, the NLU's
intent and confidence, the buttons the step offered and what it knows about the
form; the words are content/lexicon/forms.yml's
(and service_requests.yml's `sr_skip_words`) (any language counts, since
users mix them). Which step a value fits is `value_shaped`'s, from the checks
the forms already use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot import lexicon
from bot.service_requests.form import SKIP
from bot.text import fold

# A message the NLU reads as a scope question (or another lookup) with at least
# this confidence is answered before the step is asked again. Measured with
# `python -m bench.form_questions` (model 3a3ef8e7f6c9, 30 Nov 2026): of 1,565
# held-out scope/lookup questions (both sets) 73.6 % reach 0.75 (0.70: 77.9 %,
# 0.80: 68.2 %, 0.90: 51.9 %); of 22 typical names and companies, whose steps have
# no shape check, the highest read as a question was 0.686 ("Secure Networks
# Inc", scope_configuration), so 0.75 leaves a margin of 0.06. Shaped answers
# read higher ("version 12" 0.979, "premiumsupport" 0.892) but value_shaped
# keeps them answers. A question below it is taken as the step's answer, which
# at a shaped step is refused with the step's own message (nothing is lost).
QUESTION_THRESHOLD = 0.75
QUESTION_INTENTS = frozenset({"check_licence"})  # and every topic's scope_* intent
LOOKUP_INTENTS = frozenset({"check_licence", "scope_version_support"})
# A lookup asked mid-form is answered with its rule (the form cannot start another).
_TOPIC_OF = {"check_licence": "scope_licence"}
FREE_TEXT_STEPS = frozenset({"sr_description"})  # whatever is typed is the answer
OPTIONAL_STEPS = frozenset({"sr_company", "sr_licence_key", "licence_key"})

# What the glue does with the message.
ANSWER = "answer"  # take it as the step's answer (`value`: the text, or a button's value)
QUESTION = "question"  # answer it as a question, then ask the step again
SKIPPED = "skip"  # an optional step left out
NEEDED = "needed"  # "skip" at a step that cannot be skipped: say so, ask again
SEND = "send"  # yes at the summary
CHANGE = "change"  # "change something" at the summary
ASK_CANCEL = "ask_cancel"  # stop with answers given: ask "cancel?" first
CANCEL = "cancel"  # leave the form, keep nothing
RESUME = "resume"  # "no, don't cancel": ask the step again, everything kept

_PUNCT = re.compile(r"[\s.!?,;:\"'«»“”()]+")


@dataclass(frozen=True)
class Decision:
    move: str
    value: str | None = None


def _key(text: str) -> str:
    """Folded, without punctuation or extra space: "Send it!" -> "send it"."""
    return _PUNCT.sub(" ", fold(text)).strip()


def says(text: str, list_name: str) -> bool:
    """Whether the whole message is one of a word list's entries (any language)."""
    return _key(text) in {_key(w) for w in lexicon.get(list_name).words()}


def typed_button(text: str, buttons: Iterable[Mapping[str, object]]) -> str | None:
    """The payload of the offered button whose title (or payload) the message is."""
    key = _key(text)
    if not key:
        return None
    for button in buttons:
        title, payload = button.get("title"), button.get("payload")
        if not isinstance(payload, str):
            continue
        if key in (_key(str(title or "")), _key(payload)):
            return payload
    return None


def _payload_intent(payload: str) -> str | None:
    """The intent of an intent payload ("/affirm"); None for a value ("-", a product)."""
    if not payload.startswith("/"):
        return None
    return payload[1:].split("{", 1)[0] or None


def is_question(intent: str | None, confidence: float) -> bool:
    """A scope question or another lookup, confidently: answered before the step."""
    if not intent or confidence < QUESTION_THRESHOLD:
        return False
    return intent.startswith("scope_") or intent in QUESTION_INTENTS


def lookup_in_question(
    intent: str, product: str | None, version: str | None, key: str | None
) -> bool:
    """A lookup asked mid-form that names what it needs ("Is KES 11.6 still
    supported?", a key): answered from the records, not only with the rule."""
    if intent not in LOOKUP_INTENTS:
        return False
    return bool(key) if intent == "check_licence" else bool(key or (product and version))


def topic_intent(intent: str) -> str:
    """The topic intent whose answer answers a question asked mid-form."""
    return _TOPIC_OF.get(intent, intent)


def decide(
    step: str | None,
    text: str,
    intent: str | None,
    confidence: float,
    *,
    buttons: Iterable[Mapping[str, object]] = (),
    value_shaped: bool = False,
    answers_given: bool = False,
    confirm_cancel: bool = False,
    cancel_pending: bool = False,
) -> Decision:
    """What the message means at this step.

    step: the requested slot; value_shaped: the text is a valid value for it (a
    product, an address, a country...), which then wins over any reading as a
    question; answers_given / confirm_cancel: the form asks before cancelling
    when something was already answered; cancel_pending: that question is open.
    """
    payload = typed_button(text, buttons)
    if payload is not None:
        button_intent = _payload_intent(payload)
        if button_intent is None:  # a value button ("Private", "No key", a product)
            return Decision(SKIPPED if payload == SKIP else ANSWER, payload)
        intent, confidence = button_intent, 1.0
    if cancel_pending:
        if intent in ("affirm", "stop") or says(text, "form_cancel_yes_words"):
            return Decision(CANCEL)
        if intent == "deny" or says(text, "form_cancel_no_words"):
            return Decision(RESUME)
        # anything else: the question is dropped and the message read as usual
    skip = says(text, "sr_skip_words")
    if skip and step in OPTIONAL_STEPS:
        return Decision(SKIPPED, SKIP)
    if step == "sr_confirmed":
        if intent == "affirm" or says(text, "form_send_words"):
            return Decision(SEND)
        if intent == "deny" or says(text, "form_change_words"):
            return Decision(CHANGE)
    if skip:  # "skip" never cancels: at a step that must be answered, say so
        return Decision(NEEDED)
    if intent == "stop":
        if confirm_cancel and answers_given and not cancel_pending:
            return Decision(ASK_CANCEL)
        return Decision(CANCEL)
    if step not in FREE_TEXT_STEPS and not value_shaped and is_question(intent, confidence):
        return Decision(QUESTION)
    return Decision(ANSWER, text)


def value_shaped(step: str | None, text: str) -> bool:
    """Whether the text is a valid answer to a step whose answers have a shape (a
    product, a version, a key, an address, a country, a service): such an answer
    is taken even when it also reads as a question. Names, companies and the
    description have no shape: only the NLU's confidence separates them."""
    from bot import service_requests
    from bot.records import facts
    from bot.records.keys import keys_in

    if not text.strip() or step is None:
        return False
    if step in ("licence_key", "sr_licence_key"):  # the key's pattern: no spaCy needed
        return keys_in(text)[0] is not None
    if step in ("product", "version"):
        found = facts.extract(text)
        return (
            bool(found.product or found.licence_key) if step == "product" else bool(found.version)
        )
    if step == "sr_service":
        return service_requests.find_service(text) is not None
    if step in ("sr_email", "sr_country"):
        _clean, problem = service_requests.validate_field(step[3:], text)
        return problem is None
    return False
