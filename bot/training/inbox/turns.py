"""Conversations from the tracker store's events, and why a message belongs in
the inbox (its own parse and answer, and the user's next message)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.contract import LANGS
from bot.text import normalise
from bot.tracker_events import EVENTS

REASONS = ("fallback", "low_confidence", "ambiguous", "did_you_mean", "thumbs_down", "rephrased")
FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
AMBIGUITY = 0.1  # top two intents closer than this: ambiguous
REPHRASE_SECONDS = 60.0
# Messages that answer the bot rather than ask again: never "the rephrasing".
NOT_REPHRASINGS = frozenset(
    {"greet", "goodbye", "thanks", "affirm", "deny", "stop", FALLBACK_INTENT}
)


# ---------------------------------------------------------------- reading the tracker


@dataclass
class Turn:
    """One user message of a conversation, with the answer it got."""

    event_id: int
    sender: str
    timestamp: float
    text: str
    intent: str | None  # the model's top intent, never nlu_fallback
    confidence: float | None
    ranking: list[tuple[str, float]]  # the model's own ranking, nlu_fallback left out
    fell_back: bool
    detected: str | None
    decisive: bool
    in_form: bool
    rule_ids: list[str] = field(default_factory=list)
    reply_lang: str | None = None
    verdict: str | None = None
    buttons: list[str] = field(default_factory=list)  # payloads offered in reply

    @property
    def payload(self) -> bool:
        return self.text.startswith("/")

    @property
    def lang(self) -> str:
        """The language the text is written in, as far as it can be told."""
        if self.detected in LANGS and self.decisive:
            return self.detected
        for lang in (self.reply_lang, self.detected):
            if lang in LANGS:
                return lang
        return "en"


def as_float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _turn(event_id: int, sender: str, data: dict[str, Any], in_form: bool) -> Turn:
    parse = _dict(data.get("parse_data"))
    intent = _dict(parse.get("intent"))
    ranking = []
    for item in parse.get("intent_ranking") or []:
        if isinstance(item, dict) and item.get("name") and item["name"] != FALLBACK_INTENT:
            ranking.append((str(item["name"]), as_float(item.get("confidence")) or 0.0))
    if not ranking and intent.get("name") and intent["name"] != FALLBACK_INTENT:
        ranking = [(str(intent["name"]), as_float(intent.get("confidence")) or 0.0)]
    language = _dict(parse.get("language"))
    return Turn(
        event_id=event_id,
        sender=sender,
        timestamp=as_float(data.get("timestamp")) or 0.0,
        text=str(data.get("text") or ""),
        intent=ranking[0][0] if ranking else None,
        confidence=ranking[0][1] if ranking else None,
        ranking=ranking,
        fell_back=intent.get("name") == FALLBACK_INTENT,
        detected=language.get("detected"),
        decisive=bool(language.get("decisive")),
        in_form=in_form,
    )


def _read_bot(turn: Turn, data: dict[str, Any]) -> None:
    body = _dict(data.get("data"))
    answer = _dict(_dict(body.get("custom")).get("answer"))
    if answer:
        turn.rule_ids = [str(r) for r in answer.get("rule_ids") or []]
        turn.reply_lang = answer.get("lang") if answer.get("lang") in LANGS else turn.reply_lang
        turn.verdict = answer.get("verdict")
    for button in body.get("buttons") or []:
        if isinstance(button, dict) and isinstance(button.get("payload"), str):
            turn.buttons.append(button["payload"])


def conversation_turns(rows: Iterable[tuple[int, str | None]], sender: str) -> list[Turn]:
    """A conversation's user messages from its events (id, data JSON), in order."""
    turns: list[Turn] = []
    active_form = None
    current: Turn | None = None
    for event_id, raw in rows:
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            continue
        kind = data.get("event") if isinstance(data, dict) else None
        if kind == "active_loop":
            active_form = data.get("name")
        elif kind in ("session_started", "restart"):
            active_form, current = None, None
        elif kind == "user":
            current = _turn(event_id, sender, data, in_form=active_form is not None)
            turns.append(current)
        elif kind == "bot" and current is not None:
            _read_bot(current, data)
    return turns


def sender_rows(conn: Any, sender: str) -> list[tuple[int, str | None]]:
    query = (
        select(EVENTS.c.id, EVENTS.c.data)
        .where(EVENTS.c.sender_id == sender, EVENTS.c.type_name.in_(_READ_TYPES))
        .order_by(EVENTS.c.id)
    )
    return [(int(r[0]), r[1]) for r in conn.execute(query)]


_READ_TYPES = ("user", "bot", "active_loop", "session_started", "restart")


# ---------------------------------------------------------------- why a message is here


def own_reasons(turn: Turn, threshold: float) -> set[str]:
    """Why a message belongs in the inbox, from its own parse and answer."""
    reasons: set[str] = set()
    fell_back = turn.fell_back or (turn.verdict == "fallback" and turn.intent != OUT_OF_SCOPE)
    if fell_back:
        reasons.add("fallback")
    elif turn.confidence is not None and turn.confidence < threshold:
        reasons.add("low_confidence")
    if len(turn.ranking) > 1 and turn.ranking[0][1] - turn.ranking[1][1] < AMBIGUITY:
        reasons.add("ambiguous")
    return reasons


def _confident(turn: Turn, threshold: float) -> bool:
    return (
        not turn.fell_back
        and turn.intent is not None
        and turn.intent not in NOT_REPHRASINGS
        and (turn.confidence or 0.0) >= threshold
    )


def next_reasons(
    turn: Turn, following: Turn | None, threshold: float
) -> tuple[set[str], str | None]:
    """What the user's next message says about this one: (reasons, suggestion)."""
    if following is None:
        return set(), None
    if following.payload and following.text in turn.buttons and turn.buttons:
        return {"did_you_mean"}, following.intent
    unsure = turn.fell_back or (turn.confidence is not None and turn.confidence < threshold)
    if (
        unsure
        and not following.payload
        and not following.in_form
        and 0 <= following.timestamp - turn.timestamp <= REPHRASE_SECONDS
        and following.lang == turn.lang
        and normalise(following.text) != normalise(turn.text)
        and _confident(following, threshold)
    ):
        return {"rephrased"}, following.intent
    return set(), None
