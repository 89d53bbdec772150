"""Personal data written in every format the request form accepts, in en/nb/sv
messages, for the tests that follow it through each piece that stores or logs
text (the tracker store, the logs, the inbox, the outbox, the export). Each
message names its secrets; `leaks` says which of them survive in a text, read
the way the masker reads it (canonical form) with separators squeezed out, so a
key or number that survives with other spaces or dashes still counts."""

from __future__ import annotations

import re

from bot.text import canonical

KEY = "ZRM6N-TL7VJ-Q26X8-ZEB76"  # a sample licence (content/records/licences.csv)
KEY_HIDDEN = "ZRM6NTL7VJQ26X8"  # what its mask hides: every group but the last

# (message, secrets that must not survive masking)
MESSAGES: list[tuple[str, list[str]]] = [
    (
        "My licence key is ZRM6N - TL7VJ - Q26X8 - ZEB76, call me on 070.123.45.67 "
        "or mail o'brien+support@fjordvik.no",
        [KEY_HIDDEN, "0701234567", "'brien+support@"],
    ),
    (
        "Lisensnøkkelen min er zrm6n\u2013tl7vj\u2013q26x8\u2013zeb76. Ring 912\u00a034\u00a0567 "
        "Kristian, e-post kari!nordmann@fjordvik.no",
        [KEY_HIDDEN, "91234567", "ari!nordmann@"],
    ),
    (
        "Min nyckel: ZRM6N-TL7VJ Q26X8-ZEB76, ring 070/123 45 67 eller mejla "
        '"anna berg"@foretaget.se',
        [KEY_HIDDEN, "0701234567", 'anna berg"@'],
    ),
    (
        "Nøkkel ZRM6N-TL7VJ-Q26X8 ZEB76, telefon +47 912\u202f34\u202f567, "
        "åse.kåre_nordmann@fjordvik.no",
        [KEY_HIDDEN, "91234567", "se.kåre_nordmann@"],
    ),
    (
        "nyckeln ZRM6N\u00a0\u00a0TL7VJ\u00a0\u00a0Q26X8\u00a0\u00a0ZEB76, "
        "ring 08\u2009123\u2009456\u200978",
        [KEY_HIDDEN, "0812345678"],
    ),
    (
        "key \uff3a\uff32\uff2d\uff16\uff2e\uff0d\uff34\uff2c\uff17\uff36\uff2a\uff0d"
        "\uff31\uff12\uff16\uff38\uff18\uff0d\uff3a\uff25\uff22\uff17\uff16, phone 22.12.34.56",
        [KEY_HIDDEN, "22123456"],
    ),
]

_SEPARATORS = re.compile(r"[\s\-./()_]+")


def _squeezed(text: str) -> str:
    return _SEPARATORS.sub("", canonical(text).casefold())


def leaks(text: str, secrets: list[str]) -> list[str]:
    """The secrets that survive in `text` (separators and case ignored)."""
    found = _squeezed(text)
    return [secret for secret in secrets if _squeezed(secret) in found]
