"""Lookups in the records on real databases: a version's support status, a
licence, the nearest names; and the entitlement the rules give."""

from __future__ import annotations

import datetime as dt

import pytest

from bot import records
from tests.unit.records_data import (
    EOL_BUSINESS,
    EXPIRED_BUSINESS,
    EXPIRED_HOME,
    TODAY,
    VALID_BUSINESS,
    VALID_HOME,
    load,
)


@pytest.fixture(scope="module")
def loaded(module_database_url, tmp_path_factory) -> str:
    """The records of records_data, shared by the tests of this module that leave
    them unchanged (every test here only reads)."""
    return load(module_database_url, tmp_path_factory.mktemp("records"))


# ---------------------------------------------------------------- lookups


@pytest.mark.parametrize(
    "product, version, status, record, support_ends, how",
    [
        ("Kaspersky Endpoint Security for Windows", "12.6", "supported", "12.6", None, "exact"),
        (
            "Kaspersky Endpoint Security for Windows",
            "12.1.0.506",
            "supported",
            "12.1",
            "2027-09-30",
            "covers",
        ),
        (
            "kaspersky endpoint security for windows",
            "11.6.0.394",
            "end_of_life",
            "11.6",
            "2024-02-29",
            "covers",
        ),
        (
            "Kaspersky Endpoint Security for Windows",
            "11",
            "end_of_life",
            "11.11",
            "2026-03-31",
            "family",
        ),
        ("Kaspersky Endpoint Security for Windows", "v12.6", "supported", "12.6", None, "exact"),
        ("Kaspersky Security Center", "14", "end_of_life", "14", "2025-12-31", "exact"),
        ("Kaspersky Security Center", "14.2.0.26967", "supported", "14.2", "2027-06-30", "covers"),
        ("Kaspersky Internet Security", "2021", "supported", "21", "2027-12-31", "year"),
        ("Internet Security", "19", "end_of_life", "19", "2021-06-30", "exact"),
        ("KES", "12.1", "supported", "12.1", "2027-09-30", "exact"),
        ("Kaspersky Plus", "21.13", "end_of_life", "21.13", "2026-06-30", "exact"),
    ],
)
def test_lookup_version(loaded, product, version, status, record, support_ends, how):
    found = records.lookup_version(product, version, TODAY, loaded)
    assert (found.status, found.record_version, found.match) == (status, record, how)
    assert found.lookup == {
        "product": found.product,
        "version": record,
        "status": status,
        "support_ends": support_ends,
    }
    assert found.product in {r.product for r in records.find_products(loaded)}


def test_support_ends_on_the_day_itself(loaded):
    plus = records.lookup_version("Kaspersky Plus", "21.13", dt.date(2026, 6, 30), loaded)
    assert plus.status == "supported"
    plus = records.lookup_version("Kaspersky Plus", "21.13", dt.date(2026, 7, 1), loaded)
    assert plus.status == "end_of_life" and plus.support_ends == dt.date(2026, 6, 30)


def test_a_family_lists_its_other_versions(loaded):
    found = records.lookup_version("Kaspersky Endpoint Security for Windows", "11", TODAY, loaded)
    assert found.alternatives == ("11.10", "11.6")


def test_an_unknown_product_offers_the_nearest_names(loaded):
    found = records.lookup_version("Kaspersky Plsu", "21.19", TODAY, loaded)
    assert (found.status, found.reason, found.segment) == ("unknown", "unknown_product", None)
    assert found.nearest[0] == "Kaspersky Plus"
    assert found.lookup == {
        "product": "Kaspersky Plsu",
        "version": "21.19",
        "status": "unknown",
        "support_ends": None,
    }
    near = records.nearest_products("Endpoint Securty Windows", n=2, url=loaded)
    assert near[0] == "Kaspersky Endpoint Security for Windows" and len(near) == 2


def test_an_unknown_version_offers_the_nearest_versions(loaded):
    found = records.lookup_version("Kaspersky Endpoint Security for Windows", "12.5", TODAY, loaded)
    assert (found.status, found.reason, found.segment) == ("unknown", "unknown_version", "business")
    assert found.nearest == ("12.6", "12.1", "11.11")
    ksc = records.lookup_version("Kaspersky Security Center", "13", TODAY, loaded)
    assert (ksc.reason, ksc.nearest) == ("unknown_version", ("14", "14.2"))
    unknown = records.lookup_version("No Such Product", "1", TODAY, loaded)  # no versions offered
    assert unknown.reason == "unknown_product"
    assert set(unknown.nearest) <= {r.product for r in records.find_products(loaded)}


def test_lookups_on_an_empty_database_say_unknown(database_url):
    assert records.find_products(database_url) == []
    assert records.lookup_version("KES", "12.1", TODAY, database_url).status == "unknown"
    assert records.lookup_licence(VALID_HOME, TODAY, database_url).status == "unknown"
    assert records.records_version(database_url) is None


@pytest.mark.parametrize(
    "key, status, product, valid_until",
    [
        (VALID_BUSINESS, "valid", "Kaspersky Endpoint Security for Windows", "2027-03-31"),
        (EXPIRED_BUSINESS, "expired", "Kaspersky Endpoint Security for Windows", "2025-10-31"),
        (VALID_HOME.lower(), "valid", "Kaspersky Plus", "2027-01-31"),
        (f"  {EXPIRED_HOME}  ", "expired", "Kaspersky Plus", "2024-01-31"),
        (VALID_HOME.replace("-", "\u2013"), "valid", "Kaspersky Plus", "2027-01-31"),
        ("AAAAA-BBBBB-CCCCC-DDDDD", "unknown", None, None),
    ],
)
def test_lookup_licence(loaded, key, status, product, valid_until):
    found = records.lookup_licence(key, TODAY, loaded)
    assert (found.status, found.product, found.well_formed) == (status, product, True)
    assert (found.valid_until.isoformat() if found.valid_until else None) == valid_until
    assert found.masked_key.startswith("•••••-•••••-•••••-")


def test_a_malformed_key_is_unknown_and_not_well_formed(loaded):
    found = records.lookup_licence("AB12C-3DE45-F6G7H", TODAY, loaded)
    assert (found.status, found.well_formed) == ("unknown", False)


# ---------------------------------------------------------------- entitlement


@pytest.mark.parametrize(
    "product, version, key, verdict, rule_ids, reason, licence",
    [
        # home: supported regardless of licence status (rules:4.5a)
        ("Kaspersky Plus", "21.19", None, "included", ("rules:4.5a",), "home", None),
        ("Kaspersky Plus", "21.19", EXPIRED_HOME, "included", ("rules:4.5a",), "home", "expired"),
        (None, None, VALID_HOME, "included", ("rules:4.5a",), "home", "valid"),
        # business: a valid licence is needed (rules:4.5b, rules:2.4)
        (
            "KES",
            "12.1",
            VALID_BUSINESS,
            "included",
            ("rules:4.5b", "rules:2.4"),
            "licence_valid",
            "valid",
        ),
        (
            "KES",
            "12.6",
            VALID_BUSINESS,
            "included",
            ("rules:4.5b", "rules:2.4"),
            "licence_valid",
            "valid",
        ),
        (
            "KES",
            "12.6",
            EXPIRED_BUSINESS,
            "not_supported",
            ("rules:4.5b", "rules:2.4"),
            "licence_expired",
            "expired",
        ),
        ("KES", "12.6", None, "conditional", ("rules:4.5b", "rules:2.4"), "licence_needed", None),
        (
            "KES",
            "12.6",
            "AAAAA-BBBBB-CCCCC-DDDDD",
            "conditional",
            ("rules:4.5b", "rules:2.4"),
            "licence_unknown",
            "unknown",
        ),
        (
            "Kaspersky Security Center",
            "14.2",
            VALID_BUSINESS,
            "conditional",
            ("rules:4.5b", "rules:2.4"),
            "licence_other_product",
            "valid",
        ),
        # end of life wins over everything (rules:4.3.2 + kb101732:1.2)
        (
            "KES",
            "11.6.0.394",
            VALID_BUSINESS,
            "not_supported",
            ("rules:4.3.2", "kb101732:1.2"),
            "end_of_life",
            "valid",
        ),
        (
            None,
            None,
            EOL_BUSINESS,
            "not_supported",
            ("rules:4.3.2", "kb101732:1.2"),
            "end_of_life",
            "valid",
        ),
        (
            "Kaspersky Internet Security",
            "19",
            None,
            "not_supported",
            ("rules:4.3.2", "kb101732:1.2"),
            "end_of_life",
            None,
        ),
        # not enough known
        (
            "Kaspersky Plus",
            "30",
            None,
            "conditional",
            ("rules:4.3.2", "rules:4.5a"),
            "unknown_version",
            None,
        ),
        (
            "Kaspersky Nonesuch",
            "1",
            None,
            "conditional",
            ("rules:4.5a", "rules:4.5b", "rules:2.4"),
            "unknown_product",
            None,
        ),
    ],
)
def test_entitlement(loaded, product, version, key, verdict, rule_ids, reason, licence):
    found = records.entitlement(product, version, key, TODAY, loaded)
    assert (found.verdict, found.rule_ids, found.reason) == (verdict, rule_ids, reason)
    assert found.service == ("support_renewal" if reason == "end_of_life" else None)
    lookup = found.lookup
    assert set(lookup) == {"product", "version", "status", "support_ends"} | (
        {"licence"} if key else set()
    )
    assert lookup.get("licence") == licence
    assert lookup["status"] in ("supported", "end_of_life", "unknown")


def test_entitlement_rule_ids_exist_in_the_rule_base():
    from bot import rulebase

    clause_ids = {c["id"] for c in rulebase.read().clauses}
    used = set(records.END_OF_LIFE_RULES + records.HOME_RULES + records.BUSINESS_RULES)
    assert used <= clause_ids
    services = {s["id"] for s in rulebase.read().services}
    assert records.END_OF_LIFE_SERVICE in services
