"""One occurrence of a message in the inbox: what is recorded of it, and how it is
merged into its entry (the sync finds them; bot.training.inbox.sync)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import db
from bot.privacy import drafts, mask
from bot.text import normalise
from bot.training.inbox.turns import (
    REASONS,
    Turn,
)


def text_key(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    """A stored time as aware UTC (SQLite drops the zone)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def from_timestamp(stamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc)


def form_values(sender: str, url: str) -> list[tuple[str, str]]:
    """The names and companies this conversation typed into forms (draft, requests)."""
    values: list[dict[str, Any]] = [drafts.get(sender, url)]
    with db.session_scope(url) as session:
        for name, company in session.execute(
            select(db.ServiceRequest.name, db.ServiceRequest.company).where(
                db.ServiceRequest.conversation_id == sender
            )
        ):
            values.append({"name": name, "company": company or ""})
    return mask.known_values(*values)


@dataclass(frozen=True)
class Sighting:
    """One occurrence to record."""

    sender: str
    source: str
    event_id: int | None
    seen_at: dt.datetime
    text: str  # masked
    lang: str
    intent: str | None
    confidence: float | None
    ranking: list[dict[str, Any]]
    rule_ids: list[str]
    reasons: frozenset[str]
    suggestion: str | None


def _ranking(turn: Turn) -> list[dict[str, Any]]:
    return [{"intent": name, "confidence": round(conf, 4)} for name, conf in turn.ranking[:3]]


def sighting(turn: Turn, text: str, reasons: set[str], suggestion: str | None) -> Sighting:
    return Sighting(
        sender=turn.sender,
        source=f"event:{turn.event_id}",
        event_id=turn.event_id,
        seen_at=from_timestamp(turn.timestamp),
        text=text,
        lang=turn.lang,
        intent=turn.intent,
        confidence=None if turn.confidence is None else round(turn.confidence, 4),
        ranking=_ranking(turn),
        rule_ids=turn.rule_ids,
        reasons=frozenset(reasons),
        suggestion=suggestion,
    )


def record(session: Session, seen: Sighting) -> bool:
    """Add or merge one occurrence; True if anything changed."""
    key = text_key(seen.text)
    entry = session.scalars(select(db.InboxEntry).where(db.InboxEntry.key == key)).first()
    if entry is None:
        entry = db.InboxEntry(
            key=key,
            text=seen.text,
            lang=seen.lang,
            ranking=[],
            rule_ids=[],
            reasons=[],
            count=0,
            first_seen=seen.seen_at,
            last_seen=seen.seen_at,
            status="new",
        )
        session.add(entry)
        session.flush()
    found = session.scalars(
        select(db.InboxOccurrence).where(
            db.InboxOccurrence.sender == seen.sender, db.InboxOccurrence.source == seen.source
        )
    ).first()
    if found is None:
        session.add(
            db.InboxOccurrence(
                entry_id=entry.id,
                sender=seen.sender,
                source=seen.source,
                event_id=seen.event_id,
                seen_at=seen.seen_at,
                lang=seen.lang,
                intent=seen.intent,
                confidence=seen.confidence,
                ranking=seen.ranking,
                rule_ids=seen.rule_ids,
                reasons=sorted(seen.reasons),
                suggestion=seen.suggestion,
            )
        )
    else:
        merged = sorted(set(found.reasons) | seen.reasons)
        if merged == list(found.reasons) and (found.suggestion or not seen.suggestion):
            return False
        found.reasons = merged
        found.suggestion = seen.suggestion or found.suggestion
    session.flush()
    refresh(session, entry)
    return True


def refresh(session: Session, entry: db.InboxEntry) -> None:
    """Sum an entry up from its occurrences; delete it when none is left."""
    found = session.scalars(
        select(db.InboxOccurrence)
        .where(db.InboxOccurrence.entry_id == entry.id)
        .order_by(db.InboxOccurrence.seen_at, db.InboxOccurrence.id)
    ).all()
    if not found:
        session.delete(entry)
        return
    latest = found[-1]
    entry.count = len(found)
    seen = [_aware(o.seen_at) for o in found]
    entry.first_seen, entry.last_seen = min(seen), max(seen)
    entry.reasons = sorted({r for o in found for r in o.reasons}, key=REASONS.index)
    entry.suggestion = next((o.suggestion for o in reversed(found) if o.suggestion), None)
    entry.lang, entry.intent, entry.confidence = latest.lang, latest.intent, latest.confidence
    entry.ranking, entry.rule_ids = latest.ranking, latest.rule_ids
    entry.conversation_id, entry.event_id = latest.sender, latest.event_id
