"""Form values shown in part: the request summary's view of what was typed.

The summary is re-shown to whoever writes next in the conversation, and a
conversation id is the only thing that names a conversation: enough of each
value is shown for the user to see it is theirs and spelt right, not enough
for anyone else to read it off (docs/security-and-privacy.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.privacy import mask

HIDDEN = "•"
KEPT = 2  # characters kept at the start of each word
SHORT_WORD = 2  # words this short ("AS", "AB", "Bo") are shown whole
DESCRIPTION_CHARS = 40  # the description's start, masked as the tracker masks it

_WORD = re.compile(r"[^\W_]+")


def _word(match: re.Match[str]) -> str:
    word = match.group()
    if len(word) <= SHORT_WORD:
        return word
    return word[:KEPT] + HIDDEN * (len(word) - KEPT)


def words(value: str) -> str:
    """Each word's first two letters: "Kari Nordmann" -> "Ka•• No•••••"."""
    return _WORD.sub(_word, value)


def email(address: str) -> str:
    """The local part's first two characters, the domain's words in part and its
    last label whole: "ka•••@ex•••••.no" (a domain of one's own names a person)."""
    local, _, domain = address.rpartition("@")
    if not local or not domain:
        return mask.TOKENS["email"]
    kept = local[:KEPT] if len(local) > KEPT else local[:1]
    *names, top = domain.split(".")
    return f"{kept}{HIDDEN * 3}@" + ".".join([*(words(n) for n in names), top])


def description(text: str, known: Iterable[tuple[str, str]] = ()) -> str:
    """Its start, with keys, e-mail addresses, phone numbers and the form's own
    name and company (`known`: mask.known_values) masked."""
    masked = mask.mask_text(text, known)
    if len(masked) <= DESCRIPTION_CHARS:
        return masked
    return masked[:DESCRIPTION_CHARS].rstrip() + "…"


def shown(field: str, value: str, known: Iterable[tuple[str, str]] = ()) -> str:
    """One request-form field's value as the summary shows it."""
    if field in ("name", "company"):
        return words(value)
    if field == "email":
        return email(value)
    if field == "licence_key":
        return mask.mask_key(value)
    if field == "description":
        return description(value, known)
    return value
