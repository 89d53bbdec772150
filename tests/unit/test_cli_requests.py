"""`bot requests` through `bot.cli.main`, in process, with BOT_DATABASE_URL
naming a real database (SQLite and PostgreSQL). Licence keys must never appear
in full in anything it prints or writes."""

from __future__ import annotations

import csv
import io
import json

import pytest

from bot import records
from bot import service_requests as sr

from .helpers import CliResult, run_cli

KEY = "FJORD-12345-VIKAS-9RQ7T"
FORMS = [
    {
        "service": "premium_support",
        "name": "Kari Nordmann",
        "email": "kari@fjordvik.no",
        "company": "Fjordvik Regnskap AS",
        "country": "Norge",
        "licence_key": KEY,
        "description": "We need a guaranteed response time.\nTwo offices.",
    },
    {
        "service": "support_renewal",
        "name": "Sven Svensson",
        "email": "sven@example.se",
        "country": "Sverige",
        "description": "=SUM(A1) Renew support for KES 11.6 please",
    },
    {
        "service": "incident_response",
        "name": "Jens Hansen",
        "email": "jens@example.dk",
        "company": "Hansen ApS",
        "country": "DK",
        "licence_key": KEY.lower(),
        "description": "Investigate how ransomware got in.",
    },
]


def run_bot(*args: str, url: str, env: dict[str, str] | None = None) -> CliResult:
    full_env: dict[str, str | None] = {
        "BOT_DATABASE_URL": url,
        "BOT_REQUESTS_WEBHOOK_URL": None,
        "BOT_ROUTING_FILE": None,
        **(env or {}),
    }
    result = run_cli("requests", *args, env=full_env)
    for secret in (KEY, KEY.lower(), "FJORD-12345", "12345-VIKAS"):
        assert secret not in result.stdout + result.stderr, f"bot requests {args} showed the key"
    return result


@pytest.fixture
def filed(database_url, monkeypatch) -> list[str]:
    monkeypatch.delenv("BOT_REQUESTS_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("BOT_ROUTING_FILE", raising=False)
    refs = []
    for n, form in enumerate(FORMS):
        result = sr.file_request(form, conversation_id=f"conv-{n}", language="en", url=database_url)
        refs.append(result.reference)
    return refs


def test_list_show_set_status(database_url, filed):
    listed = run_bot("list", url=database_url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:3] == ["reference", "created", "(UTC)"]
    assert [line.split()[0] for line in lines[1:]] == filed
    assert lines[1].split()[3:7] == ["premium_support", "new", "premium_support", "NO"]
    assert lines[1].endswith("Kari Nordmann")

    shown = run_bot("show", filed[0].lower(), url=database_url)
    assert shown.returncode == 0, shown.stderr
    for expected in (
        "reference:",
        filed[0],
        "Kari Nordmann",
        "kari@fjordvik.no",
        "Fjordvik Regnskap AS",
        "premium_support",
        "conv-0",
        records.mask_key(KEY),
        "  We need a guaranteed response time.",
        "  Two offices.",
        "licence_status:",
        "webhook_status:    none",
    ):
        assert expected in shown.stdout, expected

    changed = run_bot("set-status", filed[2], "in_progress", url=database_url)
    assert changed.returncode == 0 and changed.stdout.strip() == f"{filed[2]}: in_progress"
    by_status = run_bot("list", "--status", "in_progress", "--json", url=database_url)
    assert [r["reference"] for r in json.loads(by_status.stdout)] == [filed[2]]
    by_queue = run_bot("list", "--queue", "support_renewal", url=database_url)
    assert [line.split()[0] for line in by_queue.stdout.splitlines()[1:]] == [filed[1]]
    everything = json.loads(run_bot("list", "--json", url=database_url).stdout)
    assert [r["licence_key"] for r in everything] == [
        records.mask_key(KEY),
        None,
        records.mask_key(KEY),
    ]
    assert [r["status"] for r in everything] == ["new", "new", "in_progress"]


def test_export_csv_and_json(database_url, filed, tmp_path):
    exported = run_bot("export", "--format", "csv", url=database_url)
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [r["reference"] for r in rows] == filed
    assert tuple(rows[0]) == sr.EXPORT_COLUMNS
    assert rows[0]["licence_key"] == records.mask_key(KEY)
    assert rows[0]["description"] == FORMS[0]["description"]
    assert rows[1]["description"].startswith("'=SUM(A1)")  # no formula for a spreadsheet
    assert rows[2]["company"] == "Hansen ApS" and rows[1]["company"] == ""

    out = tmp_path / "requests.json"
    written = run_bot("export", "--format", "json", "--out", str(out), url=database_url)
    assert written.returncode == 0 and written.stdout == ""
    assert f"Wrote 3 request(s) to {out}" in written.stderr
    text = out.read_text(encoding="utf-8")
    assert KEY not in text and "FJORD" not in text
    data = json.loads(text)
    assert [r["reference"] for r in data] == filed
    assert data[0]["name"] == "Kari Nordmann" and data[0]["country"] == "NO"
    filtered = run_bot(
        "export", "--format", "json", "--queue", "incident_response", url=database_url
    )
    assert [r["reference"] for r in json.loads(filtered.stdout)] == [filed[2]]


def test_errors_are_one_clear_line_with_an_exit_code(database_url, filed, tmp_path):
    missing = run_bot("show", "SR-2099-000001", url=database_url)
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.strip().splitlines() == [
        "No service request 'SR-2099-000001' (`bot requests list` shows them)."
    ]
    assert run_bot("set-status", "SR-2099-000001", "closed", url=database_url).returncode == 1
    bad_status = run_bot("set-status", filed[0], "done", url=database_url)
    assert bad_status.returncode == 2 and "invalid choice: 'done'" in bad_status.stderr
    assert run_bot("export", "--format", "xml", url=database_url).returncode == 2
    no_dir = run_bot(
        "export", "--format", "csv", "--out", str(tmp_path / "no" / "x.csv"), url=database_url
    )
    assert no_dir.returncode == 1 and len(no_dir.stderr.strip().splitlines()) == 1
    no_hook = run_bot("notify", filed[0], url=database_url)
    assert no_hook.returncode == 1
    assert no_hook.stderr.strip() == "No webhook: set BOT_REQUESTS_WEBHOOK_URL."


def test_empty_database_and_routing_check(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    empty = run_bot("list", url=url)
    assert (empty.returncode, empty.stdout, empty.stderr.strip()) == (0, "", "No service requests.")
    assert run_bot("export", "--format", "json", url=url).stdout.strip() == "[]"

    good = run_bot("routing", url=url)
    assert good.returncode == 0, good.stderr
    assert any(
        line.split()[:3] == ["premium_support", "NO", "premium_support"]
        for line in good.stdout.splitlines()
    )
    broken = tmp_path / "routing.csv"
    broken.write_text("service,country,queue,note\npremium_support,NO,gold,\n", encoding="utf-8")
    bad = run_bot("routing", url=url, env={"BOT_ROUTING_FILE": str(broken)})
    assert bad.returncode == 1
    assert "line 2: queue 'gold' is not one of" in bad.stderr
