"""One person's data, by their conversation id (the chat page's sender):
`export` gathers all of it (a data-access request), `forget` removes it.

Where it is: the tracker store's events (already masked), feedback, the request
draft, the trainers' inbox (occurrences of their messages), and filed service
requests. `forget` deletes the first four (an inbox entry only another
conversation also sent stays, with that one's details) and
anonymises the requests (name, e-mail, company, key and the conversation id
replaced; phone numbers, keys and addresses in the description masked); the
reference, service, queue, country and status stay, so the team's records add
up. The export never shows a full key, e-mail address or phone number.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from bot import db, feedback, insights
from bot.privacy import drafts, mask
from bot.service_requests import deferred, list_requests
from bot.tracker_events import EVENTS, tracker_engine
from bot.training import inbox

FORGOTTEN = "[forgotten]"


@dataclass(frozen=True)
class Forgotten:
    events: int
    feedback: int
    drafts: int
    requests: int
    inbox: int = 0  # inbox occurrences

    def summary(self) -> str:
        return (
            f"{self.events} conversation events, {self.feedback} feedback, "
            f"{self.drafts} request draft(s), {self.inbox} inbox occurrence(s) deleted; "
            f"{self.requests} service request(s) anonymised"
        )


def _shown(field: str, value: Any) -> Any:
    """A value as an export may print it."""
    if not isinstance(value, str) or not value:
        return value
    kind = mask.PERSONAL_FIELDS.get(field)
    if kind == "email":
        return mask.mask_email(value)
    if kind == "licence_key" or field == drafts.LOOKUP_KEY:
        return mask.mask_key(value)
    return mask.mask_text(value)


def _events(sender: str, tracker_url: str | None) -> list[dict[str, Any]]:
    engine = tracker_engine(tracker_url)
    if engine is None:
        return []
    query = select(EVENTS.c.data).where(EVENTS.c.sender_id == sender).order_by(EVENTS.c.id)
    with engine.connect() as conn:
        rows = conn.execute(query).scalars()
        return [mask.mask_data(json.loads(data)) for data in rows if data]


def export(sender: str, *, url: str | None = None, tracker_url: str | None = None) -> dict:
    """Everything stored about one conversation id, JSON-ready."""
    url = db.ensure_schema(url)
    mine = [f for f in feedback.list_feedback(url=url) if f.sender == sender]
    requests = []
    for stored in list_requests(url=url):
        if stored.conversation_id == sender:
            record = stored.record()  # the key is masked there already
            requests.append(
                {k: v if k == "licence_key" else _shown(k, v) for k, v in record.items()}
            )
    draft = drafts.get(sender, url)
    return {
        "sender": sender,
        "conversation": _events(sender, tracker_url),
        "feedback": [
            {
                **feedback.to_json(f),
                "question": mask.mask_text(f.question),
                "comment": mask.mask_text(f.comment or "") or None,
            }
            for f in mine
        ],
        "request_draft": {k: _shown(k, v) for k, v in draft.items()} or None,
        "service_requests": requests,
        "inbox": inbox.for_sender(sender, url),
        "insights": insights.for_sender(sender, url),
    }


def forget(sender: str, *, url: str | None = None, tracker_url: str | None = None) -> Forgotten:
    """Delete one conversation's events, feedback and draft; anonymise its requests."""
    engine = tracker_engine(tracker_url)
    events = 0
    if engine is not None:
        with engine.begin() as conn:
            events = int(
                conn.execute(delete(EVENTS).where(EVENTS.c.sender_id == sender)).rowcount or 0
            )
    url = db.ensure_schema(url)
    had_draft = drafts.exists(sender, url)
    drafts.delete(sender, url=url)
    deferred.discard(sender)  # a request saved while the database was down: unfileable now
    in_inbox = inbox.forget_sender(sender, url)
    insights.forget_senders([sender], url, tracker_url)
    now = dt.datetime.now(dt.timezone.utc)
    with db.session_scope(url) as session:
        gone = session.execute(delete(db.Feedback).where(db.Feedback.sender == sender))
        rows = session.scalars(
            select(db.ServiceRequest).where(db.ServiceRequest.conversation_id == sender)
        ).all()
        for row in rows:
            _anonymise(row, now)
        return Forgotten(events, int(gone.rowcount or 0), int(had_draft), len(rows), in_inbox)


def _anonymise(row: db.ServiceRequest, now: dt.datetime) -> None:
    """What identifies a person goes; what the request was (reference, service,
    queue, country, language, dates, status) stays for the team's figures."""
    known = mask.known_values({"name": row.name, "company": row.company or ""})
    row.description = mask.mask_text(row.description, known)
    row.name, row.email = FORGOTTEN, FORGOTTEN
    row.company = FORGOTTEN if row.company else None
    row.licence_key = None
    row.conversation_id = FORGOTTEN
    # the old key hashed the conversation and the fields: personal too
    row.idempotency_key = f"forgotten-{uuid.uuid4().hex}"
    row.updated_at = now


def anonymise_requests_before(cutoff: dt.datetime, url: str | None = None) -> int:
    """Filed requests made before `cutoff` and not anonymised yet: anonymised
    (BOT_REQUEST_RETENTION_DAYS); how many."""
    now = dt.datetime.now(dt.timezone.utc)
    with db.session_scope(db.ensure_schema(url)) as session:
        rows = session.scalars(
            select(db.ServiceRequest).where(
                db.ServiceRequest.created_at < cutoff, db.ServiceRequest.name != FORGOTTEN
            )
        ).all()
        for row in rows:
            _anonymise(row, now)
        return len(rows)
