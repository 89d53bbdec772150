"""The one masker: what is personal, and how each kind is hidden.

Personal data in this project (and nothing else is treated as such); how each
format is found: docs/security-and-privacy.md, "How the masker reads text".

- licence keys          -> only the last group: •••••-•••••-•••••-AB12C (records.mask_key)
- e-mail addresses      -> first letter and domain: k***@example.no
- phone numbers         -> [phone] (8-15 digits, international or Scandinavian
                           grouping with spaces, dashes, brackets, dots or an area
                           code and a slash, a leading + or 00)
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
from bot.text import canonical, canonical_spans

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

_A = "A-Za-z0-9"
# Every pattern below reads the canonical form of the text (bot.text.canonical:
# NFKC, every space kind as " ", every dash kind as "-"); what it finds is
# replaced in the text as written, which is otherwise left as it was.
# Keys as the form accepts them (bot/records/keys.py: any run of spaces, dashes
# or underscores between the groups, or none), or with single dots: a run of 4-6
# groups of five, so that a five-letter word run into a key is hidden with it
# rather than a group of the key shown (_key_spans decides).
_KEY_RUN = re.compile(
    rf"(?<![{_A}])(?<![{_A}][_-]){records.KEY_GROUP}"
    rf"(?:(?:{records.KEY_SEPARATOR}|\.){records.KEY_GROUP}){{3,5}}(?![{_A}]|[_-][{_A}])"
)
# Attempts at a key: 3 or more dash-joined groups of 2-7, three of them 4-6 long (_is_attempt).
_KEY_DASHED = re.compile(rf"(?<![{_A}-])[{_A}]+(?:-[{_A}]+){{2,}}(?![{_A}])")
# Local parts as the form's e-mail check accepts them (RFC 5322 atext, dots,
# letters of any script), or quoted; a domain of labels. A quote or backtick
# first is read as quoting the address and kept (group 1).
_ATEXT = r"\w!#$%&'*+/=?^`{|}~.\-\u2600-\u27bf\U0001f000-\U0001faff"
_EMAIL = re.compile(
    rf"(?:(?<![{_ATEXT}])(['`]?)[{_ATEXT}]+|\"[^\"\n@]{{1,64}}\")@(?:[\w-]+\.)+[\w-]+"
)
# Phone numbers: 8-15 digits grouped by spaces, dashes or brackets, with a
# leading + or 00; by dots (070.123.45.67); or an area code and a slash (070/123 45 67).
# Not inside a word or a longer number; a dot before is fine after a letter
# ("tlf.91234567"), a dash after is fine before a letter ("…567-jobb"), and a
# slash may join two numbers ("22334455/91234567").
_NOT_BEFORE, _NOT_AFTER = r"(?<![\w+\-,])(?<!\d\.)", r"(?!\w|[-.,]\d)"
_PHONES = (
    re.compile(
        rf"{_NOT_BEFORE}(?:(?:\+|00)\d{{1,3}} ?)?\d{{2,4}}(?:\.\d{{2,4}}){{2,4}}{_NOT_AFTER}"
    ),
    re.compile(rf"{_NOT_BEFORE}0\d{{1,4}} ?/ ?\d[\d \-]{{4,12}}\d{_NOT_AFTER}"),
    re.compile(rf"{_NOT_BEFORE}(?:\+|00)?\(?\d[\d \-()]{{6,22}}\d{_NOT_AFTER}"),
)
_DATE = re.compile(
    r"^(?:\d{4}-\d{2}-\d{2}|\d{2}-\d{2}-\d{4}|\d{1,2}[./]\d{1,2}[./](?:\d{2}|\d{4})"
    r"|\d{4}[./]\d{1,2}[./]\d{1,2})$"
)
_YEARS = re.compile(r"^(?:19|20)\d{2}\s*-\s*(?:19|20)\d{2}$")
# A price: "NOK 12 500 000", "12 345 678 kr", "12.500.000,-" (whole words: not "Kristian")
_CURRENCY = r"(?:kr|kroner|krone|kronor|krona|nok|sek|dkk|eur|euro|usd|€|\$|£)"
_PRICE_BEFORE = re.compile(rf"(?<![^\W\d_]){_CURRENCY}\.? ?$", re.IGNORECASE)
_PRICE_AFTER = re.compile(rf" ?(?:{_CURRENCY}(?![^\W\d_])|,-)", re.IGNORECASE)
_VERSION_BEFORE = re.compile(r"(?:\bv|version|versjon|versionen|build|bygg)\.? ?$", re.IGNORECASE)
_MIN_KNOWN = 3  # shorter form values ("Bo", "AS") would mask ordinary words

Span = tuple[int, int, str]  # start, end (in canonical text), replacement


def mask_key(key: str) -> str:
    """A licence key with only its last group shown (the project's one key mask)."""
    return records.mask_key(key)


def mask_email(address: str) -> str:
    """k***@example.no: the first character of the local part and the domain."""
    local, _, domain = address.rpartition("@")
    if not local or not domain:
        return TOKENS["email"]
    return f"{local[:1]}***@{domain}"


def _is_key(groups: list[str], separators: list[str]) -> bool:
    """A run of groups of five is a key if it is joined by dashes or underscores,
    is written in capitals and digits, or has digits in two groups or more (a key
    typed in small letters: 97 % of random keys do); four words of five letters
    ("which about there would") are not, nor "about 12000 users using"."""
    joined = "".join(groups)
    if all("-" in s or "_" in s for s in separators):
        return True
    if not any(c.islower() for c in joined) and (any(separators) or any(map(str.isdigit, joined))):
        return True
    return sum(any(c.isdigit() for c in g) for g in groups) >= 2


def _key_window(groups: list[str], seps: list[str]) -> tuple[int, int] | None:
    """Which groups of a run of 4-6 are the key: (first, count), or None. As the form
    reads a key, its joins are all there or all absent; words run into a key are
    left out when the key's joins set it apart (dashes, the words a space), else
    hidden with it rather than a group of the key shown."""
    consistent = len({bool(s) for s in seps}) == 1
    if len(groups) == 4:
        return (0, 4) if consistent and _is_key(groups, seps) else None
    for first in range(len(groups) - 3):
        inner, outer = seps[first : first + 3], seps[:first] + seps[first + 3 :]
        dashed = all("-" in s or "_" in s for s in inner)
        if dashed and all(s and s.strip() == "" for s in outer):
            return first, 4
    if all(seps) and _is_key(groups, seps):
        return 0, len(groups)
    return None


def _key_spans(text: str) -> list[Span]:
    spans = []
    for match in _KEY_RUN.finditer(text):
        groups = re.findall(records.KEY_GROUP, match.group())
        seps = re.split(records.KEY_GROUP, match.group())[1:-1]
        window = _key_window(groups, seps)
        if window is None:
            continue
        first, count = window
        start = match.start() + sum(5 + len(s) for s in seps[:first])
        end = start + 5 * count + sum(len(s) for s in seps[first : first + count - 1])
        spans.append((start, end, mask_key("-".join(groups[first : first + count]))))
    for match in _KEY_DASHED.finditer(text):
        groups = match.group().split("-")
        found = match.group()
        if (
            all(2 <= len(g) <= 7 for g in groups)
            and sum(4 <= len(g) <= 6 for g in groups) >= 3
            and any(c.isdigit() for c in found)
            and any(c.isalpha() for c in found)
        ):
            spans.append((match.start(), match.end(), mask_key(found)))
        else:  # a key dash-joined to a word ("…-67890-lisensen", "licensekey-ABCDE-…")
            spans += _key_inside(groups, match.start())
    return spans


def _key_inside(groups: list[str], start: int) -> list[Span]:
    """Four dash-joined groups of five, with a digit, inside a longer dash-joined run."""
    offsets = [start]
    for group in groups[:-1]:
        offsets.append(offsets[-1] + len(group) + 1)
    for first in range(len(groups) - 3):
        window = groups[first : first + 4]
        if all(len(g) == 5 for g in window) and any(c.isdigit() for c in "".join(window)):
            begin = offsets[first]
            return [(begin, begin + 23, mask_key("-".join(window)))]
    return []


def _email_spans(text: str) -> list[Span]:
    spans = []
    for m in _EMAIL.finditer(text):
        quote = m.group(1) or ""
        spans.append((m.start(), m.end(), quote + mask_email(m.group(0)[len(quote) :])))
    return spans


# Where a run of more than 15 digits holds two numbers: " - ", a slash, a bracket,
# a date after, or a space beside a whole 8-digit number ("91234567 98765432").
_TWO_NUMBERS = re.compile(
    r"\s+-\s+|\s*/\s*|\s+(?=\()|\s+(?=\d{4}-\d{2}-\d{2})|(?<=\d{8})\s+|\s+(?=\d{8})"
)
# Counts and sums written in thousands ("12 000 000 brukere"). An IPv4 address is
# masked: 22.12.34.56 is a Norwegian number written with dots, too.
_THOUSANDS = re.compile(r"^\d{1,3}(?: \d{3})+$")


def _is_phone(match: re.Match[str], text: str) -> bool:
    found = match.group(0).strip()
    digits = sum(ch.isdigit() for ch in found)
    if not 8 <= digits <= 15 or _DATE.match(found) or _YEARS.match(found):
        return False
    if _THOUSANDS.match(found):
        return False
    before = text[max(0, match.start() - 12) : match.start()]
    if _PRICE_BEFORE.search(before) or _PRICE_AFTER.match(text, match.end()):
        return False
    if "." in found:  # dotted: never after "version"; Norwegian 8 digits, else a 0 or + first
        if _VERSION_BEFORE.search(before):
            return False
        return digits == 8 or found.startswith(("0", "+"))
    return True


def _phone_spans(text: str) -> list[Span]:
    spans = []
    for pattern in _PHONES:
        for m in pattern.finditer(text):
            if _is_phone(m, text):
                spans.append((m.start(), m.end(), TOKENS["phone"]))
            elif sum(ch.isdigit() for ch in m.group(0)) > 15:  # two numbers side by side?
                spans += _pieces(pattern, m, text)
    return spans


def _pieces(pattern: re.Pattern[str], match: re.Match[str], text: str) -> list[Span]:
    """The phone numbers in a run too long to be one, split where two numbers meet."""
    found, start, spans = match.group(0), match.start(), []
    at = 0
    for cut in [*_TWO_NUMBERS.finditer(found), None]:
        end = cut.start() if cut else len(found)
        piece = pattern.fullmatch(text, start + at, start + end)
        if piece and _is_phone(piece, text):
            spans.append((piece.start(), piece.end(), TOKENS["phone"]))
        at = cut.end() if cut else at
    return spans


def _known_pattern(value: str) -> re.Pattern[str]:
    # whole words, not inside an address's domain (k***@nordmann.no stays readable)
    value = canonical(value)
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
        value = " ".join(canonical(value).split())
        if len(value) < _MIN_KNOWN or is_masked(value):
            continue
        pairs[value.casefold()] = TOKENS[kind]
        if kind == "name":
            for word in value.split():
                if len(word) >= _MIN_KNOWN:
                    pairs.setdefault(word.casefold(), TOKENS[kind])
    return sorted(pairs.items(), key=lambda p: -len(p[0]))


def mask_text(text: str, known: Iterable[tuple[str, str]] = ()) -> str:
    """The text with keys, e-mail addresses, phone numbers and known form values
    hidden: each found in the canonical form, first come first kept (a key before
    the address or phone number it overlaps), and replaced where it is written."""
    if not text:
        return text
    found, starts, ends = canonical_spans(text)
    spans: list[Span] = []
    candidates = [*_email_spans(found), *_key_spans(found), *_phone_spans(found)]
    for value, token in known:
        candidates += [(m.start(), m.end(), token) for m in _known_pattern(value).finditer(found)]
    for span in candidates:
        if not any(_overlap(span, kept) for kept in spans):
            spans.append(span)
    if not spans:
        return text
    out, position = [], 0
    for start, end, replacement in sorted(spans):
        out += [text[position : starts[start]], replacement]
        position = ends[end - 1]
    return "".join(out) + text[position:]


def _overlap(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


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
