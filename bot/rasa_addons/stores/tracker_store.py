"""The tracker store: Rasa's SQL store, with personal data masked in every event
before it is written (bot.privacy.mask).

endpoints.yml selects it (`type: bot.rasa_addons.stores.tracker_store.MaskingSQLTrackerStore`).
Rasa 3.6 quietly falls back to an in-memory store when a custom store's import
fails (bot.rasa_addons.patches.strict_tracker_store_loading says where), which
would keep conversations unmasked in memory and lose them on restart; so
`require_masking_store` (called by bot.rasa_addons.entry.rasa_cli before Rasa starts)
refuses to serve with any other store, and
`patches.strict_tracker_store_loading` turns that fallback into an error.

Masking keeps the number of events: the SQL store appends only the events
beyond the number already stored, so one event in is one event out. A name or
company typed before the form asked for it ("I'm Kari Nordmann from Acme AS")
was stored before it was known: when the form sets one, every event already
stored for the conversation is masked again with it (`remask_stored`). The events
of the current turn still hold the real values in memory (the actions need
them within the turn); what is read back on the next turn is masked, which is
why the request form keeps the real values in the request draft.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import rasa.core.tracker_store as rasa_stores
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.privacy import drafts, mask
from bot.rasa_addons import patches

logger = logging.getLogger(__name__)

STORE_TYPE = f"{__name__}.MaskingSQLTrackerStore"
SERVING_COMMANDS = ("run", "shell", "interactive")  # the rasa commands that store conversations


def known_values(tracker: DialogueStateTracker) -> list[tuple[str, str]]:
    """The form values to replace wherever they appear: this turn's slot values
    and the request draft (the summary echoes the name the draft holds)."""
    found: list[dict[str, Any]] = []
    try:
        found.append(drafts.get(tracker.sender_id))
    except Exception:  # noqa: BLE001 - patterns and slot masks still apply
        logger.warning("request draft not readable; masking by pattern only", exc_info=True)
    for event in tracker.events:  # every value: a second form may give another name
        if isinstance(event, SlotSet) and event.key in mask.PERSONAL_SLOTS and event.value:
            found.append({event.key: event.value})
    return mask.known_values(*found)


def masked_event_data(data: dict[str, Any], known: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """One event's JSON form as it may be stored."""
    masked = mask.mask_data(data, known)
    assert isinstance(masked, dict)
    return masked


def names_a_person(events: Iterable[Any]) -> bool:
    """Whether the events set a name or company slot to a real (unmasked) value."""
    return any(
        isinstance(event, SlotSet)
        and mask.PERSONAL_SLOTS.get(event.key) in ("name", "company")
        and isinstance(event.value, str)
        and event.value.strip() not in mask.UNTOUCHED
        and not mask.is_masked(event.value)
        for event in events
    )


class MaskingSQLTrackerStore(rasa_stores.SQLTrackerStore):
    """SQLTrackerStore whose `save` stores each new event masked, and whose
    database work runs in a worker thread: Rasa's runs SQLAlchemy (and the
    masking) inside `async def`, on the event loop every conversation shares.
    Order is kept by Rasa's per-conversation lock, held from read to save."""

    async def keys(self) -> Iterable[str]:
        return await asyncio.to_thread(self._keys_now)

    def _keys_now(self) -> list[str]:
        with self.session_scope() as session:
            return [sender for (sender,) in session.query(self.SQLEvent.sender_id).distinct()]

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        return await asyncio.to_thread(self._read, sender_id, fetch_events_from_all_sessions)

    def _read(self, sender_id: str, all_sessions: bool) -> DialogueStateTracker | None:
        """Rasa's own `_retrieve` (3.6.21), as a plain function."""
        with self.session_scope() as session:
            query = self._event_query(
                session, sender_id, fetch_events_from_all_sessions=all_sessions
            )
            events = [json.loads(row.data) for row in query.all()]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    def remask_stored(self, session: Any, sender_id: str, known: list[tuple[str, str]]) -> int:
        """Mask the conversation's stored events again with `known`; how many changed."""
        changed = 0
        rows = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id)
        for row in rows:
            data = json.loads(row.data)
            masked = masked_event_data(data, known)
            if masked != data:
                row.data = json.dumps(masked)
                changed += 1
        return changed

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)  # no event broker is configured here
        write = asyncio.ensure_future(asyncio.to_thread(self._write, tracker))
        try:
            await asyncio.shield(write)
        except asyncio.CancelledError:
            # The request went away (Sanic cancels its task) while the thread
            # writes: the conversation's lock must stay held until the write is
            # in, or the next message reads the tracker without this turn and
            # its own save skips events by count (the turn would be lost).
            await write
            raise

    def _write(self, tracker: DialogueStateTracker) -> None:
        known = known_values(tracker)
        with self.session_scope() as session:
            new = list(self._additional_events(session, tracker))
            if known and names_a_person(new):  # typed earlier, known only now
                self.remask_stored(session, tracker.sender_id, known)
            # Rasa's own save, with the data masked: only the events not stored yet
            for event in new:
                data = masked_event_data(event.as_dict(), known)
                intent = (data.get("parse_data") or {}).get("intent") or {}
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=intent.get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()
        logger.debug("Tracker with sender_id '%s' stored to database (masked)", tracker.sender_id)


class WrongTrackerStore(SystemExit):
    def __init__(self, message: str):
        super().__init__(f"error: {message}")


def _endpoints_path(argv: list[str]) -> Path:
    for i, arg in enumerate(argv):
        if arg == "--endpoints" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--endpoints="):
            return Path(arg.split("=", 1)[1])
    return Path("endpoints.yml")  # Rasa's default


def require_masking_store(argv: list[str]) -> None:
    """Refuse to serve conversations unless the endpoints file selects this store."""
    if not argv or argv[0] not in SERVING_COMMANDS:
        return
    from rasa.utils.endpoints import read_endpoint_config

    path = _endpoints_path(argv)
    config = read_endpoint_config(str(path), "tracker_store") if path.is_file() else None
    found = config.type if config is not None else None
    if found != STORE_TYPE:
        raise WrongTrackerStore(
            f"{path}: tracker_store type is {found!r}, not {STORE_TYPE!r}; "
            "conversations would be stored unmasked (or only in memory)"
        )
    patches.strict_tracker_store_loading()
