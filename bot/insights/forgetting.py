"""The summary and a person's right to be forgotten: a conversation deleted by
retention or `bot privacy forget` leaves the summary too; `bot privacy export`
shows what it holds of one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from bot import db
from bot.insights.bookkeeping import TABLES, cursor, lock, move_cursor
from bot.tracker_events import EVENTS, tracker_engine


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
            lock(session)
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                for table in TABLES:
                    result = session.execute(sa.delete(table).where(table.sender.in_(chunk)))
                    if table is db.InsightTurn:
                        gone += int(result.rowcount or 0)
            if engine is not None:
                with engine.connect() as conn:
                    last = conn.execute(sa.select(sa.func.max(EVENTS.c.id))).scalar() or 0
                if last < cursor(session):
                    move_cursor(session, int(last))
        return gone

    return db.retrying(delete)


def purge_before(
    cutoff: dt.datetime,
    url: str | None = None,
    tracker_url: str | None = None,
    purged: Iterable[str] = (),
) -> int:
    """The conversations retention took from the tracker store (`purged`) leave
    the summary, and with them any whose last message is older than `cutoff`
    (what an earlier purge could not finish); how many."""
    T = db.InsightTurn
    with db.session_scope(db.ensure_schema(url)) as session:
        old = sa.select(T.sender).group_by(T.sender).having(sa.func.max(T.at) < cutoff)
        senders = set(session.scalars(old)) | set(purged)
    forget_senders(sorted(senders), url, tracker_url)
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
