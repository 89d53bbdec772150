"""The one masker: what is personal, and how each kind is hidden.

Personal data in this project (and nothing else is treated as such):

- licence keys          -> only the last group: •••••-•••••-•••••-AB12C (records.mask_key)
- e-mail addresses      -> first letter and domain: k***@example.no
- phone numbers         -> [phone] (8-15 digits, international or Scandinavian
                           grouping with spaces, dashes, brackets, a leading + or 00)
- names and companies   -> [name] / [company], only as typed into the request
                           form (a free-text name cannot be told from a word)

`mask_text` applies the patterns and the known form values to any text;
`mask_slot` masks one slot's value by its kind (PERSONAL_SLOTS); `mask_data`
walks an event's JSON form. Every mask is idempotent (masking a masked value
changes nothing), so stored events can be masked again safely. Versions
(11.6.0.394), dates, SR-2026-000042 references and prices are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from bot import records

# slot -> kind: the one list of slots that hold personal data
PERSONAL_SLOTS: dict[str, str] = {
    "sr_name": "name",
    "sr_email": "email",
    "sr_company": "company",
    "sr_licence_key": "licence_key",
    "sr_description": "text",  # free text: may hold a phone number or an address
    "licence_key": "licence_key",
}
# request-form field -> kind (the draft's keys are the form's field names)
PERSONAL_FIELDS: dict[str, str] = {
    slot.removeprefix("sr_"): kind for slot, kind in PERSONAL_SLOTS.items() if slot != "licence_key"
}
TOKENS = {"name": "[name]", "company": "[company]", "phone": "[phone]", "email": "[e-mail]"}
UNTOUCHED = {"", "-"}  # empty, and the form's "skip" (service_requests.SKIP)

_DASH = "-\u2010-\u2015\u2212"  # inside a character class
_A = "A-Za-z0-9"
# Keys and attempts at one, dash-joined: 3-5 groups of 4-6 characters (checked
# by _is_key); and 4 groups of 5 with spaces, dots or underscores between.
_KEY_DASHED = re.compile(
    rf"(?<![{_A}{_DASH}])[{_A}]{{4,6}}(?:[{_DASH}][{_A}]{{4,6}}){{2,4}}(?![{_A}]|[{_DASH}][{_A}])"
)
_KEY_SPACED = re.compile(rf"(?<![{_A}])(?=([{_A}]{{5}}(?:[ _.]{{1,2}}[{_A}]{{5}}){{3}})(?![{_A}]))")
_KEY_GLUED = re.compile(
    rf"(?<![{_A}{_DASH}])(?=[{_A}]*\d)(?=[{_A}]*[A-Za-z])[{_A}]{{20}}(?![{_A}])"
)
_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-]+)@((?:[\w-]+\.)+[\w-]{2,})", re.UNICODE)
_PHONE = re.compile(r"(?<![\w+\-/.,])(?:\+|00)?\(?\d[\d \-\u2013()]{6,22}\d(?![\w\-/]|[.,]\d)")
_DATE = re.compile(r"^(?:\d{4}-\d{2}-\d{2}|\d{2}-\d{2}-\d{4})$")
_YEARS = re.compile(r"^(?:19|20)\d{2}\s*[-\u2013]\s*(?:19|20)\d{2}$")
_CURRENCY = re.compile(r"(?:kr|nok|sek|dkk|eur|usd|€|\$|£)", re.IGNORECASE)
_MIN_KNOWN = 3  # shorter form values ("Bo", "AS") would mask ordinary words


def mask_key(key: str) -> str:
    """A licence key with only its last group shown (the project's one key mask)."""
    return records.mask_key(key)


def mask_email(address: str) -> str:
    """k***@example.no: the first character of the local part and the domain."""
    local, _, domain = address.partition("@")
    if not domain:
        return TOKENS["email"]
    return f"{local[:1]}***@{domain}"


def _is_key(found: str) -> bool:
    """4 groups of 5 is a key; other groupings only with a digit and a letter
    (so "SR-2026-000042", "2026-04-07" and hyphenated words stay)."""
    groups = re.split(f"[{_DASH}]", found)
    if len(groups) == 4 and all(len(g) == 5 for g in groups):
        return True
    return any(c.isdigit() for c in found) and any(c.isalpha() for c in found)


def _mask_spaced_keys(text: str) -> str:
    """Keys written "abcde 12345 fghij 67890": 4 groups of 5, at least two with a digit (four
    five-letter words are not a key). Scanned at every start, since a sentence
    may run into a key ("words abcde 12345 ...")."""
    out, end = [], 0
    for match in _KEY_SPACED.finditer(text):
        start, found = match.start(), match.group(1)
        groups = re.split(r"[ _.]+", found)
        if start < end or sum(any(c.isdigit() for c in g) for g in groups) < 2:
            continue
        out += [text[end:start], mask_key("-".join(groups))]
        end = start + len(found)
    return "".join(out) + text[end:]


def _is_phone(match: re.Match[str], text: str) -> bool:
    found = match.group(0).strip()
    digits = sum(ch.isdigit() for ch in found)
    if not 8 <= digits <= 15 or _DATE.match(found) or _YEARS.match(found):
        return False
    before = text[max(0, match.start() - 5) : match.start()]
    after = text[match.end() : match.end() + 5]
    # a price: "NOK 12 500 000", "12 345 678 kr"
    return not (_CURRENCY.search(before) or _CURRENCY.match(after.strip()))


def _known_pattern(value: str) -> re.Pattern[str]:
    # whole words, not inside an address's domain (k***@nordmann.no stays readable)
    return re.compile(rf"(?<![\w@.]){re.escape(value)}(?![\w@]|\.\w)", re.IGNORECASE)


def known_values(*sources: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(value, token) pairs to replace from drafts', slots' or requests' form values
    (any number of them), longest first: the full name, then each of its words
    (people write "Kari")."""
    pairs: dict[str, str] = {}
    for field, value in (item for fields in sources for item in fields.items()):
        kind = PERSONAL_FIELDS.get(field.removeprefix("sr_"))
        if kind not in ("name", "company") or not isinstance(value, str):
            continue
        value = " ".join(value.split())
        if len(value) < _MIN_KNOWN or is_masked(value):
            continue
        pairs[value.casefold()] = TOKENS[kind]
        if kind == "name":
            for word in value.split():
                if len(word) >= _MIN_KNOWN:
                    pairs.setdefault(word.casefold(), TOKENS[kind])
    return sorted(pairs.items(), key=lambda p: -len(p[0]))


def mask_text(text: str, known: Iterable[tuple[str, str]] = ()) -> str:
    """The text with keys, e-mail addresses, phone numbers and known form values hidden."""
    if not text:
        return text
    text = _KEY_DASHED.sub(
        lambda m: mask_key(m.group(0)) if _is_key(m.group(0)) else m.group(0), text
    )
    text = _KEY_GLUED.sub(lambda m: mask_key(m.group(0)), text)
    text = _mask_spaced_keys(text)
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    text = _PHONE.sub(lambda m: TOKENS["phone"] if _is_phone(m, m.string) else m.group(0), text)
    for value, token in known:
        text = _known_pattern(value).sub(token, text)
    return text


def is_masked(value: object) -> bool:
    """Whether a value is (or holds) a mask, i.e. not the real value any more."""
    if not isinstance(value, str):
        return False
    return "\u2022" in value or "***@" in value or any(t in value for t in TOKENS.values())


def mask_slot(slot: str, value: Any, known: Iterable[tuple[str, str]] = ()) -> Any:
    """A slot's value as it may be stored: personal slots by kind, other text by pattern."""
    if not isinstance(value, str):
        return mask_data(value, known)
    kind = PERSONAL_SLOTS.get(slot)
    if value.strip() in UNTOUCHED or (kind != "text" and is_masked(value)):
        return value
    if kind == "licence_key":
        return mask_key(value)
    if kind == "email":
        return mask_email(value.strip())
    if kind in ("name", "company"):
        return TOKENS[kind]
    return mask_text(value, known)


# JSON keys whose values are identifiers, never user text
_STRUCTURAL = {
    "event",
    "name",
    "policy",
    "timestamp",
    "message_id",
    "input_channel",
    "entity",
    "extractor",
    "intent_name",
    "action_name",
    "type_name",
}


def mask_data(data: Any, known: Iterable[tuple[str, str]] = ()) -> Any:
    """A copy of a JSON value (an event's dict) with every text masked; the
    original is never changed (Rasa's in-memory tracker shares these dicts)."""
    known = list(known)
    if isinstance(data, str):
        return mask_text(data, known)
    if isinstance(data, list):
        return [mask_data(item, known) for item in data]
    if isinstance(data, dict):
        if data.get("event") == "slot" and data.get("name") in PERSONAL_SLOTS:
            masked = {k: v for k, v in data.items() if k != "value"}
            return {**masked, "value": mask_slot(data["name"], data.get("value"), known)}
        return {
            k: v if k in _STRUCTURAL and isinstance(v, str) else mask_data(v, known)
            for k, v in data.items()
        }
    return data
