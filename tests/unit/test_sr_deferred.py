"""Requests confirmed while the database was down (bot/service_requests/deferred.py),
on real databases: the outbox entry holds the slots masked, a drain files it
once with the draft's values, several drainers never file one entry twice, an
entry for another database is left alone, and one that can never be filed is
set aside. The database actually going down: tests/conversation/test_faults.py."""

from __future__ import annotations

import threading

import pytest

from bot import service_requests as sr
from bot.privacy import drafts, mask
from bot.service_requests import SKIP, deferred

from .sr_forms import stored_rows

PERSONAL = frozenset(f for f in sr.FIELDS if f in mask.PERSONAL_FIELDS)
VALUES = {
    "name": "Kari Nordmann",
    "email": "kari@fjordvik.no",
    "company": "Fjordvik Regnskap AS",
    "description": "We need help setting up KES on 40 laptops.",
}


@pytest.fixture(autouse=True)
def _no_webhook(monkeypatch):
    monkeypatch.delenv("BOT_REQUESTS_WEBHOOK_URL", raising=False)


def confirmed_form(url: str, conversation: str) -> dict[str, str]:
    """A form as the tracker holds it at confirmation (personal slots masked),
    its real values in the draft."""
    drafts.put(conversation, dict(VALUES), url)
    slots = {f"sr_{f}": mask.mask_slot(f"sr_{f}", v) for f, v in VALUES.items()}
    return slots | {
        "sr_service": "professional_services",
        "sr_country": "NO",
        "sr_licence_key": SKIP,
    }


def test_merge_takes_personal_values_from_the_draft():
    slots = {"sr_service": "premium_support", "sr_name": "[name]", "sr_company": SKIP}
    values, lost = deferred.merge(slots, {"name": "Kari"}, PERSONAL)
    assert values["name"] == "Kari" and values["service"] == "premium_support"
    assert values["company"] is None and lost == []
    _values, lost = deferred.merge(slots, {}, PERSONAL)
    assert lost == ["name"]  # masked in the slot, gone from the draft: never filed masked


def test_an_entry_holds_no_personal_data_and_is_filed_once(database_url, tmp_path):
    slots = confirmed_form(database_url, "conv-1")
    path = deferred.defer("conv-1", "nb", slots, url=database_url, var_dir=tmp_path)
    saved = path.read_text(encoding="utf-8")
    for field in ("name", "email", "company"):  # as the tracker store holds them: masked
        assert VALUES[field] not in saved
    assert deferred.pending(tmp_path) == [path]

    drained = deferred.drain(database_url, tmp_path)
    assert len(drained.filed) == 1 and drained.failed == 0
    [row] = stored_rows(database_url)
    assert (row["name"], row["email"], row["description"]) == (
        VALUES["name"],
        VALUES["email"],
        VALUES["description"],
    )
    assert (row["reference"], row["language"], row["country"]) == (drained.filed[0], "nb", "NO")
    assert deferred.pending(tmp_path) == [] and not drafts.exists("conv-1", database_url)
    assert deferred.drain(database_url, tmp_path).filed == []
    assert len(stored_rows(database_url)) == 1


def test_a_filing_that_landed_before_the_connection_dropped_is_not_filed_again(
    database_url, tmp_path
):
    slots = confirmed_form(database_url, "conv-2")
    values, _ = deferred.merge(slots, drafts.get("conv-2", database_url), PERSONAL)
    first = sr.file_request(
        values,
        conversation_id="conv-2",
        language="nb",
        idempotency_key=sr.idempotency_key_for("conv-2", values),
        url=database_url,
    )  # committed; then the action lost the database and deferred it anyway
    deferred.defer("conv-2", "nb", slots, url=database_url, var_dir=tmp_path)
    assert deferred.drain(database_url, tmp_path).filed == [first.reference]
    assert len(stored_rows(database_url)) == 1


def test_racing_drainers_file_one_request(database_url, tmp_path):
    for n in range(3):
        deferred.defer(
            f"conv-r{n}",
            "en",
            confirmed_form(database_url, f"conv-r{n}"),
            url=database_url,
            var_dir=tmp_path,
        )
    threads = [
        threading.Thread(target=deferred.drain, args=(database_url, tmp_path)) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = stored_rows(database_url)
    assert sorted(r["conversation_id"] for r in rows) == ["conv-r0", "conv-r1", "conv-r2"]
    assert deferred.pending(tmp_path) == []


def test_an_entry_for_another_database_is_left_alone(database_url, tmp_path):
    other = f"sqlite:///{tmp_path / 'other.db'}"
    slots = confirmed_form(database_url, "conv-3")
    path = deferred.defer("conv-3", "sv", slots, url=other, var_dir=tmp_path)
    assert deferred.drain(database_url, tmp_path).filed == []
    assert deferred.pending(tmp_path) == [path] and stored_rows(database_url) == []


def test_an_entry_whose_draft_is_gone_is_set_aside(database_url, tmp_path):
    slots = confirmed_form(database_url, "conv-4")
    path = deferred.defer("conv-4", "en", slots, url=database_url, var_dir=tmp_path)
    drafts.delete("conv-4", url=database_url)  # e.g. `bot privacy forget` meanwhile
    drained = deferred.drain(database_url, tmp_path)
    assert drained.failed == 1 and drained.filed == []
    assert deferred.pending(tmp_path) == []
    assert (path.parent / "failed" / path.name).exists()
    assert stored_rows(database_url) == []


def test_forgetting_a_person_discards_their_entries(database_url, tmp_path):
    slots = confirmed_form(database_url, "conv-5")
    mine = deferred.defer("conv-5", "en", slots, url=database_url, var_dir=tmp_path)
    other = deferred.defer("conv-6", "en", slots, url=database_url, var_dir=tmp_path)
    assert deferred.discard("conv-5", tmp_path) == 1
    assert not mine.exists() and deferred.pending(tmp_path) == [other]
