"""`bot import products|licences` and `bot records products|licence|version`.

Product and licence records (answer-contract.md §3). `bot.records` is imported
when one of these commands runs, so the other commands start without it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from bot import settings

if TYPE_CHECKING:
    from bot import records


def _import(args: argparse.Namespace) -> int:
    """Load a CSV file of products or licences: all or nothing, every bad row named."""
    from bot import records

    load = records.import_products if args.kind == "products" else records.import_licences
    try:
        result = load(args.file, settings.load().database_url)
    except records.ImportFailed as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print("Nothing was imported.", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"cannot use the database: {exc}. Check BOT_DATABASE_URL.", file=sys.stderr)
        print("Nothing was imported.", file=sys.stderr)
        return 1
    state = "" if result.changed else " (nothing changed)"
    print(f"Imported {result.summary()}{state}.")
    return 0


def _records_products(args: argparse.Namespace) -> int:
    """Every product version and its support status today, as a table or JSON."""
    from bot import records

    rows = records.find_products(settings.load().database_url)
    if args.json:
        data = [
            {
                "product": r.product,
                "version": r.version,
                "segment": r.segment,
                "released": r.released.isoformat(),
                "end_of_support": r.end_of_support.isoformat() if r.end_of_support else None,
                "status": r.status(),
            }
            for r in rows
        ]
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not rows:
        print("No product records: `bot import products FILE.csv` loads some.", file=sys.stderr)
        return 1
    width = max(len(r.product) for r in rows)
    print(
        f"{'product':<{width}}  {'version':<8} {'segment':<9} {'released':<10}  "
        f"{'support ends':<12}  status"
    )
    for r in rows:
        ends = r.end_of_support.isoformat() if r.end_of_support else "-"
        print(
            f"{r.product:<{width}}  {r.version:<8} {r.segment:<9} {r.released.isoformat()}  "
            f"{ends:<12}  {r.status()}"
        )
    return 0


def _print_entitlement(ent: records.Entitlement) -> None:
    print(f"Verdict: {ent.verdict} ({ent.reason}); rules: {', '.join(ent.rule_ids)}")
    if ent.service:
        print(f"Paid route: {ent.service}")
    print(f"Lookup: {json.dumps(ent.lookup, ensure_ascii=False)}")


def _records_licence(args: argparse.Namespace) -> int:
    """A licence's status and entitlement; the key only ever shown masked."""
    from bot import records

    url = settings.load().database_url
    licence = records.lookup_licence(args.key, url=url)
    if not licence.well_formed:
        print(
            f"{licence.masked_key} is not a licence key (four groups of five letters or "
            "digits joined by '-')",
            file=sys.stderr,
        )
        return 1
    if licence.status == "unknown":
        print(f"Licence {licence.masked_key}: not on record.", file=sys.stderr)
        return 1
    until = licence.valid_until.isoformat() if licence.valid_until else "?"
    print(f"Licence {licence.masked_key}: {licence.status}, valid until {until}")
    print(f"Product: {licence.product} {licence.version} ({licence.segment})")
    print(f"Holder:  {licence.holder}")
    _print_entitlement(records.entitlement(key=args.key, url=url))
    return 0


def _records_version(args: argparse.Namespace) -> int:
    """A product version's status and entitlement, or the nearest known names."""
    from bot import records

    url = settings.load().database_url
    status = records.lookup_version(args.product, args.version, url=url)
    if status.status == "unknown":
        what = {"unknown_product": "no such product", "unknown_version": "no such version"}
        near = f"; nearest: {', '.join(status.nearest)}" if status.nearest else ""
        print(
            f"{args.product} {args.version}: {what.get(status.reason or '', 'unknown')}{near}",
            file=sys.stderr,
        )
        return 1
    ends = status.support_ends.isoformat() if status.support_ends else "no end date set"
    print(
        f"{status.product} {status.record_version} ({status.segment}, matched {status.match}): "
        f"{status.status}; support ends: {ends}"
    )
    if status.alternatives:
        print(f"Also in this family: {', '.join(status.alternatives)}")
    _print_entitlement(records.entitlement(status.product, args.version, url=url))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `import` and `records` to the top-level parser."""
    imp = sub.add_parser("import", help="load product or licence records from a CSV file")
    imp.add_argument("kind", choices=("products", "licences"), help="which records the file holds")
    imp.add_argument("file", help="UTF-8 CSV with a header row (answer-contract.md §3)")
    imp.set_defaults(func=_import)

    rec = sub.add_parser("records", help="read the product and licence records")
    rec_sub = rec.add_subparsers(dest="action", required=True)
    prods = rec_sub.add_parser("products", help="every product version and its status today")
    prods.add_argument("--json", action="store_true", help="every field, as JSON")
    prods.set_defaults(func=_records_products)
    lic = rec_sub.add_parser("licence", help="a licence's status (the key is shown masked)")
    lic.add_argument("key", help="XXXXX-XXXXX-XXXXX-XXXXX")
    lic.set_defaults(func=_records_licence)
    ver = rec_sub.add_parser("version", help="a product version's status and entitlement")
    ver.add_argument("product", help='a name or abbreviation, e.g. "KES" (quote names)')
    ver.add_argument("version", help="e.g. 11.6.0.394")
    ver.set_defaults(func=_records_version)
