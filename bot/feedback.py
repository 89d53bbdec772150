"""Feedback on answers: the chat page's thumbs up / thumbs down, stored for review.

No Rasa in here: the chat channel (bot/rasa_addons/channels/chat_page.py) hands the
page's JSON to `record`, which validates every field and stores one row of the
`feedback` table, or raises FeedbackInvalid naming what is wrong (nothing is
stored then). `list_feedback` reads them back, newest last.

What is checked: `rating` is up or down; `lang` is en, nb or sv; `rule_ids` is a
list of clause ids that exist in the current rule base (empty for a fallback);
`verdict` is a contract verdict (answer-contract.md §2) or absent; `sender` is a
conversation id by the REST channel's rule (message_checks.check_sender). The
channel stores feedback only on an answer the bot gave in that conversation
(`matching_turn`), with that turn's question and answer. Texts are
NFC-normalised, stripped of surrounding space and of control characters
(newlines and tabs stay), then held to their limits: question 2000, answer
8000, comment 1000 characters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from bot import db, message_checks, rulebase
from bot.contract import ANSWER_VERDICTS, LANGS
from bot.privacy.mask import mask_text
from bot.text import strip_controls

RATINGS = ("up", "down")
MAX_SENDER = 255
MAX_QUESTION = 2000
MAX_ANSWER = 8000
MAX_COMMENT = 1000
MAX_RULE_IDS = 50


class FeedbackInvalid(ValueError):
    """The feedback was refused; the message says why (safe to show to the page)."""


@dataclass(frozen=True)
class Turn:
    """One answer the bot gave in a conversation, as the tracker store holds it."""

    question: str  # the user's message it answered, or its part (masked, as stored)
    answer: str  # the bot's text before its payload
    rule_ids: tuple[str, ...]
    verdict: str | None


def answered_turns(events: Sequence[dict]) -> list[Turn]:
    """The answers in a conversation's events (tracker "user" and "bot" events as
    dicts), oldest first: each bot message carrying a contract payload, with the
    user's message before it (or the part it answers: answer-contract.md §2a) and
    the bot's texts since that message or the last answer."""
    turns: list[Turn] = []
    question, texts = "", list[str]()
    for event in events:
        kind = event.get("event")
        if kind == "user":
            question, texts = str(event.get("text") or ""), []
        elif kind == "bot":
            if event.get("text"):
                texts.append(str(event["text"]))
            data = event.get("data")
            custom = data.get("custom") if isinstance(data, dict) else None
            answer = custom.get("answer") if isinstance(custom, dict) else None
            if isinstance(answer, dict):
                ids = tuple(str(i) for i in answer.get("rule_ids") or [])
                verdict = answer.get("verdict")
                asked = answer.get("segment")  # the part of the message it answers
                asked = asked if isinstance(asked, str) and asked else question
                turns.append(Turn(asked, "\n".join(texts), ids, verdict))
                texts = []
    return turns


def matching_turn(turns: Sequence[Turn], rule_ids: object, verdict: object) -> Turn:
    """The latest answer of the conversation the page's feedback is about (same
    clauses, and the same verdict when given). FeedbackInvalid when there is none:
    feedback counts only on an answer the bot really gave in that conversation, so
    that nobody can put a question of their own into the trainers' inbox."""
    ids = tuple(rule_ids) if isinstance(rule_ids, list | tuple) else None
    for turn in reversed(turns):
        if turn.rule_ids == ids and (verdict is None or turn.verdict == verdict):
            return turn
    raise FeedbackInvalid("no such answer in this conversation")


@dataclass(frozen=True)
class Entry:
    id: int
    created_at: dt.datetime | None
    sender: str
    rating: str
    question: str
    answer: str
    rule_ids: tuple[str, ...]
    verdict: str | None
    lang: str
    comment: str | None


def _clean(value: object, name: str, limit: int, *, required: bool, multiline: bool = True):
    if value is None:
        if required:
            raise FeedbackInvalid(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise FeedbackInvalid(f"{name} must be a string")
    value = strip_controls(value, multiline)
    if len(value) > limit:
        raise FeedbackInvalid(f"{name} is too long ({len(value)} characters; at most {limit})")
    if not value:
        if required:
            raise FeedbackInvalid(f"{name} is required")
        return None
    return value


def _masked(text: str | None) -> str | None:
    return mask_text(text) if text else text


def _rule_ids(value: object, url: str | None) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise FeedbackInvalid("rule_ids must be a list of clause ids")
    if len(value) > MAX_RULE_IDS:
        raise FeedbackInvalid(f"rule_ids has {len(value)} ids; at most {MAX_RULE_IDS}")
    ids = list(dict.fromkeys(v.strip() for v in value))
    if not ids:
        return []
    try:
        known = rulebase.current(url).clauses
    except rulebase.RulebaseMissing:
        known = {}
    unknown = [i for i in ids if i not in known]
    if unknown:
        shown = ", ".join(repr(i[:64]) for i in unknown[:5])
        raise FeedbackInvalid(f"rule_ids has unknown clause ids: {shown}")
    return ids


def record(
    *,
    sender: object,
    rating: object,
    question: object,
    answer: object,
    rule_ids: object = (),
    verdict: object = None,
    lang: object = "en",
    comment: object = None,
    url: str | None = None,
) -> int:
    """Validate and store one piece of feedback; its id. FeedbackInvalid: nothing stored."""
    if rating not in RATINGS:
        raise FeedbackInvalid("rating must be 'up' or 'down'")
    if lang not in LANGS:
        raise FeedbackInvalid(f"lang must be one of {', '.join(LANGS)}")
    if verdict is not None and verdict not in ANSWER_VERDICTS:
        raise FeedbackInvalid(f"verdict must be one of {', '.join(ANSWER_VERDICTS)}")
    try:
        sender = message_checks.check_sender(sender)
    except message_checks.Refused as exc:
        raise FeedbackInvalid(str(exc)) from None
    row = db.Feedback(
        created_at=dt.datetime.now(dt.timezone.utc),
        sender=sender,
        rating=rating,
        question=mask_text(_clean(question, "question", MAX_QUESTION, required=False) or ""),
        answer=mask_text(_clean(answer, "answer", MAX_ANSWER, required=True) or ""),
        rule_ids=_rule_ids(rule_ids, url),
        verdict=verdict,
        lang=lang,
        comment=_masked(_clean(comment, "comment", MAX_COMMENT, required=False)),
    )
    url = db.ensure_schema(url)
    with db.session_scope(url) as session:
        session.add(row)
        session.flush()
        return int(row.id)


def list_feedback(rating: str | None = None, url: str | None = None) -> list[Entry]:
    """Stored feedback in the order it came, optionally only one rating."""
    if rating is not None and rating not in RATINGS:
        raise FeedbackInvalid("rating must be 'up' or 'down'")
    url = db.ensure_schema(url)
    query = select(db.Feedback).order_by(db.Feedback.id)
    if rating is not None:
        query = query.where(db.Feedback.rating == rating)
    with db.session_scope(url) as session:
        return [_entry(row) for row in session.scalars(query)]


def _entry(row: db.Feedback) -> Entry:
    return Entry(
        id=row.id,
        created_at=db.as_utc(row.created_at),
        sender=row.sender,
        rating=row.rating,
        question=row.question,
        answer=row.answer,
        rule_ids=tuple(row.rule_ids or ()),
        verdict=row.verdict,
        lang=row.lang,
        comment=row.comment,
    )


def to_json(entry: Entry) -> dict:
    return {
        "id": entry.id,
        "created_at": entry.created_at.isoformat() if entry.created_at else None,
        "sender": entry.sender,
        "rating": entry.rating,
        "question": entry.question,
        "answer": entry.answer,
        "rule_ids": list(entry.rule_ids),
        "verdict": entry.verdict,
        "lang": entry.lang,
        "comment": entry.comment,
    }


__all__: Sequence[str] = ("FeedbackInvalid", "Entry", "record", "list_feedback", "to_json")
