"""The tracker store's events as the summary reads them: the few fields it
needs, picked out of each event's JSON by the database (SQLite's JSON_EXTRACT,
PostgreSQL's #>>), so neither a conversation's texts nor its personal values
reach Python; a slot's value only for the field a form asks for (`requested_slot`)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from bot.contract import DEFAULT_LANG, LANGS
from bot.tracker_events import EVENTS

FORM_SLOTS = ("requested_slot",)  # the only slot read: the field a form asks for
# Rasa ends a form with these too (a new session, /restart): no active_loop event
SESSION_ENDS = ("session_started", "restart")


def _field(data: Any, *path: str) -> Any:
    """One value of the event's JSON, as text (null where the event has none)."""
    return data[path].as_string()


def reading(engine: sa.engine.Engine) -> sa.sql.Select:
    """The events' fields the summary needs, picked out by the database."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        data: Any = sa.cast(EVENTS.c.data, JSONB)
    else:
        data = sa.type_coerce(EVENTS.c.data, sa.JSON)
    answer = ("data", "custom", "answer")
    name = _field(data, "name")
    return sa.select(
        EVENTS.c.id,
        EVENTS.c.sender_id,
        EVENTS.c.type_name,
        EVENTS.c.timestamp,
        EVENTS.c.intent_name,
        data[("parse_data", "intent", "confidence")].as_float().label("confidence"),
        _field(data, "parse_data", "language", "explicit").label("explicit"),
        _field(data, "parse_data", "language", "detected").label("detected"),
        _field(data, "parse_data", "language", "decisive").label("decisive"),
        sa.func.substr(_field(data, "text"), 1, 1).label("first"),
        _field(data, *answer, "verdict").label("verdict"),
        _field(data, *answer, "lang").label("answer_lang"),
        _field(data, *answer, "rule_ids").label("rule_ids"),
        _field(data, *answer, "lookup", "status").label("lookup"),
        _field(data, "data", "custom", "service_request", "reference").label("filed"),
        name.label("name"),
        sa.case(
            (
                sa.and_(EVENTS.c.type_name == "slot", name.in_(FORM_SLOTS)),
                _field(data, "value"),
            ),
            else_=None,
        ).label("value"),
    ).where(
        EVENTS.c.type_name.in_(("user", "bot", "active_loop", "slot", *SESSION_ENDS)),
        sa.or_(EVENTS.c.type_name != "slot", name.in_(FORM_SLOTS)),
    )


def when(timestamp: float | None) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp or 0.0, dt.timezone.utc)


def week_of(moment: dt.datetime) -> dt.date:
    """The Monday of the moment's ISO week (UTC): the figures' weeks."""
    day = moment.astimezone(dt.timezone.utc).date()
    return day - dt.timedelta(days=day.weekday())


def lang_of(*candidates: Any) -> str:
    for value in candidates:
        if value in LANGS:
            return str(value)
    return DEFAULT_LANG


def yes(value: Any) -> bool:
    """A JSON true as either database returns it as text."""
    return str(value).lower() in ("true", "1")


def rule_ids(raw: Any) -> list[str]:
    try:
        found = json.loads(raw) if isinstance(raw, str) else []
    except ValueError:
        return []
    return [str(x) for x in found] if isinstance(found, list) else []
