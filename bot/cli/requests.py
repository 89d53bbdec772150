"""`bot requests list|show|export|set-status|notify|routing`: paid-service requests.

Each action takes the service-requests module, the database URL and the parsed
arguments; `_call` runs it and turns the expected failures (no such request, a
file that cannot be written, an unusable database) into one line on stderr and
exit code 1. Licence keys are only ever printed masked (the records do that).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from sqlalchemy.exc import SQLAlchemyError

from bot import settings
from bot.cli import errors

Action = Callable[[ModuleType, str, argparse.Namespace], int]


def _call(action: Action, args: argparse.Namespace) -> int:
    """Run one `bot requests` action with one-line errors and exit codes."""
    from bot import service_requests as sr

    try:
        return action(sr, settings.load().database_url, args)
    except sr.RequestNotFound:
        print(
            f"No service request {args.reference!r} (`bot requests list` shows them).",
            file=sys.stderr,
        )
        return 1
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        return errors.database_unusable(exc)


def _handler(action: Action) -> Callable[[argparse.Namespace], int]:
    return lambda args: _call(action, args)


def _list(sr: ModuleType, url: str, args: argparse.Namespace) -> int:
    """Requests oldest first, as a table or JSON; none is not an error."""
    rows = sr.list_requests(args.queue, args.status, url)
    if args.json:
        json.dump([r.record() for r in rows], sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not rows:
        print(
            "No service requests" + (" match." if args.queue or args.status else "."),
            file=sys.stderr,
        )
        return 0
    print(
        f"{'reference':<14}  {'created (UTC)':<16}  {'queue':<21}  {'status':<11}  "
        f"{'service':<21}  {'country':<7}  name"
    )
    for r in rows:
        created = r.created_at.strftime("%Y-%m-%d %H:%M")
        print(
            f"{r.reference:<14}  {created:<16}  {r.queue:<21}  {r.status:<11}  "
            f"{r.service:<21}  {r.country:<7}  {textwrap.shorten(r.name, 40)}"
        )
    return 0


def _show(sr: ModuleType, url: str, args: argparse.Namespace) -> int:
    """Every field of one request, the description last and indented."""
    record = sr.get_request(args.reference, url).record()
    width = max(len(k) for k in record)
    for key, value in record.items():
        if key == "description":
            continue
        print(f"{key + ':':<{width + 1}}  {'-' if value is None else value}")
    print("description:")
    print(textwrap.indent(record["description"], "  "))
    return 0


def _export(sr: ModuleType, url: str, args: argparse.Namespace) -> int:
    """Every (matching) request as CSV or JSON, to stdout or --out."""
    text = sr.export_requests(args.format, args.queue, args.status, url)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8", newline="")
        count = len(sr.list_requests(args.queue, args.status, url))
        print(f"Wrote {count} request(s) to {args.out}.", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _set_status(sr: ModuleType, url: str, args: argparse.Namespace) -> int:
    stored = sr.set_status(args.reference, args.status, url)
    print(f"{stored.reference}: {stored.status}")
    return 0


def _notify(sr: ModuleType, url: str, args: argparse.Namespace) -> int:
    """Send a request to the webhook again; exit 1 unless it was delivered."""
    stored = sr.get_request(args.reference, url)
    if sr.webhook_url() is None:
        print("No webhook: set BOT_REQUESTS_WEBHOOK_URL.", file=sys.stderr)
        return 1
    result = sr.notify(stored.reference, url=url)
    print(f"{stored.reference}: webhook {result}")
    return 0 if result == "delivered" else 1


def _routing(sr: ModuleType, _url: str, _args: argparse.Namespace) -> int:
    """Check the routing table; print it, or every problem and exit 1."""
    path = sr.routing_file()
    problems = sr.check_routing(path)
    if problems:
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        print(
            "The routing table has problems; no request can be filed until they are fixed.",
            file=sys.stderr,
        )
        return 1
    print(f"{path}")
    for row in sr.read_routing(path):
        queue = row.queue or "(not offered)"
        note = f"  # {row.note}" if row.note else ""
        print(f"  {row.service:<22} {row.country:<3} {queue:<22}{note}".rstrip())
    return 0


def sr_queues() -> tuple[str, ...]:
    """The queues services.yml names: the choices of --queue, read from the rule base
    files when the parser is built (no database, so `bot --help` never opens one)."""
    from bot.service_requests import paid_services

    return paid_services.from_files().queues


def register(sub: argparse._SubParsersAction) -> None:
    """Add `requests` and its actions to the top-level parser."""
    from bot.service_requests.store import STATUSES

    queues = sr_queues()
    req = sub.add_parser("requests", help="paid-service requests filed by the assistant")
    req_sub = req.add_subparsers(dest="action", required=True)
    rlist = req_sub.add_parser("list", help="requests, oldest first (licence keys masked)")
    rlist.add_argument("--queue", choices=queues)
    rlist.add_argument("--status", choices=STATUSES)
    rlist.add_argument("--json", action="store_true", help="every field, as JSON")
    rlist.set_defaults(func=_handler(_list))
    rshow = req_sub.add_parser("show", help="one request, every field (licence key masked)")
    rshow.add_argument("reference", help="e.g. SR-2026-000042")
    rshow.set_defaults(func=_handler(_show))
    rexp = req_sub.add_parser("export", help="every request as CSV or JSON (keys masked)")
    rexp.add_argument("--format", choices=("csv", "json"), required=True)
    rexp.add_argument("--out", help="write to this file (default: stdout)")
    rexp.add_argument("--queue", choices=queues)
    rexp.add_argument("--status", choices=STATUSES)
    rexp.set_defaults(func=_handler(_export))
    rset = req_sub.add_parser("set-status", help="move a request to new, in_progress or closed")
    rset.add_argument("reference")
    rset.add_argument("status", choices=STATUSES)
    rset.set_defaults(func=_handler(_set_status))
    rnot = req_sub.add_parser("notify", help="send a request to the webhook again")
    rnot.add_argument("reference")
    rnot.set_defaults(func=_handler(_notify))
    rrout = req_sub.add_parser("routing", help="check and print the routing table")
    rrout.set_defaults(func=_handler(_routing))
