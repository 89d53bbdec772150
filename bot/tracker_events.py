"""Rasa's tracker store table, read without Rasa: the inbox, retention and the
data-subject requests all read or delete its rows."""

from __future__ import annotations

import sqlalchemy as sa

from bot import db, settings

# Rasa's SQLTrackerStore table, as Rasa 3.6 creates it (rasa.core.tracker_store.
# SQLTrackerStore.SQLEvent); described here so the core reads it without Rasa.
TRACKER_METADATA = sa.MetaData()
EVENTS = sa.Table(
    "events",
    TRACKER_METADATA,
    sa.Column("id", sa.Integer, sa.Sequence("events_seq"), primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)


def tracker_engine(tracker_url: str | None = None) -> sa.engine.Engine | None:
    """The tracker store's database, or None if Rasa has not created its table yet."""
    engine = db.engine_for(tracker_url or settings.load().tracker_url)
    return engine if sa.inspect(engine).has_table(EVENTS.name) else None
