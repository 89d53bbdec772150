"""Where a request goes: the routing table (content/routing.csv, or the file
BOT_ROUTING_FILE names) maps a service, or a clause routed differently from
its service, and a country to a queue.

Data, not code: the file is read at every call, so an edit is live at once.
A country is an ISO 3166-1 alpha-2 code or `*` for every other country; an
empty queue means "not offered in that country" (rules:5, kb101732:3: the
catalogue varies by region and local provider). Which row wins: clause +
country, service + country, clause + `*`, service + `*`; no row at all means
not offered. A table with any bad row routes nothing (RoutingError names each
bad line); `bot requests routing` checks it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot import settings
from bot.service_requests import paid_services
from bot.service_requests.countries import CODES, country_code
from bot.settings import CONTENT_DIR

ROUTING_FILE = CONTENT_DIR / "routing.csv"  # the default; BOT_ROUTING_FILE overrides it
ROUTING_COLUMNS = ("service", "country", "queue", "note")
ANY_COUNTRY = "*"
CLAUSE_ID = re.compile(r"^[a-z0-9]+:[0-9]+(?:\.[0-9]+)*[a-z]?$")


def routing_file() -> Path:
    """The routing table: BOT_ROUTING_FILE, else content/routing.csv (read at call time)."""
    return settings.load().routing_file


class RoutingError(Exception):
    """The routing table cannot be used; `problems` names each bad line."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(
            f"{self.path}: the routing table has problems:\n"
            + "\n".join(f"  {p}" for p in problems)
        )


class UnknownCountry(ValueError):
    code = "country_unknown"


class UnknownService(ValueError):
    code = "service_unknown"


@dataclass(frozen=True)
class RoutingRow:
    line: int
    service: str  # a service id, or a clause id
    country: str  # ISO code or *
    queue: str | None  # None: not offered
    note: str


@dataclass(frozen=True)
class Route:
    """Where a request for `service` from `country` goes.

    `queue` is None and `offered` False when the service (or the clause) is not
    offered there; `alternatives` then lists the services that are offered in
    that country (services.yml order). `note` is the deciding row's note (for the
    team, not for users).
    """

    service: str
    country: str
    queue: str | None
    offered: bool
    alternatives: tuple[str, ...] = ()
    note: str = ""
    clause: str | None = None


def read_routing(path: Path | str | None = None, *, url: str | None = None) -> list[RoutingRow]:
    """Every row of the routing table; RoutingError if any line is bad. Services
    and queues are checked against the rule base of database `url`."""
    path = Path(path or routing_file())
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutingError(path, [f"cannot read the file: {exc}"]) from None
    # comment lines become blank lines, so csv line numbers stay the file's
    lines = ["" if line.lstrip().startswith("#") else line for line in text.split("\n")]
    reader = csv.reader(io.StringIO("\n".join(lines), newline=""))
    services = paid_services.current(url)
    known, known_queues = set(services.service_ids), services.queues
    problems: list[str] = []
    rows: list[RoutingRow] = []
    header: list[str] | None = None
    seen: dict[tuple[str, str], int] = {}
    try:
        previous = 0
        for cells in reader:
            line, previous = previous + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip().lower() for c in cells]
                if tuple(header) != ROUTING_COLUMNS:
                    problems.append(
                        f"line {line}: the header must be {','.join(ROUTING_COLUMNS)}, "
                        f"not {','.join(header)}"
                    )
                    break
                continue
            if len(cells) != len(ROUTING_COLUMNS):
                problems.append(f"line {line}: {len(cells)} fields, expected 4")
                continue
            service, country, queue, note = (c.strip() for c in cells)
            errors = []
            if service not in known and not CLAUSE_ID.match(service):
                errors.append(
                    f"unknown service {service!r} (a services.yml id or a clause id like "
                    "rules:4.2.5)"
                )
            country = country.upper()
            if country != ANY_COUNTRY and country not in CODES:
                errors.append(f"country {country!r} is not an ISO 3166-1 alpha-2 code or *")
            if queue and queue not in known_queues:
                errors.append(f"queue {queue!r} is not one of {', '.join(known_queues)} (or empty)")
            if (service, country) in seen:
                errors.append(f"{service},{country} is already on line {seen[service, country]}")
            seen.setdefault((service, country), line)
            if errors:
                problems.append(f"line {line}: " + "; ".join(errors))
            else:
                rows.append(RoutingRow(line, service, country, queue or None, note))
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: not readable as CSV: {exc}")
    if header is None and not problems:
        problems.append(f"no header row ({','.join(ROUTING_COLUMNS)})")
    if problems:
        raise RoutingError(path, problems)
    return rows


def check_routing(path: Path | str | None = None, *, url: str | None = None) -> list[str]:
    """Problems with the routing table, including clause ids missing from the rule
    base or without a paid service (empty list: all good). For `bot requests routing`."""
    try:
        rows = read_routing(path, url=url)
    except RoutingError as exc:
        return exc.problems
    services = paid_services.current(url)
    problems = []
    for row in rows:
        if row.service in services.services:
            continue
        if row.service not in services.clause_services:
            problems.append(f"line {row.line}: no clause {row.service!r} in the rule base")
        elif not services.clause_services[row.service]:
            problems.append(f"line {row.line}: clause {row.service} names no paid service")
    return problems


def _decide(
    rows: Sequence[RoutingRow], service: str, country: str, clause: str | None
) -> RoutingRow | None:
    table = {(r.service, r.country): r for r in rows}
    keys = [(service, country), (service, ANY_COUNTRY)]
    if clause:
        keys = [
            (clause, country),
            (service, country),
            (clause, ANY_COUNTRY),
            (service, ANY_COUNTRY),
        ]
    for key in keys:
        if key in table:
            return table[key]
    return None


def route(
    service: str,
    country: str,
    clause: str | None = None,
    *,
    path: Path | str | None = None,
    url: str | None = None,
) -> Route:
    """Where a request for `service` (optionally prompted by `clause`) from `country`
    (an ISO code or a name, see `country_code`) goes, read from the routing table now.

    Raises UnknownCountry / UnknownService (ValueErrors) and RoutingError.
    """
    code = country_code(country)
    if code is None:
        raise UnknownCountry(f"unknown country {country!r}: give a country name or ISO code")
    services = paid_services.service_ids(url)
    if service not in services:
        raise UnknownService(f"unknown service {service!r} (one of {', '.join(services)})")
    rows = read_routing(path, url=url)
    row = _decide(rows, service, code, clause)
    if row is not None and row.queue:
        return Route(service, code, row.queue, True, (), row.note, clause)
    alternatives = []
    for other in services:
        found = _decide(rows, other, code, None)
        if found is not None and found.queue and (other != service or clause):
            alternatives.append(other)
    return Route(service, code, None, False, tuple(alternatives), row.note if row else "", clause)
