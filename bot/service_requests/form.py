"""What an answer in the request form means, beyond one field's value: an
optional field left out ("skip", "ingen"), the field a correction names
("change the e-mail", "ändra namnet på företaget"), an address inside a sentence.

The words are content/lexicon/service_requests.yml's (`sr_skip_words`,
`sr_field_words_<field>`); any language's words count, since users mix them.
"""

from __future__ import annotations

import re

from bot import lexicon
from bot.service_requests.validation import FIELDS
from bot.text import fold

SKIP = "-"  # the payload of the "No key" / "Private" buttons: an optional field left out
EMAIL_IN_TEXT = re.compile(r"[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+")  # finds; validation decides
# Words as a reader sees them: an apostrophe splits ("company's" -> company, s),
# a hyphen does not ("e-mail" stays one word).
_WORD = re.compile(r"\w+(?:-\w+)*")


def is_skip(text: str) -> bool:
    """Whether an answer to an optional field means "none" ("skip", "nei", "har ingen")."""
    if text.strip() == SKIP:
        return True
    return fold(text).strip(" .!") in lexicon.get("sr_skip_words").folded()


def email_in(text: str) -> str | None:
    """Something shaped like an e-mail address in the text ("my e-mail is x@y.no"), or None."""
    found = EMAIL_IN_TEXT.search(text)
    return found.group(0) if found else None


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(fold(text)))


def field_words(field: str, lang: str | None = None) -> tuple[str, ...]:
    """The words that name a form field, as written (one language's, or all)."""
    return lexicon.get(f"sr_field_words_{field}").words(lang)


def field_named(text: str) -> str | None:
    """The form field a correction names, or None.

    Whole words and phrases only (so "navn" is not found inside "firmanavn"), and
    the longest match wins, so the specific word beats the general one: in
    "ändra namnet på företaget" both "namnet" and "företaget" match and the
    company is meant; in "change the company name" "company name" beats "name".
    Equally long matches: the earlier in the text.
    """
    words = _words(text)
    best: tuple[tuple[int, int], str] | None = None  # ((length, -position), field)
    for field in FIELDS:
        for entry in field_words(field):
            phrase = _words(entry)
            n = len(phrase)
            for i in range(len(words) - n + 1):
                if words[i : i + n] == phrase:
                    score = (len(" ".join(phrase)), -i)
                    if best is None or score > best[0]:
                        best = (score, field)
                    break
    return best[1] if best else None
