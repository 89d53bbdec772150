"""A tracker store of a chosen size, in the shape Rasa 3.6 writes it, with the
feedback and filed requests that go with it: for the insights benchmark
(bench/insights.py) and for the tests, which check the figures against what
was generated (`Tally`).

Each conversation is one of: questions answered from a topic, a fallback, an
out-of-scope question, a product lookup, or a paid answer followed by the
request form (filed, cancelled or left at a step). The events are those Rasa
stores for such a turn (user, action, bot, slot, active_loop), so the summary
skips as many as it would in production.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from bot import db, rulebase
from bot.contract import LANGS
from bot.tracker_events import EVENTS, TRACKER_METADATA

FORM = "service_request_form"
STEPS = ("sr_service", "sr_name", "sr_email", "sr_company", "sr_country", "sr_licence_key")
COUNTRIES = ("NO", "SE", "DK")
LOW = 0.6  # BOT_INBOX_CONFIDENCE's default: below it is "low confidence"
KINDS = ("topic", "fallback", "out_of_scope", "lookup", "form")
WEIGHTS = (60, 8, 6, 11, 15)


@dataclass
class Tally:
    """What was generated, counted as the figures count it (all in one period)."""

    conversations: Counter[str] = field(default_factory=Counter)
    settled: Counter[str] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)
    questions: Counter[str] = field(default_factory=Counter)
    low_confidence: Counter[str] = field(default_factory=Counter)
    answers: dict[str, Counter[str]] = field(default_factory=dict)
    topics: dict[str, Counter[str]] = field(default_factory=dict)
    down: dict[str, Counter[str]] = field(default_factory=dict)
    forms: dict[str, Counter[str]] = field(default_factory=dict)
    given_up_at: dict[str, Counter[str]] = field(default_factory=dict)
    requests_by_country: dict[str, Counter[str]] = field(default_factory=dict)
    offered: Counter[str] = field(default_factory=Counter)
    offered_then_filed: Counter[str] = field(default_factory=Counter)
    events: int = 0

    def add(self, table: dict[str, Counter[str]], key: str, lang: str) -> None:
        table.setdefault(key, Counter())[lang] += 1


class _Writer:
    """Events and rows in batches (executemany)."""

    def __init__(self, tracker: sa.engine.Connection, project: sa.engine.Connection):
        self.tracker, self.project = tracker, project
        self.events: list[dict[str, Any]] = []
        self.feedback: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.next_reference = 1

    def event(self, sender: str, at: float, data: dict[str, Any]) -> None:
        intent = (data.get("parse_data") or {}).get("intent", {}).get("name")
        self.events.append(
            {
                "sender_id": sender,
                "type_name": data["event"],
                "timestamp": at,
                "intent_name": intent,
                "action_name": data.get("name") if data["event"] == "action" else None,
                "data": json.dumps({**data, "timestamp": at}),
            }
        )
        if len(self.events) >= 5000:
            self.flush()

    def flush(self) -> None:
        if self.events:
            self.tracker.execute(EVENTS.insert(), self.events)
            self.events = []
        if self.feedback:
            self.project.execute(db.Feedback.__table__.insert(), self.feedback)
            self.feedback = []
        if self.requests:
            self.project.execute(db.ServiceRequest.__table__.insert(), self.requests)
            self.requests = []


def _user(text: str, intent: str, confidence: float, lang: str) -> dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": confidence},
            "entities": [],
            "intent_ranking": [{"name": intent, "confidence": confidence}],
            "language": {"detected": lang, "confidence": 0.9, "decisive": True, "explicit": lang},
            "text": text,
        },
        "input_channel": "rest",
        "message_id": uuid.uuid4().hex,
        "metadata": {"lang": lang},
    }


def _bot(text: str, custom: dict[str, Any] | None) -> dict[str, Any]:
    data = {"elements": None, "quick_replies": None, "buttons": None, "attachment": None}
    return {"event": "bot", "text": text, "data": {**data, "image": None, "custom": custom}}


def _action(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name, "policy": "RulePolicy", "confidence": 1.0}


def _slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


class _Conversation:
    def __init__(self, out: _Writer, tally: Tally, sender: str, lang: str, at: float):
        self.out, self.tally, self.sender, self.lang, self.at = out, tally, sender, lang, at

    def put(self, data: dict[str, Any]) -> None:
        self.at += 0.05
        self.out.event(self.sender, self.at, data)
        self.tally.events += 1

    def ask(self, intent: str, confidence: float, *, question: bool = True, text: str = "") -> None:
        self.at += 20.0
        self.put(_user(text or f"message {uuid.uuid4().hex[:8]}", intent, confidence, self.lang))
        self.tally.messages[self.lang] += 1
        if question:
            self.tally.questions[self.lang] += 1
            if confidence < LOW:
                self.tally.low_confidence[self.lang] += 1
        self.put(_action("action_answer_scope"))

    def answer(self, verdict: str, rule_ids: list[str], category: str, **more: Any) -> None:
        payload = {"answer": {"rule_ids": rule_ids, "verdict": verdict, "lang": self.lang, **more}}
        self.put(_bot("an answer", payload))
        self.put(_slot("language", self.lang))
        self.put(_action("action_listen"))
        self.tally.add(self.tally.answers, category, self.lang)


def _conversation(
    kind: str, conv: _Conversation, rng: random.Random, topics: list[Any], paid: list[Any]
) -> None:
    tally, lang = conv.tally, conv.lang
    conv.put(_action("action_session_start"))
    conv.put({"event": "session_started"})
    conv.put(_action("action_listen"))
    tally.conversations[lang] += 1
    if kind == "topic":
        asked = [rng.choice(topics) for _ in range(rng.randint(1, 3))]
        for topic in asked:
            conv.ask(topic.intent, rng.uniform(0.3, 1.0))
            conv.answer(topic.verdict, list(topic.clauses), topic.verdict)
            tally.add(tally.topics, topic.id, lang)
            if rng.random() < 0.1:
                conv.out.feedback.append(_feedback(conv, topic, "down"))
                tally.add(tally.down, topic.id, lang)
        tally.settled[lang] += 1
        if any(topic.verdict == "paid" for topic in asked):
            tally.offered[lang] += 1
    elif kind in ("fallback", "out_of_scope"):
        intent = "nlu_fallback" if kind == "fallback" else "out_of_scope"
        conv.ask(intent, 0.4 if kind == "fallback" else 0.9)
        conv.answer("fallback", [], kind)
    elif kind == "lookup":
        conv.ask("ask_version_support", rng.uniform(0.7, 1.0))
        lookup = {"product": "Kaspersky Internet Security", "version": "21", "status": "supported"}
        conv.answer("included", ["rules:4.3.2"], "lookup", lookup=lookup)
        tally.settled[lang] += 1
    else:
        _form(conv, rng, rng.choice(paid))


def _feedback(conv: _Conversation, topic: Any, rating: str) -> dict[str, Any]:
    return {
        "created_at": dt.datetime.fromtimestamp(conv.at, dt.timezone.utc),
        "sender": conv.sender,
        "rating": rating,
        "question": "a question",
        "answer": "an answer",
        "rule_ids": list(topic.clauses),
        "verdict": topic.verdict,
        "lang": conv.lang,
        "comment": None,
    }


def _form(conv: _Conversation, rng: random.Random, topic: Any) -> None:
    tally, lang = conv.tally, conv.lang
    conv.ask(topic.intent, rng.uniform(0.6, 1.0))
    conv.answer("paid", list(topic.clauses), "paid")
    tally.add(tally.topics, topic.id, lang)
    tally.offered[lang] += 1
    tally.settled[lang] += 1
    conv.ask("request_service", 1.0, question=False, text="/request_service")  # the button
    conv.put(_action(FORM))
    conv.put({"event": "active_loop", "name": FORM})
    tally.add(tally.forms, "started", lang)
    end = rng.choices(("filed", "cancelled", "abandoned"), (50, 30, 20))[0]
    last = len(STEPS) if end == "filed" else rng.randint(1, len(STEPS))
    for step in STEPS[:last]:
        conv.put(_slot("requested_slot", step))
        conv.put(_bot(f"ask {step}", None))
        conv.put(_action("action_listen"))
        conv.ask("inform", 0.9, question=False)
        if step == "sr_service":
            conv.put(_slot("sr_service", "professional_services"))
    if end == "abandoned":  # every generated event is hours old: past the session's end
        tally.add(tally.forms, "abandoned", lang)
        tally.add(tally.given_up_at, STEPS[last - 1], lang)
        if rng.random() < 0.5:  # back in a new session, which ends the form (no active_loop)
            conv.at += 4000.0
            conv.put(_action("action_session_start"))
            conv.put({"event": "session_started"})
            conv.put(_action("action_listen"))
            conv.ask(topic.intent, 0.95)
            conv.answer("paid", list(topic.clauses), "paid")
            tally.add(tally.topics, topic.id, lang)
        return
    conv.put({"event": "active_loop", "name": None})
    conv.put(_slot("requested_slot", None))
    if end == "cancelled":
        conv.answer("info", [], "info")
        tally.add(tally.forms, "cancelled", lang)
        tally.add(tally.given_up_at, STEPS[last - 1], lang)
        return
    country = rng.choice(COUNTRIES)
    reference = f"SR-2026-{conv.out.next_reference:06d}"
    conv.out.next_reference += 1
    conv.put(
        _bot(
            "filed", {"service_request": {"reference": reference, "queue": "professional_services"}}
        )
    )
    conv.out.requests.append(
        {
            "reference": reference,
            "idempotency_key": uuid.uuid4().hex,
            "service": "professional_services",
            "clause_id": topic.clauses[0],
            "queue": "professional_services",
            "status": "new",
            "language": lang,
            "conversation_id": conv.sender,
            "name": "Forgotten",
            "email": "forgotten",
            "company": None,
            "country": country,
            "description": "generated",
            "created_at": dt.datetime.fromtimestamp(conv.at, dt.timezone.utc),
            "webhook_status": "none",
            "webhook_attempts": 0,
        }
    )
    tally.add(tally.forms, "filed", lang)
    tally.add(tally.requests_by_country, country, lang)
    tally.offered_then_filed[lang] += 1


def generate(
    tracker_url: str,
    url: str,
    events: int,
    *,
    days: int = 28,
    seed: int = 27,
    now: dt.datetime | None = None,
) -> Tally:
    """At least `events` events over the `days` before `now`; what they hold."""
    rng = random.Random(seed)
    now = now or dt.datetime.now(dt.timezone.utc)
    rules = rulebase.current(url)
    topics = list(rules.topics.values())
    paid = [t for t in topics if t.verdict == "paid"]
    tracker = db.engine_for(tracker_url)
    TRACKER_METADATA.create_all(tracker)
    tally = Tally()
    span = days * 86400 - 4 * 3600
    start = now.timestamp() - days * 86400 + 3600
    with tracker.begin() as tconn, db.engine(url).begin() as pconn:
        out = _Writer(tconn, pconn)
        filed = pconn.execute(sa.select(sa.func.count()).select_from(db.ServiceRequest.__table__))
        out.next_reference = int(filed.scalar() or 0) + 1
        while tally.events < events:
            lang = rng.choices(LANGS, (50, 30, 20))[0]
            at = start + rng.random() * span
            conv = _Conversation(out, tally, uuid.uuid4().hex, lang, at)
            _conversation(rng.choices(KINDS, WEIGHTS)[0], conv, rng, topics, paid)
        out.flush()
    return tally


def merge(*tallies: Tally) -> Tally:
    """Several generations into one store, counted together."""
    total = Tally()
    for tally in tallies:
        total.events += tally.events
        for name, value in vars(tally).items():
            if isinstance(value, Counter):
                getattr(total, name).update(value)
            elif isinstance(value, dict):
                for key, counts in value.items():
                    getattr(total, name).setdefault(key, Counter()).update(counts)
    return total


def by_lang(counts: Counter[str]) -> dict[str, int]:
    """A tally as the figures' {all, en, nb, sv}."""
    return {"all": sum(counts.values()), **{lang: counts.get(lang, 0) for lang in LANGS}}


def as_figures(tally: Tally) -> Iterator[tuple[str, Any]]:
    """(figure path, expected value) pairs the tests compare with figures.compute."""
    for name in ("conversations", "settled", "messages", "questions"):
        yield name, by_lang(getattr(tally, name))
    tables = (
        ("answers.{}", tally.answers),
        ("forms.{}", tally.forms),
        ("forms.given_up_at.{}", tally.given_up_at),
        ("requests.by_country.{}", tally.requests_by_country),
        ("topics.{}.answers", tally.topics),
        ("topics.{}.down", tally.down),
    )
    for path, table in tables:
        for key, counts in table.items():
            yield path.format(key), by_lang(counts)
    yield "requests.offered", by_lang(tally.offered)
    yield "requests.offered_then_filed", by_lang(tally.offered_then_filed)


def at_path(found: dict[str, Any], path: str) -> Any:
    """A figure by its path ("topics.<id>.answers": a topic found by its id)."""
    node: Any = found
    for part in path.split("."):
        node = next(x for x in node if x["topic"] == part) if isinstance(node, list) else node[part]
    return node


def disagreements(tally: Tally, found: dict[str, Any]) -> list[str]:
    """Every generated figure that the computed ones (figures.compute) differ from."""
    return [
        f"{path}: {at_path(found, path)} (generated {want})"
        for path, want in as_figures(tally)
        if at_path(found, path) != want
    ]
