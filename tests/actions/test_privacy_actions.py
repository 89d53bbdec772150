"""The forms keep personal values in the request draft and only masks in the
slots; the summary and filing read the draft; filing and stopping delete it."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import lookup, service_request, service_request_prompts
from bot import records, service_requests
from bot.privacy import drafts
from bot.service_requests import deferred
from tests.actions.conftest import SENDER, run, tracker
from tests.privacy_formats import MESSAGES, leaks

KEY = "ZRM6N-TL7VJ-Q26X8-ZEB76"  # a sample licence (content/records/)
PHONE = "+47 912 34 567"
FULL = {
    "name": "Kari Nordmann",
    "email": "kari@nordmann.no",
    "company": "Nordmann Data AS",
    "licence_key": KEY,
    "description": f"Two sites, 40 PCs. Ring meg på {PHONE}.",
}
MASKED_SLOTS = {
    "sr_service": "premium_support",
    "sr_name": "[name]",
    "sr_email": "k***@nordmann.no",
    "sr_company": "[company]",
    "sr_country": "NO",
    "sr_licence_key": "•••••-•••••-•••••-ZEB76",
    "sr_description": "Two sites, 40 PCs. Ring meg på [phone].",
}


@pytest.fixture(autouse=True)
def _clean_draft(bot_db: str):
    records.import_products(records.SAMPLE_PRODUCTS, bot_db)
    records.import_licences(records.SAMPLE_LICENCES, bot_db)
    drafts.delete(SENDER)
    yield
    drafts.delete(SENDER)


def validate(field: str, value: str, **slots) -> dict:
    form = service_request.ValidateServiceRequestForm()
    t = tracker(
        value,
        "inform",
        active_loop="service_request_form",
        slots={"requested_slot": f"sr_{field}", **slots},
    )
    return getattr(form, f"validate_sr_{field}")(value, CollectingDispatcher(), t, {})


@pytest.mark.parametrize(
    ("field", "typed", "slot"),
    [
        ("name", " Kari  Nordmann ", "[name]"),
        ("email", "kari@Nordmann.NO", "k***@nordmann.no"),
        ("company", "Nordmann Data AS", "[company]"),
        ("licence_key", "zrm6n tl7vj q26x8 zeb76", "•••••-•••••-•••••-ZEB76"),
        ("description", f"Ring meg på {PHONE}, takk.", "Ring meg på [phone], takk."),
    ],
)
def test_a_valid_answer_goes_to_the_draft_and_its_mask_to_the_slot(field, typed, slot) -> None:
    assert validate(field, typed) == {f"sr_{field}": slot}
    stored = drafts.get(SENDER)[field]
    assert stored == service_requests.validate_field(field, typed, check_records=False)[0]


def test_skipping_an_optional_field_drops_it_from_the_draft() -> None:
    drafts.put(SENDER, {"company": "Nordmann Data AS"})
    assert validate("company", "skip") == {"sr_company": "-"}
    assert "company" not in drafts.get(SENDER)


def test_the_summary_shows_what_the_user_typed_in_part() -> None:
    # read from the draft (the slots say only "[name]"), shown in part: whoever
    # writes next under this conversation id sees the summary too
    drafts.put(SENDER, FULL)
    t = tracker("Two sites", "inform", active_loop="service_request_form", slots=MASKED_SLOTS)
    text = run(service_request_prompts.AskConfirmed(), t).text
    assert "Name: Ka•• No••••••" in text and "E-mail: ka•••@no••••••.no" in text
    assert "Company: No•••••• Da•• AS" in text
    assert "Description: Two sites, 40 PCs. Ring meg på [phone]." in text
    assert "[name]" not in text and "Kari" not in text and "912" not in text
    assert KEY not in text and "ZEB76" in text


def test_filing_uses_the_draft_and_deletes_it() -> None:
    drafts.put(SENDER, FULL)
    t = tracker("yes", "affirm", slots={**MASKED_SLOTS, "sr_confirmed": "yes"})
    ran = run(service_request.FileServiceRequest(), t)
    reference = ran.messages[0]["custom"]["service_request"]["reference"]
    stored = service_requests.get_request(reference)
    assert (stored.name, stored.email, stored.company) == (
        "Kari Nordmann",
        "kari@nordmann.no",
        "Nordmann Data AS",
    )
    assert stored.licence_key == KEY and PHONE in stored.description
    assert drafts.get(SENDER) == {}
    assert ran.slot("sr_email") is None


def test_a_lost_draft_is_asked_again_never_filed_masked() -> None:
    t = tracker(
        "yes",
        "affirm",
        active_loop="service_request_form",
        slots={**MASKED_SLOTS, "requested_slot": "sr_confirmed"},
    )
    form = service_request.ValidateServiceRequestForm()
    asked = form.validate_sr_confirmed("yes", CollectingDispatcher(), t, {})
    assert asked["sr_name"] is None and asked["sr_email"] is None and asked["sr_confirmed"] is None
    assert "sr_country" not in asked  # not personal: kept
    filed = run(service_request.FileServiceRequest(), t)
    assert "service_request" not in str(filed.messages) and filed.slot("sr_name") is None


def test_stop_forgets_the_draft() -> None:
    drafts.put(SENDER, {**FULL, drafts.LOOKUP_KEY: KEY})
    t = tracker("stop", "stop", active_loop="service_request_form", slots=MASKED_SLOTS)
    run(lookup.Stop(), t)
    assert not drafts.exists(SENDER)


def test_licence_lookup_reads_a_masked_key_from_the_draft() -> None:
    drafts.put(SENDER, {drafts.LOOKUP_KEY: KEY})
    masked = tracker(
        "is it valid?", "check_licence", slots={"licence_key": "•••••-•••••-•••••-ZEB76"}
    )
    assert lookup._licence_key(masked) == KEY
    ran = run(lookup.AnswerLicence(), masked)
    assert "ZEB76" in ran.text and KEY not in ran.text
    assert drafts.LOOKUP_KEY not in drafts.get(SENDER)  # answered: forgotten


def test_a_key_found_by_the_lookup_form_is_kept_for_later_turns() -> None:
    form = lookup.ValidateLicenceForm()
    t = tracker(
        f"my key is {KEY}",
        "inform",
        active_loop="licence_form",
        slots={"requested_slot": "licence_key"},
    )
    assert form.validate_licence_key(KEY, CollectingDispatcher(), t, {})["licence_key"] == KEY
    assert drafts.get(SENDER)[drafts.LOOKUP_KEY] == KEY


def test_run_keeps_a_key_rasa_extracted(monkeypatch) -> None:
    t = tracker("11.6", "inform", active_loop="version_form", slots={"licence_key": KEY})
    asyncio.run(lookup.ValidateVersionForm().run(CollectingDispatcher(), t, {}))
    assert drafts.get(SENDER)[drafts.LOOKUP_KEY] == KEY


@pytest.mark.parametrize(("message", "secrets"), MESSAGES)
def test_the_outbox_holds_no_format(message, secrets, tmp_path) -> None:
    """A description with a key, phone number and address in any format, through the
    form's own check, then deferred to the outbox as the action defers it."""
    slot = validate("description", message)["sr_description"]
    slots = {**MASKED_SLOTS, "sr_description": slot}
    path = deferred.defer(SENDER, "en", slots, var_dir=tmp_path)
    saved = path.read_text(encoding="utf-8")
    assert leaks(message, secrets) == secrets
    assert leaks(saved, secrets) == [] and "ZEB76" in saved
    assert drafts.get(SENDER)["description"] == " ".join(message.split())  # the real one


@pytest.mark.parametrize("step", [None, "product", "sr_email"])
def test_a_guessable_id_gets_no_form_at_any_step(step) -> None:
    # a step left over from another form (slots carried into a new session) would
    # otherwise start this one mid-way, past the check at its start
    slots = {**MASKED_SLOTS, "requested_slot": step}
    t = tracker("Kari Nordmann", "inform", active_loop="service_request_form", slots=slots)
    t.sender_id = "me"
    drafts.put("me", FULL)  # as one written before the check existed
    ran = run(service_request.ValidateServiceRequestForm(), t)
    assert "can't take a request in this conversation" in ran.text
    assert {"event": "active_loop", "name": None, "timestamp": None} in ran.events
    assert drafts.get("me") == {}
    summary = run(service_request_prompts.AskConfirmed(), t)
    assert "Ka••" not in summary.text and "can't take a request" in summary.text
    t.slots["sr_confirmed"] = "yes"
    filed = run(service_request.FileServiceRequest(), t)
    assert "can't take a request" in filed.text
    assert [r for r in service_requests.list_requests() if r.conversation_id == "me"] == []
