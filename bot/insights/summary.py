"""The summary the figures are counted from: the tracker store's events, read
once and incrementally (a cursor on events.id), turned into one row per user
message, per answer and per run of the request form (bot/schema.py, Insight*).

The database does the reading (bot/insights/reading.py). The figures themselves
(bot/insights/figures.py) are SQL aggregates over these tables, which live in
the project database beside the feedback and the filed requests they join.

Order: SQLite commits one writer at a time, so ids become visible in order.
PostgreSQL hands out ids from a sequence before the commit, so a turn saved
slowly by one replica may appear behind ids already read: there the summary
reads only events older than BOT_INSIGHTS_SETTLE_SECONDS (60 s, Rasa's lock
lifetime, within which every save ends) and stops at the first newer one.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot import db, rulebase, settings
from bot.insights.reading import SESSION_ENDS, lang_of, reading, rule_ids, week_of, when, yes
from bot.tracker_events import EVENTS, tracker_engine

REQUEST_FORM = "service_request_form"
CURSOR = "insights"  # its row in inbox_cursors
# Raised when what a row means changes: a summary of another version is made again.
VERSION = "2"
VERSION_KEY = "insights_summary_version"
RULES_KEY = "insights_rulebase_version"  # the rule base the topics were named from
BATCH = 20_000  # event ids per transaction
ANALYZE_AFTER = 10_000  # rows added in one run, past which PostgreSQL's statistics are renewed


@dataclass(frozen=True)
class Summarised:
    events: int  # events read
    turns: int
    answers: int
    forms: int
    rebuilt: bool = False  # made again from the start (a new tracker store, an upgrade)
    behind: int = 0  # event ids not read yet (a budget ran out, or not settled)


@dataclass
class _Batch:
    """What one batch adds or changes, before it is written in one transaction."""

    turns: dict[int, db.InsightTurn] = field(default_factory=dict)
    answers: int = 0
    forms: int = 0


def _topics_by_clauses(url: str) -> tuple[dict[tuple[str, ...], str], str]:
    """A topic's answer cites exactly its clauses, in order, and no two topics
    share a list (bot/rulebase checks it): the list names the topic. With the
    rule base's version, so that a change names them again."""
    try:
        rules = rulebase.current(url)
    except rulebase.RulebaseMissing:
        return {}, "none"
    return {topic.clauses: topic.id for topic in rules.topics.values()}, rules.version


class _Summary:
    """One run: per-conversation state, read as each batch needs it."""

    def __init__(self, session: Session, topics: dict[tuple[str, ...], str]):
        self.session = session
        self.topics = topics
        self.states: dict[str, db.InsightSender] = {}
        self.forms: dict[str, db.InsightForm] = {}  # each conversation's open form run
        self.turns: dict[int, db.InsightTurn] = {}  # the latest user message of each

    def preload(self, senders: set[str]) -> None:
        """What the batch's conversations left last time, in three queries, not
        one per conversation."""
        wanted = sorted(senders)
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            where = db.InsightSender.sender.in_(chunk)
            for state in self.session.scalars(sa.select(db.InsightSender).where(where)):
                self.states[state.sender] = state
        forms = [s.form_id for s in self.states.values() if s.form_id]
        turns = [s.turn_id for s in self.states.values() if s.turn_id]
        for i in range(0, len(forms), 500):
            query = sa.select(db.InsightForm).where(db.InsightForm.id.in_(forms[i : i + 500]))
            for form in self.session.scalars(query):
                self.forms[form.sender] = form
        for i in range(0, len(turns), 500):
            query = sa.select(db.InsightTurn).where(db.InsightTurn.event_id.in_(turns[i : i + 500]))
            for turn in self.session.scalars(query):
                self.turns[turn.event_id] = turn

    def finish(self) -> None:
        """New form runs get their ids: the conversations point at them."""
        self.session.flush()
        for sender, form in self.forms.items():
            self.states[sender].form_id = form.id

    def state(self, sender: str) -> db.InsightSender:
        found = self.states.get(sender)
        if found is None:
            found = db.InsightSender(sender=sender)
            self.session.add(found)
            self.states[sender] = found
        return found

    def turn(self, batch: _Batch, turn_id: int | None) -> db.InsightTurn | None:
        return self.turns.get(turn_id) if turn_id is not None else None

    def form(self, state: db.InsightSender) -> db.InsightForm | None:
        return self.forms.get(state.sender)

    def read(self, row: Any, batch: _Batch) -> None:
        state = self.state(row.sender_id)
        at = when(row.timestamp)
        form = self.form(state)
        if form is not None and form.outcome == "open":
            form.last_at = at
        if row.type_name == "user":
            kind = "form" if state.loop else "button" if row.first == "/" else "question"
            # as the actions choose the reply's language (actions/conversation.py):
            # the page's choice, else a decisive detection outside a form's field,
            # else the conversation's so far; the answer's own language wins below
            detected = row.detected if kind != "form" and yes(row.decisive) else None
            lang = lang_of(row.explicit, detected, state.lang, row.detected)
            turn = db.InsightTurn(
                event_id=row.id,
                sender=row.sender_id,
                at=at,
                week=week_of(at),
                lang=lang,
                kind=kind,
                intent=(row.intent_name or None) and row.intent_name[:96],
                confidence=row.confidence,
                fallback=False,
            )
            self.session.add(turn)
            batch.turns[row.id] = self.turns[row.id] = turn
            state.turn_id, state.lang = row.id, lang
        elif row.type_name == "bot" and row.verdict:
            self.answer(row, state, at, batch)
        elif row.type_name == "bot" and row.filed and form is not None:
            form.outcome = "filed"
        elif row.type_name == "active_loop":
            self.loop(row, state, at, batch)
        elif row.type_name == "slot" and form is not None and form.outcome == "open":
            if row.name == "requested_slot" and row.value:
                form.step = str(row.value)[:32]
        elif row.type_name in SESSION_ENDS:
            # a new session (or /restart) ends any form without an active_loop event
            if form is not None and form.outcome == "open":
                form.outcome = "abandoned"
            state.loop = None

    def answer(self, row: Any, state: db.InsightSender, at: dt.datetime, batch: _Batch) -> None:
        lang = lang_of(row.answer_lang, state.lang)
        cited = rule_ids(row.rule_ids)
        turn = self.turn(batch, state.turn_id)
        topic = None if row.lookup else self.topics.get(tuple(cited))
        if row.lookup:
            kind = "lookup"
        elif row.verdict == "fallback":
            kind = (
                "out_of_scope" if turn is not None and turn.intent == "out_of_scope" else "fallback"
            )
        else:
            kind = "topic" if topic else "other"
        self.session.add(
            db.InsightAnswer(
                event_id=row.id,
                turn_id=state.turn_id,
                sender=row.sender_id,
                at=at,
                lang=lang,
                verdict=str(row.verdict)[:32],
                kind=kind,
                topic=topic,
                rule_ids=json.dumps(cited),
            )
        )
        batch.answers += 1
        if turn is not None:
            turn.lang = lang  # the language it was answered in
            turn.fallback = turn.fallback or kind == "fallback"
        state.lang = lang

    def loop(self, row: Any, state: db.InsightSender, at: dt.datetime, batch: _Batch) -> None:
        name = row.name or None
        if name == REQUEST_FORM and state.loop != REQUEST_FORM:
            form = db.InsightForm(
                event_id=row.id,
                sender=row.sender_id,
                at=at,
                lang=lang_of(state.lang),
                outcome="open",
                last_at=at,
            )
            self.session.add(form)
            self.forms[row.sender_id] = form  # its id, and the state's, at the end
            batch.forms += 1
        elif name is None and state.loop == REQUEST_FORM:
            ended = self.form(state)
            if ended is not None and ended.outcome == "open":
                # ended: cancelled unless the filing that follows says otherwise
                ended.outcome = "cancelled"
        state.loop = name


def _cursor(session: Session) -> int:
    row = session.get(db.InboxCursor, CURSOR)
    return int(row.position) if row is not None else 0


def _move_cursor(session: Session, position: int) -> None:
    row = session.get(db.InboxCursor, CURSOR)
    now = dt.datetime.now(dt.timezone.utc)
    if row is None:
        session.add(db.InboxCursor(source=CURSOR, position=position, synced_at=now))
    else:
        row.position, row.synced_at = position, now


def _lock(session: Session) -> None:
    """One summary at a time on PostgreSQL (the launcher's timer, a command, the
    page); SQLite's single writer does this by itself (the loser retries)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(4242027)"))


def _clear_rows(session: Session) -> None:
    for table in (db.InsightAnswer, db.InsightTurn, db.InsightForm, db.InsightSender):
        session.execute(sa.delete(table))
    _move_cursor(session, 0)


def clear(session: Session) -> None:
    """Everything the summary holds: the next run makes it from the start."""
    _clear_rows(session)
    session.execute(sa.delete(db.Meta).where(db.Meta.key.in_((VERSION_KEY, RULES_KEY))))


def _one_batch(
    url: str, engine: sa.engine.Engine, topics: dict, horizon: float | None, size: int
) -> tuple[int, int, int, int, bool, int, bool]:
    """Read and write the events of the next `size` ids in one transaction;
    (events, turns, answers, forms, rebuilt, ids left, stopped at an event not
    settled yet). A window of ids, not
    LIMIT: the primary key's range is an index scan, whatever the filter costs."""
    with db.session_scope(url) as session:
        _lock(session)
        position = _cursor(session)
        # written first: SQLite's write lock is held from here to the commit, so a
        # `forget` of a conversation read below waits and deletes what this writes
        _move_cursor(session, position)
        session.flush()
        rebuilt = False
        with engine.connect() as conn:
            last = conn.execute(sa.select(sa.func.max(EVENTS.c.id))).scalar() or 0
            if last < position:  # a new tracker database: start again
                _clear_rows(session)
                position, rebuilt = 0, True
            upto = min(position + size, last)
            fresh = None
            if horizon is not None:  # stop before the first event not yet settled
                fresh = conn.execute(
                    sa.select(sa.func.min(EVENTS.c.id)).where(
                        EVENTS.c.id > position, EVENTS.c.id <= upto, EVENTS.c.timestamp >= horizon
                    )
                ).scalar()
                if fresh is not None:
                    upto = fresh - 1
            rows = conn.execute(
                reading(engine)
                .where(EVENTS.c.id > position, EVENTS.c.id <= upto)
                .order_by(EVENTS.c.id)
            ).all()
        summary, batch = _Summary(session, topics), _Batch()
        with session.no_autoflush:
            summary.preload({row.sender_id for row in rows})
            for row in rows:
                summary.read(row, batch)
        summary.finish()
        _move_cursor(session, upto)
        unsettled = fresh is not None
        return (
            len(rows),
            len(batch.turns),
            batch.answers,
            batch.forms,
            rebuilt,
            last - upto,
            unsettled,
        )


def _begin(url: str, topics: dict[tuple[str, ...], str], rules_version: str) -> bool:
    """Before reading: a summary made by another version of this code is made
    again (True); a changed rule base names the answers' topics again."""
    with db.session_scope(url) as session:
        _lock(session)
        made = session.get(db.Meta, VERSION_KEY)
        if made is None or made.value != VERSION:
            _clear_rows(session)
            session.merge(db.Meta(key=VERSION_KEY, value=VERSION))
            session.merge(db.Meta(key=RULES_KEY, value=rules_version))
            return made is not None
        named = session.get(db.Meta, RULES_KEY)
        if named is None or named.value != rules_version:
            _name_topics(session, topics)
            session.merge(db.Meta(key=RULES_KEY, value=rules_version))
        return False


def _name_topics(session: Session, topics: dict[tuple[str, ...], str]) -> None:
    """Each answer's topic from the rule base now: an answer cites exactly its
    topic's clauses, so its stored list of clauses names it."""
    A = db.InsightAnswer
    kinds = A.kind.in_(("topic", "other"))
    session.execute(sa.update(A).where(kinds).values(kind="other", topic=None))
    for clauses, topic in topics.items():
        session.execute(
            sa.update(A)
            .where(A.kind == "other", A.rule_ids == json.dumps(list(clauses)))
            .values(kind="topic", topic=topic)
        )


def summarise(
    url: str | None = None,
    tracker_url: str | None = None,
    *,
    settle_seconds: float | None = None,
    batch: int = BATCH,
    budget_seconds: float | None = None,
) -> Summarised:
    """Bring the summary up to date with the tracker store (`batch`: event ids
    per transaction); with a budget, stop after the batch that passes it and say
    how many ids are left (`behind`)."""
    cfg = settings.load()
    url = db.ensure_schema(url)
    engine = tracker_engine(tracker_url or cfg.tracker_url)
    if engine is None:
        return Summarised(0, 0, 0, 0)
    settle = cfg.insights_settle_seconds if settle_seconds is None else settle_seconds
    horizon = time.time() - settle if engine.dialect.name != "sqlite" and settle > 0 else None
    topics, rules_version = _topics_by_clauses(url)
    started = time.monotonic()
    rebuilt = db.retrying(lambda: _begin(url, topics, rules_version))
    totals = [0, 0, 0, 0]
    left, unsettled = 1, False
    while left > 0 and not unsettled:
        one_batch = functools.partial(_one_batch, url, engine, topics, horizon, batch)
        *counts, again, left, unsettled = db.retrying(one_batch)
        for i in range(4):
            totals[i] += counts[i]
        rebuilt = rebuilt or again
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            break
    if rebuilt or totals[1] + totals[2] > ANALYZE_AFTER:
        _analyze(url)
    events, turns, answers, forms = totals
    return Summarised(events, turns, answers, forms, rebuilt=rebuilt, behind=max(left, 0))


def _analyze(url: str) -> None:
    """Fresh statistics after many rows at once: without them PostgreSQL plans the
    figures for the handful of rows it last saw (a nested loop over 100,000 rows,
    minutes instead of milliseconds) until autovacuum comes by, and SQLite, which
    has none until asked, picks the wrong index."""
    with db.engine(url).connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in (db.InsightTurn, db.InsightAnswer, db.InsightForm, db.InsightSender):
            conn.execute(sa.text(f"ANALYZE {table.__tablename__}"))


def forget_senders(
    senders: Iterable[str], url: str | None = None, tracker_url: str | None = None
) -> int:
    """The summary of these conversations goes with them (retention, `forget`),
    after any summary running now (which may have read them) has written. The
    cursor comes back to the tracker store's largest id: SQLite gives a deleted
    newest id to the next event, which the summary would otherwise skip."""
    wanted = list(senders)
    engine = tracker_engine(tracker_url)

    def delete() -> int:
        gone = 0
        with db.session_scope(db.ensure_schema(url)) as session:
            _lock(session)
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                for table in (db.InsightAnswer, db.InsightTurn, db.InsightForm, db.InsightSender):
                    result = session.execute(sa.delete(table).where(table.sender.in_(chunk)))
                    if table is db.InsightTurn:
                        gone += int(result.rowcount or 0)
            if engine is not None:
                with engine.connect() as conn:
                    last = conn.execute(sa.select(sa.func.max(EVENTS.c.id))).scalar() or 0
                if last < _cursor(session):
                    _move_cursor(session, int(last))
        return gone

    return db.retrying(delete)


def purge_before(cutoff: dt.datetime, url: str | None = None) -> int:
    """Conversations whose last message is older than `cutoff` leave the summary,
    as retention takes them from the tracker store (also what an earlier purge
    could not finish); how many."""
    T = db.InsightTurn
    with db.session_scope(db.ensure_schema(url)) as session:
        old = sa.select(T.sender).group_by(T.sender).having(sa.func.max(T.at) < cutoff)
        senders = list(session.scalars(old))
    forget_senders(senders, url)
    return len(senders)


def for_sender(sender: str, url: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """What the summary holds of one conversation (`bot privacy export`)."""
    tables: dict[str, Any] = {
        "turns": db.InsightTurn,
        "answers": db.InsightAnswer,
        "forms": db.InsightForm,
    }
    found: dict[str, list[dict[str, Any]]] = {}
    with db.session_scope(db.ensure_schema(url)) as session:
        for name, table in tables.items():
            rows = session.scalars(sa.select(table).where(table.sender == sender))
            found[name] = [
                {
                    column.name: _plain(getattr(row, column.name))
                    for column in table.__table__.columns
                    if column.name != "sender"
                }
                for row in rows
            ]
    return found


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
