"""Records shared by the records tests: a small product and licence table,
the keys in it, and helpers to write files and read every stored row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

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


def load(url: str, directory: Path) -> str:
    """PRODUCTS and LICENCES imported into the database at `url`."""
    records.import_products(write(directory, "p.csv", PRODUCTS), url)
    records.import_licences(write(directory, "l.csv", LICENCES), url)
    return url
