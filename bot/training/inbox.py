"""The trainers' inbox: user messages the assistant may have misunderstood.

`sync` reads the tracker store's events (plain SQL, no Rasa: the table is
described in bot.privacy.retention) and the feedback table, and records one
entry per normalised text with the reasons it came in:

    fallback        the NLU fell back (nlu_fallback), or the reply's verdict was
                    `fallback` for an intent that is not out_of_scope
    low_confidence  answered, but the top intent's confidence was below
                    BOT_INBOX_CONFIDENCE (default 0.6)
    ambiguous       the top two intents were within AMBIGUITY of each other
    did_you_mean    the user clicked one of the fallback's topic buttons next:
                    the clicked intent is the suggestion
    thumbs_down     the chat page's thumbs-down on the answer
    rephrased       within REPHRASE_SECONDS of a fallback or low-confidence
                    answer, the user's next message, in the same language, got a
                    confident answer: its intent is the suggestion

Skipped: button payloads ("/scope_x"), answers to a form's questions (names,
e-mail addresses, ...: not questions), and texts that are already a training
example. Texts are masked (bot.privacy.mask: keys, e-mail addresses, phone
numbers, and the names and companies the conversation gave in its forms).

The sync is incremental (a cursor per source, re-reading a margin behind it,
since PostgreSQL may commit ids out of order) and idempotent (an occurrence is
unique per sender and source, and reasons only ever grow), so it can run at
every start, every minute and by hand at once. Resolving an entry (assign,
ignore, out of scope) is one UPDATE ... WHERE status = 'new': of two trainers
at once, one wins and the other is told.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from bot import db, settings
from bot.contract import LANGS
from bot.privacy import drafts, mask
from bot.privacy.retention import EVENTS, tracker_engine
from bot.text import normalise

logger = logging.getLogger(__name__)

REASONS = ("fallback", "low_confidence", "ambiguous", "did_you_mean", "thumbs_down", "rephrased")
FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
AMBIGUITY = 0.1  # top two intents closer than this: ambiguous
REPHRASE_SECONDS = 60.0
# Messages that answer the bot rather than ask again: never "the rephrasing".
NOT_REPHRASINGS = frozenset(
    {"greet", "goodbye", "thanks", "affirm", "deny", "stop", FALLBACK_INTENT}
)
OVERLAP = {"events": 500, "feedback": 100}  # ids re-read behind each cursor
CONTEXT_EVENTS = 6  # user and bot messages shown before and after, in `show`
_ATTEMPTS = 4  # a sender's transaction retried when another sync got there first


class InboxError(ValueError):
    """A trainer's request that cannot be done; the message says why."""


class AlreadyResolved(InboxError):
    """Another trainer (or an earlier command) resolved this entry first."""


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


def _float(value: object) -> float | None:
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
            ranking.append((str(item["name"]), _float(item.get("confidence")) or 0.0))
    if not ranking and intent.get("name") and intent["name"] != FALLBACK_INTENT:
        ranking = [(str(intent["name"]), _float(intent.get("confidence")) or 0.0)]
    language = _dict(parse.get("language"))
    return Turn(
        event_id=event_id,
        sender=sender,
        timestamp=_float(data.get("timestamp")) or 0.0,
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


def _sender_rows(conn: Any, sender: str) -> list[tuple[int, str | None]]:
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


# ---------------------------------------------------------------- storing


def text_key(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    """A stored time as aware UTC (SQLite drops the zone)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def _utc(stamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc)


def _known_values(sender: str, url: str) -> list[tuple[str, str]]:
    """The names and companies this conversation typed into forms (draft, requests)."""
    values: list[dict[str, Any]] = [drafts.get(sender, url)]
    with db.session_scope(url) as session:
        for name, company in session.execute(
            select(db.ServiceRequest.name, db.ServiceRequest.company).where(
                db.ServiceRequest.conversation_id == sender
            )
        ):
            values.append({"name": name, "company": company or ""})
    pairs = dict(pair for found in values for pair in mask.known_values(found))
    return sorted(pairs.items(), key=lambda p: -len(p[0]))


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


def _sighting(turn: Turn, text: str, reasons: set[str], suggestion: str | None) -> Sighting:
    return Sighting(
        sender=turn.sender,
        source=f"event:{turn.event_id}",
        event_id=turn.event_id,
        seen_at=_utc(turn.timestamp),
        text=text,
        lang=turn.lang,
        intent=turn.intent,
        confidence=None if turn.confidence is None else round(turn.confidence, 4),
        ranking=_ranking(turn),
        rule_ids=turn.rule_ids,
        reasons=frozenset(reasons),
        suggestion=suggestion,
    )


def _record(session: Session, seen: Sighting) -> bool:
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


def _retrying(work: Callable[[], int]) -> int:
    """Another sync (the launcher's timer, a trainer's command) may write the same
    rows at the same moment: the loser of a unique key or an SQLite lock tries again."""
    for attempt in range(_ATTEMPTS):
        try:
            return work()
        except (sa_exc.IntegrityError, sa_exc.OperationalError) as exc:
            if attempt == _ATTEMPTS - 1 or (
                isinstance(exc, sa_exc.OperationalError) and "locked" not in str(exc).lower()
            ):
                raise
            time.sleep(0.1 * (attempt + 1))
    return 0  # pragma: no cover - the loop returns or raises


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
                entry.resolved_file = _shown_path(example.file)
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
    turns = conversation_turns(_sender_rows(conn, sender), sender)
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
            known = _known_values(sender, url)
        text = mask.mask_text(turn.text.strip(), known)
        if normalise(text) and normalise(text) not in known_texts:
            sightings.append(_sighting(turn, text, reasons, suggestion))
    if not sightings:
        return 0

    def write() -> int:
        with db.session_scope(url) as session:
            return sum(_record(session, seen) for seen in sightings)

    return _retrying(write)


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
            turns = conversation_turns(_sender_rows(conn, sender), sender)
            turn = _match_feedback(turns, question, created.timestamp())
        if turn is not None:
            recorded += _sync_sender(
                url, conn, sender, threshold, known_texts, {turn.event_id: ({"thumbs_down"}, None)}
            )
            continue
        text = mask.mask_text(question.strip(), _known_values(sender, url))
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
                return int(_record(session, seen))

        recorded += _retrying(write)
    _move_cursor(url, "feedback", int(last))
    return recorded, len(rows)


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
    known = _known_values(entry.conversation_id, url)
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
                at=_utc(_float(data.get("timestamp")) or 0.0),
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
    note_file(entry_id, _shown_path(path), url=url)
    return Assigned(get(entry_id, url), plan, path)


def out_of_scope(entry_id: int, *, url: str | None = None, **phrase_options: Any) -> Assigned:
    """Add the entry's text to the out-of-scope examples of its language."""
    return assign(entry_id, OUT_OF_SCOPE, url=url, status="out_of_scope", **phrase_options)


def _shown_path(path: Path) -> str:
    parts = path.parts
    return "/".join(parts[-4:]) if len(parts) >= 4 else str(path)


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
