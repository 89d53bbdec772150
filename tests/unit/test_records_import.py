"""Importing product and licence records on real databases: all or nothing,
idempotent, every bad row named, no key shown in full; the alias file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot import records
from tests.unit.records_data import (
    LICENCES,
    PRODUCTS,
    TODAY,
    VALID_BUSINESS,
    VALID_HOME,
    load,
    rows,
    write,
)


@pytest.fixture(scope="module")
def loaded(module_database_url, tmp_path_factory) -> str:
    """The records of records_data, shared by the tests of this module that leave
    them unchanged (imports that must fail: those check that nothing changed)."""
    return load(module_database_url, tmp_path_factory.mktemp("records"))


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
    ),
    "bad date": (
        "NEW01-NEW02-NEW03-NEW04,Kaspersky Plus,21.19,Ola Nordmann,2025-13-01",
        "valid_until '2025-13-01' is not a date (YYYY-MM-DD)",
    ),
    "unknown product": (
        "NEW01-NEW02-NEW03-NEW04,Kaspersky Plsu,21.19,Ola Nordmann,2027-01-01",
        "unknown product 'Kaspersky Plsu'",
    ),
    "unknown version": (
        "NEW01-NEW02-NEW03-NEW04,Kaspersky Plus,99.0,Ola Nordmann,2027-01-01",
        "unknown version '99.0' of Kaspersky Plus",
    ),
    "duplicate key": (
        f"{VALID_HOME.lower()},Kaspersky Plus,21.19,Per Hansen,2027-01-01",
        "duplicate row: licence key •••••-•••••-•••••-7F8G9 is already on line 4",
    ),
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
    assert all(
        "import it with `bot import products` first" in p.message for p in failed.value.problems
    )


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


def test_sample_alias_file_names_only_known_products():
    aliases, problems = records.read_aliases(records.ALIASES)
    assert problems == []
    sample = Path(records.SAMPLE_PRODUCTS).read_text(encoding="utf-8").splitlines()[1:]
    names = {line.split(",")[0] for line in sample}
    assert set(aliases.values()) <= names
