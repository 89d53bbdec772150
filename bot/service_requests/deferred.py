"""Filed later: a request confirmed while the database is unreachable.

The form's real personal values live in the request draft, in the database, so
a confirmation that cannot reach the database cannot file (nor even read what
it would file). Instead the action writes an outbox entry, a small JSON file
under var/outbox/ holding the conversation id, the reply language and the form's
slots as the tracker store holds them (name, e-mail, company and key masked;
the description masked by pattern), and tells the user the request will be
filed when the records are back.

`drain` files each entry once the database answers again: the draft's values,
the same idempotency key a direct filing uses (so a filing whose commit did
land before the connection dropped is found, not filed twice), then the draft
and the entry are deleted and the webhook is told. Every action server runs
`start_drainer` (a daemon thread); entries are claimed with an exclusive
`flock`, so several action servers sharing var/ never file one entry twice,
and a process that dies holding one releases it. An entry remembers which
database it was meant for and is filed only there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot import db, settings
from bot.contract import LANGS
from bot.service_requests.filing import file_request, idempotency_key_for
from bot.service_requests.form import SKIP
from bot.service_requests.routing import RoutingError
from bot.service_requests.store import get_request
from bot.service_requests.validation import FIELDS, RequestInvalid
from bot.service_requests.webhook import notify

logger = logging.getLogger(__name__)

INTERVAL = 2.0  # seconds between looks at the outbox
SUFFIX = ".json"


def outbox_dir(var_dir: Path | None = None) -> Path:
    return (var_dir or settings.load().var_dir) / "outbox"


def database_id(url: str) -> str:
    """Which database an entry is for, without its password."""
    shown = make_url(url).render_as_string(hide_password=True)
    return hashlib.sha256(shown.encode("utf-8")).hexdigest()[:16]


def merge(
    slots: Mapping[str, Any], draft: Mapping[str, str], personal: frozenset[str]
) -> tuple[dict[str, str | None], list[str]]:
    """Every field's real value from the form's slots and its draft: the draft's
    for `personal` fields, None for a skipped one; and the fields whose slot is
    filled but whose real value is gone (a draft purged mid-form)."""
    from bot.privacy import mask

    values: dict[str, str | None] = {}
    lost = []
    for name in FIELDS:
        slot = slots.get(f"sr_{name}")
        if slot in (None, SKIP):
            values[name] = None
        elif name in personal and draft.get(name):
            values[name] = draft[name]
        elif name in personal and mask.is_masked(slot):
            values[name] = None
            lost.append(name)
        else:  # not personal, or a slot filled before drafts existed
            values[name] = slot
    return values, lost


@dataclass
class Drained:
    filed: list[str] = field(default_factory=list)  # references, new or found
    waiting: int = 0  # entries left for later: the database is still unreachable
    failed: int = 0  # entries that can never be filed (moved to outbox/failed/)


def defer(
    conversation_id: str,
    language: str,
    slots: Mapping[str, Any],
    *,
    url: str | None = None,
    var_dir: Path | None = None,
) -> Path:
    """Write an outbox entry (atomically: a reader never sees half of one)."""
    if language not in LANGS:
        raise ValueError(f"language {language!r} is not one of {', '.join(LANGS)}")
    folder = outbox_dir(var_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    entry = {
        "conversation_id": str(conversation_id),
        "language": language,
        "slots": {f"sr_{f}": slots.get(f"sr_{f}") for f in FIELDS},
        "confirmed_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "database": database_id(db.resolve_url(url)),
    }
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"{stamp}-{uuid.uuid4().hex[:8]}{SUFFIX}"
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(entry, handle, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    logger.warning("database unreachable: service request deferred to %s", path.name)
    return path


def pending(var_dir: Path | None = None) -> list[Path]:
    folder = outbox_dir(var_dir)
    return sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []


@contextlib.contextmanager
def _claimed(path: Path) -> Iterator[dict[str, Any] | None]:
    """The entry, locked for this process; None if another holds it or it is gone."""
    try:
        handle = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        yield None
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        try:  # done (deleted or set aside) by another since we opened it?
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current != os.fstat(handle.fileno()).st_ino:
            yield None
            return
        try:
            entry = json.load(handle)
        except ValueError:
            entry = {}
        yield entry if isinstance(entry, dict) else {}


def _set_aside(path: Path, why: str) -> None:
    failed = path.parent / "failed"
    failed.mkdir(exist_ok=True, mode=0o700)
    os.replace(path, failed / path.name)
    logger.error("deferred service request %s cannot be filed: %s", path.name, why)


def _filed_since(url: str, conversation_id: str, since: str) -> str | None:
    """A request of this conversation filed at or after `since` (a drain that
    filed and deleted the draft, then stopped before deleting the entry)."""
    when = dt.datetime.fromisoformat(since)
    with db.session_scope(url) as session:
        rows = session.execute(
            select(db.ServiceRequest.reference, db.ServiceRequest.created_at).where(
                db.ServiceRequest.conversation_id == conversation_id
            )
        ).all()
    for reference, created in rows:
        created = db.as_utc(created)
        if created is not None and created >= when - dt.timedelta(seconds=1):
            return str(reference)
    return None


def _never_notified(url: str, reference: str) -> bool:
    """Filed by a confirmation whose connection dropped after the commit, before
    the webhook was called."""
    stored = get_request(reference, url)
    return stored.webhook_status == "pending" and stored.webhook_attempts == 0


def _file_one(url: str, entry: dict[str, Any]) -> tuple[str, bool] | str:
    """(reference, created) or the reason it can never be filed."""
    from bot.privacy import drafts, mask

    conversation = entry.get("conversation_id")
    language = entry.get("language")
    slots = entry.get("slots")
    if not isinstance(conversation, str) or language not in LANGS or not isinstance(slots, dict):
        return "malformed entry"
    personal = frozenset(f for f in FIELDS if f in mask.PERSONAL_FIELDS)
    values, lost = merge(slots, drafts.get(conversation, url), personal)
    if lost:
        done = _filed_since(url, conversation, str(entry.get("confirmed_at")))
        if done:
            return done, False
        return f"the request draft is gone ({', '.join(lost)})"
    try:
        filed = file_request(
            values,
            conversation_id=conversation,
            language=language,
            idempotency_key=idempotency_key_for(conversation, values),
            url=url,
        )
    except RequestInvalid as invalid:
        return "invalid: " + ", ".join(p.code for p in invalid.problems)
    except (RoutingError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    drafts.delete(conversation, personal, url)
    return filed.reference, filed.created


def drain(url: str | None = None, var_dir: Path | None = None) -> Drained:
    """File every outbox entry meant for this database that the database takes now."""
    url = db.resolve_url(url)
    mine = database_id(url)
    result = Drained()
    for path in pending(var_dir):
        with _claimed(path) as entry:
            if entry is None or entry.get("database", mine) != mine:
                continue
            try:
                outcome = _file_one(db.ensure_schema(url), entry)
            except Exception as exc:
                if not db.unreachable(exc):
                    raise
                result.waiting += 1
                break  # still down: the rest can wait too
            if isinstance(outcome, str):
                _set_aside(path, outcome)
                result.failed += 1
                continue
            reference, created = outcome
            path.unlink()
            result.filed.append(reference)
            logger.info("deferred service request filed as %s", reference)
            if created or _never_notified(url, reference):
                notify(reference, url=url)
    return result


def discard(conversation_id: str, var_dir: Path | None = None) -> int:
    """Delete a conversation's outbox entries, waiting or set aside (`bot privacy
    forget`: its draft is gone, so they could never be filed anyway); how many."""
    folder = outbox_dir(var_dir)
    gone = 0
    for path in [*folder.glob(f"*{SUFFIX}"), *(folder / "failed").glob(f"*{SUFFIX}")]:
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(entry, dict) and entry.get("conversation_id") == conversation_id:
            path.unlink(missing_ok=True)
            gone += 1
    return gone


def start_drainer(interval: float = INTERVAL) -> threading.Thread:
    """A daemon thread that drains the outbox every `interval` seconds, for good."""

    def loop() -> None:
        while True:
            try:
                if pending():
                    drain()
            except Exception:  # noqa: BLE001 - keep draining; say what went wrong
                logger.exception("draining the service request outbox failed")
            time.sleep(interval)

    thread = threading.Thread(target=loop, name="outbox-drainer", daemon=True)
    thread.start()
    return thread
