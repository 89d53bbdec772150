"""Product and licence records: import (answer-contract §3), lookups, entitlement.

Source: CSV files a deployment imports with `bot import products|licences FILE`
(samples in content/records/). An import validates the whole file first and names
every bad row by its line number (the header is line 1); a file with any bad
row imports nothing. Rows are upserted by their natural key ((product, version)
for products, the key for licences), so importing the same file twice changes
nothing. Rows missing from a file are kept: an import adds and corrects, it
never deletes.

Each import that changes a row stores a new `records_version` in the meta
table, so long-running readers (the product matcher in bot/facts.py) notice new
products with one cheap query.

Lookups return plain dataclasses; `Entitlement` applies the rules:

- end of life: rules:4.3.2 + kb101732:1.2, not supported, paid route
  support_renewal;
- home products: supported regardless of licence status (rules:4.5a);
- business products: a valid licence is needed (rules:4.5b, rules:2.4).

Version matching (`match_version`), most certain first:

1. exact: "11.6" is record 11.6 ("12.0" equals "12": trailing zeros are ignored);
2. covers: a record whose version is a leading part of the one asked for, the
   most specific winning: "11.6.0.394" is record 11.6, "14.2.0.26967" is 14.2
   even if 14 exists too;
3. family: a version less specific than the records ("11") is the NEWEST
   record of that family (11.11 of 11.6 … 11.11); the other members are listed
   in `alternatives` so a dialogue can ask when their statuses differ;
4. year: "2021" with no such record is tried as "21" (home products are sold
   as "Kaspersky Internet Security 2021", version 21).

Licence keys are secrets: nothing here logs or prints one; messages and
dataclass fields hold only `mask_key(key)`, which shows the last group.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import difflib
import io
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from bot import db
from bot.settings import CONTENT_DIR

RECORDS_DIR = CONTENT_DIR / "records"
SAMPLE_PRODUCTS = RECORDS_DIR / "products.csv"
SAMPLE_LICENCES = RECORDS_DIR / "licences.csv"
ALIASES = RECORDS_DIR / "aliases.csv"

SEGMENTS = ("home", "business")
PRODUCT_COLUMNS = ("product", "version", "segment", "released", "end_of_support")
LICENCE_COLUMNS = ("licence_key", "product", "version", "holder", "valid_until")
ALIAS_COLUMNS = ("alias", "product")
RECORDS_VERSION = "records_version"  # meta key

KEY = re.compile(r"^[A-Z0-9]{5}(?:-[A-Z0-9]{5}){3}$")
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2212"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_VERSION = re.compile(r"^[0-9A-Za-z]+(?:[.\-][0-9A-Za-z]+)*$")
MASK = "\u2022" * 5  # •••••

# rule ids (answer-contract §1) the entitlement rests on
END_OF_LIFE_RULES = ("rules:4.3.2", "kb101732:1.2")
HOME_RULES = ("rules:4.5a",)
BUSINESS_RULES = ("rules:4.5b", "rules:2.4")
END_OF_LIFE_SERVICE = "support_renewal"


# ---------------------------------------------------------------- keys


def normalise_key(key: str) -> str:
    """Upper case, unicode dashes as '-', no surrounding space (not validated)."""
    return key.strip().translate(_DASHES).upper()


def is_key(key: str) -> bool:
    """True if `key` is four groups of five letters or digits joined by '-'."""
    return bool(KEY.match(normalise_key(key)))


def mask_key(key: str) -> str:
    """The key with every group but the last hidden: •••••-•••••-•••••-AB12C.

    Safe for anything, malformed input included: at most the last five
    characters are ever shown.
    """
    groups = [g for g in re.split(r"[\s\-]+", normalise_key(key or "")) if g]
    if not groups:
        return ""
    last = groups[-1]
    shown = last[-5:]
    tail = "\u2022" * (len(last) - len(shown)) + shown
    return "-".join(["\u2022" * len(g) for g in groups[:-1]] + [tail])


# ---------------------------------------------------------------- import


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


def _read_csv(
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


def _name(value: str) -> str:
    return " ".join(value.split())


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def _version_errors(version: str, errors: list[str]) -> None:
    if not version:
        errors.append("version is empty")
    elif not _VERSION.match(version):
        errors.append(f"version {version!r} may hold only letters, digits, dots and dashes")


def import_products(path: Path | str, url: str | None = None) -> ImportResult:
    """Validate the whole file, then add or update every row in one transaction."""
    problems: list[Problem] = []
    parsed: list[tuple[int, dict]] = []
    first_seen: dict[tuple[str, tuple[str, ...]], int] = {}
    spelling: dict[str, tuple[str, int]] = {}  # folded name -> (spelling, first line)
    for line, row in _read_csv(path, PRODUCT_COLUMNS, problems):
        errors: list[str] = []
        product = _name(row["product"])
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
            first = spelling.setdefault(_fold(product), (product, line))
            if first[0] != product:
                errors.append(f"product {product!r} is spelled {first[0]!r} on line {first[1]}")
        natural = (_fold(product), _parts(version))  # 12.0 and 12 are the same version
        if product and version and natural in first_seen:
            errors.append(
                f"duplicate row: {product} {version} is already on line {first_seen[natural]}"
            )
        first_seen.setdefault(natural, line)
        if errors:
            problems.append(Problem(line, "; ".join(errors)))
        else:
            parsed.append((line, dict(product=product, version=version, segment=segment,
                                      released=released, end_of_support=ends)))  # fmt: skip

    db.upgrade(url)
    with db.session_scope(url) as session:
        stored = {(p.product, p.version): p for p in session.scalars(select(db.Product))}
        names = {_fold(p): p for p, _ in stored}
        for line, row in parsed:
            known = names.get(_fold(row["product"]))
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
    parsed: list[tuple[int, dict]] = []
    first_seen: dict[str, int] = {}
    for line, row in _read_csv(path, LICENCE_COLUMNS, problems):
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
        product = _name(row["product"])
        if not product:
            errors.append("product is empty")
        _version_errors(row["version"], errors)
        holder = _name(row["holder"])
        if not holder:
            errors.append("holder is empty")
        valid_until = _date(row["valid_until"], "valid_until", errors, required=True)
        if errors:
            problems.append(Problem(line, "; ".join(errors)))
        else:
            parsed.append((line, dict(licence_key=key, product=product, version=row["version"],
                                      holder=holder, valid_until=valid_until)))  # fmt: skip

    db.upgrade(url)
    with db.session_scope(url) as session:
        versions: dict[str, list[str]] = {}
        for p, v in session.execute(select(db.Product.product, db.Product.version)):
            versions.setdefault(p, []).append(v)
        spelled = {_fold(p): p for p in versions}
        for line, row in parsed:
            product = spelled.get(_fold(row["product"]))
            if product is None:
                near = difflib.get_close_matches(row["product"], list(versions), n=1, cutoff=0.6)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                problems.append(
                    Problem(
                        line,
                        f"unknown product {row['product']!r} (not in the product records{hint}); "
                        "import it with `bot import products` first",
                    )
                )
            elif row["version"] not in versions[product]:
                known = ", ".join(sorted(versions[product], key=version_key))
                problems.append(
                    Problem(
                        line,
                        f"unknown version {row['version']!r} of {product} "
                        f"(the product records have {known})",
                    )
                )
            else:
                row["product"] = product  # the stored spelling
        if problems:
            raise ImportFailed(path, problems)
        stored = {lic.licence_key: lic for lic in session.scalars(select(db.Licence))}
        added, updated, unchanged = _upsert(
            session, db.Licence, stored, parsed, lambda row: row["licence_key"]
        )
        version = _bump(session, added + updated)
    return ImportResult("licences", str(path), added, updated, unchanged, version)


def _upsert(session, model, stored: dict, parsed, key_of) -> tuple[int, int, int]:
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


def _differs(record, row: dict) -> bool:
    return any(getattr(record, key) != value for key, value in row.items())


def _bump(session, changes: int) -> str:
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
        with db.engine_for(url or _default_url()).connect() as conn:
            return conn.execute(
                select(db.Meta.value).where(db.Meta.key == RECORDS_VERSION)
            ).scalar()
    except (sa_exc.OperationalError, sa_exc.ProgrammingError):
        return None  # no meta table yet


def _default_url() -> str:
    from bot import settings

    return settings.load().database_url


# ---------------------------------------------------------------- aliases


def read_aliases(path: Path | str = ALIASES) -> tuple[dict[str, str], list[Problem]]:
    """{alias (folded): product} from an alias,product CSV, and the rows it skipped.

    Lenient: a bad row is skipped and reported, the rest are used, so a typo in
    the admin's alias list never stops the assistant.
    """
    problems: list[Problem] = []
    if not Path(path).exists():
        return {}, []
    aliases: dict[str, str] = {}
    for line, row in _read_csv(path, ALIAS_COLUMNS, problems):
        alias, product = _name(row["alias"]), _name(row["product"])
        if not alias or not product:
            problems.append(Problem(line, "alias and product must both be given"))
        else:
            aliases[_fold(alias)] = product
    return aliases, problems


# ---------------------------------------------------------------- lookups


@dataclass(frozen=True)
class ProductRecord:
    product: str
    version: str
    segment: str
    released: dt.date
    end_of_support: dt.date | None

    def status(self, today: dt.date | None = None) -> str:
        """supported, or end_of_life once the end_of_support day has passed."""
        today = today or dt.date.today()
        if self.end_of_support is not None and today > self.end_of_support:
            return "end_of_life"
        return "supported"


def version_key(version: str) -> tuple:
    """A sort key: numeric parts as numbers ("11.10" after "11.9")."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in _parts(version))


def _parts(version: str) -> tuple[str, ...]:
    parts = [
        (p.lstrip("0") or "0") if p.isdigit() else p.lower() for p in re.split(r"[.\-]", version)
    ]
    while len(parts) > 1 and parts[-1] == "0":
        parts.pop()  # 12.0 is 12
    return tuple(parts)


def find_products(url: str | None = None) -> list[ProductRecord]:
    """Every product record, by product name then version (oldest first)."""
    try:
        with db.session_scope(url) as session:
            rows = [
                ProductRecord(p.product, p.version, p.segment, p.released, p.end_of_support)
                for p in session.scalars(select(db.Product))
            ]
    except (sa_exc.OperationalError, sa_exc.ProgrammingError):
        return []  # no schema yet: no records
    return sorted(rows, key=lambda r: (r.product.casefold(), version_key(r.version)))


def product_names(records: list[ProductRecord]) -> list[str]:
    return sorted({r.product for r in records}, key=str.casefold)


def resolve_product(
    name: str | None, records: list[ProductRecord], aliases: dict[str, str] | None = None
) -> str | None:
    """The stored name for `name`: same words in any case, with or without
    "Kaspersky", or an alias from content/records/aliases.csv."""
    if not name or not name.strip():
        return None
    names = product_names(records)
    folded = {_fold(n): n for n in names}
    wanted = _fold(name)
    candidates = [wanted, f"kaspersky {wanted}"]
    for candidate in candidates:
        if candidate in folded:
            return folded[candidate]
    if aliases is None:
        aliases, _ = read_aliases()
    target = aliases.get(wanted)
    if target and _fold(target) in folded:
        return folded[_fold(target)]
    return None


def match_version(
    records: list[ProductRecord], asked: str
) -> tuple[ProductRecord | None, str | None]:
    """The record `asked` names and how: exact, covers, family, year (see module doc)."""
    asked = (asked or "").strip()
    asked = re.sub(r"^(?:v|ver|version|versjon|versionen|versjonen)\.?\s*", "", asked, flags=re.I)
    if not asked:
        return None, None
    wanted = _parts(asked)
    by_parts = [(r, _parts(r.version)) for r in records]
    exact = [r for r, parts in by_parts if parts == wanted]
    if exact:
        return exact[0], "exact"
    covering = [(len(p), r) for r, p in by_parts if len(p) < len(wanted) and wanted[: len(p)] == p]
    if covering:
        return max(covering, key=lambda c: c[0])[1], "covers"
    family = [r for r, p in by_parts if len(p) > len(wanted) and p[: len(wanted)] == wanted]
    if family:
        return max(family, key=lambda r: version_key(r.version)), "family"
    if re.fullmatch(r"20\d\d", asked):
        record, how = match_version(records, asked[2:])
        if record is not None and how in ("exact", "covers"):
            return record, "year"
    return None, None


@dataclass(frozen=True)
class VersionStatus:
    """What the records say about one product version."""

    product: str | None  # the stored name when known, else as asked
    version: str | None  # as asked
    status: str  # supported | end_of_life | unknown
    record_version: str | None = None  # the record matched
    match: str | None = None  # exact | covers | family | year
    segment: str | None = None  # home | business, when the product is known
    support_ends: dt.date | None = None
    released: dt.date | None = None
    reason: str | None = None  # for unknown: unknown_product | unknown_version | no_version
    alternatives: tuple[str, ...] = ()  # family: the other versions of it, newest first
    nearest: tuple[str, ...] = ()  # unknown: nearest products or versions, for buttons

    @property
    def known_product(self) -> bool:
        return self.segment is not None

    @property
    def lookup(self) -> dict:
        """answer-contract §2 `lookup` (without `licence`)."""
        return {
            "product": self.product,
            "version": self.record_version or self.version,
            "status": self.status,
            "support_ends": self.support_ends.isoformat() if self.support_ends else None,
        }


def lookup_version(
    product: str | None,
    version: str | None,
    today: dt.date | None = None,
    url: str | None = None,
) -> VersionStatus:
    """Status of `version` of `product`: supported, end_of_life (with the date) or unknown."""
    today = today or dt.date.today()
    records = find_products(url)
    name = resolve_product(product, records)
    if name is None:
        return VersionStatus(
            product=product,
            version=version,
            status="unknown",
            reason="unknown_product",
            nearest=tuple(_nearest_products(product or "", records, 3)),
        )
    mine = [r for r in records if r.product == name]
    segment = mine[-1].segment
    if not version or not version.strip():
        return VersionStatus(
            product=name,
            version=None,
            status="unknown",
            segment=segment,
            reason="no_version",
            nearest=tuple(r.version for r in reversed(mine[-3:])),
        )
    record, how = match_version(mine, version)
    if record is None:
        return VersionStatus(
            product=name,
            version=version,
            status="unknown",
            segment=segment,
            reason="unknown_version",
            nearest=tuple(_nearest_versions(version, mine, 3)),
        )
    alternatives: tuple[str, ...] = ()
    if how == "family":
        wanted = _parts(version.lstrip("vV"))
        alternatives = tuple(
            r.version
            for r in sorted(mine, key=lambda r: version_key(r.version), reverse=True)
            if r is not record and _parts(r.version)[: len(wanted)] == wanted
        )
    return VersionStatus(
        product=name,
        version=version,
        status=record.status(today),
        record_version=record.version,
        match=how,
        segment=record.segment,
        support_ends=record.end_of_support,
        released=record.released,
        alternatives=alternatives,
    )


def nearest_products(name: str, n: int = 3, url: str | None = None) -> list[str]:
    """Up to n product names closest to `name`, best first (for "did you mean" buttons)."""
    return _nearest_products(name, find_products(url), n)


def _nearest_products(name: str, records: list[ProductRecord], n: int) -> list[str]:
    wanted = _fold(name)
    words = set(wanted.split()) - {"kaspersky", "for"}

    def score(candidate: str) -> float:
        full = _fold(candidate)
        short = re.sub(r"^kaspersky ", "", full)
        ratio = max(difflib.SequenceMatcher(None, wanted, form).ratio() for form in (full, short))
        overlap = len(words & (set(full.split()) - {"kaspersky", "for"}))
        return ratio + 0.25 * overlap

    names = product_names(records)
    return sorted(names, key=lambda c: (-score(c), c.casefold()))[:n]


def nearest_versions(product: str, version: str, n: int = 3, url: str | None = None) -> list[str]:
    """Up to n recorded versions of `product` closest to `version`, best first."""
    records = find_products(url)
    name = resolve_product(product, records)
    if name is None:
        return []
    return _nearest_versions(version, [r for r in records if r.product == name], n)


def _nearest_versions(version: str, records: list[ProductRecord], n: int) -> list[str]:
    wanted = _parts((version or "").strip().lstrip("vV") or "0")

    def distance(record: ProductRecord) -> tuple:
        parts = _parts(record.version)
        shared = 0
        while shared < min(len(parts), len(wanted)) and parts[shared] == wanted[shared]:
            shared += 1
        gap = 0.0
        if shared < len(parts) and shared < len(wanted):
            a, b = parts[shared], wanted[shared]
            gap = abs(int(a) - int(b)) if a.isdigit() and b.isdigit() else 1e6
        newest_first = tuple(-x[1] if x[0] == 0 else 0 for x in version_key(record.version))
        return (-shared, gap, newest_first)

    return [r.version for r in sorted(records, key=distance)[:n]]


@dataclass(frozen=True)
class LicenceStatus:
    """What the records say about one licence key; the key itself only masked."""

    masked_key: str
    status: str  # valid | expired | unknown
    well_formed: bool
    product: str | None = None
    version: str | None = None
    segment: str | None = None
    holder: str | None = None
    valid_until: dt.date | None = None


def lookup_licence(key: str, today: dt.date | None = None, url: str | None = None) -> LicenceStatus:
    """valid (through valid_until), expired, or unknown (malformed or not on record)."""
    today = today or dt.date.today()
    normal = normalise_key(key or "")
    masked = mask_key(normal)
    if not KEY.match(normal):
        return LicenceStatus(masked, "unknown", well_formed=False)
    try:
        with db.session_scope(url) as session:
            row = session.execute(
                select(db.Licence, db.Product.segment)
                .join(
                    db.Product,
                    (db.Product.product == db.Licence.product)
                    & (db.Product.version == db.Licence.version),
                )
                .where(db.Licence.licence_key == normal)
            ).first()
            found = None
            if row is not None:
                lic, segment = row
                found = (lic.product, lic.version, segment, lic.holder, lic.valid_until)
    except (sa_exc.OperationalError, sa_exc.ProgrammingError):
        found = None
    if found is None:
        return LicenceStatus(masked, "unknown", well_formed=True)
    product, version, segment, holder, valid_until = found
    return LicenceStatus(
        masked_key=masked,
        status="valid" if today <= valid_until else "expired",
        well_formed=True,
        product=product,
        version=version,
        segment=segment,
        holder=holder,
        valid_until=valid_until,
    )


# ---------------------------------------------------------------- entitlement


@dataclass(frozen=True)
class Entitlement:
    """Whether standard support covers this product (version, licence), and why.

    `reason` is one of: end_of_life, home, licence_valid, licence_expired,
    licence_needed (no key given), licence_unknown (key not on record or
    malformed), licence_other_product, unknown_product, unknown_version.
    """

    verdict: str  # answer-contract §2 vocabulary
    rule_ids: tuple[str, ...]
    reason: str
    version: VersionStatus
    licence: LicenceStatus | None = None
    service: str | None = None  # the paid route (a service id of the rule base)

    @property
    def lookup(self) -> dict:
        """answer-contract §2 `lookup`: product, version, status, support_ends[, licence]."""
        data = self.version.lookup
        if self.licence is not None:
            data["licence"] = self.licence.status
        return data


def entitlement(
    product: str | None = None,
    version: str | None = None,
    key: str | None = None,
    today: dt.date | None = None,
    url: str | None = None,
) -> Entitlement:
    """Apply rules 4.3.2 / 4.5a / 4.5b / 2.4 to what is known.

    With only a key, the licence's own product and version are used. A licence
    covers every version of its product (a KES 11.6 licence covers KES 12.1).
    """
    today = today or dt.date.today()
    licence = lookup_licence(key, today, url) if key else None
    if licence is not None and licence.product is not None:
        if not product:
            product, version = licence.product, version or licence.version
    status = lookup_version(product, version, today, url)

    def result(verdict, rules, reason, service=None):
        return Entitlement(verdict, tuple(rules), reason, status, licence, service)

    if not status.known_product:
        return result("conditional", HOME_RULES + BUSINESS_RULES, "unknown_product")
    by_segment = HOME_RULES if status.segment == "home" else BUSINESS_RULES
    if status.status == "end_of_life":
        return result("not_supported", END_OF_LIFE_RULES, "end_of_life", END_OF_LIFE_SERVICE)
    if status.status == "unknown":  # the product is known, its version is not
        return result("conditional", ("rules:4.3.2",) + by_segment, "unknown_version")
    if status.segment == "home":
        return result("included", HOME_RULES, "home")
    if licence is None:
        return result("conditional", BUSINESS_RULES, "licence_needed")
    if licence.status == "unknown":
        return result("conditional", BUSINESS_RULES, "licence_unknown")
    if licence.product != status.product:
        return result("conditional", BUSINESS_RULES, "licence_other_product")
    if licence.status == "expired":
        return result("not_supported", BUSINESS_RULES, "licence_expired")
    return result("included", BUSINESS_RULES, "licence_valid")
