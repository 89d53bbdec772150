"""Version numbers: compare them, match one to the records, find one in a message.

`match_version`, most certain first:

1. exact: "11.6" is record 11.6 ("12.0" equals "12": trailing zeros are ignored);
2. covers: a record whose version is a leading part of the one asked for, the
   most specific winning: "11.6.0.394" is record 11.6, "14.2.0.26967" is 14.2
   even if 14 exists too;
3. family: a version less specific than the records ("11") is the NEWEST
   record of that family (11.11 of 11.6 … 11.11);
4. year: "2021" with no such record is tried as "21" (home products are sold
   as "Kaspersky Internet Security 2021", version 21).

In a message (`version_in`): "11.6", "11.6.0.394", "v21", "version 21",
"versjon 21". A dotted number counts anywhere; a bare number only after a
version word or straight after the product ("KES 11", "Kaspersky Internet
Security 2021") or when it is the whole message (the answer to "which
version?"), and not when a unit follows ("KIS 3 år") or when it is the
operating system's release ("Windows 11"). The word lists are in
content/lexicon/records.yml.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from bot.records import words
from bot.text import fold

if TYPE_CHECKING:
    from spacy.tokens import Doc

VERSION = re.compile(r"^[0-9A-Za-z]+(?:[.\-][0-9A-Za-z]+)*$")  # what a record may hold
DOTTED = re.compile(r"^\d{1,5}(?:\.\d{1,6}){1,3}$")  # 11.6, 11.6.0.394
BARE = re.compile(r"^\d{1,4}$")  # 12, 2021
V_FORM = re.compile(r"^[vV]\.?(\d{1,5}(?:\.\d{1,6}){0,3})$")  # v21, v.12.6
_LEADING_WORD = re.compile(r"^([^\W\d_]+)\.?\s*(?=\d)")  # "version 21", "v12", "ver.12"


class Versioned(Protocol):
    @property
    def version(self) -> str: ...


R = TypeVar("R", bound=Versioned)


def parts(version: str) -> tuple[str, ...]:
    """The comparable parts: "12.0" and "12" are one version, "011" is "11"."""
    found = [
        (p.lstrip("0") or "0") if p.isdigit() else p.lower() for p in re.split(r"[.\-]", version)
    ]
    while len(found) > 1 and found[-1] == "0":
        found.pop()
    return tuple(found)


def version_key(version: str) -> tuple[tuple[int, int, str], ...]:
    """A sort key: numeric parts as numbers ("11.10" after "11.9")."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts(version))


def without_version_word(asked: str) -> str:
    """ "version 21" -> "21", "v12.6" -> "12.6" (the version words of the lexicon)."""
    asked = asked.strip()
    word = _LEADING_WORD.match(asked)
    if word and fold(word.group(1)) in words.version_words():
        return asked[word.end() :]
    return asked


def match_version(records: Sequence[R], asked: str) -> tuple[R | None, str | None]:
    """The record `asked` names and how: exact, covers, family, year (see the module doc)."""
    asked = without_version_word(asked or "")
    if not asked:
        return None, None
    wanted = parts(asked)
    by_parts = [(r, parts(r.version)) for r in records]
    exact = [r for r, p in by_parts if p == wanted]
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


def family_of(records: Sequence[R], asked: str, matched: R) -> tuple[str, ...]:
    """The other versions of the family `asked` names, newest first ("11": 11.10, 11.6)."""
    wanted = parts(without_version_word(asked))
    return tuple(
        r.version
        for r in sorted(records, key=lambda r: version_key(r.version), reverse=True)
        if r is not matched and parts(r.version)[: len(wanted)] == wanted
    )


def nearest_versions(asked: str, records: Sequence[R], n: int) -> list[str]:
    """Up to n recorded versions closest to `asked`, best first: most leading parts
    shared, then the smallest numeric gap, then the newest."""
    wanted = parts(without_version_word(asked or "") or "0")

    def distance(record: R) -> tuple[int, float, tuple[int, ...]]:
        have = parts(record.version)
        shared = 0
        while shared < min(len(have), len(wanted)) and have[shared] == wanted[shared]:
            shared += 1
        gap = 0.0
        if shared < len(have) and shared < len(wanted):
            a, b = have[shared], wanted[shared]
            gap = abs(int(a) - int(b)) if a.isdigit() and b.isdigit() else 1e6
        newest_first = tuple(-x[1] if x[0] == 0 else 0 for x in version_key(record.version))
        return (-shared, gap, newest_first)

    return [r.version for r in sorted(records, key=distance)[:n]]


# ---------------------------------------------------------------- in a message


def version_in(doc: Doc, product_end: int | None, lists: words.Words) -> str | None:
    """The version a message gives (see the module doc); `product_end` is the
    token after the product named, if any. Keys and dates are blanked out first."""
    candidates: list[tuple[int, int, str]] = []  # (priority, position, version)
    tokens = list(doc)
    lower = [t.lower_ for t in tokens]

    def quantity(i: int) -> bool:  # "3 år", "10 PCs"
        return i + 1 < len(lower) and lower[i + 1] in lists.quantity_units

    for i, token in enumerate(tokens):
        v_form = V_FORM.match(token.text)
        if v_form:
            candidates.append((0, i, v_form.group(1)))
            continue
        word = lower[i].rstrip(".")
        if word in lists.version_words:
            j = i + 1
            while j < len(tokens) and (lower[j] in (".", ":") or lower[j] in lists.number_words):
                j += 1
            if j < len(tokens) and _number(tokens[j].text):
                # "v 12" only when the number follows at once: "v" alone is a weak word
                if DOTTED.match(tokens[j].text) or word != "v" or j == i + 1:
                    candidates.append((0, j, tokens[j].text))
            continue
        if DOTTED.match(token.text) and not quantity(i):
            candidates.append((2, i, token.text))
    if product_end is not None and product_end < len(tokens):
        i = product_end
        text = tokens[i].text
        if _number(text) and not quantity(i):
            after_os = lower[i - 1] in lists.os_names and text in lists.os_releases
            # a bare four-digit number after a product is a year only from 20..
            if not after_os and (not BARE.match(text) or len(text) < 4 or text.startswith("20")):
                candidates.append((1, i, text))
    said = [t for t in tokens if not (t.is_punct or t.is_space)]
    if len(said) == 1 and BARE.match(said[0].text):
        candidates.append((1, said[0].i, said[0].text))  # the whole reply is "12"
    if not candidates:
        return None
    return min(candidates)[2]


def _number(text: str) -> bool:
    return bool(DOTTED.match(text) or BARE.match(text))
