"""How product names are written: the forms a name may take, and spellings close to them.

A product is named by its full name, by the name without "Kaspersky" (only
when at least two words remain: "Internet Security", never "Plus"), with
hyphens joined or spaced ("Anti-Virus", "Antivirus", "Anti Virus"), or by an
abbreviation derived from it: the initials of every word but the linking ones
("Kaspersky Endpoint Security for Linux" → KESL), the initials of the part
before "for" (KES) and that with the rest ("KES for Linux"), all of at least
three letters. Linking words (the lexicon's name_fillers: "for", "til", "-")
are skipped when names are compared.

A word of five letters or more may carry a typo (edit distance 1; 2 from eight
letters: "Endpont Securty", "Internett", "Kasperskys").
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, ParamSpec, TypeVar

if TYPE_CHECKING:
    from spacy.language import Language

VENDOR = "kaspersky"

# spaCy's shared Vocab (its StringStore) grows on every make_doc and is not safe
# to change from two threads; messages are parsed in several (nlu_pool). Reentrant:
# building a matcher tokenises names through words().
SPACY_LOCK = threading.RLock()
_P = ParamSpec("_P")
_R = TypeVar("_R")


def one_thread_at_a_time(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """`fn` under SPACY_LOCK: for everything that tokenises or matches with spaCy."""

    @functools.wraps(fn)
    def locked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with SPACY_LOCK:
            return fn(*args, **kwargs)

    return locked


@lru_cache(maxsize=1)
def nlp() -> Language:
    """spaCy's blank multilingual tokenizer: no model to download."""
    import spacy  # here, not at import: loading spaCy takes a second

    return spacy.blank("xx")


@one_thread_at_a_time
def words(phrase: str) -> list[str]:
    """Lower-case tokens of a phrase, as the matcher sees them."""
    return [t.lower_ for t in nlp().make_doc(phrase) if not t.is_space]


def content(tokens: Iterable[str], fillers: frozenset[str]) -> tuple[str, ...]:
    """The words that tell names apart, in a fixed order (word order does not matter)."""
    return tuple(sorted(w for w in tokens if w not in fillers))


def spellings(name: str) -> list[str]:
    """The name as written, and with each hyphenated word joined and spaced."""
    forms = [name]
    if "-" in name:
        forms += [re.sub(r"(\w)-(\w)", r"\1\2", name), re.sub(r"(\w)-(\w)", r"\1 \2", name)]
    return forms


def initials(name_words: list[str], fillers: frozenset[str]) -> str:
    parts = [p for w in name_words for p in w.split("-") if p and p.lower() not in fillers]
    return "".join(p[0] for p in parts).lower()


def derived_forms(name: str, fillers: frozenset[str]) -> list[str]:
    """Shorter forms of a product name (see the module doc)."""
    name_words = name.split()
    lowered = [w.lower() for w in name_words]
    forms = []
    if lowered[0] == VENDOR and len(name_words) >= 3:
        forms.append(" ".join(name_words[1:]))
    abbreviation = initials(name_words, fillers)
    if len(abbreviation) >= 3:
        forms.append(abbreviation)
    if "for" in lowered[1:]:  # product names are English: "KES for Linux"
        cut = lowered.index("for", 1)
        head, tail = name_words[:cut], name_words[cut + 1 :]
        forms.append(" ".join(head))
        if head[0].lower() == VENDOR and len(head) >= 3:
            forms.append(" ".join(head[1:]))
        short = initials(head, fillers)
        if len(short) >= 3:
            forms.append(short)
            forms.append(f"{short} for {' '.join(tail)}")
    return forms


def is_bare(form: str, fillers: frozenset[str]) -> bool:
    """A name without "Kaspersky" in ordinary words ("Internet Security"), not an abbreviation."""
    lowered = form.lower().split()
    return (
        len(lowered) >= 2
        and VENDOR not in lowered
        and lowered[0] != initials(form.split(), fillers)
    )


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a swap of neighbours costs 1), capped at limit+1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def typo_budget(word: str) -> int:
    """How many edits a word of this length may carry and still count."""
    if len(word) >= 8:
        return 2
    if len(word) >= 5:
        return 1
    return 0
