"""Shared by the service-request tests: a filled-in form, licence records to
check keys against, and the stored rows read back without the package."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from bot import db, records
from bot import service_requests as sr

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


def with_licences(url: str, tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text(PRODUCTS, encoding="utf-8")
    (tmp_path / "l.csv").write_text(LICENCES, encoding="utf-8")
    records.import_products(tmp_path / "p.csv", url)
    records.import_licences(tmp_path / "l.csv", url)


def stored_rows(url: str) -> list[dict]:
    with db.engine_for(url).connect() as conn:
        if not sa.inspect(conn).has_table("service_requests"):
            return []
        table = db.ServiceRequest.__table__
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.id))]


def file_form(url: str, conversation: str = "conv-1", **changes) -> sr.FiledRequest:
    return sr.file_request(
        {**FORM, **changes}, conversation_id=conversation, language="nb", url=url
    )
