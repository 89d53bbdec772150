"""Lookups in the records: products, a version's support status, a licence, the nearest names.

Lookups return plain dataclasses and never fail on a database without the
records' tables (no import yet): they answer "unknown". Version matching is
in bot.records.versions.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from bot import db
from bot.records.aliases import read_aliases
from bot.records.keys import KEY, mask_key, normalise_key
from bot.records.versions import family_of, match_version, nearest_versions, version_key
from bot.text import fold

VENDOR = "kaspersky"  # every product name may be written with or without it


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


def resolve_product(name: str | None, records: list[ProductRecord]) -> str | None:
    """The stored name for `name`: same words in any case, with or without
    "Kaspersky", or an alias from content/records/aliases.csv."""
    if not name or not name.strip():
        return None
    names = product_names(records)
    folded = {fold(n): n for n in names}
    wanted = fold(name)
    candidates = [wanted, f"{VENDOR} {wanted}"]
    for candidate in candidates:
        if candidate in folded:
            return folded[candidate]
    aliases, _ = read_aliases()  # read at each lookup: an admin's edit is live
    target = aliases.get(wanted)
    if target and fold(target) in folded:
        return folded[fold(target)]
    return None


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
    def lookup(self) -> dict[str, Any]:
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
            nearest=tuple(nearest_versions(version, mine, 3)),
        )
    alternatives = family_of(mine, version, record) if how == "family" else ()
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
    wanted = fold(name)
    ignored = {VENDOR, "for"}  # in every name: they say nothing about which one
    words = set(wanted.split()) - ignored

    def score(candidate: str) -> float:
        full = fold(candidate)
        short = full.removeprefix(f"{VENDOR} ")
        ratio = max(difflib.SequenceMatcher(None, wanted, form).ratio() for form in (full, short))
        overlap = len(words & (set(full.split()) - ignored))
        return ratio + 0.25 * overlap

    names = product_names(records)
    return sorted(names, key=lambda c: (-score(c), c.casefold()))[:n]


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
