"""Paid-service requests: routing, validation, filing, reading, and the team's webhook.

When an answer is "not in standard support, but it can be bought" (verdict
`paid`), the dialogue offers to pass the request to the right team. This module
is everything under that form; it has no Rasa in it.

Routing (`route`) comes from data, not code: content/routing.csv (or the file named
by BOT_ROUTING_FILE) maps a service id of content/rulebase/services.yml, or a clause
id routed differently from its service, and a country (ISO 3166-1 alpha-2, or
`*` for every other country) to a queue; an empty queue means "not offered in
that country" (rules:5, kb101732:3: the catalogue varies by region and local
provider). The file is read at every call, so an edit is live at once. Which row
wins: clause + country, service + country, clause + `*`, service + `*`; no row
at all means not offered. A table with any bad row routes nothing
(RoutingError names each bad line); `bot requests routing` checks it.

Validation (`validate_field`) returns a cleaned value and a stable problem code
(PROBLEM_CODES); the dialogue maps codes to messages in en/nb/sv. Every text
field: surrounding space stripped, NFC; control characters (a newline is allowed
in the description only), markup (tags, `javascript:` URLs, encoded brackets),
empty and over-long values are refused. Only `licence_key` touches the database
(the key is checked against the licence records; an unknown key is the soft
problem `key_unknown`, returned WITH the cleaned key, so the caller decides).

Filing (`file_request`) validates every field first (RequestInvalid lists every
problem; nothing is stored), routes, and stores the request in one transaction
with a reference SR-YYYY-NNNNNN (UTC year of filing; a per-year sequence kept in
service_request_counters and bumped in the same transaction, so it is safe
under concurrency on SQLite and PostgreSQL). Filing is idempotent: the same
idempotency key (by default `idempotency_key_for(conversation_id, fields)`, a hash
of the conversation and the normalised fields) files one request, even when two
confirmations race (the unique constraint decides; the loser re-reads).

Licence keys are stored in full (the team needs them) but never printed, logged
or sent in full: every reader here (`StoredRequest.record`, exports, the webhook
payload, repr) holds `records.mask_key(key)`.

The webhook (`notify`, `notify_in_background`): after filing, the request (key
masked) is POSTed as JSON to BOT_REQUESTS_WEBHOOK_URL, retried with exponential
back-off; when every attempt fails the request stays stored, webhook_status
becomes `failed` and a warning names the reference. `notify` never raises.

Environment read here (until bot/settings.py carries them):
BOT_ROUTING_FILE (default content/routing.csv), BOT_REQUESTS_WEBHOOK_URL (unset: no
webhook, webhook_status `none`).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import http.client
import io
import json
import logging
import re
import threading
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, update

from bot import db, records, settings
from bot.contract import LANGS
from bot.rulebase import RULEBASE_DIR
from bot.settings import CONTENT_DIR

logger = logging.getLogger(__name__)

ROUTING_FILE = CONTENT_DIR / "routing.csv"
SERVICES_FILE = RULEBASE_DIR / "services.yml"
ROUTING_COLUMNS = ("service", "country", "queue", "note")
ANY_COUNTRY = "*"

FIELDS = ("service", "name", "email", "company", "country", "licence_key", "description")
REQUIRED = ("service", "name", "email", "country", "description")
OPTIONAL = ("company", "licence_key")
MAX_LENGTH = {
    "service": 64,
    "name": 100,
    "email": 254,
    "company": 120,
    "country": 60,
    "licence_key": 40,
    "description": 1000,
}
MIN_DESCRIPTION = 5

STATUSES = ("new", "in_progress", "closed")
WEBHOOK_STATUSES = ("none", "pending", "delivered", "failed")
DELAYS = (0.5, 1.0, 2.0)  # between the 4 webhook attempts

PROBLEM_CODES = (
    "empty",  # a required field is missing or blank
    "not_text",  # not a string
    "too_long",
    "too_short",  # description under MIN_DESCRIPTION characters
    "control_chars",
    "markup",
    "name_invalid",  # a name holds something other than letters, space, ' - .
    "email_malformed",
    "country_unknown",
    "service_unknown",
    "key_malformed",
    "key_unknown",  # well formed, not in the licence records (soft: caller decides)
    "unknown_field",
    "service_not_offered",  # routing: not offered in that country (see alternatives)
)

REFERENCE = re.compile(r"^SR-(\d{4})-(\d{6})$")


def routing_file() -> Path:
    """The routing table: BOT_ROUTING_FILE, else content/routing.csv (read at call time)."""
    return settings.load().routing_file


def webhook_url() -> str | None:
    """BOT_REQUESTS_WEBHOOK_URL, or None: no webhook."""
    return settings.load().requests_webhook_url


def _db_url(url: str | None) -> str:
    return url or settings.load().database_url


_schema_ready: set[str] = set()
_schema_lock = threading.Lock()


def _ensure_schema(url: str) -> None:
    """Create the request tables once per database per process (additive upgrade)."""
    if url in _schema_ready:
        return
    with _schema_lock:
        if url not in _schema_ready:
            db.upgrade(url)
            _schema_ready.add(url)


# ---------------------------------------------------------------- countries

# Officially assigned ISO 3166-1 alpha-2 codes.
ISO_CODES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ
    DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP
    GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG
    KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML
    MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE
    PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL
    SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM
    US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """.split()
)

# Country names in English, Norwegian (bokmål, nynorsk), Swedish and the local
# language, for the Nordics and the larger European markets; any ISO code works too.
_COUNTRY_NAMES = {
    "NO": "Norway|Norge|Noreg|Norwegen",
    "SE": "Sweden|Sverige|Svenska|Schweden",
    "DK": "Denmark|Danmark|Dänemark",
    "FI": "Finland|Suomi|Finnland",
    "IS": "Iceland|Island|Ísland",
    "FO": "Faroe Islands|Faroes|Færøyene|Færøyane|Färöarna|Færøerne|Føroyar",
    "GL": "Greenland|Grønland|Grönland|Kalaallit Nunaat",
    "AX": "Åland|Aland|Åland Islands|Ålandsøyene|Ahvenanmaa",
    "GB": "United Kingdom|UK|U.K.|Great Britain|Britain|England|Scotland|Wales|"
    "Northern Ireland|Storbritannia|Det forente kongerike|Det sameinte kongeriket|"
    "Storbritannien|Förenade kungariket|Skottland",
    "IE": "Ireland|Irland|Éire",
    "DE": "Germany|Tyskland|Deutschland",
    "NL": "Netherlands|The Netherlands|Nederland|Nederländerna|Holland",
    "BE": "Belgium|Belgia|Belgien|België|Belgique",
    "LU": "Luxembourg|Luxemburg",
    "FR": "France|Frankrike|Frankrig",
    "ES": "Spain|Spania|Spanien|España",
    "PT": "Portugal",
    "IT": "Italy|Italia|Italien",
    "AT": "Austria|Østerrike|Österrike|Österreich",
    "CH": "Switzerland|Sveits|Schweiz|Suisse|Svizzera",
    "PL": "Poland|Polen|Polska",
    "CZ": "Czechia|Czech Republic|Tsjekkia|Tjeckien|Tjekkiet|Česko",
    "EE": "Estonia|Estland|Eesti",
    "LV": "Latvia|Lettland|Latvija",
    "LT": "Lithuania|Litauen|Lietuva",
    "US": "United States|United States of America|USA|U.S.A.|U.S.|USA|America|Amerika|"
    "De forente stater|Förenta staterna",
}


def _fold_country(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[.\s]+", " ", text).strip()
    return re.sub(r"^the ", "", text)


def _strip_accents(text: str) -> str:
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )


_BY_NAME: dict[str, str] = {}
for _code, _names in _COUNTRY_NAMES.items():
    for _name in _names.split("|"):
        _BY_NAME.setdefault(_fold_country(_name), _code)
        _BY_NAME.setdefault(_strip_accents(_fold_country(_name)), _code)


def country_code(text: str | None) -> str | None:
    """The ISO 3166-1 alpha-2 code for a code ("NO", "se") or a name in en/nb/sv
    ("Norway", "Norge", "Noreg", "Sverige"); None when it is not a country we know."""
    if not text or not isinstance(text, str):
        return None
    raw = text.strip()
    if re.fullmatch(r"[A-Za-z]{2}", raw) and raw.upper() in ISO_CODES:
        return raw.upper()
    folded = _fold_country(raw)
    return _BY_NAME.get(folded) or _BY_NAME.get(_strip_accents(folded))


# ---------------------------------------------------------------- routing


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


_CLAUSE_ID = re.compile(r"^[a-z0-9]+:[0-9]+(?:\.[0-9]+)*[a-z]?$")


def _services(path: Path | None = None) -> list[dict]:
    path = path or SERVICES_FILE
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RoutingError(path, [f"cannot read the services: {exc}"]) from None
    return [s for s in data.get("services") or [] if isinstance(s, dict) and s.get("id")]


def service_ids(path: Path | None = None) -> tuple[str, ...]:
    """The service ids of content/rulebase/services.yml, in order (read at call time)."""
    return tuple(str(s["id"]) for s in _services(path))


def queues(path: Path | None = None) -> tuple[str, ...]:
    """The request queues: those services.yml names (read at call time)."""
    return tuple(dict.fromkeys(str(s.get("queue")) for s in _services(path)))


def read_routing(path: Path | str | None = None) -> list[RoutingRow]:
    """Every row of the routing table; RoutingError if any line is bad."""
    path = Path(path or routing_file())
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutingError(path, [f"cannot read the file: {exc}"]) from None
    # comment lines become blank lines, so csv line numbers stay the file's
    lines = ["" if line.lstrip().startswith("#") else line for line in text.split("\n")]
    reader = csv.reader(io.StringIO("\n".join(lines), newline=""))
    problems: list[str] = []
    rows: list[RoutingRow] = []
    known = set(service_ids())
    known_queues = queues()
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
            if service not in known and not _CLAUSE_ID.match(service):
                errors.append(
                    f"unknown service {service!r} (a services.yml id or a clause id like "
                    "rules:4.2.5)"
                )
            country = country.upper()
            if country != ANY_COUNTRY and country not in ISO_CODES:
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


def check_routing(path: Path | str | None = None) -> list[str]:
    """Problems with the routing table, including clause ids missing from the rule
    base or without a paid service (empty list: all good). For `bot requests routing`."""
    try:
        rows = read_routing(path)
    except RoutingError as exc:
        return exc.problems
    clauses: dict[str, object] = {}
    for clause_file in sorted((RULEBASE_DIR / "clauses").glob("*.yml")):
        data = yaml.safe_load(clause_file.read_text(encoding="utf-8")) or {}
        for entry in data.get("clauses") or []:
            clauses[str(entry.get("id"))] = entry.get("service")
    problems = []
    for row in rows:
        if _CLAUSE_ID.match(row.service) and row.service not in service_ids():
            if row.service not in clauses:
                problems.append(f"line {row.line}: no clause {row.service!r} in the rule base")
            elif not clauses[row.service]:
                problems.append(f"line {row.line}: clause {row.service} names no paid service")
    return problems


def _decide(rows: Sequence[RoutingRow], service: str, country: str, clause: str | None):
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
    service: str, country: str, clause: str | None = None, *, path: Path | str | None = None
) -> Route:
    """Where a request for `service` (optionally prompted by `clause`) from `country`
    (an ISO code or a name, see `country_code`) goes, read from the routing table now.

    Raises UnknownCountry / UnknownService (ValueErrors) and RoutingError.
    """
    code = country_code(country)
    if code is None:
        raise UnknownCountry(f"unknown country {country!r}: give a country name or ISO code")
    services = service_ids()
    if service not in services:
        raise UnknownService(f"unknown service {service!r} (one of {', '.join(services)})")
    rows = read_routing(path)
    row = _decide(rows, service, code, clause)
    if row is not None and row.queue:
        return Route(service, code, row.queue, True, (), row.note, clause)
    alternatives = []
    for other in services:
        found = _decide(rows, other, code, None)
        if found is not None and found.queue and (other != service or clause):
            alternatives.append(other)
    return Route(service, code, None, False, tuple(alternatives), row.note if row else "", clause)


# ---------------------------------------------------------------- validation


@dataclass(frozen=True)
class FieldProblem:
    field: str
    code: str  # one of PROBLEM_CODES

    def __str__(self) -> str:
        return f"{self.field}: {self.code}"


class RequestInvalid(ValueError):
    """The request cannot be filed; nothing was stored. `problems` lists every
    field's problem; `alternatives` (for service_not_offered) the services that
    are offered in that country."""

    def __init__(self, problems: Iterable[FieldProblem], alternatives: Sequence[str] = ()):
        self.problems = tuple(problems)
        self.alternatives = tuple(alternatives)
        super().__init__("the request cannot be filed: " + ", ".join(map(str, self.problems)))

    @property
    def codes(self) -> dict[str, str]:
        """{field: problem code}."""
        return {p.field: p.code for p in self.problems}


_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MARKUP = re.compile(
    r"<\s*/?\s*[A-Za-z][^<>]*>"  # a tag
    r"|<\s*(?:script|iframe|object|embed|svg|img|style|link|meta|base|form|body|html|math)\b"
    r"|<!--|<!\[CDATA\[|<\?"
    r"|\b(?:java|vb)\s*script\s*:"  # javascript: URLs
    r"|\bdata\s*:\s*text/html"
    r"|&(?:lt|gt|#0*60|#0*62|#x0*3c|#x0*3e);",  # encoded brackets
    re.IGNORECASE,
)
_EMAIL_LOCAL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$"
)
_DOMAIN_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


def _is_edge_space(ch: str) -> bool:
    return ch in "\t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch: str, multiline: bool) -> bool:
    if ch == "\n" and multiline:
        return False
    return unicodedata.category(ch) in ("Cc", "Cs", "Co", "Zl", "Zp") or ch in _BIDI


def _text(value: object, limit: int, *, multiline: bool = False) -> tuple[str | None, str | None]:
    """Common cleaning: (text, None) or (None, problem code)."""
    if value is None:
        return None, "empty"
    if not isinstance(value, str):
        return None, "not_text"
    if len(value) > 4 * limit + 100:  # do not even look at megabytes
        return None, "too_long"
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    start, end = 0, len(text)
    while start < end and _is_edge_space(text[start]):
        start += 1
    while end > start and _is_edge_space(text[end - 1]):
        end -= 1
    text = text[start:end]
    if not text:
        return None, "empty"
    if any(_is_control(ch, multiline) for ch in text):
        return None, "control_chars"
    if _MARKUP.search(text):
        return None, "markup"
    if multiline:
        text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
        text = re.sub(r"\n{3,}", "\n\n", text)
    else:
        text = " ".join(text.split())
    if len(text) > limit:
        return None, "too_long"
    return text, None


def _email(text: str) -> str | None:
    """The address with its domain in lower case, or None if malformed."""
    if text.count("@") != 1:
        return None
    local, domain = text.split("@")
    if not local or len(local) > 64 or not _EMAIL_LOCAL.match(local):
        return None
    domain = domain.lower()
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        return None
    if not _TLD.match(labels[-1]) or len(ascii_domain) > 253:
        return None
    return f"{local}@{domain}"


def normalise_licence_key(text: str) -> str:
    """Upper case, any dashes or spaces between the groups as '-', 20 bare characters
    grouped in fives (not validated: see records.KEY)."""
    key = records.normalise_key(text)
    key = re.sub(r"[\s\-_]+", "-", key).strip("-")
    if re.fullmatch(r"[A-Z0-9]{20}", key):
        key = "-".join(key[i : i + 5] for i in range(0, 20, 5))
    return key


def _clean(name: str, value: object) -> tuple[str | None, str | None]:
    """Format checks only (no database)."""
    if name not in FIELDS:
        raise ValueError(f"unknown field {name!r} (one of {', '.join(FIELDS)})")
    if name in OPTIONAL and (value is None or (isinstance(value, str) and not value.strip())):
        return None, None
    text, problem = _text(value, MAX_LENGTH[name], multiline=name == "description")
    if problem:
        return None, problem
    assert text is not None
    if name == "name":
        letters = [ch for ch in text if unicodedata.category(ch)[0] in "LM"]
        if not letters or any(
            unicodedata.category(ch)[0] not in "LM" and ch not in " '’-." for ch in text
        ):
            return None, "name_invalid"
        return text, None
    if name == "email":
        address = _email(text)
        return (address, None) if address else (None, "email_malformed")
    if name == "country":
        code = country_code(text)
        return (code, None) if code else (None, "country_unknown")
    if name == "service":
        service = text.lower()
        return (service, None) if service in service_ids() else (None, "service_unknown")
    if name == "licence_key":
        key = normalise_licence_key(text)
        return (key, None) if records.KEY.match(key) else (None, "key_malformed")
    if name == "description" and len(text) < MIN_DESCRIPTION:
        return None, "too_short"
    return text, None


def validate_field(
    name: str, value: object, *, url: str | None = None, check_records: bool = True
) -> tuple[str | None, str | None]:
    """(clean value, problem code) for one form field; a problem code is one of
    PROBLEM_CODES. Optional fields (company, licence_key) left empty give (None, None).

    Pure, except `licence_key` with check_records: a well-formed key that is not
    in the licence records gives (key, "key_unknown"): the cleaned key AND a
    problem, for the caller to decide (file_request accepts it by default).
    """
    clean, problem = _clean(name, value)
    if name == "licence_key" and clean and check_records:
        if _licence_status(clean, url) == "unknown":
            return clean, "key_unknown"
    return clean, problem


def _licence_status(key: str, url: str | None) -> str:
    return records.lookup_licence(key, url=_db_url(url)).status


# ---------------------------------------------------------------- filing


@dataclass(frozen=True)
class FiledRequest:
    reference: str
    queue: str
    created: bool  # False: this idempotency key had already filed it

    @property
    def payload(self) -> dict:
        """answer-contract §2: the custom JSON message for a filed request."""
        return {"service_request": {"reference": self.reference, "queue": self.queue}}


def idempotency_key_for(conversation_id: str, fields: Mapping[str, object]) -> str:
    """A stable hash of the conversation and the normalised fields: a retried or
    doubled confirmation of the same form gives the same key (and so one request)."""
    normal: dict[str, object] = {}
    for name in sorted(fields):
        value = fields[name]
        if name in FIELDS:
            clean, _ = _clean(name, value)
            if clean is None and isinstance(value, str):
                clean = " ".join(value.split()).casefold() or None
        else:
            clean = value if isinstance(value, str | int | float | bool) else repr(value)
        if clean is not None:
            normal[name] = clean
    canonical = json.dumps([str(conversation_id), normal], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _key_column(key: str) -> str:
    key = str(key)
    if len(key) <= 64 and key.isprintable():
        return key
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def validate_request(
    fields: Mapping[str, object], *, url: str | None = None, allow_unknown_key: bool = True
) -> tuple[dict[str, str | None], str | None]:
    """(clean fields, licence status) or RequestInvalid listing every problem."""
    problems = [FieldProblem(name, "unknown_field") for name in fields if name not in FIELDS]
    clean: dict[str, str | None] = {}
    for name in FIELDS:
        value, problem = _clean(name, fields.get(name))
        if problem:
            problems.append(FieldProblem(name, problem))
        clean[name] = value
    licence_status = None
    if clean["licence_key"]:
        licence_status = _licence_status(clean["licence_key"], url)
        if licence_status == "unknown" and not allow_unknown_key:
            problems.append(FieldProblem("licence_key", "key_unknown"))
    if problems:
        raise RequestInvalid(problems)
    return clean, licence_status


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


class _NoCounter(Exception):
    pass


def _max_sequence(conn_or_session, year: int) -> int:
    top = conn_or_session.execute(
        select(func.max(db.ServiceRequest.reference)).where(
            db.ServiceRequest.reference.like(f"SR-{year}-%")
        )
    ).scalar()
    match = REFERENCE.match(top or "")
    return int(match.group(2)) if match else 0


def _sync_counter(url: str, year: int) -> None:
    """Create this year's counter row, or move it past any reference already used."""
    try:
        with db.engine_for(url).begin() as conn:
            highest = _max_sequence(conn, year)
            last = conn.execute(
                select(db.ServiceRequestCounter.last).where(db.ServiceRequestCounter.year == year)
            ).scalar()
            if last is None:
                conn.execute(
                    db.ServiceRequestCounter.__table__.insert().values(year=year, last=highest)
                )
            elif last < highest:
                conn.execute(
                    update(db.ServiceRequestCounter)
                    .where(db.ServiceRequestCounter.year == year)
                    .values(last=highest)
                )
    except sa_exc.IntegrityError:
        pass  # another filing created it first


def _next_sequence(session, year: int) -> int:
    """Bump this year's counter in the session's transaction (the row lock
    serialises concurrent filings until commit) and return the new value."""
    result = session.execute(
        update(db.ServiceRequestCounter)
        .where(db.ServiceRequestCounter.year == year)
        .values(last=db.ServiceRequestCounter.last + 1)
    )
    if result.rowcount == 0:
        raise _NoCounter
    return session.execute(
        select(db.ServiceRequestCounter.last).where(db.ServiceRequestCounter.year == year)
    ).scalar_one()


def _existing(url: str, key: str) -> FiledRequest | None:
    with db.session_scope(url) as session:
        row = session.execute(
            select(db.ServiceRequest.reference, db.ServiceRequest.queue).where(
                db.ServiceRequest.idempotency_key == key
            )
        ).first()
    return FiledRequest(row.reference, row.queue, created=False) if row else None


def _locked(exc: sa_exc.OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text or "deadlock" in text


def file_request(
    fields: Mapping[str, object],
    *,
    conversation_id: str,
    language: str,
    idempotency_key: str | None = None,
    clause: str | None = None,
    allow_unknown_key: bool = True,
    url: str | None = None,
    now: dt.datetime | None = None,
) -> FiledRequest:
    """Validate, route and store a request in one transaction; idempotent.

    fields: service, name, email, country, description, and optionally company
    and licence_key (FIELDS). `clause` (the clause that prompted the offer) is
    used for routing and stored. `idempotency_key` defaults to
    idempotency_key_for(conversation_id, fields). The same key again returns the
    stored request with created=False, whatever the fields say now.

    Raises RequestInvalid (every field problem, or service_not_offered with the
    alternatives), RoutingError (the routing table is broken), ValueError (bad
    language or conversation id). Nothing is stored when it raises.
    """
    if language not in LANGS:
        raise ValueError(f"language {language!r} is not one of {', '.join(LANGS)}")
    conversation_id = str(conversation_id or "").strip()
    if not conversation_id or len(conversation_id) > 255:
        raise ValueError("conversation_id must be 1-255 characters")
    url = _db_url(url)
    _ensure_schema(url)
    key = _key_column(idempotency_key or idempotency_key_for(conversation_id, fields))
    existing = _existing(url, key)
    if existing is not None:
        return existing

    clean, licence_status = validate_request(fields, url=url, allow_unknown_key=allow_unknown_key)
    if clause is not None and not _CLAUSE_ID.match(str(clause)):
        raise ValueError(f"clause {clause!r} is not a clause id")
    where = route(clean["service"], clean["country"], clause)
    if not where.offered:
        raise RequestInvalid([FieldProblem("service", "service_not_offered")], where.alternatives)

    now = (now or _utcnow()).astimezone(dt.timezone.utc)
    year = now.year
    for attempt in range(8):
        try:
            with db.session_scope(url) as session:
                sequence = _next_sequence(session, year)
                if sequence > 999_999:
                    raise RuntimeError(f"no SR-{year} references left (999999 filed this year)")
                reference = f"SR-{year}-{sequence:06d}"
                session.add(
                    db.ServiceRequest(
                        reference=reference,
                        idempotency_key=key,
                        service=clean["service"],
                        clause_id=clause,
                        queue=where.queue,
                        status="new",
                        language=language,
                        conversation_id=conversation_id,
                        name=clean["name"],
                        email=clean["email"],
                        company=clean["company"],
                        country=clean["country"],
                        licence_key=clean["licence_key"],
                        licence_status=licence_status,
                        description=clean["description"],
                        created_at=now,
                        webhook_status="pending" if webhook_url() else "none",
                        webhook_attempts=0,
                    )
                )
                session.flush()
            logger.info("filed service request %s (queue %s)", reference, where.queue)
            return FiledRequest(reference, where.queue, created=True)
        except _NoCounter:
            _sync_counter(url, year)
        except sa_exc.IntegrityError:
            # a racing twin filed this key first, or a reference was taken
            existing = _existing(url, key)
            if existing is not None:
                return existing
            _sync_counter(url, year)
        except sa_exc.OperationalError as exc:
            if not _locked(exc):
                raise
            time.sleep(0.05 * (attempt + 1))
    raise RuntimeError("could not file the request: the database stayed busy")


# ---------------------------------------------------------------- reading


class RequestNotFound(LookupError):
    pass


@dataclass(frozen=True)
class StoredRequest:
    """One stored request. `licence_key` is the full key: use `masked_key` (or
    `record()`) for anything shown, logged or sent; repr leaves it out."""

    reference: str
    service: str
    clause_id: str | None
    queue: str
    status: str
    language: str
    conversation_id: str
    name: str
    email: str
    company: str | None
    country: str
    licence_status: str | None
    description: str
    created_at: dt.datetime
    updated_at: dt.datetime | None
    webhook_status: str
    webhook_attempts: int
    webhook_error: str | None
    licence_key: str | None = field(default=None, repr=False)

    @property
    def masked_key(self) -> str | None:
        return records.mask_key(self.licence_key) if self.licence_key else None

    def record(self) -> dict:
        """Every field as JSON-ready values, the licence key masked."""
        return {
            "reference": self.reference,
            "created_at": _iso(self.created_at),
            "queue": self.queue,
            "status": self.status,
            "service": self.service,
            "clause": self.clause_id,
            "country": self.country,
            "language": self.language,
            "name": self.name,
            "email": self.email,
            "company": self.company,
            "licence_key": self.masked_key,
            "licence_status": self.licence_status,
            "description": self.description,
            "conversation_id": self.conversation_id,
            "updated_at": _iso(self.updated_at),
            "webhook_status": self.webhook_status,
            "webhook_attempts": self.webhook_attempts,
            "webhook_error": self.webhook_error,
        }


EXPORT_COLUMNS = (
    "reference", "created_at", "queue", "status", "service", "clause", "country", "language",
    "name", "email", "company", "licence_key", "licence_status", "description",
    "conversation_id", "updated_at", "webhook_status", "webhook_attempts", "webhook_error",
)  # fmt: skip


def _iso(value: dt.datetime | None) -> str | None:
    value = _aware(value)
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _stored(row: db.ServiceRequest) -> StoredRequest:
    return StoredRequest(
        reference=row.reference,
        service=row.service,
        clause_id=row.clause_id,
        queue=row.queue,
        status=row.status,
        language=row.language,
        conversation_id=row.conversation_id,
        name=row.name,
        email=row.email,
        company=row.company,
        country=row.country,
        licence_status=row.licence_status,
        description=row.description,
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
        webhook_status=row.webhook_status,
        webhook_attempts=row.webhook_attempts or 0,
        webhook_error=row.webhook_error,
        licence_key=row.licence_key,
    )


def normalise_reference(reference: str) -> str:
    return (reference or "").strip().upper()


def _row(session, reference: str) -> db.ServiceRequest:
    """The stored row of a reference; RequestNotFound if there is none."""
    row = session.scalars(
        select(db.ServiceRequest).where(
            db.ServiceRequest.reference == normalise_reference(reference)
        )
    ).first()
    if row is None:
        raise RequestNotFound(f"no service request {reference!r}")
    return row


def get_request(reference: str, url: str | None = None) -> StoredRequest:
    """The request with this reference; RequestNotFound if there is none."""
    url = _db_url(url)
    _ensure_schema(url)
    with db.session_scope(url) as session:
        row = _row(session, reference)
        return _stored(row)


def list_requests(
    queue: str | None = None, status: str | None = None, url: str | None = None
) -> list[StoredRequest]:
    """Every request (optionally of one queue and/or status), oldest first."""
    url = _db_url(url)
    _ensure_schema(url)
    query = select(db.ServiceRequest).order_by(db.ServiceRequest.id)
    if queue:
        query = query.where(db.ServiceRequest.queue == queue)
    if status:
        query = query.where(db.ServiceRequest.status == status)
    with db.session_scope(url) as session:
        return [_stored(row) for row in session.scalars(query)]


def set_status(reference: str, status: str, url: str | None = None) -> StoredRequest:
    """Move a request to new, in_progress or closed."""
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    url = _db_url(url)
    _ensure_schema(url)
    with db.session_scope(url) as session:
        row = _row(session, reference)
        if row.status != status:
            row.status = status
            row.updated_at = _utcnow()
        session.flush()
        return _stored(row)


def _csv_cell(value: object) -> str:
    """Plain text for a spreadsheet: no formula can start a cell (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_requests(
    fmt: str, queue: str | None = None, status: str | None = None, url: str | None = None
) -> str:
    """Every request (filtered like list_requests) as csv or json, keys masked.

    CSV cells starting with = + - @ get a leading ' so no spreadsheet runs them."""
    rows = [r.record() for r in list_requests(queue, status, url)]
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    if fmt != "csv":
        raise ValueError(f"format {fmt!r} is not csv or json")
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(row[c]) for c in EXPORT_COLUMNS])
    return out.getvalue()


# ---------------------------------------------------------------- webhook


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is a failure, not a re-POST
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _where(hook: str) -> str:
    """The webhook's scheme, host and port only: its path or query may hold a token."""
    parts = urllib.parse.urlsplit(hook)
    return f"{parts.scheme}://{parts.hostname or '?'}" + (f":{parts.port}" if parts.port else "")


def _post(hook: str, body: bytes, reference: str, timeout: float) -> tuple[bool, str, bool]:
    """(delivered, what happened, worth retrying)."""
    request = urllib.request.Request(
        hook,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "support-scope-bot",
            "Idempotency-Key": reference,
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(65536)
            code = response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        code = exc.code
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return False, f"{type(exc).__name__}: {reason}"[:200], True
    if 200 <= code < 300:
        return True, f"HTTP {code}", False
    retry = code >= 500 or code in (408, 429)
    return False, f"HTTP {code}", retry


def _record_webhook(url: str, reference: str, status: str, attempts: int, error: str | None):
    with db.session_scope(url) as session:
        session.execute(
            update(db.ServiceRequest)
            .where(db.ServiceRequest.reference == reference)
            .values(webhook_status=status, webhook_attempts=attempts, webhook_error=error)
        )


def _webhook_record(stored: StoredRequest) -> dict:
    """What the team's endpoint receives: every field (key masked) but the webhook's own."""
    return {k: v for k, v in stored.record().items() if not k.startswith("webhook_")}


def notify(
    reference: str,
    *,
    url: str | None = None,
    webhook: str | None = None,
    delays: Sequence[float] = DELAYS,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """POST the filed request (key masked) to the webhook and record the outcome.

    `url` is the database; `webhook` the endpoint (default BOT_REQUESTS_WEBHOOK_URL;
    none: webhook_status "none"). len(delays) + 1 attempts, sleeping delays[i]
    between them; network errors, 5xx, 408 and 429 are retried, other answers
    are final. Returns the final webhook_status; never raises: the request stays
    stored whatever happens, and a failure is logged as a warning naming the
    reference (never the key, never the webhook's path).
    """
    try:
        url = _db_url(url)
        reference = normalise_reference(reference)
        stored = get_request(reference, url)
        hook = (webhook or webhook_url() or "").strip()
        if not hook:
            _record_webhook(url, reference, "none", stored.webhook_attempts, None)
            return "none"
        scheme = urllib.parse.urlsplit(hook).scheme.lower()
        if scheme not in ("http", "https"):
            error = f"the webhook URL is not http(s) (scheme {scheme or 'missing'!r})"
            _record_webhook(url, reference, "failed", stored.webhook_attempts, error)
            logger.warning("service request %s: webhook not called: %s", reference, error)
            return "failed"
        body = json.dumps(
            {"event": "service_request.filed", "service_request": _webhook_record(stored)},
            ensure_ascii=False,
        ).encode("utf-8")
        attempts = stored.webhook_attempts
        error = ""
        for n in range(len(delays) + 1):
            if n:
                sleep(delays[n - 1])
            attempts += 1
            delivered, error, retry = _post(hook, body, reference, timeout)
            if delivered:
                _record_webhook(url, reference, "delivered", attempts, None)
                logger.info("service request %s: webhook delivered (%s)", reference, error)
                return "delivered"
            _record_webhook(url, reference, "pending", attempts, error)
            if not retry:
                break
        _record_webhook(url, reference, "failed", attempts, error)
        logger.warning(
            "service request %s: webhook %s failed after %d attempt(s) (%s); the request "
            "is stored; `bot requests notify %s` tries again",
            reference,
            _where(hook),
            n + 1,
            error,
            reference,
        )
        return "failed"
    except Exception:  # noqa: BLE001 - the request is stored; the webhook must not break filing
        logger.warning("service request %s: webhook not delivered", reference, exc_info=True)
        try:
            with db.session_scope(_db_url(url)) as session:
                session.execute(
                    update(db.ServiceRequest)
                    .where(db.ServiceRequest.reference == normalise_reference(reference))
                    .values(webhook_status="failed", webhook_error="unexpected error")
                )
        except Exception:  # noqa: BLE001
            pass
        return "failed"


def notify_in_background(
    reference: str, *, url: str | None = None, webhook: str | None = None
) -> threading.Thread:
    """Run `notify` in a daemon thread (for the action server, right after filing).
    A process that exits mid-way leaves webhook_status "pending"; `bot requests
    notify REF` sends it again."""
    thread = threading.Thread(
        target=notify,
        args=(reference,),
        kwargs={"url": url, "webhook": webhook},
        name=f"webhook-{reference}",
        daemon=True,
    )
    thread.start()
    return thread
