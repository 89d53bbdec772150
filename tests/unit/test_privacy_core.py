"""Drafts, retention and one person's data (export, forget), on SQLite and
PostgreSQL. The tracker store's table is created from its description in
bot.privacy.retention, in the same test database."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
import sqlalchemy as sa

from bot import db, feedback, rulebase, tracker_events
from bot.privacy import drafts, retention, subject
from tests.unit.sr_forms import FORM, KNOWN_KEY, file_form, stored_rows

NOW = dt.datetime.now(dt.timezone.utc)
PHONE = "+47 912 34 567"


@pytest.fixture
def url(database_url: str) -> str:
    rulebase.load(database_url)
    tracker_events.TRACKER_METADATA.create_all(db.engine_for(database_url))
    return database_url


def add_events(url: str, sender: str, days_ago: float, texts: list[str]) -> None:
    stamp = (NOW - dt.timedelta(days=days_ago)).timestamp()
    with db.engine_for(url).begin() as conn:
        for i, text in enumerate(texts):
            data = {"event": "user", "timestamp": stamp + i, "text": text}
            conn.execute(
                tracker_events.EVENTS.insert().values(
                    sender_id=sender, type_name="user", timestamp=stamp + i, data=json.dumps(data)
                )
            )


def senders(url: str) -> set[str]:
    with db.engine_for(url).connect() as conn:
        return set(conn.execute(sa.select(tracker_events.EVENTS.c.sender_id)).scalars())


def give_feedback(url: str, sender: str, question: str = "Kan dere fjerne virus?") -> int:
    return feedback.record(
        sender=sender,
        rating="down",
        question=question,
        answer="Nei.",
        rule_ids=[],
        lang="nb",
        url=url,
    )


def test_drafts_put_get_delete(url: str) -> None:
    assert drafts.get("conv-1", url) == {}
    drafts.put("conv-1", {"name": "Kari Nordmann", "email": "kari@nordmann.no"}, url)
    drafts.put("conv-1", {"email": "kari@firma.no", "company": None}, url)
    assert drafts.get("conv-1", url) == {"name": "Kari Nordmann", "email": "kari@firma.no"}
    assert drafts.get("conv-2", url) == {}
    drafts.delete("conv-1", ["email"], url)
    assert drafts.get("conv-1", url) == {"name": "Kari Nordmann"}
    drafts.delete("conv-1", ["name"], url)  # nothing left: the row goes
    assert not drafts.exists("conv-1", url)
    with db.engine_for(url).connect() as conn:  # keyed by a hash, not the conversation id
        keys = conn.execute(sa.select(db.RequestDraft.conversation_hash)).scalars().all()
    assert "conv-1" not in keys


def test_purge_deletes_whole_old_conversations_feedback_and_drafts(url: str) -> None:
    add_events(url, "old", 100, ["Hei", "Takk"])
    add_events(url, "old-then-new", 100, ["Hei"])
    add_events(url, "old-then-new", 2, ["Hei igjen"])  # its last event is recent: kept whole
    add_events(url, "new", 1, ["Hello"])
    old_feedback = give_feedback(url, "old")
    give_feedback(url, "new")
    with db.session_scope(url) as session:
        session.get(db.Feedback, old_feedback).created_at = NOW - dt.timedelta(days=91)
    drafts.put("old", {"name": "Kari Nordmann"}, url)
    drafts.put("new", {"name": "Ola Nordmann"}, url)
    with db.session_scope(url) as session:
        old = session.get(db.RequestDraft, drafts.conversation_hash("old"))
        old.updated_at = NOW - dt.timedelta(days=95)

    done = retention.purge(90, url=url, tracker_url=url)

    assert (done.conversations, done.events, done.feedback, done.drafts) == (1, 2, 1, 1)
    assert senders(url) == {"old-then-new", "new"}
    assert [f.sender for f in feedback.list_feedback(url=url)] == ["new"]
    assert drafts.get("old", url) == {} and drafts.get("new", url) == {"name": "Ola Nordmann"}
    assert retention.purge(0, url=url, tracker_url=url) == retention.Purged(0, 0, 0, 0)


def test_purge_without_a_tracker_table(database_url: str, tmp_path) -> None:
    rulebase.load(database_url)
    empty = f"sqlite:///{tmp_path / 'tracker.db'}"
    assert retention.purge(30, url=database_url, tracker_url=empty).conversations == 0


def test_export_gathers_one_sender_masked(url: str, tmp_path) -> None:
    add_events(url, "kari", 1, [f"my key is {KNOWN_KEY}"])
    add_events(url, "ola", 1, ["Hello"])
    give_feedback(url, "kari", "Kan dere ringe meg på " + PHONE + "?")
    drafts.put("kari", {"email": "kari@nordmann.no", "licence_key": KNOWN_KEY}, url)
    filed = file_form(url, "kari", description=f"Ring meg på {PHONE}, takk.")
    file_form(url, "ola", name="Ola Nordmann")

    found = subject.export("kari", url=url, tracker_url=url)

    text = json.dumps(found, ensure_ascii=False)
    for secret in (KNOWN_KEY, "kari@nordmann.no", "912 34 567", FORM["email"]):
        assert secret not in text
    assert len(found["conversation"]) == 1 and len(found["feedback"]) == 1
    assert found["request_draft"]["email"] == "k***@nordmann.no"
    [request] = found["service_requests"]
    assert request["reference"] == filed.reference and request["name"] == "Åse Ørnebråten-Lind"
    assert "Ola" not in text


def test_forget_removes_one_person_and_anonymises_requests(url: str) -> None:
    add_events(url, "kari", 1, ["Hei"])
    add_events(url, "ola", 1, ["Hei"])
    give_feedback(url, "kari")
    give_feedback(url, "ola")
    drafts.put("kari", {"name": "Kari"}, url)
    filed = file_form(url, "kari", description=f"Åse Ørnebråten-Lind, ring {PHONE}.")
    file_form(url, "ola")

    done = subject.forget("kari", url=url, tracker_url=url)

    assert (done.events, done.feedback, done.drafts, done.requests) == (1, 1, 1, 1)
    assert senders(url) == {"ola"}
    assert [f.sender for f in feedback.list_feedback(url=url)] == ["ola"]
    assert not drafts.exists("kari", url)
    kari, ola = stored_rows(url)
    assert kari["reference"] == filed.reference and kari["service"] == FORM["service"]
    assert kari["name"] == kari["email"] == kari["company"] == kari["conversation_id"]
    assert kari["name"] == subject.FORGOTTEN and kari["licence_key"] is None
    assert "912 34 567" not in kari["description"] and "Ørnebråten" not in kari["description"]
    assert ola["conversation_id"] == "ola" and ola["licence_key"] == KNOWN_KEY
    assert subject.export("kari", url=url, tracker_url=url)["service_requests"] == []


def test_filed_requests_are_anonymised_after_their_own_retention(url: str) -> None:
    old = file_form(url, "kari", description="Åse Ørnebråten-Lind needs help")
    new = file_form(url, "ola", name="Ola Nordmann")
    with db.session_scope(url) as session:
        row = session.scalars(sa.select(db.ServiceRequest).filter_by(reference=old.reference)).one()
        row.created_at = NOW - dt.timedelta(days=400)

    done = retention.purge(90, url=url, tracker_url=url, request_days=365)

    assert done.requests == 1
    by_reference = {r["reference"]: r for r in stored_rows(url)}
    gone, kept = by_reference[old.reference], by_reference[new.reference]
    assert (gone["name"], gone["email"], gone["conversation_id"]) == (subject.FORGOTTEN,) * 3
    assert gone["licence_key"] is None and "Ørnebråten" not in gone["description"]
    for field in ("service", "queue", "country", "language"):  # the same form: the figures
        assert gone[field] == kept[field] is not None
    assert gone["created_at"] is not None
    assert kept["name"] == "Ola Nordmann"
    # anonymised once: the next purge finds nothing more; 0 keeps them all
    assert retention.purge(90, url=url, tracker_url=url, request_days=365).requests == 0
    assert retention.purge(0, url=url, tracker_url=url, request_days=0) == retention.Purged(
        0, 0, 0, 0
    )


def test_requests_set_aside_as_unfileable_go_with_the_conversations(
    url: str, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    failed = tmp_path / "outbox" / "failed"
    failed.mkdir(parents=True)
    old, new = failed / "old.json", failed / "new.json"
    for path in (old, new):
        path.write_text("{}", encoding="utf-8")
    stamp = (NOW - dt.timedelta(days=100)).timestamp()
    os.utime(old, (stamp, stamp))

    assert retention.purge(90, url=url, tracker_url=url).outbox == 1
    assert not old.exists() and new.exists()
