"""The summary's bookkeeping: how far it has read (a row of inbox_cursors), one
writer at a time, and the versions it was made with."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot import db

CURSOR = "insights"  # its row in inbox_cursors
# Raised when what a row means changes: a summary of another version is made again.
VERSION = "2"
VERSION_KEY = "insights_summary_version"
RULES_KEY = "insights_rulebase_version"  # the rule base the topics were named from
TABLES = (db.InsightAnswer, db.InsightTurn, db.InsightForm, db.InsightSender)


def cursor(session: Session) -> int:
    row = session.get(db.InboxCursor, CURSOR)
    return int(row.position) if row is not None else 0


def move_cursor(session: Session, position: int) -> None:
    row = session.get(db.InboxCursor, CURSOR)
    now = dt.datetime.now(dt.timezone.utc)
    if row is None:
        session.add(db.InboxCursor(source=CURSOR, position=position, synced_at=now))
    else:
        row.position, row.synced_at = position, now


def lock(session: Session) -> None:
    """One summary at a time on PostgreSQL (the launcher's timer, a command, the
    page); SQLite's single writer does this by itself (the loser retries)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(4242027)"))


def clear_rows(session: Session) -> None:
    for table in TABLES:
        session.execute(sa.delete(table))
    move_cursor(session, 0)
