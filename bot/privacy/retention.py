"""Retention: BOT_RETENTION_DAYS (settings.retention_days; 0 keeps everything).

`purge` deletes whole conversations whose last event is older than the limit
(every tracker store row of that sender, so no half conversation is left),
feedback given before it, request drafts not touched since, the trainers'
inbox occurrences seen before it (an entry left with none goes too) and requests
the outbox set aside as unfileable. Filed service requests have a rule of their
own, BOT_REQUEST_RETENTION_DAYS (the team works from them for a while): past it
they are anonymised as `bot privacy forget` does, what they were kept for the
figures. `bot privacy purge` runs it; `purge_at_start` is the launcher's call,
and `start_purger` the action server's (every BOT_RETENTION_EVERY_SECONDS, from its
start), so that a container deployment purges too.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, select

from bot import db, insights, settings
from bot.privacy import drafts
from bot.service_requests import deferred
from bot.tracker_events import EVENTS, tracker_engine

logger = logging.getLogger(__name__)
_BATCH = 500  # senders per DELETE (SQLite allows 999 bound parameters)


@dataclass(frozen=True)
class Purged:
    conversations: int
    events: int
    feedback: int
    drafts: int
    inbox: int = 0  # inbox occurrences
    outbox: int = 0  # requests set aside as unfileable (var/outbox/failed/)
    requests: int = 0  # filed requests anonymised (their own retention)

    def summary(self) -> str:
        return (
            f"{self.conversations} conversation(s) ({self.events} events), "
            f"{self.feedback} feedback, {self.drafts} request draft(s), "
            f"{self.inbox} inbox occurrence(s), {self.outbox} unfileable request(s) "
            f"deleted; {self.requests} filed request(s) anonymised"
        )


def _purge_conversations(cutoff: dt.datetime, tracker_url: str | None) -> tuple[list[str], int]:
    """The conversations whose last event is older than `cutoff` go; their ids
    (for the summary the insights count from) and how many events."""
    engine = tracker_engine(tracker_url)
    if engine is None:
        return [], 0
    last = func.max(EVENTS.c.timestamp)
    old = select(EVENTS.c.sender_id).group_by(EVENTS.c.sender_id).having(last < cutoff.timestamp())
    events = 0
    with engine.begin() as conn:
        senders = list(conn.execute(old).scalars())
        for i in range(0, len(senders), _BATCH):
            batch = senders[i : i + _BATCH]
            result = conn.execute(delete(EVENTS).where(EVENTS.c.sender_id.in_(batch)))
            events += int(result.rowcount or 0)
    return senders, events


def _purge_set_aside(cutoff: dt.datetime, var_dir: Path) -> int:
    """Requests the outbox set aside as never fileable, older than `cutoff`."""
    gone = 0
    for path in (deferred.outbox_dir(var_dir) / "failed").glob(f"*{deferred.SUFFIX}"):
        try:
            if path.stat().st_mtime < cutoff.timestamp():
                path.unlink()
                gone += 1
        except OSError:  # another replica's purge was first
            continue
    return gone


def purge(
    days: int | None = None,
    *,
    now: dt.datetime | None = None,
    url: str | None = None,
    tracker_url: str | None = None,
    request_days: int | None = None,
) -> Purged:
    """Delete what is older than `days` (default BOT_RETENTION_DAYS; 0: nothing),
    and anonymise filed requests older than `request_days` (default
    BOT_REQUEST_RETENTION_DAYS; 0: kept)."""
    cfg = settings.load()
    days = cfg.retention_days if days is None else days
    request_days = cfg.request_retention_days if request_days is None else request_days
    now = now or dt.datetime.now(dt.timezone.utc)
    requests = 0
    if request_days > 0:
        from bot.privacy import subject  # subject reads the inbox, as purge does below

        requests = subject.anonymise_requests_before(now - dt.timedelta(days=request_days), url)
    if days <= 0:
        return Purged(0, 0, 0, 0, requests=requests)
    cutoff = now - dt.timedelta(days=days)
    senders, events = _purge_conversations(cutoff, tracker_url)
    url = db.ensure_schema(url)
    # the figures leave with the conversations (and any an earlier purge left)
    insights.purge_before(cutoff, url, tracker_url, senders)
    with db.session_scope(url) as session:
        result = session.execute(delete(db.Feedback).where(db.Feedback.created_at < cutoff))
        feedback = int(result.rowcount or 0)
    from bot.training import inbox  # the inbox holds what users typed, masked

    return Purged(
        len(senders),
        events,
        feedback,
        drafts.delete_older(cutoff, url),
        inbox.delete_older(cutoff, url),
        _purge_set_aside(cutoff, cfg.var_dir),
        requests,
    )


def purge_at_start(cfg: settings.Settings) -> str:
    """For the launcher, before the servers start: one line to print."""
    if cfg.retention_days <= 0 and cfg.request_retention_days <= 0:
        return "retention: kept (BOT_RETENTION_DAYS=0, BOT_REQUEST_RETENTION_DAYS=0)"
    done = purge(
        cfg.retention_days,
        url=cfg.database_url,
        tracker_url=cfg.tracker_url,
        request_days=cfg.request_retention_days,
    )
    return (
        f"retention {cfg.retention_days} days, filed requests {cfg.request_retention_days} "
        f"days: {done.summary()}"
    )


def start_purger(cfg: settings.Settings) -> threading.Thread | None:
    """A daemon thread that purges now and every cfg.retention_every_seconds, for
    good (each replica may: a purge deletes only what is past the limit); None when
    everything is kept."""
    if cfg.retention_days <= 0 and cfg.request_retention_days <= 0:
        return None

    def loop() -> None:
        while True:
            try:
                logger.info(purge_at_start(cfg))
            except Exception:  # noqa: BLE001 - the next round tries again; say why
                logger.exception("retention: the purge failed")
            time.sleep(cfg.retention_every_seconds)

    thread = threading.Thread(target=loop, name="retention", daemon=True)
    thread.start()
    return thread
