"""Personal data through the real servers: a conversation with a licence key, an
e-mail address and a phone number leaves none of them in full in the tracker
store's database, while the filed request holds them in full."""

from __future__ import annotations

import json
import stat
import uuid

import sqlalchemy as sa

from bot import service_requests
from bot.privacy import subject
from tests.privacy_formats import MESSAGES, leaks

KEY = "ZRM6N-TL7VJ-Q26X8-ZEB76"  # a sample licence (content/records/licences.csv)
EMAIL = "kari.nordmann@fjordvik.no"
PHONE = "+47 912 34 567"


def tracker_rows(url: str, sender: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT data FROM events WHERE sender_id = :s ORDER BY id")
            return list(conn.execute(query, {"s": sender}).scalars())
    finally:
        engine.dispose()


def test_the_tracker_store_keeps_no_personal_data_in_full(running_bot):
    bot, sender = running_bot, uuid.uuid4().hex
    lookup = bot.ask(f"Is my licence {KEY} still valid?", sender, lang="en")
    assert "ZEB76" in lookup.text and KEY not in lookup.text
    bot.ask("We'd like to buy a remote session with one of your specialists", sender)
    bot.ask("Kari Nordmann", sender)
    bot.ask(EMAIL, sender)
    bot.ask("Fjordvik Regnskap AS", sender)
    bot.ask("Norway", sender)
    bot.ask(KEY.lower(), sender)
    summary = bot.ask(f"Help with KES on 40 laptops. Call me on {PHONE}.", sender)
    assert "Ka•• No••••••" in summary.text  # from the draft, in part (bot.privacy.partial)
    assert "Kari Nordmann" not in summary.text and EMAIL not in summary.text
    bot.ask("yes", sender)

    (filed,) = [
        r
        for r in service_requests.list_requests(url=bot.cfg.database_url)
        if r.conversation_id == sender
    ]
    assert (filed.name, filed.email, filed.company) == (
        "Kari Nordmann",
        EMAIL,
        "Fjordvik Regnskap AS",
    )
    assert filed.licence_key == KEY and PHONE in filed.description

    rows = tracker_rows(bot.cfg.tracker_url, sender)
    assert len(rows) > 20  # the whole conversation is there...
    stored = "\n".join(rows)
    for secret in (KEY, KEY.lower(), EMAIL, "912 34 567", "Kari Nordmann", "Fjordvik Regnskap"):
        assert secret not in stored, secret  # ...masked
    assert "ZEB76" in stored and "k***@fjordvik.no" in stored and "[phone]" in stored


def stored_text(url: str, sender: str) -> str:
    """The conversation's stored events, decoded (JSON escapes no character)."""
    rows = [json.loads(row) for row in tracker_rows(url, sender)]
    return json.dumps(rows, ensure_ascii=False)


def test_no_format_survives_in_the_tracker_store_or_the_export(running_bot):
    """Keys, phone numbers and addresses in every format of tests/privacy_formats.py,
    in en/nb/sv messages, through the servers."""
    bot, sender = running_bot, uuid.uuid4().hex
    for message, _secrets in MESSAGES:
        assert bot.send(message, sender) is not None
    stored = stored_text(bot.cfg.tracker_url, sender)
    exported = json.dumps(
        subject.export(sender, url=bot.cfg.database_url, tracker_url=bot.cfg.tracker_url),
        ensure_ascii=False,
    )
    for message, secrets in MESSAGES:
        assert "ZEB76" in stored and message.split()[0] in stored  # the messages are there...
        assert leaks(stored, secrets) == [], message  # ...masked
        assert leaks(exported, secrets) == [], message


def test_a_name_typed_before_the_form_is_masked_in_earlier_events(running_bot):
    bot, sender = running_bot, uuid.uuid4().hex
    bot.ask("Hi, I'm Kari Nordmann from Acme Regnskap AS.", sender, lang="en")
    bot.ask("We'd like to buy a remote session with one of your specialists", sender)
    bot.ask("Kari Nordmann", sender)
    bot.ask("kari@acme.no", sender)
    bot.ask("Acme Regnskap AS", sender)
    stored = stored_text(bot.cfg.tracker_url, sender)
    assert "I'm [name] from [company]." in stored  # the first message, masked afterwards
    for secret in ("Kari", "Nordmann", "Acme Regnskap"):
        assert secret not in stored, secret


def test_the_servers_databases_and_logs_are_owner_only(running_bot):
    running_bot.ask("Can you disinfect my PC?")  # the tracker store has written
    paths = [p for p in running_bot.servers.log_dir.glob("*.log")]
    paths += [p for p in running_bot.cfg.var_dir.glob("*.db")]
    assert any(p.suffix == ".log" for p in paths) and any(p.suffix == ".db" for p in paths)
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in paths), [
        (p.name, oct(p.stat().st_mode)) for p in paths
    ]
