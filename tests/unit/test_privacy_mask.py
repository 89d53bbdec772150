"""The one masker: realistic messages in en/nb/sv, and what must stay as written."""

from __future__ import annotations

import logging
import sys

import pytest

from bot import records
from bot.privacy import log_filter, mask

KEY = "ABCDE-12345-FGHIJ-6789K"
KNOWN = mask.known_values({"name": "Kari Nordmann", "company": "Nordmann Data AS"})


@pytest.mark.parametrize(
    ("text", "hidden", "shown"),
    [
        (
            f"Hi, my licence key is {KEY.lower()} and you can reach me at "
            "kari.nordmann@example.no or +47 912 34 567.",
            [KEY.lower(), "kari.nordmann@example.no", "912 34 567"],
            ["6789K", "k***@example.no", "[phone]"],
        ),
        (
            "Hei! Lisensnøkkelen min er ABCDE 12345 FGHIJ 6789K, ring meg på 91 23 45 67 "
            "eller send e-post til kari@nordmann.no. Hilsen Kari Nordmann, Nordmann Data AS",
            ["ABCDE", "91 23 45 67", "kari@nordmann.no", "Kari Nordmann", "Nordmann Data"],
            ["6789K", "[phone]", "k***@nordmann.no", "[name]", "[company]"],
        ),
        (
            "Hej, min nyckel är ABCDE12345FGHIJ6789K. Ring 070-123 45 67 eller "
            "+46 (0)8-123 456 78, mejla anna.berg@företaget.se",
            ["ABCDE12345", "070-123 45 67", "123 456 78", "anna.berg@"],
            ["[phone]", "a***@företaget.se"],
        ),
        ("Call 0047 22 12 34 56 or +44 20 7946 0958", ["22 12 34 56", "7946 0958"], ["[phone]"]),
        ("Kari here again, the key ABCDE-12345-FGHIJ", ["Kari ", "ABCDE-12345"], ["[name]"]),
    ],
)
def test_personal_data_is_masked(text: str, hidden: list[str], shown: list[str]) -> None:
    masked = mask.mask_text(text, KNOWN)
    for value in hidden:
        assert value not in masked, masked
    for value in shown:
        assert value in masked, masked


@pytest.mark.parametrize(
    "text",
    [
        "Is Kaspersky Endpoint Security 11.6.0.394 still supported?",
        "Versjon 21.3.10.391 kom ut 07.04.2022, støtten slutter 2026-04-07.",
        "Your request SR-2026-000042 was filed; the previous one was SR-2025-001234.",
        "Det kostar 1 290 kr, eller NOK 12 500 000, eller 12 345 678 kr per år.",
        "Priset är €1,299.00 (about $1 400) for 2019-2021 licences.",
        "Where could these words fit? Write e-post-adresse and KES-11-SP2.",
        "Kaspersky Total Security 2021 on Windows 10 22H2, build 14.2.0.26967",
        "message 3f2a9c1e-1234-4abc-8def-123456789abc",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask.mask_text(text, KNOWN) == text


def test_key_mask_is_the_records_one() -> None:
    assert mask.mask_key(KEY) == records.mask_key(KEY) == "•••••-•••••-•••••-6789K"
    assert mask.mask_text(f"key {KEY}") == f"key {records.mask_key(KEY)}"


def test_masks_are_idempotent() -> None:
    text = f"{KEY} kari@nordmann.no +47 912 34 567 Kari Nordmann"
    once = mask.mask_text(text, KNOWN)
    assert mask.mask_text(once, KNOWN) == once
    for slot, value in [("sr_email", "kari@nordmann.no"), ("sr_licence_key", KEY)]:
        masked = mask.mask_slot(slot, value)
        assert mask.is_masked(masked) and mask.mask_slot(slot, masked) == masked


def test_slots_by_kind() -> None:
    assert mask.mask_slot("sr_name", "Kari Nordmann") == "[name]"
    assert mask.mask_slot("sr_company", "Nordmann Data AS") == "[company]"
    assert mask.mask_slot("sr_email", "kari@nordmann.no") == "k***@nordmann.no"
    assert mask.mask_slot("licence_key", KEY) == "•••••-•••••-•••••-6789K"
    assert mask.mask_slot("sr_company", "-") == "-"  # skipped stays skipped
    assert mask.mask_slot("sr_country", "NO") == "NO"
    assert mask.mask_slot("sr_description", "ring 912 34 567") == "ring [phone]"


def test_event_data_is_copied_not_changed() -> None:
    event = {
        "event": "user",
        "text": f"key {KEY}",
        "parse_data": {
            "text": f"key {KEY}",
            "intent": {"name": "check_licence"},
            "entities": [{"entity": "licence_key", "value": KEY, "start": 4, "end": 27}],
        },
    }
    masked = mask.mask_data(event)
    assert KEY not in str(masked)
    assert masked["parse_data"]["intent"]["name"] == "check_licence"
    assert masked["parse_data"]["entities"][0]["entity"] == "licence_key"
    assert event["parse_data"]["entities"][0]["value"] == KEY  # the original is untouched


def test_short_form_values_are_not_known() -> None:
    assert mask.known_values({"name": "Bo", "company": "AS"}) == []
    known = mask.known_values({"sr_name": "Anna Berg"})
    assert mask.mask_text("Anna wrote, Berg signed", known) == "[name] wrote, [name] signed"


def test_log_filter_masks_a_record() -> None:
    record = logging.LogRecord(
        "rasa.core.channels.rest",
        logging.ERROR,
        __file__,
        1,
        "An exception occured while handling user message '%s'.",
        (f"my key is {KEY}, mail kari@nordmann.no",),
        None,
    )
    assert log_filter.MaskingFilter().filter(record)
    message = record.getMessage()
    assert KEY not in message and "kari@nordmann.no" not in message
    assert "6789K" in message and "k***@nordmann.no" in message


def test_log_filter_masks_tracebacks() -> None:
    try:
        raise ValueError(f"bad key {KEY}")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    log_filter.MaskingFilter().filter(record)
    assert KEY not in logging.Formatter().format(record)


def test_installed_filter_masks_child_loggers(caplog: pytest.LogCaptureFixture) -> None:
    log_filter.install()
    with caplog.at_level(logging.INFO):
        logging.getLogger("rasa.core.channels.rest").error("user message 'kari@nordmann.no'")
    assert "kari@nordmann.no" not in caplog.text and "k***@nordmann.no" in caplog.text
