"""Paid-service requests on real databases (SQLite and PostgreSQL): filing
(every field, references, idempotency, races, nothing stored half-way), reading
back (status, filters, export) and the webhook against a real local HTTP server.
Routing, validation, countries and the form's words: tests/unit/test_sr_*.py."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from bot import db, records
from bot import service_requests as sr

from .sr_forms import FORM, KNOWN_KEY, UNKNOWN_KEY, file_form, stored_rows, with_licences

UTC = dt.timezone.utc


@pytest.fixture(autouse=True)
def _no_outside_config(monkeypatch):
    monkeypatch.delenv("BOT_REQUESTS_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("BOT_ROUTING_FILE", raising=False)


@pytest.fixture
def sqlite_url(tmp_path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    yield url
    db.engine_for(url).dispose()


# ---------------------------------------------------------------- filing


def test_filing_stores_every_field(database_url, tmp_path):
    with_licences(database_url, tmp_path)
    before = dt.datetime.now(UTC).replace(microsecond=0)
    filed = sr.file_request(
        FORM, conversation_id="conv-42", language="nb", url=database_url, clause="rules:4.1.2c"
    )
    assert filed.created and filed.queue == "premium_support"
    assert re.fullmatch(rf"SR-{before.year}-000001", filed.reference)
    assert filed.payload == {
        "service_request": {"reference": filed.reference, "queue": "premium_support"}
    }
    [row] = stored_rows(database_url)
    created = row.pop("created_at")
    created = created if created.tzinfo else created.replace(tzinfo=UTC)
    assert before <= created <= dt.datetime.now(UTC)
    key = row.pop("idempotency_key")
    assert key == sr.idempotency_key_for("conv-42", FORM)
    assert row == {
        "id": row["id"],
        "reference": filed.reference,
        "service": "premium_support",
        "clause_id": "rules:4.1.2c",
        "queue": "premium_support",
        "status": "new",
        "language": "nb",
        "conversation_id": "conv-42",
        "name": "Åse Ørnebråten-Lind",
        "email": "Ase.Lind@fjordvik.no",
        "company": "Fjordvik Regnskap AS",
        "country": "NO",
        "licence_key": KNOWN_KEY,
        "licence_status": "valid",
        "description": "We want a guaranteed response time.\nTwo sites, 40 PCs.",
        "updated_at": None,
        "webhook_status": "none",
        "webhook_attempts": 0,
        "webhook_error": None,
    }
    stored = sr.get_request(filed.reference.lower(), database_url)
    assert KNOWN_KEY not in repr(stored)
    assert stored.record()["licence_key"] == records.mask_key(KNOWN_KEY)


def test_references_count_per_year(sqlite_url):
    def at(year, month, day, n):
        when = dt.datetime(year, month, day, 12, tzinfo=UTC)
        return sr.file_request(
            {**FORM, "description": f"Request number {n}"},
            conversation_id=f"c{n}",
            language="en",
            url=sqlite_url,
            now=when,
        ).reference

    assert [at(2026, 12, 31, n) for n in range(3)] == [
        "SR-2026-000001",
        "SR-2026-000002",
        "SR-2026-000003",
    ]
    assert at(2027, 1, 1, 3) == "SR-2027-000001"
    assert at(2026, 12, 31, 4) == "SR-2026-000004"
    # a counter row lost (restored backup): numbering continues after the highest reference
    with db.engine_for(sqlite_url).begin() as conn:
        conn.execute(sa.delete(db.ServiceRequestCounter.__table__))
    assert at(2026, 12, 31, 5) == "SR-2026-000005"
    assert at(2027, 6, 1, 6) == "SR-2027-000002"


def test_a_doubled_confirmation_files_one_request(database_url):
    first = file_form(database_url)
    # the same form again, typed a little differently: same key, same request
    again = file_form(
        database_url,
        name="Åse Ørnebråten-Lind",
        email="Ase.Lind@fjordvik.no",
        country="NO",
        licence_key=KNOWN_KEY.lower(),
    )
    assert again == sr.FiledRequest(first.reference, first.queue, created=False)
    assert len(stored_rows(database_url)) == 1
    other = file_form(database_url, conversation="conv-2")  # another conversation: another request
    assert other.created and other.reference != first.reference
    explicit = sr.file_request(
        {**FORM, "description": "Changed my mind about it"},
        conversation_id="conv-1",
        language="nb",
        url=database_url,
        idempotency_key=sr.idempotency_key_for("conv-1", FORM),
    )
    assert explicit.reference == first.reference and not explicit.created
    assert len(stored_rows(database_url)) == 2


def _race(n: int, work) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results


def test_racing_confirmations_file_one_request(database_url):
    results = _race(4, lambda i: file_form(database_url))
    assert len({r.reference for r in results}) == 1
    assert sorted(r.created for r in results) == [False, False, False, True]
    assert len(stored_rows(database_url)) == 1


def test_racing_different_requests_get_distinct_references(database_url):
    results = _race(4, lambda i: file_form(database_url, conversation=f"conv-{i}"))
    year = dt.datetime.now(UTC).year
    assert sorted(r.reference for r in results) == [f"SR-{year}-00000{n}" for n in range(1, 5)]
    assert all(r.created for r in results)
    assert len(stored_rows(database_url)) == 4


BAD_FORMS = [
    ({"email": "ase.lind@fjordvik"}, {"email": "email_malformed"}),
    ({"name": "Å" * 101}, {"name": "too_long"}),
    ({"description": "   "}, {"description": "empty"}),
    ({"company": "Fjordvik\x1bAS"}, {"company": "control_chars"}),
    ({"description": "Hi <script>alert(1)</script>"}, {"description": "markup"}),
    ({"licence_key": "AB12C-3DE45-F6G7H"}, {"licence_key": "key_malformed"}),
    ({"service": "gold"}, {"service": "service_unknown"}),
    ({"country": "Narnia"}, {"country": "country_unknown"}),
    ({"phone": "12345678"}, {"phone": "unknown_field"}),
    (
        {"email": "x", "name": "", "description": "<b>bold</b>", "country": None},
        {"email": "email_malformed", "name": "empty", "description": "markup", "country": "empty"},
    ),
]


def test_bad_input_stores_nothing(database_url):
    for changes, codes in BAD_FORMS:
        with pytest.raises(sr.RequestInvalid) as refused:
            file_form(database_url, **changes)
        assert refused.value.codes == codes, changes
    with pytest.raises(sr.RequestInvalid) as refused:
        file_form(database_url, service="incident_response", country="IS")
    assert refused.value.codes == {"service": "service_not_offered"}
    assert refused.value.alternatives == ("professional_services", "support_renewal")
    with pytest.raises(ValueError, match="language"):
        sr.file_request(FORM, conversation_id="c", language="de", url=database_url)
    assert stored_rows(database_url) == []
    with db.engine_for(database_url).connect() as conn:
        counters = conn.execute(sa.select(db.ServiceRequestCounter.__table__)).all()
    assert counters == []  # no reference was used up either


def test_unknown_licence_key_is_the_callers_choice(database_url, tmp_path):
    with_licences(database_url, tmp_path)
    assert sr.validate_field("licence_key", UNKNOWN_KEY.lower(), url=database_url) == (
        UNKNOWN_KEY,
        "key_unknown",
    )
    assert sr.validate_field("licence_key", KNOWN_KEY, url=database_url) == (KNOWN_KEY, None)
    with pytest.raises(sr.RequestInvalid) as refused:
        sr.file_request(
            {**FORM, "licence_key": UNKNOWN_KEY},
            conversation_id="c",
            language="en",
            url=database_url,
            allow_unknown_key=False,
        )
    assert refused.value.codes == {"licence_key": "key_unknown"}
    assert stored_rows(database_url) == []
    file_form(database_url, licence_key=UNKNOWN_KEY)
    file_form(database_url, conversation="c2", licence_key=None, company="")
    rows = stored_rows(database_url)
    assert [(r["licence_key"], r["licence_status"]) for r in rows] == [
        (UNKNOWN_KEY, "unknown"),
        (None, None),
    ]
    assert rows[1]["company"] is None


def test_status_changes_and_filters(sqlite_url):
    a = file_form(sqlite_url, conversation="a")
    b = file_form(sqlite_url, conversation="b", service="support_renewal", country="SE")
    assert sr.set_status(b.reference, "in_progress", sqlite_url).updated_at is not None
    assert [r.reference for r in sr.list_requests(url=sqlite_url)] == [a.reference, b.reference]
    assert [r.reference for r in sr.list_requests(queue="support_renewal", url=sqlite_url)] == [
        b.reference
    ]
    assert [r.reference for r in sr.list_requests(status="new", url=sqlite_url)] == [a.reference]
    with pytest.raises(sr.RequestNotFound):
        sr.set_status("SR-2000-000001", "closed", sqlite_url)
    with pytest.raises(ValueError):
        sr.set_status(a.reference, "done", sqlite_url)


def test_the_database_allows_exactly_the_statuses():
    # bot.db spells them out (it cannot import this package: that would be a cycle)
    [check] = [
        c for c in db.ServiceRequest.__table__.constraints if c.name == "ck_service_requests_status"
    ]
    assert re.findall(r"'(\w+)'", str(check.sqltext)) == list(sr.STATUSES)


def test_export_masks_keys_and_defuses_formulas(sqlite_url):
    file_form(sqlite_url, description="=HYPERLINK(1) looks like a formula")
    exported = sr.export_requests("csv", url=sqlite_url)
    assert KNOWN_KEY not in exported and records.mask_key(KNOWN_KEY) in exported
    assert ",'=HYPERLINK(1) looks like a formula," in exported
    [record] = json.loads(sr.export_requests("json", url=sqlite_url))
    assert record["licence_key"] == records.mask_key(KNOWN_KEY)
    assert list(record) == list(sr.EXPORT_COLUMNS)


# ---------------------------------------------------------------- webhook


@contextmanager
def hook_server(codes: list[int]) -> Iterator[tuple[str, list[dict]]]:
    """A real HTTP server on 127.0.0.1 answering `codes` in turn (the last repeats)."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(codes[min(len(received), len(codes)) - 1])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/sr?token=s3cret", received
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_delivers_the_request_with_the_key_masked(database_url, monkeypatch):
    with hook_server([200]) as (hook, received):
        monkeypatch.setenv("BOT_REQUESTS_WEBHOOK_URL", hook)
        filed = file_form(database_url)
        assert stored_rows(database_url)[0]["webhook_status"] == "pending"
        assert sr.notify(filed.reference, url=database_url, delays=(0, 0, 0)) == "delivered"
    [call] = received
    assert call["path"] == "/hooks/sr?token=s3cret"
    assert call["headers"]["Content-Type"].startswith("application/json")
    assert call["headers"]["Idempotency-Key"] == filed.reference
    assert KNOWN_KEY.encode() not in call["body"]
    sent = json.loads(call["body"])
    assert sent["event"] == "service_request.filed"
    record = sr.get_request(filed.reference, database_url).record()
    assert sent["service_request"] == {k: v for k, v in record.items() if "webhook" not in k}
    assert sent["service_request"]["licence_key"] == records.mask_key(KNOWN_KEY)
    [row] = stored_rows(database_url)
    assert (row["webhook_status"], row["webhook_attempts"]) == ("delivered", 1)


def test_a_failing_webhook_is_retried_then_logged_and_the_request_kept(
    database_url, caplog, monkeypatch
):
    slept: list[float] = []
    with hook_server([500]) as (hook, received):
        monkeypatch.setenv("BOT_REQUESTS_WEBHOOK_URL", hook)
        filed = file_form(database_url)
        with caplog.at_level(logging.WARNING, logger="bot.service_requests"):
            result = sr.notify(filed.reference, url=database_url, sleep=slept.append)
    assert result == "failed"
    assert len(received) == 4 and slept == [0.5, 1.0, 2.0]
    [row] = stored_rows(database_url)
    assert row["reference"] == filed.reference
    assert (row["webhook_status"], row["webhook_attempts"], row["webhook_error"]) == (
        "failed",
        4,
        "HTTP 500",
    )
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = warning.getMessage()
    assert filed.reference in message and "failed after 4 attempt" in message
    assert "s3cret" not in caplog.text and KNOWN_KEY not in caplog.text


def test_webhook_recovers_client_errors_are_final_and_nothing_set_means_none(sqlite_url):
    filed = file_form(sqlite_url)
    with hook_server([503, 502, 200]) as (hook, received):
        assert sr.notify(filed.reference, url=sqlite_url, webhook=hook, delays=(0, 0, 0)) == (
            "delivered"
        )
    assert len(received) == 3
    assert sr.get_request(filed.reference, sqlite_url).webhook_attempts == 3
    with hook_server([404]) as (hook, received):
        assert sr.notify(filed.reference, url=sqlite_url, webhook=hook, delays=(0, 0, 0)) == (
            "failed"
        )
    assert len(received) == 1  # a 404 does not get better by asking again
    assert sr.notify(filed.reference, url=sqlite_url) == "none"
    assert sr.notify(filed.reference, url=sqlite_url, webhook="file:///etc/passwd") == "failed"
    assert sr.notify("SR-1999-000001", url=sqlite_url, webhook="http://127.0.0.1:9/") == "failed"
    # nothing listens on port 9: a network error, retried, then failed; never raised
    assert (
        sr.notify(
            filed.reference, url=sqlite_url, webhook="http://127.0.0.1:9/", delays=(0,), timeout=2
        )
        == "failed"
    )
    assert sr.get_request(filed.reference, sqlite_url).webhook_status == "failed"


def test_notify_in_background(sqlite_url, monkeypatch):
    with hook_server([200]) as (hook, received):
        monkeypatch.setenv("BOT_REQUESTS_WEBHOOK_URL", hook)
        filed = file_form(sqlite_url)
        thread = sr.notify_in_background(filed.reference, url=sqlite_url)
        assert thread.daemon
        thread.join(30)
    assert len(received) == 1
    assert sr.get_request(filed.reference, sqlite_url).webhook_status == "delivered"
