"""Engine, sessions and the schema's upgrade (the tables are in bot.schema): one
database for the rule base, the records and the service requests, named by one URL
(BOT_DATABASE_URL).

SQLite by default; PostgreSQL (or anything SQLAlchemy speaks) by URL.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from sqlalchemy import (
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot import settings
from bot.schema import (
    INBOX_STATUSES,
    SCHEMA_VERSION,
    Base,
    Clause,
    ClauseLink,
    Document,
    Feedback,
    InboxCursor,
    InboxEntry,
    InboxOccurrence,
    InsightAnswer,
    InsightForm,
    InsightSender,
    InsightTurn,
    Licence,
    Meta,
    Product,
    RequestDraft,
    Service,
    ServiceRequest,
    ServiceRequestCounter,
    Topic,
    TopicClause,
)

T = TypeVar("T")

# The tables, as every caller knows them (db.Product, db.InboxEntry, ...).
__all__ = [
    "Base",
    "Clause",
    "ClauseLink",
    "Document",
    "Feedback",
    "INBOX_STATUSES",
    "InboxCursor",
    "InboxEntry",
    "InboxOccurrence",
    "InsightAnswer",
    "InsightForm",
    "InsightSender",
    "InsightTurn",
    "Licence",
    "Meta",
    "Product",
    "RequestDraft",
    "SCHEMA_VERSION",
    "Service",
    "ServiceRequest",
    "ServiceRequestCounter",
    "Topic",
    "TopicClause",
]


def _enable_sqlite_foreign_keys(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine per URL for the life of the process (engines pool connections)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # created owner-only, whatever the caller's umask: it holds conversations
        os.close(os.open(parsed.database, os.O_CREAT | os.O_RDWR, 0o600))
        try:  # and one made before this rule, or by another tool: owner-only too
            if os.stat(parsed.database).st_mode & 0o077:
                os.chmod(parsed.database, 0o600)
        except PermissionError:  # not ours to change: the operator's choice
            pass
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time as an aware UTC datetime (SQLite drops the zone on the way in)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def is_missing_table(exc: Exception) -> bool:
    """A query failed because the schema is not there yet (not because the
    database is unreachable): SQLite's and PostgreSQL's wording."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def unreachable(exc: BaseException) -> bool:
    """Did this fail because the database cannot be reached right now (refused,
    reset, timed out, a dropped pooled connection), rather than because of what
    was asked?"""
    from sqlalchemy.exc import DBAPIError

    # DBAPIError covers OperationalError and InterfaceError; connection_invalidated
    # marks a pooled connection that died under the query.
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or type(exc).__name__ in ("OperationalError", "InterfaceError")
    )


def retrying(work: Callable[[], T], attempts: int = 4) -> T:
    """`work()`, again when another writer got there first: the loser of a unique
    key, or of SQLite's write lock, waits a little and tries again."""
    for attempt in range(attempts):
        try:
            return work()
        except (IntegrityError, OperationalError) as exc:
            if attempt == attempts - 1 or (
                isinstance(exc, OperationalError) and "locked" not in str(exc).lower()
            ):
                raise
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def resolve_url(url: str | None = None) -> str:
    """The database to use: the one given, else BOT_DATABASE_URL's (read now)."""
    return url or settings.load().database_url


def engine(url: str | None = None) -> Engine:
    return engine_for(resolve_url(url))


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    factory = sessionmaker(bind=engine(url), future=True)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _add_missing_columns(eng: Engine) -> None:
    """Columns added to a model after a database was created: ALTER TABLE ADD.
    Schema changes are additive (new tables, new nullable columns), so this and
    create_all are the whole upgrade path."""
    existing = inspect(eng)
    with eng.begin() as conn:
        for table in Base.metadata.sorted_tables:
            if not existing.has_table(table.name):
                continue
            have = {c["name"] for c in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have:
                    kind = column.type.compile(dialect=eng.dialect)
                    conn.execute(
                        text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')
                    )


def _add_missing_indexes(eng: Engine) -> None:
    """Indexes added to a model after its table was made (create_all makes a
    table's indexes only with the table)."""
    existing = inspect(eng)
    for table in Base.metadata.sorted_tables:
        have = {ix["name"] for ix in existing.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in have:
                index.create(eng, checkfirst=True)


def upgrade(url: str | None = None) -> None:
    """Create what is missing: tables, then columns and indexes added since."""
    eng = engine(url)
    Base.metadata.create_all(eng)
    _add_missing_columns(eng)
    _add_missing_indexes(eng)
    with session_scope(url) as session:
        session.merge(Meta(key="schema_version", value=SCHEMA_VERSION))


_schema_ready: set[str] = set()
_schema_lock = threading.Lock()


def ensure_schema(url: str | None = None) -> str:
    """Upgrade a database once per process before its first use (a database made
    before a table existed gets it); returns the resolved URL."""
    resolved = resolve_url(url)
    if resolved not in _schema_ready:
        with _schema_lock:
            if resolved not in _schema_ready:
                upgrade(resolved)
                _schema_ready.add(resolved)
    return resolved
