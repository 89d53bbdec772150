"""The sync: occurrences recorded and merged into entries, incrementally and
idempotently, from the tracker store and the feedback table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import db, settings
from bot.contract import LANGS
from bot.privacy import mask
from bot.text import normalise
from bot.tracker_events import EVENTS, tracker_engine
from bot.training.examples import shown_path
from bot.training.inbox.occurrences import Sighting, form_values, record, sighting
from bot.training.inbox.turns import (
    Turn,
    conversation_turns,
    next_reasons,
    own_reasons,
    sender_rows,
)

OVERLAP = {"events": 500, "feedback": 100}  # ids re-read behind each cursor


# ---------------------------------------------------------------- sync


@dataclass(frozen=True)
class Synced:
    conversations: int  # conversations read
    feedback: int  # thumbs-down read
    recorded: int  # occurrences added or changed
    entries: int  # entries in the inbox now
    new: int  # of them `new`

    def summary(self) -> str:
        return (
            f"read {self.conversations} conversation(s) and {self.feedback} thumbs-down; "
            f"{self.recorded} change(s); {self.entries} entries, {self.new} new"
        )


def _cursor(session: Session, source: str) -> int:
    row = session.get(db.InboxCursor, source)
    return int(row.position) if row is not None else 0


def _move_cursor(url: str, source: str, position: int) -> None:
    with db.session_scope(url) as session:
        row = session.get(db.InboxCursor, source)
        now = dt.datetime.now(dt.timezone.utc)
        if row is None:
            session.add(db.InboxCursor(source=source, position=position, synced_at=now))
        else:
            row.position, row.synced_at = max(position, 0), now


_texts_cache: dict[Path, tuple[tuple, dict[str, Any]]] = {}


def training_texts(nlu_dir: Path | None = None) -> dict[str, Any]:
    """normalised text -> its training example (bot.training.examples.Example);
    read again only when a file changed (parsing them all takes a second or more,
    and the launcher syncs every minute)."""
    from bot.training import examples

    directory = nlu_dir or examples.NLU_DIR
    files = sorted(directory.glob("*/*.yml"))
    signature = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    cached = _texts_cache.get(directory)
    if cached is not None and cached[0] == signature:
        return cached[1]
    found = {normalise(e.text): e for e in examples.training_examples(directory)}
    _texts_cache[directory] = (signature, found)
    return found


def _trained_meanwhile(url: str, known_texts: dict[str, Any]) -> int:
    """`new` entries whose text became a training example by other means (a hand
    edit, `bot phrase add`): marked added, with the intent and file that have it."""
    changed = 0
    with db.session_scope(url) as session:
        for entry in session.scalars(select(db.InboxEntry).where(db.InboxEntry.status == "new")):
            example = known_texts.get(normalise(entry.text))
            if example is not None:
                entry.status, entry.assigned_intent = "added", example.intent
                entry.resolved_file = shown_path(example.file)
                entry.resolved_at = dt.datetime.now(dt.timezone.utc)
                changed += 1
    return changed


def _sync_sender(
    url: str,
    conn: Any,
    sender: str,
    threshold: float,
    known_texts: dict[str, Any],
    extra: dict[int, tuple[set[str], str | None]] | None = None,
) -> int:
    """Record every inbox message of one conversation; `extra` adds reasons to events."""
    turns = conversation_turns(sender_rows(conn, sender), sender)
    known: list[tuple[str, str]] | None = None  # read only if a message qualifies
    sightings = []
    for i, turn in enumerate(turns):
        if turn.payload or turn.in_form or not turn.text.strip():
            continue
        reasons = own_reasons(turn, threshold)
        more, suggestion = next_reasons(
            turn, turns[i + 1] if i + 1 < len(turns) else None, threshold
        )
        reasons |= more
        if extra and turn.event_id in extra:
            reasons |= extra[turn.event_id][0]
            suggestion = suggestion or extra[turn.event_id][1]
        if not reasons:
            continue
        if known is None:
            known = form_values(sender, url)
        text = mask.mask_text(turn.text.strip(), known)
        if normalise(text) and normalise(text) not in known_texts:
            sightings.append(sighting(turn, text, reasons, suggestion))
    if not sightings:
        return 0

    def write() -> int:
        with db.session_scope(url) as session:
            return sum(record(session, seen) for seen in sightings)

    return db.retrying(write)


def _match_feedback(turns: Sequence[Turn], question: str, before: float) -> Turn | None:
    """The user message a thumbs-down was about: the latest with the same text."""
    wanted = normalise(question)
    for turn in reversed(turns):
        if turn.timestamp <= before + 1 and normalise(mask.mask_text(turn.text)) == wanted:
            return turn
    return None


def sync(
    *,
    url: str | None = None,
    tracker_url: str | None = None,
    nlu_dir: Path | None = None,
    threshold: float | None = None,
) -> Synced:
    """Bring the inbox up to date with the tracker store and the feedback table."""
    cfg = settings.load()
    url = db.ensure_schema(url)
    threshold = cfg.inbox_confidence if threshold is None else threshold
    known_texts = training_texts(nlu_dir)
    with db.session_scope(url) as session:
        events_from, feedback_from = _cursor(session, "events"), _cursor(session, "feedback")
    engine = tracker_engine(tracker_url or cfg.tracker_url)
    conversations = recorded = read_feedback = 0
    if engine is not None:
        with engine.connect() as conn:
            last = conn.execute(select(func.max(EVENTS.c.id))).scalar() or 0
            if last < events_from:  # a new tracker database: start again
                events_from = 0
            senders = conn.execute(
                select(EVENTS.c.sender_id)
                .where(EVENTS.c.id > max(events_from - OVERLAP["events"], 0))
                .where(EVENTS.c.id <= last)
                .distinct()
            ).scalars()
            for sender in list(senders):
                recorded += _sync_sender(url, conn, sender, threshold, known_texts)
                conversations += 1
            _move_cursor(url, "events", int(last))
            recorded_fb, read_feedback = _sync_feedback(
                url, conn, feedback_from, threshold, known_texts
            )
            recorded += recorded_fb
    else:
        recorded_fb, read_feedback = _sync_feedback(
            url, None, feedback_from, threshold, known_texts
        )
        recorded += recorded_fb
    recorded += _trained_meanwhile(url, known_texts)
    with db.session_scope(url) as session:
        entries = session.scalar(select(func.count()).select_from(db.InboxEntry)) or 0
        new = (
            session.scalar(
                select(func.count()).select_from(db.InboxEntry).where(db.InboxEntry.status == "new")
            )
            or 0
        )
    return Synced(conversations, read_feedback, recorded, int(entries), int(new))


def _sync_feedback(
    url: str, conn: Any, position: int, threshold: float, known_texts: dict[str, Any]
) -> tuple[int, int]:
    """Thumbs-down since the cursor: the message's occurrence gets the reason, or,
    if the conversation is gone from the tracker store, one of its own."""
    with db.session_scope(url) as session:
        last = session.scalar(select(func.max(db.Feedback.id))) or 0
        if last < position:
            position = 0
        rows = session.execute(
            select(
                db.Feedback.id,
                db.Feedback.sender,
                db.Feedback.question,
                db.Feedback.created_at,
                db.Feedback.rule_ids,
                db.Feedback.lang,
            )
            .where(db.Feedback.rating == "down")
            .where(db.Feedback.id > max(position - OVERLAP["feedback"], 0))
            .where(db.Feedback.id <= last)
            .order_by(db.Feedback.id)
        ).all()
    recorded = 0
    for fid, sender, question, created_at, rule_ids, lang in rows:
        if not (question or "").strip():
            continue
        created = db.as_utc(created_at) or dt.datetime.now(dt.timezone.utc)
        turn = None
        if conn is not None:
            turns = conversation_turns(sender_rows(conn, sender), sender)
            turn = _match_feedback(turns, question, created.timestamp())
        if turn is not None:
            recorded += _sync_sender(
                url, conn, sender, threshold, known_texts, {turn.event_id: ({"thumbs_down"}, None)}
            )
            continue
        text = mask.mask_text(question.strip(), form_values(sender, url))
        if not normalise(text) or normalise(text) in known_texts:
            continue
        seen = Sighting(
            sender=sender,
            source=f"feedback:{fid}",
            event_id=None,
            seen_at=created,
            text=text,
            lang=lang if lang in LANGS else "en",
            intent=None,
            confidence=None,
            ranking=[],
            rule_ids=list(rule_ids or []),
            reasons=frozenset({"thumbs_down"}),
            suggestion=None,
        )

        def write(seen: Sighting = seen) -> int:
            with db.session_scope(url) as session:
                return int(record(session, seen))

        recorded += db.retrying(write)
    _move_cursor(url, "feedback", int(last))
    return recorded, len(rows)
