"""Paid-service requests on real databases (SQLite and PostgreSQL): routing from
content/routing.csv, field validation, filing (every field, references, idempotency,
races, nothing stored half-way) and the webhook against a real local HTTP server."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import db, records
from bot import service_requests as sr

from .contract import QUEUES

UTC = dt.timezone.utc
KNOWN_KEY = "AB12C-3DE45-F6G7H-8JK9L"
UNKNOWN_KEY = "ZZZZZ-YYYYY-XXXXX-WWW11"
PRODUCTS = """\
product,version,segment,released,end_of_support
Kaspersky Endpoint Security for Windows,12.6,business,2024-07-09,
"""
LICENCES = f"""\
licence_key,product,version,holder,valid_until
{KNOWN_KEY},Kaspersky Endpoint Security for Windows,12.6,Fjordvik Regnskap AS,2099-12-31
"""
FORM = {
    "service": "premium_support",
    "name": "  Åse  Ørnebråten-Lind ",
    "email": "Ase.Lind@Fjordvik.NO",
    "company": "Fjordvik Regnskap AS",
    "country": "Noreg",
    "licence_key": "ab12c 3de45 f6g7h 8jk9l",
    "description": "We want a guaranteed response time.\r\nTwo sites,   40 PCs.",
}


@pytest.fixture(autouse=True)
def _no_outside_config(monkeypatch):
    monkeypatch.delenv("BOT_REQUESTS_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("BOT_ROUTING_FILE", raising=False)


@pytest.fixture
def routing_copy(tmp_path, monkeypatch) -> Path:
    """A private copy of content/routing.csv, used through BOT_ROUTING_FILE."""
    path = tmp_path / "routing.csv"
    shutil.copy(sr.ROUTING_FILE, path)
    monkeypatch.setenv("BOT_ROUTING_FILE", str(path))
    return path


@pytest.fixture
def sqlite_url(tmp_path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    yield url
    db.engine_for(url).dispose()


def _with_licences(url: str, tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text(PRODUCTS, encoding="utf-8")
    (tmp_path / "l.csv").write_text(LICENCES, encoding="utf-8")
    records.import_products(tmp_path / "p.csv", url)
    records.import_licences(tmp_path / "l.csv", url)


def _rows(url: str) -> list[dict]:
    with db.engine_for(url).connect() as conn:
        if not sa.inspect(conn).has_table("service_requests"):
            return []
        table = db.ServiceRequest.__table__
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.id))]


def _file(url: str, conversation: str = "conv-1", **changes) -> sr.FiledRequest:
    return sr.file_request({**FORM, **changes}, conversation_id=conversation, language="nb",
                           url=url)  # fmt: skip


# ---------------------------------------------------------------- routing


@pytest.mark.parametrize(
    "text, code",
    [("Norway", "NO"), ("Norge", "NO"), ("Noreg", "NO"), ("no", "NO"), ("Sverige", "SE"),
     ("sweden", "SE"), ("se", "SE"), ("Danmark", "DK"), ("Suomi", "FI"), ("Island", "IS"),
     ("Storbritannia", "GB"), ("Förenade kungariket", "GB"), ("UK", "GB"), ("Tyskland", "DE"),
     ("Österrike", "AT"), ("the Netherlands", "NL"), ("jp", "JP"), ("  Færøyene ", "FO")],
)  # fmt: skip
def test_country_names_in_three_languages_and_codes(text, code):
    assert sr.country_code(text) == code


@pytest.mark.parametrize("text", ["Atlantis", "XX", "", "Nor way", "Norgeland"])
def test_unknown_country_is_a_clear_error(text):
    assert sr.country_code(text) is None
    with pytest.raises(sr.UnknownCountry, match="unknown country"):
        sr.route("premium_support", text)


def test_route_default_and_country_specific_rows():
    norway = sr.route("premium_support", "Norge")
    assert (norway.country, norway.queue, norway.offered) == ("NO", "premium_support", True)
    japan = sr.route("support_renewal", "JP")  # only the * row
    assert (japan.queue, japan.offered, japan.alternatives) == ("support_renewal", True, ())
    iceland = sr.route("professional_services", "Iceland")
    assert iceland.queue == "professional_services"
    with pytest.raises(sr.UnknownService):
        sr.route("free_lunch", "NO")


def test_not_offered_in_a_country_says_so_and_suggests_what_is():
    spain = sr.route("premium_support", "Spania")  # premium_support,*, is empty
    assert (spain.offered, spain.queue) == (False, None)
    assert spain.alternatives == ("professional_services", "incident_response", "support_renewal")
    iceland = sr.route("incident_response", "Island")
    assert (iceland.offered, iceland.queue) == (False, None)
    assert iceland.alternatives == ("professional_services", "support_renewal")
    assert "provider" in iceland.note


def test_a_clause_row_overrides_its_service_in_its_country():
    on_site_iceland = sr.route("professional_services", "IS", clause="rules:4.2.5")
    assert not on_site_iceland.offered
    assert "professional_services" in on_site_iceland.alternatives  # remote sessions are
    assert sr.route("professional_services", "NO", clause="rules:4.2.5").offered
    assert sr.route("professional_services", "IS", clause="rules:4.2.10").offered


def test_shipped_routing_table_is_valid_and_covers_every_service():
    assert sr.check_routing() == []
    routed = {row.service for row in sr.read_routing()}
    assert set(sr.service_ids()) <= routed
    assert {row.queue for row in sr.read_routing() if row.queue} == set(QUEUES)


def test_editing_the_table_changes_routing_with_no_code_change(routing_copy, database_url):
    assert not sr.route("premium_support", "ES").offered
    with pytest.raises(sr.RequestInvalid) as refused:
        _file(database_url, country="Spain")
    assert refused.value.codes == {"service": "service_not_offered"}

    text = routing_copy.read_text(encoding="utf-8")
    text = text.replace("incident_response,IS,,", "incident_response,IS,professional_services,")
    routing_copy.write_text(text + "premium_support,ES,premium_support,new partner\n", "utf-8")

    spain = sr.route("premium_support", "ES")
    assert (spain.offered, spain.queue, spain.note) == (True, "premium_support", "new partner")
    iceland = sr.route("incident_response", "IS")
    assert iceland.queue == "professional_services"
    filed = _file(database_url, country="Spain")
    assert filed.queue == "premium_support"
    filed = _file(database_url, service="incident_response", country="Island")
    assert filed.queue == "professional_services"
    assert [r["queue"] for r in _rows(database_url)] == ["premium_support", "professional_services"]


def test_a_broken_table_names_every_bad_line_and_routes_nothing(routing_copy):
    routing_copy.write_text(
        "# comment\n"
        "service,country,queue,note\n"
        "premium_support,NO,premium_support,\n"
        "premium_support,NORWAY,premium_support,\n"
        "premium_support,SE,gold_queue,\n"
        "premium_support,NO,,\n"
        "free_lunch,*,professional_services,\n"
        "support_renewal,*\n",
        encoding="utf-8",
    )
    with pytest.raises(sr.RoutingError) as broken:
        sr.route("premium_support", "NO")
    problems = broken.value.problems
    assert [p.split(":")[0] for p in problems] == [
        "line 4", "line 5", "line 6", "line 7", "line 8"
    ]  # fmt: skip
    assert "'NORWAY'" in problems[0] and "gold_queue" in problems[1]
    assert "already on line 3" in problems[2] and "free_lunch" in problems[3]
    assert sr.check_routing() == problems


def test_check_routing_knows_the_rule_base_clauses(routing_copy):
    with routing_copy.open("a", encoding="utf-8") as out:
        out.write("rules:9.9,NO,,\nrules:4.1.1,NO,,\n")
    problems = sr.check_routing()
    assert len(problems) == 2
    assert "no clause 'rules:9.9'" in problems[0]
    assert "rules:4.1.1 names no paid service" in problems[1]


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "name, value, problem",
    [
        ("email", "ola.nordmann@example", "email_malformed"),
        ("email", "ola nordmann@example.no", "email_malformed"),
        ("email", "ola@@example.no", "email_malformed"),
        ("email", "ola@example..no", "email_malformed"),
        ("email", ".ola@example.no", "email_malformed"),
        ("email", "a" * 250 + "@x.no", "too_long"),
        ("name", "", "empty"),
        ("name", " \t ", "empty"),
        ("name", None, "empty"),
        ("name", 42, "not_text"),
        ("name", "x" * 101, "too_long"),
        ("name", "Ola\x07Nordmann", "control_chars"),
        ("name", "Ola\nNordmann", "control_chars"),
        ("name", "Robert'); DROP TABLE x;--", "name_invalid"),
        ("name", "<b>Ola</b>", "markup"),
        ("company", "ACME <script>alert(1)</script>", "markup"),
        ("company", "<script src=//evil.example", "markup"),
        ("company", "x" * 121, "too_long"),
        ("description", "See JavaScript:alert(1) here", "markup"),
        ("description", "&lt;script&gt;alert(1)", "markup"),
        ("description", "<img src=x onerror=alert(1)>", "markup"),
        ("description", "abc", "too_short"),
        ("description", "x" * 1001, "too_long"),
        ("description", "line one\x00 more", "control_chars"),
        ("description", "evil \u202etxt.exe", "control_chars"),
        ("description", "a\tb tab is not a newline", "control_chars"),
        ("description", "", "empty"),
        ("country", "Atlantis", "country_unknown"),
        ("service", "free_support", "service_unknown"),
        ("licence_key", "ABCDE-12345", "key_malformed"),
        ("licence_key", "ABCDE-12345-FGHIJ-6789!", "key_malformed"),
    ],
)
def test_bad_values_give_stable_problem_codes(name, value, problem):
    assert problem in sr.PROBLEM_CODES
    assert sr.validate_field(name, value, check_records=False) == (None, problem)


@pytest.mark.parametrize(
    "name, value, clean",
    [
        ("name", "  Åse   Ørnebråten-Lind ", "Åse Ørnebråten-Lind"),
        ("name", "Sven-Göran O’Brien Jr.", "Sven-Göran O’Brien Jr."),
        ("email", "Ola.Nordmann+kes@Example.NO", "Ola.Nordmann+kes@example.no"),
        ("email", "kari@blåbær.no", "kari@blåbær.no"),
        ("country", "Noreg", "NO"),
        ("country", "sverige", "SE"),
        ("service", " Premium_Support ", "premium_support"),
        ("licence_key", "ab12c 3de45 f6g7h 8jk9l", KNOWN_KEY),
        ("licence_key", "ab12c\u20133de45\u2013f6g7h\u20138jk9l", KNOWN_KEY),
        ("licence_key", "ab12c3de45f6g7h8jk9l", KNOWN_KEY),
        ("description", "  Two lines\r\nsecond   line  ", "Two lines\nsecond line"),
        ("description", "I have <5 PCs & a>b", "I have <5 PCs & a>b"),
        ("company", "", None),
        ("company", None, None),
        ("licence_key", "  ", None),
    ],
)
def test_good_values_are_cleaned(name, value, clean):
    assert sr.validate_field(name, value, check_records=False) == (clean, None)


def test_an_unknown_field_name_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown field"):
        sr.validate_field("phone", "123")


# ---------------------------------------------------------------- filing


def test_filing_stores_every_field(database_url, tmp_path):
    _with_licences(database_url, tmp_path)
    before = dt.datetime.now(UTC).replace(microsecond=0)
    filed = sr.file_request(FORM, conversation_id="conv-42", language="nb", url=database_url,
                            clause="rules:4.1.2c")  # fmt: skip
    assert filed.created and filed.queue == "premium_support"
    assert re.fullmatch(rf"SR-{before.year}-000001", filed.reference)
    assert filed.payload == {
        "service_request": {"reference": filed.reference, "queue": "premium_support"}
    }
    [row] = _rows(database_url)
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
        return sr.file_request({**FORM, "description": f"Request number {n}"},
                               conversation_id=f"c{n}", language="en", url=sqlite_url,
                               now=when).reference  # fmt: skip

    assert [at(2026, 12, 31, n) for n in range(3)] == [
        "SR-2026-000001", "SR-2026-000002", "SR-2026-000003"
    ]  # fmt: skip
    assert at(2027, 1, 1, 3) == "SR-2027-000001"
    assert at(2026, 12, 31, 4) == "SR-2026-000004"
    # a counter row lost (restored backup): numbering continues after the highest reference
    with db.engine_for(sqlite_url).begin() as conn:
        conn.execute(sa.delete(db.ServiceRequestCounter.__table__))
    assert at(2026, 12, 31, 5) == "SR-2026-000005"
    assert at(2027, 6, 1, 6) == "SR-2027-000002"


def test_a_doubled_confirmation_files_one_request(database_url):
    first = _file(database_url)
    # the same form again, typed a little differently: same key, same request
    again = _file(database_url, name="Åse Ørnebråten-Lind", email="Ase.Lind@fjordvik.no",
                  country="NO", licence_key=KNOWN_KEY.lower())  # fmt: skip
    assert again == sr.FiledRequest(first.reference, first.queue, created=False)
    assert len(_rows(database_url)) == 1
    other = _file(database_url, conversation="conv-2")  # another conversation: another request
    assert other.created and other.reference != first.reference
    explicit = sr.file_request({**FORM, "description": "Changed my mind about it"},
                               conversation_id="conv-1", language="nb", url=database_url,
                               idempotency_key=sr.idempotency_key_for("conv-1", FORM))  # fmt: skip
    assert explicit.reference == first.reference and not explicit.created
    assert len(_rows(database_url)) == 2


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
    results = _race(4, lambda i: _file(database_url))
    assert len({r.reference for r in results}) == 1
    assert sorted(r.created for r in results) == [False, False, False, True]
    assert len(_rows(database_url)) == 1


def test_racing_different_requests_get_distinct_references(database_url):
    results = _race(4, lambda i: _file(database_url, conversation=f"conv-{i}"))
    year = dt.datetime.now(UTC).year
    assert sorted(r.reference for r in results) == [f"SR-{year}-00000{n}" for n in range(1, 5)]
    assert all(r.created for r in results)
    assert len(_rows(database_url)) == 4


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
            _file(database_url, **changes)
        assert refused.value.codes == codes, changes
    with pytest.raises(sr.RequestInvalid) as refused:
        _file(database_url, service="incident_response", country="IS")
    assert refused.value.codes == {"service": "service_not_offered"}
    assert refused.value.alternatives == ("professional_services", "support_renewal")
    with pytest.raises(ValueError, match="language"):
        sr.file_request(FORM, conversation_id="c", language="de", url=database_url)
    assert _rows(database_url) == []
    with db.engine_for(database_url).connect() as conn:
        counters = conn.execute(sa.select(db.ServiceRequestCounter.__table__)).all()
    assert counters == []  # no reference was used up either


def test_unknown_licence_key_is_the_callers_choice(database_url, tmp_path):
    _with_licences(database_url, tmp_path)
    assert sr.validate_field("licence_key", UNKNOWN_KEY.lower(), url=database_url) == (
        UNKNOWN_KEY, "key_unknown"
    )  # fmt: skip
    assert sr.validate_field("licence_key", KNOWN_KEY, url=database_url) == (KNOWN_KEY, None)
    with pytest.raises(sr.RequestInvalid) as refused:
        sr.file_request({**FORM, "licence_key": UNKNOWN_KEY}, conversation_id="c",
                        language="en", url=database_url, allow_unknown_key=False)  # fmt: skip
    assert refused.value.codes == {"licence_key": "key_unknown"}
    assert _rows(database_url) == []
    _file(database_url, licence_key=UNKNOWN_KEY)
    _file(database_url, conversation="c2", licence_key=None, company="")
    rows = _rows(database_url)
    assert [(r["licence_key"], r["licence_status"]) for r in rows] == [
        (UNKNOWN_KEY, "unknown"), (None, None)
    ]  # fmt: skip
    assert rows[1]["company"] is None


def test_status_changes_and_filters(sqlite_url):
    a = _file(sqlite_url, conversation="a")
    b = _file(sqlite_url, conversation="b", service="support_renewal", country="SE")
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


def test_export_masks_keys_and_defuses_formulas(sqlite_url):
    _file(sqlite_url, description="=HYPERLINK(1) looks like a formula")
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
        filed = _file(database_url)
        assert _rows(database_url)[0]["webhook_status"] == "pending"
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
    [row] = _rows(database_url)
    assert (row["webhook_status"], row["webhook_attempts"]) == ("delivered", 1)


def test_a_failing_webhook_is_retried_then_logged_and_the_request_kept(
    database_url, caplog, monkeypatch
):
    slept: list[float] = []
    with hook_server([500]) as (hook, received):
        monkeypatch.setenv("BOT_REQUESTS_WEBHOOK_URL", hook)
        filed = _file(database_url)
        with caplog.at_level(logging.WARNING, logger="bot.service_requests"):
            result = sr.notify(filed.reference, url=database_url, sleep=slept.append)
    assert result == "failed"
    assert len(received) == 4 and slept == [0.5, 1.0, 2.0]
    [row] = _rows(database_url)
    assert row["reference"] == filed.reference
    assert (row["webhook_status"], row["webhook_attempts"], row["webhook_error"]) == (
        "failed", 4, "HTTP 500"
    )  # fmt: skip
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = warning.getMessage()
    assert filed.reference in message and "failed after 4 attempt" in message
    assert "s3cret" not in caplog.text and KNOWN_KEY not in caplog.text


def test_webhook_recovers_client_errors_are_final_and_nothing_set_means_none(sqlite_url):
    filed = _file(sqlite_url)
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
    assert sr.notify(filed.reference, url=sqlite_url, webhook="http://127.0.0.1:9/",
                     delays=(0,), timeout=2) == "failed"  # fmt: skip
    assert sr.get_request(filed.reference, sqlite_url).webhook_status == "failed"


def test_notify_in_background(sqlite_url, monkeypatch):
    with hook_server([200]) as (hook, received):
        monkeypatch.setenv("BOT_REQUESTS_WEBHOOK_URL", hook)
        filed = _file(sqlite_url)
        thread = sr.notify_in_background(filed.reference, url=sqlite_url)
        assert thread.daemon
        thread.join(30)
    assert len(received) == 1
    assert sr.get_request(filed.reference, sqlite_url).webhook_status == "delivered"
