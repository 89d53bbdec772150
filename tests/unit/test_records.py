"""Product and licence records on real databases: import (all or nothing,
idempotent, every bad row named), lookups, entitlement, masked keys."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import db, records

TODAY = dt.date(2026, 11, 22)

PRODUCTS = """\
product,version,segment,released,end_of_support
Kaspersky Plus,21.13,home,2023-05-16,2026-06-30
Kaspersky Plus,21.19,home,2024-09-10,
Kaspersky Internet Security,19,home,2018-07-10,2021-06-30
Kaspersky Internet Security,21,home,2020-07-28,2027-12-31
Kaspersky Endpoint Security for Windows,11.6,business,2021-02-01,2024-02-29
Kaspersky Endpoint Security for Windows,11.10,business,2022-06-01,2025-06-30
Kaspersky Endpoint Security for Windows,11.11,business,2022-09-06,2026-03-31
Kaspersky Endpoint Security for Windows,12.1,business,2023-03-14,2027-09-30
Kaspersky Endpoint Security for Windows,12.6,business,2024-07-09,
Kaspersky Security Center,14,business,2022-06-07,2025-12-31
Kaspersky Security Center,14.2,business,2022-12-06,2027-06-30
"""
VALID_BUSINESS = "AB12C-3DE45-F6G7H-8JK9L"
EXPIRED_BUSINESS = "ZZ9Y8-XW7V6-UT5S4-RQ3P2"
VALID_HOME = "HOME1-23456-ABCDE-7F8G9"
EXPIRED_HOME = "OLD11-OLD22-OLD33-OLD44"
EOL_BUSINESS = "EOL01-EOL02-EOL03-EOL04"
LICENCES = f"""\
licence_key,product,version,holder,valid_until
{VALID_BUSINESS},Kaspersky Endpoint Security for Windows,12.1,Fjordvik Regnskap AS,2027-03-31
{EXPIRED_BUSINESS},Kaspersky Endpoint Security for Windows,12.6,Sundqvist Bygg AB,2025-10-31
{VALID_HOME},Kaspersky Plus,21.19,Ola Nordmann,2027-01-31
{EXPIRED_HOME.lower()},Kaspersky Plus,21.19,Kari Nordmann,2024-01-31
{EOL_BUSINESS},Kaspersky Endpoint Security for Windows,11.6,Granlund Elektro AB,2028-01-31
"""


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def rows(url: str) -> dict[str, list[tuple]]:
    """Every product and licence row, plus the records version."""
    db.upgrade(url)
    with db.engine_for(url).connect() as conn:
        data = {
            table.name: sorted(tuple(row) for row in conn.execute(sa.select(table)))
            for table in (db.Product.__table__, db.Licence.__table__)
        }
    data["version"] = records.records_version(url)
    return data


@pytest.fixture(scope="module")
def loaded(module_database_url, tmp_path_factory) -> str:
    """The records above, shared by the tests of this module that leave them unchanged
    (lookups, and imports that must fail: those check that nothing changed)."""
    directory = tmp_path_factory.mktemp("records")
    records.import_products(write(directory, "p.csv", PRODUCTS), module_database_url)
    records.import_licences(write(directory, "l.csv", LICENCES), module_database_url)
    return module_database_url


# ---------------------------------------------------------------- import


def test_import_good_files_then_again_changes_nothing(database_url, tmp_path):
    products = write(tmp_path, "p.csv", PRODUCTS)
    licences = write(tmp_path, "l.csv", LICENCES)

    first = records.import_products(products, database_url)
    assert (first.added, first.updated, first.unchanged) == (11, 0, 0)
    lic = records.import_licences(licences, database_url)
    assert (lic.added, lic.updated, lic.unchanged) == (5, 0, 0)
    before = rows(database_url)
    assert len(before["products"]) == 11 and len(before["licences"]) == 5
    assert ("OLD11-OLD22-OLD33-OLD44",) == tuple(  # keys are stored upper case
        k for (k, *_rest) in before["licences"] if k.startswith("OLD")
    )

    again = records.import_products(products, database_url)
    lic_again = records.import_licences(licences, database_url)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 11)
    assert (lic_again.added, lic_again.updated, lic_again.unchanged) == (0, 0, 5)
    assert not again.changed and not lic_again.changed
    assert rows(database_url) == before  # records_version included


def test_a_corrected_row_is_updated_and_bumps_the_records_version(database_url, tmp_path):
    records.import_products(write(tmp_path, "p.csv", PRODUCTS), database_url)
    version = records.records_version(database_url)
    corrected = PRODUCTS.replace(
        "Kaspersky Plus,21.19,home,2024-09-10,", "Kaspersky Plus,21.19,home,2024-09-10,2028-06-30"
    )
    extra = "Kaspersky Premium,21.19,home,2024-09-10,\n"
    result = records.import_products(write(tmp_path, "p2.csv", corrected + extra), database_url)

    assert (result.added, result.updated, result.unchanged) == (1, 1, 10)
    assert result.records_version != version
    assert records.records_version(database_url) == result.records_version
    status = records.lookup_version("Kaspersky Plus", "21.19", TODAY, database_url)
    assert status.support_ends == dt.date(2028, 6, 30)


def test_sample_records_import_cleanly(database_url):
    products = records.import_products(records.SAMPLE_PRODUCTS, database_url)
    licences = records.import_licences(records.SAMPLE_LICENCES, database_url)
    assert products.added >= 30 and licences.added >= 40
    stored = records.find_products(database_url)
    assert {r.segment for r in stored} == {"home", "business"}
    assert {r.status(TODAY) for r in stored} == {"supported", "end_of_life"}
    assert len({r.product for r in stored}) >= 10


BAD_PRODUCT_FILES = {
    "unknown segment": (
        PRODUCTS + "Kaspersky Plus,22.1,consumer,2025-01-01,\n",
        {13: "segment 'consumer' is not home or business"},
    ),
    "bad date": (
        PRODUCTS + "Kaspersky Plus,22.1,home,2025-13-01,\n",
        {13: "released '2025-13-01' is not a date (YYYY-MM-DD)"},
    ),
    "date in another format": (
        PRODUCTS.replace("2022-06-07", "07.06.2022"),
        {11: "released '07.06.2022' is not a date (YYYY-MM-DD)"},
    ),
    "missing column": (
        "product,version,segment,released\nKaspersky Plus,21.19,home,2024-09-10\n",
        {1: "missing column 'end_of_support'"},
    ),
    "empty file": ("", {1: "the file is empty"}),
    "header only": (PRODUCTS.splitlines()[0] + "\n", {1: "no rows below the header"}),
    "duplicate row": (
        PRODUCTS + "Kaspersky Plus,21.13,home,2023-05-16,2026-06-30\n",
        {13: "duplicate row: Kaspersky Plus 21.13 is already on line 2"},
    ),
    "released after end of support": (
        PRODUCTS + "Kaspersky Plus,22.1,home,2025-01-01,2024-01-01\n",
        {13: "released 2025-01-01 is after end_of_support 2024-01-01"},
    ),
    "extra field": (
        PRODUCTS + "Kaspersky Plus,22.1,home,2025-01-01,,oops\n",
        {13: "6 fields, expected 5"},
    ),
    "missing field": (PRODUCTS + "Kaspersky Plus,22.1,home\n", {13: "3 fields, expected 5"}),
    "not UTF-8": (
        PRODUCTS.encode() + "Kaspersky Plus,22.1,h\u00e5me,2025-01-01,\n".encode("latin-1"),
        {13: "not UTF-8"},
    ),
}


@pytest.mark.parametrize("case", BAD_PRODUCT_FILES, ids=list(BAD_PRODUCT_FILES))
def test_a_bad_products_file_imports_nothing_and_names_the_line(database_url, tmp_path, case):
    text, expected = BAD_PRODUCT_FILES[case]
    before = rows(database_url)

    with pytest.raises(records.ImportFailed) as failed:
        records.import_products(write(tmp_path, "bad.csv", text), database_url)

    assert {p.line for p in failed.value.problems} == set(expected)
    for problem in failed.value.problems:
        assert expected[problem.line] in problem.message
        assert str(problem).startswith(f"line {problem.line}: ")
    assert rows(database_url) == before  # nothing at all, not even the good rows


def test_a_bad_file_leaves_earlier_records_exactly_as_they_were(loaded, tmp_path):
    before = rows(loaded)
    changed = PRODUCTS.replace("2027-09-30", "2030-01-01")  # a good update...
    bad = changed + "Kaspersky Plus,22.1,home,yesterday,\n"  # ...and one bad row
    with pytest.raises(records.ImportFailed):
        records.import_products(write(tmp_path, "bad.csv", bad), loaded)
    assert rows(loaded) == before


def test_a_file_with_several_bad_rows_names_every_one(database_url, tmp_path):
    text = (
        "product,version,segment,released,end_of_support\n"
        "Kaspersky Plus,21.19,home,2024-09-10,\n"  # 2 good
        "Kaspersky Plus,21.20,homme,2024-09-10,\n"  # 3 segment
        ",21.21,home,2024-09-10,\n"  # 4 no product
        "Kaspersky Plus,21.22,home,2024-02-30,\n"  # 5 no such day
        "\n"  # 6 blank: skipped
        "Kaspersky Plus,21.19,home,2024-09-10,\n"  # 7 duplicate of 2
        '"Kaspersky Premium",21.19,business,2024-09-10,2023-01-01\n'  # 8 dates
        "Kaspersky Premium,21 19,home,2024-09-10,\n"  # 9 version
    )
    with pytest.raises(records.ImportFailed) as failed:
        records.import_products(write(tmp_path, "bad.csv", text), database_url)
    assert [p.line for p in failed.value.problems] == [3, 4, 5, 7, 8, 9]
    messages = dict((p.line, p.message) for p in failed.value.problems)
    assert "segment 'homme'" in messages[3]
    assert "product is empty" in messages[4]
    assert "'2024-02-30' is not a date" in messages[5]
    assert "already on line 2" in messages[7]
    assert "after end_of_support" in messages[8]
    assert "may hold only letters, digits, dots and dashes" in messages[9]
    assert "line 3: segment" in str(failed.value)
    assert records.find_products(database_url) == []


def test_a_product_spelled_in_another_case_than_the_records_is_refused(loaded, tmp_path):
    text = "product,version,segment,released,end_of_support\nkaspersky plus,22.1,home,2025-01-01,\n"
    with pytest.raises(records.ImportFailed) as failed:
        records.import_products(write(tmp_path, "p.csv", text), loaded)
    assert [str(p) for p in failed.value.problems] == [
        "line 2: product 'kaspersky plus' is spelled 'Kaspersky Plus' in the records"
    ]


BAD_LICENCE_ROWS = {
    "bad key": (
        "AB12C-3DE45-F6G7H-8JK9,Kaspersky Plus,21.19,Ola Nordmann,2027-01-01",
        "licence key ••••• -",
    ),  # fmt: skip
    "bad date": (
        "NEW01-NEW02-NEW03-NEW04,Kaspersky Plus,21.19,Ola Nordmann,2025-13-01",
        "valid_until '2025-13-01' is not a date (YYYY-MM-DD)",
    ),  # fmt: skip
    "unknown product": (
        "NEW01-NEW02-NEW03-NEW04,Kaspersky Plsu,21.19,Ola Nordmann,2027-01-01",
        "unknown product 'Kaspersky Plsu'",
    ),  # fmt: skip
    "unknown version": (
        "NEW01-NEW02-NEW03-NEW04,Kaspersky Plus,99.0,Ola Nordmann,2027-01-01",
        "unknown version '99.0' of Kaspersky Plus",
    ),  # fmt: skip
    "duplicate key": (
        f"{VALID_HOME.lower()},Kaspersky Plus,21.19,Per Hansen,2027-01-01",
        "duplicate row: licence key •••••-•••••-•••••-7F8G9 is already on line 4",
    ),  # fmt: skip
    "no holder": ("NEW01-NEW02-NEW03-NEW04,Kaspersky Plus,21.19,,2027-01-01", "holder is empty"),
}


@pytest.mark.parametrize("case", BAD_LICENCE_ROWS, ids=list(BAD_LICENCE_ROWS))
def test_a_bad_licences_file_imports_nothing_and_names_the_line(loaded, tmp_path, case):
    row, expected = BAD_LICENCE_ROWS[case]
    text = LICENCES + "NEW05-NEW06-NEW07-NEW08,Kaspersky Plus,21.19,Per Hansen,2027-01-01\n" + row
    before = rows(loaded)

    with pytest.raises(records.ImportFailed) as failed:
        records.import_licences(write(tmp_path, "bad.csv", text + "\n"), loaded)

    problems = failed.value.problems
    assert [p.line for p in problems] == [8]
    if case == "bad key":
        assert problems[0].message.startswith(
            "licence key •••••-•••••-•••••-8JK9 is not four groups"
        )
    else:
        assert expected in problems[0].message
    assert rows(loaded) == before
    assert records.lookup_licence("NEW05-NEW06-NEW07-NEW08", TODAY, loaded).status == "unknown"


def test_a_licence_for_a_product_not_yet_imported_is_refused_clearly(database_url, tmp_path):
    with pytest.raises(records.ImportFailed) as failed:
        records.import_licences(write(tmp_path, "l.csv", LICENCES), database_url)
    assert [p.line for p in failed.value.problems] == [2, 3, 4, 5, 6]
    assert all("import it with `bot import products` first" in p.message
               for p in failed.value.problems)  # fmt: skip


def test_no_message_ever_shows_a_key_in_full(loaded, tmp_path):
    text = (
        "licence_key,product,version,holder,valid_until\n"
        "SECRT-KEY12-ABCDE-77777,Kaspersky Plus,21.19,Ola Nordmann,someday\n"
        "SECRT-KEY12-ABCDE-7777,Kaspersky Plus,21.19,Ola Nordmann,2027-01-01\n"
        "SECRT-KEY12-ABCDE-88888,Kaspersky Plus,21.19,Ola Nordmann,2027-01-01\n"
        "secrt-key12-abcde-88888,Kaspersky Plus,21.19,Ola Nordmann,2027-01-01\n"
    )
    with pytest.raises(records.ImportFailed) as failed:
        records.import_licences(write(tmp_path, "l.csv", text), loaded)
    message = str(failed.value)
    assert [p.line for p in failed.value.problems] == [2, 3, 5]
    for secret in ("SECRT", "KEY12", "ABCDE", "secrt"):
        assert secret not in message
    assert "88888" in message  # the last group, so the row can be found
    status = records.lookup_licence(VALID_BUSINESS, TODAY, loaded)
    assert VALID_BUSINESS[:17] not in repr(status) and status.masked_key.endswith("-8JK9L")


# ---------------------------------------------------------------- mask_key


@pytest.mark.parametrize(
    "key, masked",
    [
        ("AB12C-3DE45-F6G7H-8JK9L", "•••••-•••••-•••••-8JK9L"),
        ("ab12c-3de45-f6g7h-8jk9l", "•••••-•••••-•••••-8JK9L"),
        ("AB12C3DE45F6G7H8JK9L", "•••••••••••••••8JK9L"),
        ("AB12C-3DE45", "•••••-3DE45"),
        ("", ""),
    ],
)
def test_mask_key_shows_only_the_last_group(key, masked):
    assert records.mask_key(key) == masked
    if len(key) > 5:
        assert key[:5].upper() not in records.mask_key(key)


# ---------------------------------------------------------------- lookups


@pytest.mark.parametrize(
    "product, version, status, record, support_ends, how",
    [
        ("Kaspersky Endpoint Security for Windows", "12.6", "supported", "12.6", None, "exact"),
        ("Kaspersky Endpoint Security for Windows", "12.1.0.506", "supported", "12.1",
         "2027-09-30", "covers"),
        ("kaspersky endpoint security for windows", "11.6.0.394", "end_of_life", "11.6",
         "2024-02-29", "covers"),
        ("Kaspersky Endpoint Security for Windows", "11", "end_of_life", "11.11",
         "2026-03-31", "family"),
        ("Kaspersky Endpoint Security for Windows", "v12.6", "supported", "12.6", None, "exact"),
        ("Kaspersky Security Center", "14", "end_of_life", "14", "2025-12-31", "exact"),
        ("Kaspersky Security Center", "14.2.0.26967", "supported", "14.2", "2027-06-30",
         "covers"),
        ("Kaspersky Internet Security", "2021", "supported", "21", "2027-12-31", "year"),
        ("Internet Security", "19", "end_of_life", "19", "2021-06-30", "exact"),
        ("KES", "12.1", "supported", "12.1", "2027-09-30", "exact"),
        ("Kaspersky Plus", "21.13", "end_of_life", "21.13", "2026-06-30", "exact"),
    ],
)  # fmt: skip
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
    assert found.lookup == {"product": "Kaspersky Plsu", "version": "21.19", "status": "unknown",
                            "support_ends": None}  # fmt: skip
    near = records.nearest_products("Endpoint Securty Windows", n=2, url=loaded)
    assert near[0] == "Kaspersky Endpoint Security for Windows" and len(near) == 2


def test_an_unknown_version_offers_the_nearest_versions(loaded):
    found = records.lookup_version("Kaspersky Endpoint Security for Windows", "12.5", TODAY, loaded)
    assert (found.status, found.reason, found.segment) == ("unknown", "unknown_version", "business")
    assert found.nearest == ("12.6", "12.1", "11.11")
    assert records.nearest_versions("Kaspersky Security Center", "13", url=loaded) == ["14", "14.2"]
    assert records.nearest_versions("No Such Product", "1", url=loaded) == []


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
        ("KES", "12.1", VALID_BUSINESS, "included", ("rules:4.5b", "rules:2.4"),
         "licence_valid", "valid"),
        ("KES", "12.6", VALID_BUSINESS, "included", ("rules:4.5b", "rules:2.4"),
         "licence_valid", "valid"),
        ("KES", "12.6", EXPIRED_BUSINESS, "not_supported", ("rules:4.5b", "rules:2.4"),
         "licence_expired", "expired"),
        ("KES", "12.6", None, "conditional", ("rules:4.5b", "rules:2.4"), "licence_needed",
         None),
        ("KES", "12.6", "AAAAA-BBBBB-CCCCC-DDDDD", "conditional", ("rules:4.5b", "rules:2.4"),
         "licence_unknown", "unknown"),
        ("Kaspersky Security Center", "14.2", VALID_BUSINESS, "conditional",
         ("rules:4.5b", "rules:2.4"), "licence_other_product", "valid"),
        # end of life wins over everything (rules:4.3.2 + kb101732:1.2)
        ("KES", "11.6.0.394", VALID_BUSINESS, "not_supported", ("rules:4.3.2", "kb101732:1.2"),
         "end_of_life", "valid"),
        (None, None, EOL_BUSINESS, "not_supported", ("rules:4.3.2", "kb101732:1.2"),
         "end_of_life", "valid"),
        ("Kaspersky Internet Security", "19", None, "not_supported",
         ("rules:4.3.2", "kb101732:1.2"), "end_of_life", None),
        # not enough known
        ("Kaspersky Plus", "30", None, "conditional", ("rules:4.3.2", "rules:4.5a"),
         "unknown_version", None),
        ("Kaspersky Nonesuch", "1", None, "conditional",
         ("rules:4.5a", "rules:4.5b", "rules:2.4"), "unknown_product", None),
    ],
)  # fmt: skip
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
