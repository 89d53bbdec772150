"""The summary the figures are counted from: the tracker store's events, read
once and incrementally (a cursor on events.id), turned into one row per user
message, per answer and per run of the request form (bot/schema.py, Insight*).

The database does the reading (bot/insights/reading.py). The figures themselves
(bot/insights/figures.py) are SQL aggregates over these tables, which live in
the project database beside the feedback and the filed requests they join.

Order: SQLite commits one writer at a time, so ids become visible in order.
PostgreSQL hands out ids from a sequence before the commit, so a turn saved
slowly by one replica may appear behind ids already read: there the summary
stops at the first event (of any kind) younger than BOT_INSIGHTS_SETTLE_SECONDS
(60 s): a turn's events are saved seconds after they are made, so an id below
it is committed by then (a save slower than that could still be passed over).

Modules: reading (the SQL), turns (one conversation's events into rows),
bookkeeping (cursor, lock, versions), forgetting (retention, `forget`, export).
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot import db, rulebase, settings
from bot.insights.bookkeeping import (
    RULES_KEY,
    TABLES,
    VERSION,
    VERSION_KEY,
    clear_rows,
    cursor,
    lock,
    move_cursor,
)
from bot.insights.reading import reading
from bot.insights.turns import Batch, ConversationRows
from bot.tracker_events import EVENTS, tracker_engine

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


def _topics_by_clauses(url: str) -> tuple[dict[tuple[str, ...], str], str]:
    """A topic's answer cites exactly its clauses, in order, and no two topics
    share a list (bot/rulebase checks it): the list names the topic. With the
    rule base's version, so that a change names them again."""
    try:
        rules = rulebase.current(url)
    except rulebase.RulebaseMissing:
        return {}, "none"
    return {topic.clauses: topic.id for topic in rules.topics.values()}, rules.version


def _one_batch(
    url: str, engine: sa.engine.Engine, topics: dict, horizon: float | None, size: int
) -> tuple[int, int, int, int, bool, int, bool]:
    """Read and write the events of the next `size` ids in one transaction;
    (events, turns, answers, forms, rebuilt, ids left, stopped at an event not
    settled yet). A window of ids, not LIMIT: the primary key's range is an index
    scan, whatever the filter costs."""
    with db.session_scope(url) as session:
        lock(session)
        position = cursor(session)
        # written first: SQLite's write lock is held from here to the commit, so a
        # `forget` of a conversation read below waits and deletes what this writes
        move_cursor(session, position)
        session.flush()
        rebuilt = False
        with engine.connect() as conn:
            last = conn.execute(sa.select(sa.func.max(EVENTS.c.id))).scalar() or 0
            if last < position:  # a new tracker database: start again
                clear_rows(session)
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
        summary, batch = ConversationRows(session, topics), Batch()
        with session.no_autoflush:
            summary.preload({row.sender_id for row in rows})
            for row in rows:
                summary.read(row, batch)
        summary.finish()
        move_cursor(session, upto)
        unsettled = fresh is not None
        return (
            len(rows),
            batch.turns,
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
        lock(session)
        made = session.get(db.Meta, VERSION_KEY)
        if made is None or made.value != VERSION:
            clear_rows(session)
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
        for table in TABLES:
            conn.execute(sa.text(f"ANALYZE {table.__tablename__}"))
