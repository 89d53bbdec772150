"""Licence keys: normalise, validate, mask, and find one in a message.

A key is four groups of five letters or digits joined by "-", stored upper
case. Keys are secrets: nothing shows one in full; `mask_key` keeps only the
last group, so a customer or agent can still tell which key is meant.

The one rule for how a key may be written (the request form, the lookups, the
records import and the masker all read it here): in any case, with any run of
spaces, dashes or underscores of any kind between the groups (or none at all:
20 characters in a row), after Unicode NFKC (bot.text.canonical).
"""

from __future__ import annotations

import re

from bot.text import canonical

KEY = re.compile(r"^[A-Z0-9]{5}(?:-[A-Z0-9]{5}){3}$")  # a normalised, well-formed key
# How a key may be written, in canonical text: groups of five, and between two
# groups what the form accepts (normalise_key).
KEY_GROUP = "[A-Za-z0-9]{5}"
KEY_SEPARATOR = "[ _-]*"
# Typographic dashes count as "-": a key pasted from a document or a phone often has them.
_TYPOGRAPHIC_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2212"
_DASH = f"[-{_TYPOGRAPHIC_DASHES}]"
_KEY_CHARS = "A-Za-z0-9"
_KEY_IN_TEXT = re.compile(
    rf"(?<![{_KEY_CHARS}]|{_DASH})[{_KEY_CHARS}]{{5}}(?:{_DASH}[{_KEY_CHARS}]{{5}}){{3}}"
    rf"(?![{_KEY_CHARS}]|{_DASH}[{_KEY_CHARS}])"
)
# Attempts at a key: dashed groups of the wrong length, no dashes, spaces for dashes.
_DASHED_ATTEMPT = re.compile(
    rf"(?<![{_KEY_CHARS}]|{_DASH})[{_KEY_CHARS}]+(?:{_DASH}[{_KEY_CHARS}]+){{2,}}"
    rf"(?![{_KEY_CHARS}])"
)
_GLUED_ATTEMPT = re.compile(rf"(?<![{_KEY_CHARS}\-])[{_KEY_CHARS}]{{18,22}}(?![{_KEY_CHARS}\-])")
_SPACED_ATTEMPT = re.compile(
    rf"(?<![{_KEY_CHARS}])[{_KEY_CHARS}]{{5}}(?:[ _.][{_KEY_CHARS}]{{5}}){{3}}(?![{_KEY_CHARS}])"
)


def normalise_key(key: str) -> str:
    """The key as stored: canonical, upper case, any run of spaces, dashes or
    underscores between the groups as one '-', 20 bare characters grouped in fives
    (not validated: see KEY)."""
    text = re.sub(r"[ _-]+", "-", canonical(key).upper()).strip("-")
    if re.fullmatch(r"[A-Z0-9]{20}", text):
        text = "-".join(text[i : i + 5] for i in range(0, 20, 5))
    return text


def is_key(text: str) -> bool:
    """Whether the form accepts `text` as a licence key (well formed, not looked up)."""
    return bool(KEY.match(normalise_key(text)))


def mask_key(key: str) -> str:
    """The key with every group but the last hidden: •••••-•••••-•••••-AB12C.

    Safe for anything, malformed input included: at most the last five
    characters are ever shown.
    """
    groups = [g for g in re.split(r"[\s\-]+", normalise_key(key or "")) if g]
    if not groups:
        return ""
    last = groups[-1]
    shown = last[-5:]
    tail = "\u2022" * (len(last) - len(shown)) + shown
    return "-".join(["\u2022" * len(g) for g in groups[:-1]] + [tail])


def keys_in(text: str) -> tuple[str | None, str | None, str]:
    """(first key, normalised; first attempt at a key, as written; the text with
    both blanked out, so their digits are not read as versions or dates).

    An attempt is something meant as a key that is not one: a group too short
    or long, a group missing, no dashes, spaces for dashes. Each kind must hold
    digits and groups of three or more, so a date or hyphenated words are none.
    """
    key = bad = None

    def blank(match: re.Match[str]) -> str:
        return " " * len(match.group())

    for match in _KEY_IN_TEXT.finditer(text):
        key = key or normalise_key(match.group())
    rest = _KEY_IN_TEXT.sub(blank, text)
    candidates = []
    for match in _DASHED_ATTEMPT.finditer(rest):
        groups = re.split(_DASH, match.group())
        alnum = sum(len(g) for g in groups)
        if (
            3 <= len(groups) <= 5
            and all(3 <= len(g) <= 7 for g in groups)
            and alnum >= 14
            and any(ch.isdigit() for ch in match.group())
        ):
            candidates.append(match)
    for match in _GLUED_ATTEMPT.finditer(rest):
        word = match.group()
        if sum(c.isdigit() for c in word) >= 3 and sum(c.isalpha() for c in word) >= 3:
            candidates.append(match)
    for match in _SPACED_ATTEMPT.finditer(rest):
        groups = re.split(r"[ _.]", match.group())
        if sum(any(c.isdigit() for c in g) for g in groups) >= 2:
            candidates.append(match)
    if candidates:
        bad = min(candidates, key=lambda m: m.start()).group()
        for match in candidates:
            rest = rest[: match.start()] + blank(match) + rest[match.end() :]
    return key, bad, rest
