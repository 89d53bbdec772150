"""Checking and cleaning what the user typed into the request form.

`validate_field` returns a cleaned value and a stable problem code
(PROBLEM_CODES); the dialogue maps codes to messages in en/nb/sv. Every text
field: surrounding space stripped, NFC; control characters (a newline is
allowed in the description only), markup (tags, `javascript:` URLs, encoded
brackets), empty and over-long values are refused. Only `licence_key` touches
the licence records: an unknown key is the soft problem `key_unknown`,
returned WITH the cleaned key, so the caller decides.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from bot import db, records
from bot.service_requests import paid_services
from bot.service_requests.countries import country_code
from bot.text import has_controls

FIELDS = ("service", "name", "email", "company", "country", "licence_key", "description")
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


_MARKUP = re.compile(
    r"<\s*/?\s*[A-Za-z][^<>]*>"  # a tag
    r"|<\s*(?:script|iframe|object|embed|svg|img|style|link|meta|base|form|body|html|math)\b"
    r"|<!--|<!\[CDATA\[|<\?"
    r"|\b(?:java|vb)\s*script\s*:"  # javascript: URLs
    r"|\bdata\s*:\s*text/html"
    r"|&(?:lt|gt|#0*60|#0*62|#x0*3c|#x0*3e);",  # encoded brackets
    re.IGNORECASE,
)


def _is_edge_space(ch: str) -> bool:
    return ch in "\t\n\r" or unicodedata.category(ch) == "Zs"


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
    # bot.text's rule, with a newline (not a tab) allowed in the description only
    if has_controls(text.replace("\n", "") if multiline else text):
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


def email_address(text: str) -> str | None:
    """The address with its domain in lower case (internationalised domains in
    Unicode), or None if malformed. Syntax only: no DNS lookup."""
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.normalized


def clean(
    name: str, value: object, services: paid_services.Catalogue | None
) -> tuple[str | None, str | None]:
    """Format checks only (no licence records). With `services` None a service id
    is only normalised, not looked up (for idempotency keys, which need no database)."""
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
        address = email_address(text)
        return (address, None) if address else (None, "email_malformed")
    if name == "country":
        code = country_code(text)
        return (code, None) if code else (None, "country_unknown")
    if name == "service":
        service = text.lower()
        if services is None or service in services.services:
            return service, None
        return None, "service_unknown"
    if name == "licence_key":
        key = records.normalise_key(text)  # the one rule for how a key may be written
        return (key, None) if records.KEY.match(key) else (None, "key_malformed")
    if name == "description" and len(text) < MIN_DESCRIPTION:
        return None, "too_short"
    return text, None


def licence_status(key: str, url: str | None) -> str:
    """valid, expired or unknown: the key as the licence records have it."""
    return records.lookup_licence(key, url=db.resolve_url(url)).status


def validate_field(
    name: str, value: object, *, url: str | None = None, check_records: bool = True
) -> tuple[str | None, str | None]:
    """(clean value, problem code) for one form field; a problem code is one of
    PROBLEM_CODES. Optional fields (company, licence_key) left empty give (None, None).

    `url` is the database whose rule base names the services and whose licence
    records `licence_key` is checked against (with check_records): a
    well-formed key that is not there gives (key, "key_unknown"): the cleaned
    key AND a problem, for the caller to decide (file_request accepts it by default).
    """
    services = paid_services.current(url) if name == "service" else None
    value_clean, problem = clean(name, value, services)
    if name == "licence_key" and value_clean and check_records:
        if licence_status(value_clean, url) == "unknown":
            return value_clean, "key_unknown"
    return value_clean, problem


def validate_request(
    fields: Mapping[str, object], *, url: str | None = None, allow_unknown_key: bool = True
) -> tuple[dict[str, str | None], str | None]:
    """(clean fields, licence status) or RequestInvalid listing every problem."""
    problems = [FieldProblem(name, "unknown_field") for name in fields if name not in FIELDS]
    services = paid_services.current(url)
    cleaned: dict[str, str | None] = {}
    for name in FIELDS:
        value, problem = clean(name, fields.get(name), services)
        if problem:
            problems.append(FieldProblem(name, problem))
        cleaned[name] = value
    status = None
    key = cleaned["licence_key"]
    if key:
        status = licence_status(key, url)
        if status == "unknown" and not allow_unknown_key:
            problems.append(FieldProblem("licence_key", "key_unknown"))
    if problems:
        raise RequestInvalid(problems)
    return cleaned, status
