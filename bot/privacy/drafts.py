"""Request drafts: a conversation's personal form values, in full, outside the
tracker store (which keeps them masked).

One row per conversation, keyed by `conversation_hash(sender_id)`, holding
{field: value}: the request form's name, email, company, licence_key and
description, and the lookup forms' `lookup_licence_key`. The actions `put` a
value when it is validated, `get` them for the summary and for filing, and
`delete` the row when the request is filed or cancelled; retention deletes
rows not updated for BOT_RETENTION_DAYS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable

from sqlalchemy import delete as sql_delete
from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from bot import db

LOOKUP_KEY = "lookup_licence_key"  # the licence a lookup form was given


def conversation_hash(conversation_id: str) -> str:
    """The draft's key: the conversation id is not stored beside the values."""
    return hashlib.sha256(str(conversation_id).encode("utf-8")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def get(conversation_id: str, url: str | None = None) -> dict[str, str]:
    """The conversation's draft values ({} if none)."""
    url = db.ensure_schema(url)
    with db.session_scope(url) as session:
        row = session.get(db.RequestDraft, conversation_hash(conversation_id))
        return dict(row.fields) if row is not None else {}


def put(conversation_id: str, values: dict[str, str | None], url: str | None = None) -> None:
    """Merge values into the draft (a None value removes that field)."""
    url = db.ensure_schema(url)
    key = conversation_hash(conversation_id)
    for _attempt in range(2):  # two first puts of one conversation may race
        try:
            with db.session_scope(url) as session:
                row = session.get(db.RequestDraft, key)
                now = _now()
                if row is None:
                    row = db.RequestDraft(conversation_hash=key, fields={}, created_at=now)
                    session.add(row)
                merged = {**row.fields, **values}
                row.fields = {k: v for k, v in merged.items() if v is not None}
                row.updated_at = now
            return
        except sa_exc.IntegrityError:
            continue
    raise RuntimeError("could not store the request draft")


def delete(
    conversation_id: str, fields: Iterable[str] | None = None, url: str | None = None
) -> None:
    """Forget the whole draft, or only some fields of it."""
    url = db.ensure_schema(url)
    key = conversation_hash(conversation_id)
    with db.session_scope(url) as session:
        if fields is None:
            session.execute(
                sql_delete(db.RequestDraft).where(db.RequestDraft.conversation_hash == key)
            )
            return
        row = session.get(db.RequestDraft, key)
        if row is not None:
            drop = set(fields)
            kept = {k: v for k, v in row.fields.items() if k not in drop}
            if kept:
                row.fields, row.updated_at = kept, _now()
            else:  # nothing left: no empty row either
                session.delete(row)


def delete_older(cutoff: dt.datetime, url: str | None = None) -> int:
    """Delete drafts last updated before `cutoff`; how many."""
    url = db.ensure_schema(url)
    with db.session_scope(url) as session:
        result = session.execute(
            sql_delete(db.RequestDraft).where(db.RequestDraft.updated_at < cutoff)
        )
        return int(result.rowcount or 0)


def exists(conversation_id: str, url: str | None = None) -> bool:
    url = db.ensure_schema(url)
    with db.session_scope(url) as session:
        found = session.execute(
            select(db.RequestDraft.conversation_hash).where(
                db.RequestDraft.conversation_hash == conversation_hash(conversation_id)
            )
        ).first()
        return found is not None
