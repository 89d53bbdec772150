"""Reading the inbox, resolving entries (atomically), and privacy (forget,
retention, export)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot import db, settings
from bot.contract import LANGS
from bot.privacy import mask
from bot.tracker_events import EVENTS, tracker_engine
from bot.training.examples import shown_path
from bot.training.inbox.occurrences import form_values, from_timestamp, refresh
from bot.training.inbox.turns import OUT_OF_SCOPE, REASONS, as_float

CONTEXT_EVENTS = 6  # user and bot messages shown before and after, in `show`


class InboxError(ValueError):
    """A trainer's request that cannot be done; the message says why."""


class AlreadyResolved(InboxError):
    """Another trainer (or an earlier command) resolved this entry first."""


# ---------------------------------------------------------------- reading the inbox


@dataclass(frozen=True)
class Entry:
    id: int
    text: str
    lang: str
    intent: str | None
    confidence: float | None
    top3: list[dict[str, Any]]
    rule_ids: list[str]
    reasons: list[str]
    suggestion: str | None
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    conversation_id: str | None
    event_id: int | None
    status: str
    assigned_intent: str | None
    resolved_file: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "lang": self.lang,
            "intent": self.intent,
            "confidence": self.confidence,
            "top3": self.top3,
            "rule_ids": self.rule_ids,
            "reasons": self.reasons,
            "suggestion": self.suggestion,
            "count": self.count,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "conversation_id": self.conversation_id,
            "status": self.status,
            "assigned_intent": self.assigned_intent,
            "file": self.resolved_file,
        }


def _entry(row: db.InboxEntry) -> Entry:
    return Entry(
        id=int(row.id),
        text=row.text,
        lang=row.lang,
        intent=row.intent,
        confidence=row.confidence,
        top3=list(row.ranking or []),
        rule_ids=list(row.rule_ids or []),
        reasons=list(row.reasons or []),
        suggestion=row.suggestion,
        count=int(row.count),
        first_seen=db.as_utc(row.first_seen),  # type: ignore[arg-type]
        last_seen=db.as_utc(row.last_seen),  # type: ignore[arg-type]
        conversation_id=row.conversation_id,
        event_id=row.event_id,
        status=row.status,
        assigned_intent=row.assigned_intent,
        resolved_file=row.resolved_file,
    )


def list_entries(
    *,
    lang: str | None = None,
    reason: str | None = None,
    status: str | None = "new",
    intent: str | None = None,
    url: str | None = None,
) -> list[Entry]:
    """Entries, the most frequent first, then the most recent; None: any."""
    if lang is not None and lang not in LANGS:
        raise InboxError(f"language must be one of {', '.join(LANGS)}")
    if reason is not None and reason not in REASONS:
        raise InboxError(f"reason must be one of {', '.join(REASONS)}")
    if status is not None and status not in db.INBOX_STATUSES:
        raise InboxError(f"status must be one of {', '.join(db.INBOX_STATUSES)}")
    url = db.ensure_schema(url)
    query = select(db.InboxEntry).order_by(
        db.InboxEntry.count.desc(), db.InboxEntry.last_seen.desc(), db.InboxEntry.id
    )
    if lang:
        query = query.where(db.InboxEntry.lang == lang)
    if status:
        query = query.where(db.InboxEntry.status == status)
    if intent:
        query = query.where(db.InboxEntry.intent == intent)
    with db.session_scope(url) as session:
        found = [_entry(row) for row in session.scalars(query)]
    # JSON lists are queried differently by each database: filtered here
    return [e for e in found if reason is None or reason in e.reasons]


def get(entry_id: int, url: str | None = None) -> Entry:
    url = db.ensure_schema(url)
    with db.session_scope(url) as session:
        row = session.get(db.InboxEntry, entry_id)
        if row is None:
            raise InboxError(f"no inbox entry {entry_id} (see `bot inbox list --status all`)")
        return _entry(row)


@dataclass(frozen=True)
class Line:
    """One message of the conversation around an entry, masked."""

    who: str  # user | bot
    text: str
    at: dt.datetime
    this: bool  # the entry's own message


def context(entry: Entry, *, url: str | None = None, tracker_url: str | None = None) -> list[Line]:
    """The conversation around the entry's latest occurrence (masked), or []."""
    if not entry.conversation_id or entry.event_id is None:
        return []
    engine = tracker_engine(tracker_url or settings.load().tracker_url)
    if engine is None:
        return []
    url = db.ensure_schema(url)
    known = form_values(entry.conversation_id, url)
    query = (
        select(EVENTS.c.id, EVENTS.c.data)
        .where(EVENTS.c.sender_id == entry.conversation_id)
        .where(EVENTS.c.type_name.in_(("user", "bot")))
        .order_by(EVENTS.c.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    lines: list[Line] = []
    for event_id, raw in rows:
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            continue
        text = str(data.get("text") or "").strip()
        if not text:
            continue
        lines.append(
            Line(
                who=str(data.get("event")),
                text=mask.mask_text(text, known),
                at=from_timestamp(as_float(data.get("timestamp")) or 0.0),
                this=event_id == entry.event_id,
            )
        )
    here = next((i for i, line in enumerate(lines) if line.this), None)
    if here is None:
        return []
    return lines[max(0, here - CONTEXT_EVENTS) : here + CONTEXT_EVENTS + 1]


# ---------------------------------------------------------------- resolving


def claim(
    entry_id: int,
    status: str,
    *,
    intent: str | None = None,
    url: str | None = None,
) -> None:
    """Move a `new` entry to `status` atomically; AlreadyResolved if it was not new."""
    if status not in db.INBOX_STATUSES or status == "new":
        raise InboxError(f"cannot move an entry to {status!r}")
    url = db.ensure_schema(url)
    with db.session_scope(url) as session:
        done = session.execute(
            update(db.InboxEntry)
            .where(db.InboxEntry.id == entry_id, db.InboxEntry.status == "new")
            .values(
                status=status,
                assigned_intent=intent,
                resolved_at=dt.datetime.now(dt.timezone.utc),
            )
            .execution_options(synchronize_session=False)
        )
        if done.rowcount == 1:
            return
        row = session.get(db.InboxEntry, entry_id)
        if row is None:
            raise InboxError(f"no inbox entry {entry_id}")
        what = f"{row.status}" + (f" as {row.assigned_intent}" if row.assigned_intent else "")
    raise AlreadyResolved(f"entry {entry_id} was already resolved ({what}); nothing changed")


def release(entry_id: int, status: str, *, url: str | None = None) -> None:
    """Undo a claim whose phrase could not be written: the entry is `new` again."""
    url = db.ensure_schema(url)
    with db.session_scope(url) as session:
        session.execute(
            update(db.InboxEntry)
            .where(db.InboxEntry.id == entry_id, db.InboxEntry.status == status)
            .values(status="new", assigned_intent=None, resolved_at=None, resolved_file=None)
            .execution_options(synchronize_session=False)
        )


def note_file(entry_id: int, path: str, *, url: str | None = None) -> None:
    url = db.ensure_schema(url)
    with db.session_scope(url) as session:
        session.execute(
            update(db.InboxEntry)
            .where(db.InboxEntry.id == entry_id)
            .values(resolved_file=path)
            .execution_options(synchronize_session=False)
        )


def ignore(entry_id: int, *, url: str | None = None) -> Entry:
    claim(entry_id, "ignored", url=url)
    return get(entry_id, url)


@dataclass(frozen=True)
class Assigned:
    entry: Entry
    plan: Any  # phrases.Plan: the text, intent, file and the conflict check's verdict
    file: Path


def assign(
    entry_id: int,
    intent: str,
    *,
    url: str | None = None,
    status: str = "added",
    **phrase_options: Any,
) -> Assigned:
    """Write the entry's text as an example of `intent` (conflict check first).

    The check runs before the claim (it reads only), the claim is atomic, and a
    phrase that cannot be written gives the entry back (`new`). Options go to
    bot.training.phrases.prepare (nlu_dir, eval_sets, predictor, cache, progress)."""
    from bot.training import phrases

    entry = get(entry_id, url)
    if entry.status != "new":
        what = entry.status + (f" as {entry.assigned_intent}" if entry.assigned_intent else "")
        raise AlreadyResolved(f"entry {entry_id} was already resolved ({what}); nothing changed")
    plan = phrases.prepare(intent, entry.text, entry.lang, **phrase_options)
    claim(entry_id, status, intent=plan.intent, url=url)
    try:
        path = phrases.write(plan.file, plan.intent, plan.text)
    except BaseException:
        release(entry_id, status, url=url)
        raise
    note_file(entry_id, shown_path(path), url=url)
    return Assigned(get(entry_id, url), plan, path)


def out_of_scope(entry_id: int, *, url: str | None = None, **phrase_options: Any) -> Assigned:
    """Add the entry's text to the out-of-scope examples of its language."""
    return assign(entry_id, OUT_OF_SCOPE, url=url, status="out_of_scope", **phrase_options)


# ---------------------------------------------------------------- privacy


def _drop_occurrences(session: Session, condition: Any) -> int:
    entry_ids = set(
        session.scalars(select(db.InboxOccurrence.entry_id).where(condition).distinct())
    )
    gone = session.execute(delete(db.InboxOccurrence).where(condition))
    for entry_id in entry_ids:
        entry = session.get(db.InboxEntry, entry_id)
        if entry is not None:
            refresh(session, entry)
    return int(gone.rowcount or 0)


def forget_sender(sender: str, url: str | None = None) -> int:
    """Delete one conversation's occurrences (and entries left without any)."""
    url = db.ensure_schema(url)
    with db.session_scope(url) as session:
        return _drop_occurrences(session, db.InboxOccurrence.sender == sender)


def delete_older(cutoff: dt.datetime, url: str | None = None) -> int:
    """Retention: occurrences seen before `cutoff` (and entries left without any)."""
    url = db.ensure_schema(url)
    with db.session_scope(url) as session:
        return _drop_occurrences(session, db.InboxOccurrence.seen_at < cutoff)


def for_sender(sender: str, url: str | None = None) -> list[dict[str, Any]]:
    """What the inbox holds from one conversation (`bot privacy export`)."""
    url = db.ensure_schema(url)
    with db.session_scope(url) as session:
        rows = session.execute(
            select(db.InboxOccurrence, db.InboxEntry.text, db.InboxEntry.status)
            .join(db.InboxEntry, db.InboxEntry.id == db.InboxOccurrence.entry_id)
            .where(db.InboxOccurrence.sender == sender)
            .order_by(db.InboxOccurrence.seen_at)
        ).all()
        return [
            {
                "entry": occ.entry_id,
                "text": text,
                "status": status,
                "seen_at": db.as_utc(occ.seen_at).isoformat(),  # type: ignore[union-attr]
                "reasons": list(occ.reasons),
            }
            for occ, text, status in rows
        ]
