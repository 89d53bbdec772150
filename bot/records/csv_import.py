"""CSV files of records: import products and licences (all or nothing).

The files are those of answer-contract §3 (samples in content/records/). An
import validates the whole file first and names every bad row by its line
number (the header is line 1); a file with any bad row imports nothing. Rows
are upserted by their natural key ((product, version) for products, the key
for licences), so importing the same file twice changes nothing. Rows missing
from a file are kept: an import adds and corrects, it never deletes.

Each import that changes a row stores a new `records_version` in the meta
table, so long-running readers (the product matcher) notice new products with
one cheap query.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import difflib
import io
import re
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import db
from bot.records.keys import KEY, mask_key, normalise_key
from bot.records.versions import VERSION, parts, version_key
from bot.settings import CONTENT_DIR
from bot.text import fold

RECORDS_DIR = CONTENT_DIR / "records"
SAMPLE_PRODUCTS = RECORDS_DIR / "products.csv"
SAMPLE_LICENCES = RECORDS_DIR / "licences.csv"

SEGMENTS = ("home", "business")
PRODUCT_COLUMNS = ("product", "version", "segment", "released", "end_of_support")
LICENCE_COLUMNS = ("licence_key", "product", "version", "holder", "valid_until")
RECORDS_VERSION = "records_version"  # meta key
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
Row = dict[str, Any]  # one validated row, as the model's keyword arguments


@dataclass(frozen=True)
class Problem:
    """One bad row (or the file itself when line is 0)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class ImportFailed(Exception):
    """The file has bad rows; nothing was imported. `problems` names each one."""

    def __init__(self, path: Path | str, problems: list[Problem]):
        self.path = str(path)
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__(
            f"{self.path}: nothing was imported:\n" + "\n".join(f"  {p}" for p in self.problems)
        )


@dataclass(frozen=True)
class ImportResult:
    """What one import did; `records_version` is the one stored after it."""

    kind: str  # products | licences
    path: str
    added: int
    updated: int
    unchanged: int
    records_version: str

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)

    def summary(self) -> str:
        return (
            f"{self.kind}: {self.added} added, {self.updated} updated, {self.unchanged} unchanged"
        )


def read_rows(
    path: Path | str, columns: tuple[str, ...], problems: list[Problem]
) -> list[tuple[int, dict[str, str]]]:
    """(line, row) for every data row that has the right fields; problems for the rest."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        problems.append(Problem(0, f"cannot read {path}: {exc.strerror or exc}"))
        return []
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    text = raw.decode("utf-8", errors="surrogateescape")
    expected = ",".join(columns)
    if not text.strip():
        problems.append(Problem(1, f"the file is empty; expected the header row {expected}"))
        return []
    not_utf8 = set()
    for n, line in enumerate(re.split(r"\r\n|\r|\n", text), 1):
        bad = [ch for ch in line if "\udc80" <= ch <= "\udcff"]
        if bad:
            not_utf8.add(n)
            byte = ord(bad[0]) - 0xDC00
            problems.append(
                Problem(n, f"not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8")
            )
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        header = next(reader, [])
        header_line = reader.line_num
        names = [h.strip().lower() for h in header]
        if header_line in not_utf8:
            return []
        missing = [c for c in columns if c not in names]
        unknown = [h for h in names if h not in columns]
        doubled = sorted({h for h in names if h and names.count(h) > 1})
        for name in missing:
            problems.append(Problem(header_line, f"missing column '{name}' (expected {expected})"))
        for name in unknown:
            problems.append(Problem(header_line, f"unknown column '{name}' (expected {expected})"))
        for name in doubled:
            problems.append(Problem(header_line, f"column '{name}' appears twice"))
        if missing or unknown or doubled:
            return []
        previous = reader.line_num
        for row in reader:
            start, previous = previous + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if not_utf8.intersection(range(start, previous + 1)):
                continue  # already named
            if len(row) != len(names):
                problems.append(
                    Problem(
                        start,
                        f"{len(row)} fields, expected {len(names)} ({','.join(names)})",
                    )
                )
                continue
            rows.append((start, {n: cell.strip() for n, cell in zip(names, row, strict=True)}))
    except csv.Error as exc:
        problems.append(Problem(reader.line_num, f"not readable as CSV: {exc}"))
        return rows
    if not rows and not problems:
        problems.append(Problem(header_line, "no rows below the header: nothing to import"))
    return rows


def _date(value: str, name: str, errors: list[str], required: bool) -> dt.date | None:
    if not value:
        if required:
            errors.append(f"{name} is empty (a date YYYY-MM-DD is needed)")
        return None
    if _DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    errors.append(f"{name} {value!r} is not a date (YYYY-MM-DD)")
    return None


def clean_name(value: str) -> str:
    """Single spaces: a name is stored as written, not folded."""
    return " ".join(value.split())


def _version_errors(version: str, errors: list[str]) -> None:
    if not version:
        errors.append("version is empty")
    elif not VERSION.match(version):
        errors.append(f"version {version!r} may hold only letters, digits, dots and dashes")


def import_products(path: Path | str, url: str | None = None) -> ImportResult:
    """Validate the whole file, then add or update every row in one transaction."""
    problems: list[Problem] = []
    parsed: list[tuple[int, Row]] = []
    first_seen: dict[tuple[str, tuple[str, ...]], int] = {}
    spelling: dict[str, tuple[str, int]] = {}  # folded name -> (spelling, first line)
    for line, row in read_rows(path, PRODUCT_COLUMNS, problems):
        errors: list[str] = []
        product = clean_name(row["product"])
        version = row["version"]
        if not product:
            errors.append("product is empty")
        _version_errors(version, errors)
        segment = row["segment"].lower()
        if segment not in SEGMENTS:
            errors.append(f"segment {row['segment']!r} is not home or business")
        released = _date(row["released"], "released", errors, required=True)
        ends = _date(row["end_of_support"], "end_of_support", errors, required=False)
        if released and ends and released > ends:
            errors.append(f"released {released} is after end_of_support {ends}")
        if product:
            first = spelling.setdefault(fold(product), (product, line))
            if first[0] != product:
                errors.append(f"product {product!r} is spelled {first[0]!r} on line {first[1]}")
        natural = (fold(product), parts(version))  # 12.0 and 12 are the same version
        if product and version and natural in first_seen:
            errors.append(
                f"duplicate row: {product} {version} is already on line {first_seen[natural]}"
            )
        first_seen.setdefault(natural, line)
        if errors:
            problems.append(Problem(line, "; ".join(errors)))
        else:
            parsed.append(
                (
                    line,
                    dict(
                        product=product,
                        version=version,
                        segment=segment,
                        released=released,
                        end_of_support=ends,
                    ),
                )
            )

    db.upgrade(url)
    with db.session_scope(url) as session:
        stored = {(p.product, p.version): p for p in session.scalars(select(db.Product))}
        names = {fold(p): p for p, _ in stored}
        for line, row in parsed:
            known = names.get(fold(row["product"]))
            if known is not None and known != row["product"]:
                problems.append(
                    Problem(line, f"product {row['product']!r} is spelled {known!r} in the records")
                )
        if problems:
            raise ImportFailed(path, problems)
        added, updated, unchanged = _upsert(
            session, db.Product, stored, parsed, lambda row: (row["product"], row["version"])
        )
        version = _bump(session, added + updated)
    return ImportResult("products", str(path), added, updated, unchanged, version)


def import_licences(path: Path | str, url: str | None = None) -> ImportResult:
    """Validate the whole file (products must exist), then upsert it in one transaction."""
    problems: list[Problem] = []
    parsed: list[tuple[int, Row]] = []
    first_seen: dict[str, int] = {}
    for line, row in read_rows(path, LICENCE_COLUMNS, problems):
        errors: list[str] = []
        key = normalise_key(row["licence_key"])
        if not key:
            errors.append("licence_key is empty")
        elif not KEY.match(key):
            errors.append(
                f"licence key {mask_key(key)} is not four groups of five letters or digits "
                "joined by '-'"
            )
        elif key in first_seen:
            errors.append(
                f"duplicate row: licence key {mask_key(key)} is already on line {first_seen[key]}"
            )
        first_seen.setdefault(key, line)
        product = clean_name(row["product"])
        if not product:
            errors.append("product is empty")
        _version_errors(row["version"], errors)
        holder = clean_name(row["holder"])
        if not holder:
            errors.append("holder is empty")
        valid_until = _date(row["valid_until"], "valid_until", errors, required=True)
        if errors:
            problems.append(Problem(line, "; ".join(errors)))
        else:
            parsed.append(
                (
                    line,
                    dict(
                        licence_key=key,
                        product=product,
                        version=row["version"],
                        holder=holder,
                        valid_until=valid_until,
                    ),
                )
            )

    db.upgrade(url)
    with db.session_scope(url) as session:
        versions: dict[str, list[str]] = {}
        for p, v in session.execute(select(db.Product.product, db.Product.version)):
            versions.setdefault(p, []).append(v)
        spelled = {fold(p): p for p in versions}
        for line, row in parsed:
            spelling = spelled.get(fold(row["product"]))
            if spelling is None:
                near = difflib.get_close_matches(row["product"], list(versions), n=1, cutoff=0.6)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                problems.append(
                    Problem(
                        line,
                        f"unknown product {row['product']!r} (not in the product records{hint}); "
                        "import it with `bot import products` first",
                    )
                )
            elif row["version"] not in versions[spelling]:
                known = ", ".join(sorted(versions[spelling], key=version_key))
                problems.append(
                    Problem(
                        line,
                        f"unknown version {row['version']!r} of {spelling} "
                        f"(the product records have {known})",
                    )
                )
            else:
                row["product"] = spelling  # the stored spelling
        if problems:
            raise ImportFailed(path, problems)
        stored = {lic.licence_key: lic for lic in session.scalars(select(db.Licence))}
        added, updated, unchanged = _upsert(
            session, db.Licence, stored, parsed, lambda row: row["licence_key"]
        )
        version = _bump(session, added + updated)
    return ImportResult("licences", str(path), added, updated, unchanged, version)


def _upsert(
    session: Session,
    model: type[db.Base],
    stored: dict[Any, Any],
    parsed: list[tuple[int, Row]],
    key_of: Callable[[Row], Hashable],
) -> tuple[int, int, int]:
    """Add new rows, correct changed ones, leave the rest: (added, updated, unchanged)."""
    added = updated = unchanged = 0
    for _, row in parsed:
        record = stored.get(key_of(row))
        if record is None:
            session.add(model(**row))
            added += 1
        elif _differs(record, row):
            for key, value in row.items():
                setattr(record, key, value)
            updated += 1
        else:
            unchanged += 1
    return added, updated, unchanged


def _differs(record: object, row: Row) -> bool:
    return any(getattr(record, key) != value for key, value in row.items())


def _bump(session: Session, changes: int) -> str:
    """A new records_version when rows changed; the stored one otherwise."""
    stored = session.get(db.Meta, RECORDS_VERSION)
    if changes or stored is None:
        value = uuid.uuid4().hex
        session.merge(db.Meta(key=RECORDS_VERSION, value=value))
        return value
    return stored.value


def records_version(url: str | None = None) -> str | None:
    """The stored records version (one query); None before any import or schema."""
    try:
        with db.engine(url).connect() as conn:
            return conn.execute(
                select(db.Meta.value).where(db.Meta.key == RECORDS_VERSION)
            ).scalar()
    except (sa_exc.OperationalError, sa_exc.ProgrammingError):
        return None  # no meta table yet
