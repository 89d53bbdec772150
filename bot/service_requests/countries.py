"""Countries: the ISO 3166-1 alpha-2 code for what a user types ("Norge",
"Sweden", "USA", "se"), and a country's name in the user's language.

Names come from CLDR (through Babel) in en, nb and sv; other names people use
(USA, UK, nynorsk "Noreg", the local "Suomi", ...) are aliases in
content/lexicon/service_requests.yml (`sr_country_aliases`, "name = CODE").
"""

from __future__ import annotations

import re
from functools import lru_cache

from babel import Locale

from bot import lexicon
from bot.contract import DEFAULT_LANG, LANGS
from bot.text import fold, strip_accents

# CLDR also names regions that are not countries in ISO 3166-1: codes the
# standard keeps for users (AA, QM-QZ, XA-XZ, ZZ: CLDR's "Unknown region",
# pseudo-locales, Kosovo's XK) and its "exceptionally reserved" codes (EU, UN,
# Ascension's AC, ...). What is left is the officially assigned codes.
_USER_ASSIGNED = re.compile(r"^(?:AA|Q[M-Z]|X[A-Z]|ZZ)$")
_EXCEPTIONALLY_RESERVED = frozenset("AC CP CQ DG EA EU EZ FX IC SU TA UK UN".split())


def _is_country(code: str) -> bool:
    return bool(
        re.fullmatch(r"[A-Z]{2}", code)
        and not _USER_ASSIGNED.match(code)
        and code not in _EXCEPTIONALLY_RESERVED
    )


@lru_cache(maxsize=len(LANGS))
def _names(lang: str) -> dict[str, str]:
    """code -> CLDR's name of the country in `lang`."""
    return {c: n for c, n in Locale.parse(lang).territories.items() if _is_country(c)}


CODES = frozenset(_names(DEFAULT_LANG))  # the officially assigned ISO 3166-1 alpha-2 codes


def _key(text: str) -> str:
    """How names are compared: folded, dots as spaces, no leading "the"."""
    return re.sub(r"^the ", "", " ".join(fold(text).replace(".", " ").split()))


@lru_cache(maxsize=1)
def _by_cldr_name() -> dict[str, str]:
    table: dict[str, str] = {}
    for lang in LANGS:
        for code, name in _names(lang).items():
            table.setdefault(_key(name), code)
            table.setdefault(strip_accents(_key(name)), code)
    return table


_aliases: tuple[lexicon.WordList, dict[str, str]] | None = None


def aliases() -> dict[str, str]:
    """The lexicon's other names: {compared form: code}. A malformed entry
    refuses the list (lexicon.LexiconError), as the lexicon refuses a bad file."""
    global _aliases
    words = lexicon.get("sr_country_aliases")
    if _aliases is not None and _aliases[0] is words:  # the same file as last time
        return _aliases[1]
    table: dict[str, str] = {}
    for entry in words.words():
        name, sep, code = (part.strip() for part in entry.rpartition("="))
        if not sep or not name or code not in CODES:
            raise lexicon.LexiconError(
                f"{words.file}: sr_country_aliases: {entry!r} is not 'name = ISO code'"
            )
        for key in (_key(name), strip_accents(_key(name))):
            if table.get(key, code) != code:
                raise lexicon.LexiconError(
                    f"{words.file}: sr_country_aliases: {name!r} names {table[key]} and {code}"
                )
            table[key] = code
    _aliases = (words, table)
    return table


def country_code(text: str | None) -> str | None:
    """The ISO 3166-1 alpha-2 code for a code ("NO", "se") or a name in en/nb/sv
    ("Norway", "Norge", "Sverige") or an alias ("Noreg", "USA"); None when it is
    not a country we know. CLDR's names win over an alias that collides."""
    if not text or not isinstance(text, str):
        return None
    raw = text.strip()
    if re.fullmatch(r"[A-Za-z]{2}", raw) and raw.upper() in CODES:
        return raw.upper()
    key = _key(raw)
    for table in (_by_cldr_name(), aliases()):
        code = table.get(key) or table.get(strip_accents(key))
        if code:
            return code
    return None


def country_name(code: str, lang: str) -> str:
    """The country's name in `lang` (en, nb, sv; another language: English), for
    showing it to a user; an unknown code comes back as given."""
    names = _names(lang if lang in LANGS else DEFAULT_LANG)
    return names.get(code.upper(), code)
