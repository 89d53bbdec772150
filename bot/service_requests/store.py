"""Reading filed requests back: one, a filtered list, a CSV/JSON export, and
the status the team moves a request through (`bot requests ...`).

Licence keys are stored in full (the team needs them) but every reader here
hands out `records.mask_key(key)`: `StoredRequest.record()`, exports, repr.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import db, records
from bot.escaping import spreadsheet_cell

# A request's life, in order; filing sets the first. db.ServiceRequest's
# CheckConstraint spells the same values out, because bot.db cannot import this
# package (it imports bot.db); tests/unit/test_sr_store.py keeps the two equal.
STATUSES = ("new", "in_progress", "closed")
NEW = STATUSES[0]

EXPORT_COLUMNS = (
    "reference",
    "created_at",
    "queue",
    "status",
    "service",
    "clause",
    "country",
    "language",
    "name",
    "email",
    "company",
    "licence_key",
    "licence_status",
    "description",
    "conversation_id",
    "updated_at",
    "webhook_status",
    "webhook_attempts",
    "webhook_error",
)


class RequestNotFound(LookupError):
    pass


def iso(value: dt.datetime | None) -> str | None:
    """A stored time as ISO 8601 UTC with a Z, to the second."""
    value = db.as_utc(value)
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class StoredRequest:
    """One stored request. `licence_key` is the full key: use `masked_key` (or
    `record()`) for anything shown, logged or sent; repr leaves it out."""

    reference: str
    service: str
    clause_id: str | None
    queue: str
    status: str
    language: str
    conversation_id: str
    name: str
    email: str
    company: str | None
    country: str
    licence_status: str | None
    description: str
    created_at: dt.datetime
    updated_at: dt.datetime | None
    webhook_status: str
    webhook_attempts: int
    webhook_error: str | None
    licence_key: str | None = field(default=None, repr=False)

    @property
    def masked_key(self) -> str | None:
        return records.mask_key(self.licence_key) if self.licence_key else None

    def record(self) -> dict[str, object]:
        """Every field as JSON-ready values, the licence key masked."""
        return {
            "reference": self.reference,
            "created_at": iso(self.created_at),
            "queue": self.queue,
            "status": self.status,
            "service": self.service,
            "clause": self.clause_id,
            "country": self.country,
            "language": self.language,
            "name": self.name,
            "email": self.email,
            "company": self.company,
            "licence_key": self.masked_key,
            "licence_status": self.licence_status,
            "description": self.description,
            "conversation_id": self.conversation_id,
            "updated_at": iso(self.updated_at),
            "webhook_status": self.webhook_status,
            "webhook_attempts": self.webhook_attempts,
            "webhook_error": self.webhook_error,
        }


def _stored(row: db.ServiceRequest) -> StoredRequest:
    created = db.as_utc(row.created_at)
    assert created is not None  # the column is NOT NULL
    return StoredRequest(
        reference=row.reference,
        service=row.service,
        clause_id=row.clause_id,
        queue=row.queue,
        status=row.status,
        language=row.language,
        conversation_id=row.conversation_id,
        name=row.name,
        email=row.email,
        company=row.company,
        country=row.country,
        licence_status=row.licence_status,
        description=row.description,
        created_at=created,
        updated_at=db.as_utc(row.updated_at),
        webhook_status=row.webhook_status,
        webhook_attempts=row.webhook_attempts or 0,
        webhook_error=row.webhook_error,
        licence_key=row.licence_key,
    )


def normalise_reference(reference: str) -> str:
    return (reference or "").strip().upper()


def _row(session: Session, reference: str) -> db.ServiceRequest:
    """The stored row of a reference; RequestNotFound if there is none."""
    row = session.scalars(
        select(db.ServiceRequest).where(
            db.ServiceRequest.reference == normalise_reference(reference)
        )
    ).first()
    if row is None:
        raise RequestNotFound(f"no service request {reference!r}")
    return row


def get_request(reference: str, url: str | None = None) -> StoredRequest:
    """The request with this reference; RequestNotFound if there is none."""
    url = db.ensure_schema(url)
    with db.session_scope(url) as session:
        return _stored(_row(session, reference))


def list_requests(
    queue: str | None = None, status: str | None = None, url: str | None = None
) -> list[StoredRequest]:
    """Every request (optionally of one queue and/or status), oldest first."""
    url = db.ensure_schema(url)
    query = select(db.ServiceRequest).order_by(db.ServiceRequest.id)
    if queue:
        query = query.where(db.ServiceRequest.queue == queue)
    if status:
        query = query.where(db.ServiceRequest.status == status)
    with db.session_scope(url) as session:
        return [_stored(row) for row in session.scalars(query)]


def set_status(reference: str, status: str, url: str | None = None) -> StoredRequest:
    """Move a request to one of STATUSES; updated_at records when it last moved."""
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    url = db.ensure_schema(url)
    with db.session_scope(url) as session:
        row = _row(session, reference)
        if row.status != status:
            row.status = status
            row.updated_at = dt.datetime.now(dt.timezone.utc)
        session.flush()
        return _stored(row)


def export_requests(
    fmt: str, queue: str | None = None, status: str | None = None, url: str | None = None
) -> str:
    """Every request (filtered like list_requests) as csv or json, keys masked.

    A CSV cell that could start a formula gets a leading ' (bot.escaping)."""
    rows = [r.record() for r in list_requests(queue, status, url)]
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    if fmt != "csv":
        raise ValueError(f"format {fmt!r} is not csv or json")
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([spreadsheet_cell(row[c]) for c in EXPORT_COLUMNS])
    return out.getvalue()
