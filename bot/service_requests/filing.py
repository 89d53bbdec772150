"""Filing a request: validate every field, route it, and store it in one
transaction under a reference SR-YYYY-NNNNNN.

The reference's number is a per-year sequence (UTC year of filing) kept in
service_request_counters and bumped in the same transaction, so two filings
never share one, on SQLite and PostgreSQL alike. Filing is idempotent: the
same idempotency key (by default `idempotency_key_for(conversation_id,
fields)`) files one request, even when two confirmations race (the unique
constraint decides; the loser reads the winner's reference).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot import db
from bot.contract import LANGS
from bot.service_requests.routing import CLAUSE_ID, route
from bot.service_requests.store import NEW
from bot.service_requests.validation import (
    FIELDS,
    FieldProblem,
    RequestInvalid,
    clean,
    validate_request,
)
from bot.service_requests.webhook import webhook_url

logger = logging.getLogger(__name__)

REFERENCE = re.compile(r"^SR-(\d{4})-(\d{6})$")


@dataclass(frozen=True)
class FiledRequest:
    reference: str
    queue: str
    created: bool  # False: this idempotency key had already filed it

    @property
    def payload(self) -> dict[str, dict[str, str]]:
        """answer-contract §2: the custom JSON message for a filed request."""
        return {"service_request": {"reference": self.reference, "queue": self.queue}}


def idempotency_key_for(conversation_id: str, fields: Mapping[str, object]) -> str:
    """A stable hash of the conversation and the normalised fields: a retried or
    doubled confirmation of the same form gives the same key (and so one request)."""
    normal: dict[str, object] = {}
    for name in sorted(fields):
        value = fields[name]
        cleaned: object
        if name in FIELDS:
            cleaned, _ = clean(name, value, None)
            if cleaned is None and isinstance(value, str):
                cleaned = " ".join(value.split()).casefold() or None
        else:
            cleaned = value if isinstance(value, str | int | float | bool) else repr(value)
        if cleaned is not None:
            normal[name] = cleaned
    canonical = json.dumps([str(conversation_id), normal], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _key_column(key: str) -> str:
    """The key as stored: itself if it fits the column, else its hash."""
    key = str(key)
    if len(key) <= 64 and key.isprintable():
        return key
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class _NoCounter(Exception):
    pass


def _max_sequence(conn: Connection | Session, year: int) -> int:
    top = conn.execute(
        select(func.max(db.ServiceRequest.reference)).where(
            db.ServiceRequest.reference.like(f"SR-{year}-%")
        )
    ).scalar()
    match = REFERENCE.match(top or "")
    return int(match.group(2)) if match else 0


def _sync_counter(url: str, year: int) -> None:
    """Create this year's counter row, or move it past any reference already used
    (a counter row lost with a restored backup must not hand out a number twice)."""
    try:
        with db.engine_for(url).begin() as conn:
            highest = _max_sequence(conn, year)
            last = conn.execute(
                select(db.ServiceRequestCounter.last).where(db.ServiceRequestCounter.year == year)
            ).scalar()
            if last is None:
                conn.execute(
                    db.ServiceRequestCounter.__table__.insert().values(year=year, last=highest)
                )
            elif last < highest:
                conn.execute(
                    update(db.ServiceRequestCounter)
                    .where(db.ServiceRequestCounter.year == year)
                    .values(last=highest)
                )
    except sa_exc.IntegrityError:
        pass  # another filing created it first


def _next_sequence(session: Session, year: int) -> int:
    """Bump this year's counter in the session's transaction (the row lock
    serialises concurrent filings until commit) and return the new value."""
    result = session.execute(
        update(db.ServiceRequestCounter)
        .where(db.ServiceRequestCounter.year == year)
        .values(last=db.ServiceRequestCounter.last + 1)
    )
    if result.rowcount == 0:
        raise _NoCounter
    return session.execute(
        select(db.ServiceRequestCounter.last).where(db.ServiceRequestCounter.year == year)
    ).scalar_one()


def _existing(url: str, key: str) -> FiledRequest | None:
    with db.session_scope(url) as session:
        row = session.execute(
            select(db.ServiceRequest.reference, db.ServiceRequest.queue).where(
                db.ServiceRequest.idempotency_key == key
            )
        ).first()
    return FiledRequest(row.reference, row.queue, created=False) if row else None


def _locked(exc: sa_exc.OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text or "deadlock" in text


def file_request(
    fields: Mapping[str, object],
    *,
    conversation_id: str,
    language: str,
    idempotency_key: str | None = None,
    clause: str | None = None,
    allow_unknown_key: bool = True,
    url: str | None = None,
    now: dt.datetime | None = None,
) -> FiledRequest:
    """Validate, route and store a request in one transaction; idempotent.

    fields: service, name, email, country, description, and optionally company
    and licence_key (FIELDS). `clause` (the clause that prompted the offer) is
    used for routing and stored. `idempotency_key` defaults to
    idempotency_key_for(conversation_id, fields). The same key again returns the
    stored request with created=False, whatever the fields say now.

    Raises RequestInvalid (every field problem, or service_not_offered with the
    alternatives), RoutingError (the routing table is broken), ValueError (bad
    language or conversation id). Nothing is stored when it raises.
    """
    if language not in LANGS:
        raise ValueError(f"language {language!r} is not one of {', '.join(LANGS)}")
    conversation_id = str(conversation_id or "").strip()
    if not conversation_id or len(conversation_id) > 255:
        raise ValueError("conversation_id must be 1-255 characters")
    url = db.ensure_schema(url)
    key = _key_column(idempotency_key or idempotency_key_for(conversation_id, fields))
    existing = _existing(url, key)
    if existing is not None:
        return existing

    cleaned, licence_status = validate_request(fields, url=url, allow_unknown_key=allow_unknown_key)
    if clause is not None and not CLAUSE_ID.match(str(clause)):
        raise ValueError(f"clause {clause!r} is not a clause id")
    service, country = cleaned["service"], cleaned["country"]
    assert service is not None and country is not None  # required: validated above
    where = route(service, country, clause, url=url)
    if not where.offered:
        raise RequestInvalid([FieldProblem("service", "service_not_offered")], where.alternatives)

    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    year = now.year
    for attempt in range(8):
        try:
            with db.session_scope(url) as session:
                sequence = _next_sequence(session, year)
                if sequence > 999_999:
                    raise RuntimeError(f"no SR-{year} references left (999999 filed this year)")
                reference = f"SR-{year}-{sequence:06d}"
                session.add(
                    db.ServiceRequest(
                        reference=reference,
                        idempotency_key=key,
                        service=service,
                        clause_id=clause,
                        queue=where.queue,
                        status=NEW,
                        language=language,
                        conversation_id=conversation_id,
                        name=cleaned["name"],
                        email=cleaned["email"],
                        company=cleaned["company"],
                        country=country,
                        licence_key=cleaned["licence_key"],
                        licence_status=licence_status,
                        description=cleaned["description"],
                        created_at=now,
                        webhook_status="pending" if webhook_url() else "none",
                        webhook_attempts=0,
                    )
                )
                session.flush()
            logger.info("filed service request %s (queue %s)", reference, where.queue)
            assert where.queue is not None  # offered
            return FiledRequest(reference, where.queue, created=True)
        except _NoCounter:
            _sync_counter(url, year)
        except sa_exc.IntegrityError:
            # a racing twin filed this key first, or a reference was taken
            existing = _existing(url, key)
            if existing is not None:
                return existing
            _sync_counter(url, year)
        except sa_exc.OperationalError as exc:
            if not _locked(exc):
                raise
            time.sleep(0.05 * (attempt + 1))  # SQLite busy: back off a little, try again
    raise RuntimeError("could not file the request: the database stayed busy")
