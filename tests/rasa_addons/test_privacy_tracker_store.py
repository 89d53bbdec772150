"""The masking tracker store in process: what reaches the events table, that the
number of events is kept, and that Rasa cannot fall back to an unmasked store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa.core import tracker_store as rasa_stores
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.privacy import drafts, subject
from bot.rasa_addons.stores import tracker_store
from bot.settings import PROJECT_DIR
from tests.aio import run_apart
from tests.privacy_formats import MESSAGES, leaks

KEY = "ZRM6N-TL7VJ-Q26X8-ZEB76"
EMAIL = "kari.nordmann@example.no"
PHONE = "+47 912 34 567"
SECRETS = (KEY, EMAIL, "912 34 567", "Kari Nordmann", "Nordmann Data")
DOMAIN = Domain.from_dict(
    {
        "slots": {
            name: {"type": "text", "mappings": [{"type": "custom"}]}
            for name in ("sr_name", "sr_email", "sr_company", "licence_key", "sr_description")
        }
    }
)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tracker_store.MaskingSQLTrackerStore:
    monkeypatch.setenv("BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    return tracker_store.MaskingSQLTrackerStore(domain=DOMAIN, host=url, dialect="sqlite")


def stored(store: tracker_store.MaskingSQLTrackerStore) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT data FROM events ORDER BY id")).scalars())


def user(text: str) -> UserUttered:
    entities = (
        [{"entity": "licence_key", "value": KEY, "start": 0, "end": 23}] if KEY in text else []
    )
    return UserUttered(text, {"name": "inform", "confidence": 1.0}, entities)


def test_every_event_is_stored_masked_and_none_is_lost(store) -> None:
    drafts.put("kari", {"name": "Kari Nordmann", "company": "Nordmann Data AS", "email": EMAIL})
    tracker = DialogueStateTracker.from_events(
        "kari",
        [
            ActionExecuted("action_listen"),
            user(f"{KEY} is my key, mail {EMAIL}, phone {PHONE}"),
            SlotSet("licence_key", KEY),
            SlotSet("sr_email", EMAIL),
            SlotSet("sr_name", "Kari Nordmann"),
            BotUttered(f"Name: Kari Nordmann\nCompany: Nordmann Data AS\nE-mail: {EMAIL}"),
        ],
        slots=DOMAIN.slots,
    )
    run_apart(store.save(tracker))
    rows = stored(store)
    assert len(rows) == len(tracker.events)
    for secret in SECRETS:
        assert not any(secret in row for row in rows), secret
    assert tracker.get_slot("sr_email") == EMAIL  # the turn's own tracker keeps the value

    tracker.update(SlotSet("sr_description", f"ring {PHONE}"))
    tracker.update(ActionExecuted("action_listen"))
    run_apart(store.save(tracker))
    rows = stored(store)
    assert len(rows) == len(tracker.events)  # only the two new events were appended
    assert json.loads(rows[-2])["value"] == "ring [phone]"

    back = run_apart(store.retrieve("kari"))
    assert back is not None and back.get_slot("sr_email") == "k***@example.no"
    assert back.get_slot("licence_key") == "•••••-•••••-•••••-ZEB76"


def test_the_endpoints_files_select_the_masking_store() -> None:
    for name in ("endpoints.yml", "endpoints.redis-lock.yml"):
        text = (PROJECT_DIR / name).read_text(encoding="utf-8")
        assert f"type: {tracker_store.STORE_TYPE}" in text, name


def test_a_server_with_another_store_refuses_to_start(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(
        rasa_stores,
        "_load_from_module_name_in_endpoint_config",
        rasa_stores._load_from_module_name_in_endpoint_config,
    )
    plain = tmp_path / "endpoints.yml"
    plain.write_text("tracker_store:\n  type: SQL\n", encoding="utf-8")
    with pytest.raises(tracker_store.WrongTrackerStore):
        tracker_store.require_masking_store(["run", "--endpoints", str(plain)])
    with pytest.raises(tracker_store.WrongTrackerStore):
        tracker_store.require_masking_store(["shell", f"--endpoints={tmp_path / 'none.yml'}"])
    tracker_store.require_masking_store(["train"])  # no conversations: not checked
    ours = tmp_path / "ours.yml"
    ours.write_text(f"tracker_store:\n  type: {tracker_store.STORE_TYPE}\n", encoding="utf-8")
    tracker_store.require_masking_store(["run", "--endpoints", str(ours)])
    # ...and from then on a store that cannot be imported is an error, not memory
    missing = EndpointConfig(type="bot.rasa_addons.no_such_module.Store")
    with pytest.raises(ImportError):
        rasa_stores.create_tracker_store(missing, DOMAIN)


def test_a_name_typed_before_the_form_is_masked_once_the_form_knows_it(store) -> None:
    early = "I'm Kari Nordmann from Acme AS, I want Incident Response"
    tracker = DialogueStateTracker.from_events(
        "early", [ActionExecuted("action_listen"), user(early)], slots=DOMAIN.slots
    )
    run_apart(store.save(tracker))
    assert any("Kari Nordmann" in row for row in stored(store))  # not known yet: as typed

    tracker.update(BotUttered("What is your name?"))
    tracker.update(user("Kari Nordmann"))
    tracker.update(SlotSet("sr_name", "Kari Nordmann"))
    tracker.update(SlotSet("sr_company", "Acme AS"))
    run_apart(store.save(tracker))
    rows = stored(store)
    assert len(rows) == len(tracker.events)  # rewritten in place, nothing added or lost
    for secret in ("Kari", "Nordmann", "Acme"):
        assert not any(secret in row for row in rows), secret
    first = json.loads(rows[1])
    assert first["text"] == "I'm [name] from [company], I want Incident Response"
    assert first["parse_data"]["text"] == first["text"]


def test_the_export_of_a_stored_conversation_holds_no_format(store, tmp_path) -> None:
    """Every format of tests/privacy_formats.py saved through the store, then
    `bot privacy export` of that conversation (bot.privacy.subject)."""
    events = [ActionExecuted("action_listen")]
    for message, _secrets in MESSAGES:
        events += [UserUttered(message, {"name": "inform", "confidence": 1.0})]
        events += [BotUttered(f"You wrote: {message}")]
    tracker = DialogueStateTracker.from_events("formats", events, slots=DOMAIN.slots)
    run_apart(store.save(tracker))
    exported = json.dumps(
        subject.export("formats", tracker_url=str(store.engine.url)), ensure_ascii=False
    )
    assert len(json.loads(exported)["conversation"]) == len(events)
    for message, secrets in MESSAGES:
        assert leaks(message, secrets) == secrets
        rows = [json.loads(row) for row in stored(store)]
        assert leaks(json.dumps(rows, ensure_ascii=False), secrets) == []
        assert leaks(exported, secrets) == []


def test_a_save_cancelled_mid_write_returns_only_once_the_write_is_in(store, monkeypatch) -> None:
    """The write runs in a thread; Sanic cancels a request's task when its client
    goes away. The save must not return (and Rasa's lock be released) before the
    write is in, or the next message reads the tracker without this turn."""
    import asyncio
    import threading
    import time

    written = threading.Event()
    write = store._write

    def slow_write(tracker: DialogueStateTracker) -> None:
        time.sleep(0.3)
        write(tracker)
        written.set()

    monkeypatch.setattr(store, "_write", slow_write)
    tracker = DialogueStateTracker.from_events("gone", [user("one")])

    async def scenario() -> bool:
        saving = asyncio.ensure_future(store.save(tracker))
        await asyncio.sleep(0.05)
        saving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await saving
        return written.is_set()  # already in when the cancelled save gave up

    assert run_apart(scenario())
    assert len(stored(store)) == 1
